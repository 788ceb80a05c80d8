// Slice sampling in whitened coordinates for nested sampling (PolyChord style),
// and the automatic choice between it and bounded rejection sampling.
// Plain C++ and Eigen; no Python.
//
// A replacement starts at a random live point above the threshold L* (already a
// draw from the constrained prior) and takes `nsteps` slice-sampling steps, each
// along a random direction A z (z ~ N(0, I), A the square root of the shape of
// the bounding ellipsoid that holds the start point: a step in whitened
// coordinates).  The initial interval of a step is not found by stepping out:
// it is the intersection of the line with the union of the bounding ellipsoids,
// each enlarged by `chord_scale` in radius, and with the unit cube.  That set is
// a function of the line alone (the same from any point on it), so shrinkage
// sampling inside it (Neal 2003) leaves the uniform distribution on the
// constrained region invariant, as long as the region lies inside the enlarged
// bound (the bound contains every live point and is scaled up by `chord_scale`).
// No likelihood calls are spent on stepping out: a step costs about 1-3 calls.
//
// The number of steps per replacement K is adaptive (unless fixed by the user).
// It starts at max(4, ceil(d / 2)) when nlive >= 15 d and at max(4, d)
// otherwise, and never goes below the start.  Measured (5 seeds each, 500 live
// points unless stated): gaussian(30) is calibrated with K = 15 (z from -0.8 to
// +1.3) but biased high with K = 8, 10, 12 (mean z +2.5, +2.7, +1.7); with 200
// live points K = 15 is biased (+2.5 sigma); gaussian(50) needs K ~ d (K = 25:
// +3.6 to +5.0 sigma).  The log-likelihood rank of the new point is already
// uncorrelated with that of its starting live point after ~4 steps, so that
// rank alone cannot choose K.  For every replacement the rank of the chain's
// log-likelihood among the live points after each step is recorded with the
// rank of the starting point (no extra calls), and every window of
// replacements the correlation of the two after K steps is estimated; when it
// exceeds kSliceDecorr by 2.5 standard errors (a problem where the radial and
// whitened moves mix slowly), K doubles.  The adaptation only uses the past of
// the run, so every
// step still leaves the constrained prior invariant.  The statistics live in
// the sampler state (checkpointed).
//
// Fresh starts.  Before a chain, up to m points are drawn uniformly from the
// bound (the union of the fitted ellipsoids, not enlarged) inside the unit cube
// (points outside the cube cost no call), as in bounded rejection sampling.  The
// first one above L* replaces the live-point copy as the start, and the chain
// then takes only `fresh_steps` (2) steps: such a start is already independent
// of the live points, and its level (log-likelihood rank) is exact; the short
// chain lets the point reach the parts of the constrained region that the
// rejection bound misses (pure rejection sampling is biased by that in high
// dimension: correlated(20) with 500 live points, mean z +1.1 over 10 seeds;
// with the 2-step correction +0.35).  When no draw is accepted the chain starts
// from the live-point copy and takes the full K steps.  Whether a draw is
// accepted does not depend on the start, so the choice of the chain length
// does not either.  m comes from the measured acceptance a of these draws
// (decayed counts in the state) and the measured calls c per slice step: the
// draws continue (up to the cost of a full chain, K c) only while
// a (K - fresh_steps) c > 1, that is while a draw saves more calls than it
// costs, where a try costs its call plus 0.1 call for each of its draws from
// the bound (in high dimension most draws fall outside the cube and cost no
// call, but CPU); otherwise one try every few replacements (at most 16) keeps
// a measured.  Measured with
// 500 live points: gaussian(30) from ~80 to ~21 calls per replacement (99% of
// the chains start fresh; mean z +0.36 over 8 seeds), correlated(20) from ~50
// to ~16 (mean z -0.06 over 10 seeds); gaussian(50), where the bound is poor,
// from ~275 to ~210 (half start fresh).  Why short chains from live-point
// copies are biased high at d = 30 (K = 8: +2.5 sigma) although their level is
// decorrelated after ~4 steps: most of the bias was measured to come from the
// early, prior-dominated part of the run (K = 4 only before iteration 12,000:
// +5.4 sigma; only after it: +1.3), where the region is the unit cube cut by a
// large ball; there local moves are slow and rejection is cheap.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/random.hpp"
#include "ridgeline/nested/ellipsoid.hpp"
#include "ridgeline/nested/sampler.hpp"

namespace ridgeline::nested {

struct SliceSettings {
  int nsteps = 0;            // slice steps per replacement (0: adaptive, from the measured decorrelation)
  double chord_scale = 1.5;  // radius enlargement of the bounding ellipsoids for the initial interval
  int max_shrink = 200;      // shrinkage evaluations of one step before giving up on it (keeps the point)
  bool radial = true;        // add a radial step (exact conditional of the distance from the centre)
  bool fresh = true;         // try draws from the bound before a chain (fresh starts, see above)
  int fresh_steps = 2;       // steps of a chain that starts from an accepted draw
};

// Adaptive number of steps: from initial_slice_steps(d), doubled while the
// measured decorrelation is insufficient, up to max_slice_steps(d).
// The whitening (live-point covariance) is good when nlive >= kSliceWellSampled * d:
// then K starts at ceil(d / 2), otherwise at d.
constexpr int kSliceWellSampled = 15;
inline int initial_slice_steps(int d, int nlive) {
  return std::max(4, nlive >= kSliceWellSampled * d ? (d + 1) / 2 : d);
}
inline int max_slice_steps(int d) { return std::max(16, 4 * d); }
// Largest accepted rank correlation between the start of a chain and its K-th step.
constexpr double kSliceDecorr = 0.1;
// Replacements per adaptation window: max(nlive, kSliceWindow).
constexpr int kSliceWindow = 400;
// The counts of fresh-start draws are halved once they pass this many draws.
constexpr double kFreshMemory = 2000.0;
// Layout of SamplerState::slice_stats: a header, then (sum b, sum b^2, sum a b) for k = 1..K.
enum SliceStat : int {
  kStatN = 0,       // replacements in the current window
  kStatA,           // sum of the start ranks a (fractions of the live set)
  kStatAA,          // sum of a^2
  kStatDirCalls,    // calls of directional steps (whole run)
  kStatRadCalls,    // calls of radial steps (whole run)
  kStatSteps,       // steps (whole run)
  kStatCorr1,       // correlation after one step, last window
  kStatCorrK,       // correlation after K steps, last window
  kStatWindows,     // windows completed
  kStatFreshTries,  // draws from the bound for fresh starts (decayed count)
  kStatFreshOk,     // of which accepted (decayed count)
  kStatFreshCalls,  // calls of those draws (whole run)
  kStatFreshStarts, // replacements that started fresh (whole run)
  kStatFreshDraws,  // draws from the bound made by those tries, in or out of the cube (decayed count)
  kStatHeader
};

// Sorted, disjoint intervals on a line; the set a step samples in.
class IntervalSet {
 public:
  void clear() { iv_.clear(); }
  void add(double a, double b) {
    if (b > a) iv_.emplace_back(a, b);
  }
  // Sort and merge overlapping intervals.
  void normalize() {
    std::sort(iv_.begin(), iv_.end());
    std::vector<std::pair<double, double>> out;
    for (const auto& p : iv_) {
      if (!out.empty() && p.first <= out.back().second) {
        out.back().second = std::max(out.back().second, p.second);
      } else {
        out.push_back(p);
      }
    }
    iv_.swap(out);
  }
  void clip(double lo, double hi) {
    std::vector<std::pair<double, double>> out;
    for (const auto& p : iv_) {
      const double a = std::max(p.first, lo), b = std::min(p.second, hi);
      if (b > a) out.emplace_back(a, b);
    }
    iv_.swap(out);
  }
  bool contains(double t) const {
    for (const auto& p : iv_)
      if (t >= p.first && t <= p.second) return true;
    return false;
  }
  double length() const {
    double s = 0.0;
    for (const auto& p : iv_) s += p.second - p.first;
    return s;
  }
  bool empty() const { return iv_.empty(); }
  double lo() const { return iv_.front().first; }
  double hi() const { return iv_.back().second; }
  // Map every end point a >= 0 to p log(a / scale) (increasing; 0 goes to -inf).
  void map_log(double scale, double p) {
    for (auto& q : iv_) {
      q.first = p * std::log(q.first / scale);
      q.second = p * std::log(q.second / scale);
    }
  }
  // The point at arc length `w` (0 <= w <= length()) through the set.
  double at(double w) const {
    for (const auto& p : iv_) {
      const double len = p.second - p.first;
      if (w <= len) return p.first + w;
      w -= len;
    }
    return iv_.back().second;
  }

 private:
  std::vector<std::pair<double, double>> iv_;
};

// The interval {t : (x + t v - c)^T P (x + t v - c) <= r2} of a line and an
// ellipsoid; false when the line misses it.
inline bool line_ellipsoid(const Ellipsoid& e, const Eigen::VectorXd& x, const Eigen::VectorXd& v, double r2,
                           double& t0, double& t1) {
  const Eigen::VectorXd dx = x - e.center;
  const Eigen::VectorXd pv = e.precision * v;
  const double a = v.dot(pv), b = dx.dot(pv), c = dx.dot(e.precision * dx) - r2;
  if (!(a > 0.0)) return false;
  const double disc = b * b - a * c;
  if (!(disc > 0.0)) return false;
  const double sq = std::sqrt(disc);
  t0 = (-b - sq) / a;
  t1 = (-b + sq) / a;
  return true;
}

// The interval of t with x + t v inside the open unit cube, or inside the
// bound's frame box [f_i, f_i + 1) when `frame` is not empty (periodic
// dimensions; see EllipsoidUnion).
inline void line_cube(const Eigen::VectorXd& x, const Eigen::VectorXd& v, double& lo, double& hi,
                      const std::vector<double>& frame = {}) {
  lo = -std::numeric_limits<double>::infinity();
  hi = std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double xi = frame.empty() ? x[i] : x[i] - frame[static_cast<std::size_t>(i)];
    if (v[i] > 0.0) {
      lo = std::max(lo, -xi / v[i]);
      hi = std::min(hi, (1.0 - xi) / v[i]);
    } else if (v[i] < 0.0) {
      lo = std::max(lo, (1.0 - xi) / v[i]);
      hi = std::min(hi, -xi / v[i]);
    }
  }
}

// Slice sampling along whitened random directions inside the bound.
class SliceProposal final : public Proposal {
 public:
  explicit SliceProposal(const SliceSettings& ss = {}) : ss_(ss) {
    require(ss.nsteps >= 0, "slice_steps=" + std::to_string(ss.nsteps) + " must be >= 0");
    require(ss.chord_scale >= 1.0, "chord_scale=" + std::to_string(ss.chord_scale) + " must be >= 1");
    require(ss.max_shrink >= 1, "max_shrink must be >= 1");
    require(ss.fresh_steps >= 1, "fresh_steps must be >= 1");
  }

  bool adaptive() const { return ss_.nsteps == 0; }
  // Steps per replacement now (the adaptive value once set).
  int nsteps(const SamplerState& s) const {
    if (!adaptive()) return ss_.nsteps;
    return s.slice_nsteps > 0 ? s.slice_nsteps : initial_slice_steps(s.settings.ndim, s.settings.nlive);
  }

  void update(SamplerState& s) override { rejection_.update(s); }

  void replace(SamplerState& s, double lstar, Evaluator& ev, double* u, double* x, double& logl,
               const PollFn& poll) override {
    if (!s.use_bound || s.bound.empty()) {
      // before the first bound: rejection sampling from the unit cube
      rejection_.replace(s, lstar, ev, u, x, logl, poll);
      return;
    }
    // exception safety: a chain that fails (a raising likelihood, Ctrl-C) is
    // undone as a whole (random stream, call counter, statistics), so a new
    // call repeats it exactly; its calls are not counted
    const RandomStream saved_rng = s.rng;
    const std::int64_t saved_ncall = s.ncall;
    saved_stats_ = s.slice_stats;
    try {
      chain(s, lstar, ev, u, x, logl, poll);
    } catch (...) {
      s.rng = saved_rng;
      s.ncall = saved_ncall;
      s.slice_stats.swap(saved_stats_);
      next_poll_ = 0;
      throw;
    }
  }

 private:
  void chain(SamplerState& s, double lstar, Evaluator& ev, double* u, double* x, double& logl, const PollFn& poll) {
    const int d = s.settings.ndim, n = s.settings.nlive;
    const auto du = static_cast<std::size_t>(d);
    // a random live point strictly above the threshold
    int j = 0;
    for (int tries = 0;; ++tries) {
      j = static_cast<int>(s.rng.integer(static_cast<std::uint64_t>(n)));
      if (s.live_logl[j] > lstar) break;
      if (tries > 100 * n) throw std::runtime_error("no live point above the likelihood threshold");
    }
    cur_u_ = s.live_u.row(j).transpose();
    // the chain runs in the bound's frame (periodic dimensions; identity otherwise)
    s.bound.to_frame(cur_u_.data(), d);
    cur_x_.assign(s.live_x.row(j).data(), s.live_x.row(j).data() + d);
    double cur_l = s.live_logl[j];
    const double r2 = ss_.chord_scale * ss_.chord_scale;
    z_.resize(d);
    cand_u_.resize(d);
    cand_x_.resize(du);
    std::int64_t calls = 0, dir_calls = 0;
    fresh_calls_ = 0;
    int steps = nsteps(s);
    if (s.slice_stats.size() < static_cast<std::size_t>(kStatHeader)) s.slice_stats.resize(kStatHeader, 0.0);
    const bool fresh = ss_.fresh && steps > ss_.fresh_steps && fresh_start(s, ev, lstar, steps, cur_l, calls);
    if (fresh) steps = ss_.fresh_steps;
    ranks_.assign(static_cast<std::size_t>(steps) + 1, 0.0);
    ranks_[0] = rank_fraction(s, cur_l);
    for (int step = 0; step < steps; ++step) {
      // the metric (whitening and centre) of this step: an ellipsoid of the bound
      // chosen by volume, independently of the current point (a choice that
      // depended on the point would break the invariance of the chain)
      const Ellipsoid& ell = s.bound.ells[pick_ellipsoid(s)];
      const Eigen::MatrixXd& axes = ell.axes;
      const Eigen::VectorXd& centre = ell.center;
      // (1) a step along a random whitened direction through the current point
      for (int i = 0; i < d; ++i) z_[i] = ziggurat_normal(s.rng);
      dir_ = axes * z_;
      line_set(s.bound, cur_u_, dir_, r2);
      if (!set_.empty() && set_.contains(0.0)) {
        const std::int64_t c = shrink(s, ev, lstar, cur_l, [this](double t) {
          cand_u_ = cur_u_ + t * dir_;
        });
        calls += c;
        dir_calls += c;
      }
      // (2) a radial step: the distance from the centre of the chain's ellipsoid
      // along the ray through the current point, by slice sampling its exact
      // conditional (density t^(d-1) on the ray, i.e. e^y in y = d log(t / t_max))
      if (ss_.radial) {
        ray_ = cur_u_ - centre;
        line_set(s.bound, centre, ray_, r2);
        set_.clip(0.0, std::numeric_limits<double>::infinity());
        if (!set_.empty() && set_.contains(1.0)) {
          // in y = d log(t / t_max) the density is e^y: slice at height y0 - Exp(1)
          const double tmax = set_.hi();
          const double dd = static_cast<double>(d);
          const double y0 = -dd * std::log(tmax);
          const double yh = y0 + std::log(std::max(s.rng.uniform(), 1e-300));
          set_.map_log(tmax, dd);
          set_.clip(yh, std::numeric_limits<double>::infinity());
          if (!set_.empty()) {
            calls += shrink_around(s, ev, lstar, cur_l, y0, [this, &centre, tmax, dd](double y) {
              cand_u_ = centre + (tmax * std::exp(y / dd)) * ray_;
            });
          }
        }
      }
      ranks_[static_cast<std::size_t>(step) + 1] = rank_fraction(s, cur_l);
      if (calls >= next_poll_) {
        poll_or_throw(poll);
        next_poll_ = calls + 4096;
      }
    }
    next_poll_ = 0;
    s.slice_stats[kStatDirCalls] += static_cast<double>(dir_calls);
    s.slice_stats[kStatRadCalls] += static_cast<double>(calls - dir_calls - fresh_calls_);
    s.slice_stats[kStatSteps] += steps;
    // the rank statistics describe chains from live-point copies only
    if (adaptive() && !fresh) adapt(s, steps);
    std::copy_n(cur_u_.data(), d, u);
    s.bound.to_cube(u, d);
    std::copy_n(cur_x_.data(), d, x);
    logl = cur_l;
    s.slice_calls += calls;
    s.slice_replacements += 1;
  }

  SliceSettings ss_;
  std::vector<double> saved_stats_;
  RejectionProposal rejection_;
  Eigen::VectorXd cur_u_, cand_u_, z_, dir_;
  Eigen::VectorXd eval_u_;  // the candidate in cube coordinates (periodic dimensions wrapped)
  std::vector<double> cur_x_, cand_x_;
  IntervalSet set_;

  Eigen::VectorXd ray_;
  std::int64_t next_poll_ = 0;
  std::int64_t fresh_calls_ = 0;  // calls of the fresh-start draws of the current replacement
  std::vector<double> ranks_;

  // Free draws (no call) from the bound per fresh-start draw before giving up on
  // a point inside the unit cube.
  static constexpr int kMaxFreeDraws = 1000;
  // Cost of one draw from the bound in calls (see fresh_start).
  static constexpr double kDrawCost = 0.1;
  // Longest interval (in replacements) between tries that do not pay.
  static constexpr double kMaxTryPeriod = 16.0;

  // Evaluate the candidate cand_u_ (one call); when it is above lstar it becomes
  // the current point.
  bool try_candidate(SamplerState& s, Evaluator& ev, double lstar, double& cur_l) {
    double cl = 0.0;
    if (s.bound.framed()) {
      eval_u_ = cand_u_;
      s.bound.to_cube(eval_u_.data(), static_cast<int>(eval_u_.size()));
      evaluate_batch(s, ev, eval_u_.data(), 1, cand_x_.data(), &cl);
    } else {
      evaluate_batch(s, ev, cand_u_.data(), 1, cand_x_.data(), &cl);
    }
    if (!(cl > lstar)) return false;
    cur_u_ = cand_u_;
    cur_x_ = cand_x_;
    cur_l = cl;
    return true;
  }

  // Fresh start: up to m draws from the bound inside the cube (see the top of
  // the file); true when one is above lstar (then it is the current point).
  bool fresh_start(SamplerState& s, Evaluator& ev, double lstar, int steps, double& cur_l, std::int64_t& calls) {
    std::vector<double>& st = s.slice_stats;
    fresh_calls_ = 0;
    const double a = (st[kStatFreshOk] + 0.5) / (st[kStatFreshTries] + 1.0);
    const double nsteps_run = st[kStatSteps];
    const double per_step = nsteps_run > 0.0 ? (st[kStatDirCalls] + st[kStatRadCalls]) / nsteps_run : 5.0;
    const double chain = per_step * steps;
    const double saved = per_step * (steps - ss_.fresh_steps);
    // The cost of a try in calls: its call plus its draws from the bound (most
    // of them outside the cube in high dimension), each weighted kDrawCost
    // calls.  The unit is deterministic (counts, not timings): a draw costs
    // at most one d x d product, a call of a slice step at least two (the
    // chord of every ellipsoid) besides the likelihood; 0.1 leaves the rule as
    // it was unless a try needs tens of draws.  Measured (one seed, nlive 200,
    // gaussian(50), built-in likelihood): 9.2 s CPU for 3.14M calls before
    // this rule and the early cube exit of the draws, 3.3 s for 3.24M after
    // (slice_start='live': 2.7 s for 3.11M calls).
    const double draws_per_try = (st[kStatFreshDraws] + 1.0) / (st[kStatFreshTries] + 1.0);
    const double try_cost = 1.0 + kDrawCost * draws_per_try;
    // When tries do not pay, one try every `period` replacements keeps a and
    // the draws per try measured (the choice depends on a counter of the run,
    // not on the chain's start, so the chain still leaves the constrained prior
    // invariant).
    int m = 1;
    if (a * saved > try_cost) {
      m = std::max(1, static_cast<int>(std::ceil(chain / try_cost)));
    } else {
      const double ratio = try_cost / std::max(a * saved, 1e-3);
      const auto period = static_cast<std::int64_t>(std::min(kMaxTryPeriod, std::ceil(ratio)));
      if (period > 1 && s.slice_replacements % period != 0) return false;
    }
    bool ok = false;
    for (int t = 0; t < m && !ok; ++t) {
      bool in_cube = false;
      int f = 0;
      for (; f < kMaxFreeDraws && !in_cube; ++f) in_cube = s.bound.sample_in_cube(s.rng, cand_u_.data(), z_);
      st[kStatFreshDraws] += static_cast<double>(f);
      st[kStatFreshTries] += 1.0;
      if (!in_cube) continue;
      s.bound.to_frame(cand_u_.data(), s.settings.ndim);
      ++fresh_calls_;
      if (try_candidate(s, ev, lstar, cur_l)) {
        st[kStatFreshOk] += 1.0;
        ok = true;
      }
    }
    if (st[kStatFreshTries] > kFreshMemory) {
      st[kStatFreshTries] *= 0.5;
      st[kStatFreshOk] *= 0.5;
      st[kStatFreshDraws] *= 0.5;
    }
    st[kStatFreshCalls] += static_cast<double>(fresh_calls_);
    if (ok) st[kStatFreshStarts] += 1.0;
    calls += fresh_calls_;
    return ok;
  }

  // Fraction of the live points with a log-likelihood below v (ties count half).
  static double rank_fraction(const SamplerState& s, double v) {
    const double* ll = s.live_logl.data();
    const Eigen::Index n = s.live_logl.size();
    Eigen::Index below = 0, tied = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      below += ll[i] < v ? 1 : 0;
      tied += ll[i] == v ? 1 : 0;
    }
    return (static_cast<double>(below) + 0.5 * static_cast<double>(tied)) / static_cast<double>(n);
  }

  // Accumulate the ranks of this replacement; at the end of a window choose the
  // next number of steps from the measured correlations.
  void adapt(SamplerState& s, int steps) {
    std::vector<double>& st = s.slice_stats;
    const std::size_t need = kStatHeader + 3 * static_cast<std::size_t>(steps);
    if (st.size() < need) st.resize(need, 0.0);
    const double a = ranks_[0];
    st[kStatN] += 1.0;
    st[kStatA] += a;
    st[kStatAA] += a * a;
    for (int k = 1; k <= steps; ++k) {
      const std::size_t o = kStatHeader + 3 * static_cast<std::size_t>(k - 1);
      const double b = ranks_[static_cast<std::size_t>(k)];
      st[o] += b;
      st[o + 1] += b * b;
      st[o + 2] += a * b;
    }
    const double n = st[kStatN];
    if (n < std::max(s.settings.nlive, kSliceWindow)) return;
    const double ma = st[kStatA] / n, va = st[kStatAA] / n - ma * ma;
    auto corr_at = [&](int k) {
      const std::size_t o = kStatHeader + 3 * static_cast<std::size_t>(k - 1);
      const double mb = st[o] / n, vb = st[o + 1] / n - mb * mb;
      const double cov = st[o + 2] / n - ma * mb;
      return (va > 0.0 && vb > 0.0) ? cov / std::sqrt(va * vb) : 1.0;
    };
    const double corr1 = corr_at(1), corrk = corr_at(steps);
    // slow mixing: the rank is still correlated with the start after K steps,
    // beyond the target by more than 2.5 standard errors of the estimate
    const int next = corrk < kSliceDecorr + 2.5 / std::sqrt(n) ? steps : 2 * steps;
    const int d = s.settings.ndim;
    s.slice_nsteps = std::clamp(next, initial_slice_steps(d, s.settings.nlive), std::max(max_slice_steps(d), steps));
    st[kStatCorr1] = corr1;
    st[kStatCorrK] = corrk;
    st[kStatWindows] += 1.0;
    st[kStatN] = st[kStatA] = st[kStatAA] = 0.0;
    st.resize(kStatHeader);
  }

  // The set of t with p + t v inside the union of the enlarged ellipsoids and the cube.
  void line_set(const EllipsoidUnion& b, const Eigen::VectorXd& p, const Eigen::VectorXd& v, double r2) {
    set_.clear();
    for (const auto& e : b.ells) {
      double t0 = 0.0, t1 = 0.0;
      if (line_ellipsoid(e, p, v, r2, t0, t1)) set_.add(t0, t1);
    }
    double clo = 0.0, chi = 0.0;
    line_cube(p, v, clo, chi, b.frame);
    set_.normalize();
    set_.clip(clo, chi);
  }

  // Shrinkage sampling in set_ around the current parameter value 0; `place(t)`
  // writes the candidate to cand_u_.  Returns the number of calls.
  template <class Place>
  std::int64_t shrink(SamplerState& s, Evaluator& ev, double lstar, double& cur_l, Place&& place) {
    return shrink_around(s, ev, lstar, cur_l, 0.0, place);
  }

  template <class Place>
  std::int64_t shrink_around(SamplerState& s, Evaluator& ev, double lstar, double& cur_l, double t_cur,
                             Place&& place) {
    const int d = s.settings.ndim;
    std::int64_t calls = 0;
    for (int it = 0; it < ss_.max_shrink; ++it) {
      const double len = set_.length();
      if (!(len > 0.0)) break;
      const double t = set_.at(s.rng.uniform() * len);
      place(t);
      for (int i = 0; i < d; ++i) {
        const double lo = s.bound.frame_lo(i);
        cand_u_[i] = std::clamp(cand_u_[i], lo, lo + 1.0);
      }
      ++calls;
      if (try_candidate(s, ev, lstar, cur_l)) break;
      if (t < t_cur) {
        set_.clip(t, std::numeric_limits<double>::infinity());
      } else {
        set_.clip(-std::numeric_limits<double>::infinity(), t);
      }
    }
    return calls;
  }

  static std::size_t pick_ellipsoid(SamplerState& s) {
    const EllipsoidUnion& b = s.bound;
    if (b.ells.size() == 1) return 0;
    const double r = s.rng.uniform();
    const auto k = static_cast<std::size_t>(std::lower_bound(b.cumprob.begin(), b.cumprob.end(), r) - b.cumprob.begin());
    return std::min(k, b.ells.size() - 1);
  }
};

// Bounded rejection sampling while it is cheap, slice sampling once rejection
// needs more calls per replacement than slice sampling does (measured), or
// from the start in high dimension.  The choice is stored in the state
// (`slice_active`), so a restored run continues with the same proposal.
class AutoProposal final : public Proposal {
 public:
  // Below this dimension rejection sampling is kept (it handles multimodal
  // low-dimensional problems best, and stays affordable there).
  static constexpr int kMinSwitchDim = 6;

  AutoProposal(const SliceSettings& ss, int slice_dim) : slice_(ss), slice_dim_(slice_dim) {}

  void update(SamplerState& s) override {
    const int d = s.settings.ndim;
    if (!s.slice_active) {
      if (d >= slice_dim_) {
        s.slice_active = true;
      } else if (d >= kMinSwitchDim && s.use_bound && s.evaluated_since_update >= 2 * s.settings.update_interval) {
        // calls per replacement of rejection sampling since the last refit, against
        // the measured (or, before any slice step, expected) cost of slice sampling
        const double rej_cost = static_cast<double>(s.evaluated_since_update) /
                                std::max<std::int64_t>(s.accepted_since_update, 1);
        const double slice_cost = s.slice_replacements > 0
                                      ? static_cast<double>(s.slice_calls) / static_cast<double>(s.slice_replacements)
                                      : 5.0 * slice_.nsteps(s);
        if (rej_cost > slice_cost) s.slice_active = true;
      }
    }
    slice_.update(s);
  }

  void replace(SamplerState& s, double lstar, Evaluator& ev, double* u, double* x, double& logl,
               const PollFn& poll) override {
    if (s.slice_active) {
      slice_.replace(s, lstar, ev, u, x, logl, poll);
    } else {
      rejection_.replace(s, lstar, ev, u, x, logl, poll);
    }
  }

 private:
  SliceProposal slice_;
  RejectionProposal rejection_;
  int slice_dim_;
};

}  // namespace ridgeline::nested
