// Serialisation of the complete sampler state (plain C++, no Python).
//
// `dump_state` writes every field of `SamplerState` (settings, live and dead
// points, the bound, the queue of evaluated candidates, the random stream
// position and all counters) to a byte string; `load_state` restores it, so a
// run continued from a restored state is bit-identical to an uninterrupted one.
// The file format (header, version, checksum, problem fingerprint) lives in
// Python (ridgeline.nested._checkpoint); this is only the payload.
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "ridgeline/nested/sampler.hpp"

namespace ridgeline::nested {

// Version of the payload layout; bump when SamplerState changes.
constexpr std::uint32_t kStateVersion = 6;  // 4: slice_stats gained kStatFreshDraws; 5: the last batch, normals count;
                                            // 6: the frames of the two bounds (periodic dimensions)

class StateWriter {
 public:
  std::string out;
  template <class T>
  void pod(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out.append(p, sizeof(T));
  }
  void doubles(const double* p, std::size_t n) {
    pod<std::uint64_t>(n);
    out.append(reinterpret_cast<const char*>(p), n * sizeof(double));
  }
  template <class A>
  void vec(const std::vector<double, A>& v) {
    doubles(v.data(), v.size());
  }
  void ivec(const std::vector<int>& v) {
    pod<std::uint64_t>(v.size());
    for (int x : v) pod<std::int32_t>(x);
  }
  void evec(const Eigen::VectorXd& v) { doubles(v.data(), static_cast<std::size_t>(v.size())); }
  void emat(const Eigen::MatrixXd& m) {
    pod<std::int64_t>(m.rows());
    pod<std::int64_t>(m.cols());
    out.append(reinterpret_cast<const char*>(m.data()), static_cast<std::size_t>(m.size()) * sizeof(double));
  }
  void rmat(const RowMatrix& m) {
    pod<std::int64_t>(m.rows());
    pod<std::int64_t>(m.cols());
    out.append(reinterpret_cast<const char*>(m.data()), static_cast<std::size_t>(m.size()) * sizeof(double));
  }
};

class StateReader {
 public:
  explicit StateReader(const std::string& s) : s_(s) {}
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::vector<double> vec() {
    const auto n = pod<std::uint64_t>();
    need_elems(n, sizeof(double));
    std::vector<double> v(n);
    if (n) std::memcpy(v.data(), s_.data() + pos_, n * sizeof(double));
    pos_ += n * sizeof(double);
    return v;
  }
  std::vector<int> ivec() {
    const auto n = pod<std::uint64_t>();
    need_elems(n, sizeof(std::int32_t));
    std::vector<int> v(n);
    for (auto& x : v) x = pod<std::int32_t>();
    return v;
  }
  Eigen::VectorXd evec() {
    const std::vector<double> v = vec();
    return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
  }
  template <class M>
  M mat() {
    const auto r = pod<std::int64_t>(), c = pod<std::int64_t>();
    if (r < 0 || c < 0 || (c > 0 && r > (std::int64_t{1} << 40) / c)) throw std::runtime_error("bad matrix shape");
    need_elems(static_cast<std::uint64_t>(r * c), sizeof(double));
    M m(r, c);
    if (r > 0 && c > 0) std::memcpy(m.data(), s_.data() + pos_, static_cast<std::size_t>(r * c) * sizeof(double));
    pos_ += static_cast<std::size_t>(r * c) * sizeof(double);
    return m;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  std::size_t pos_ = 0;
  void need(std::size_t n) const {
    if (n > s_.size() - pos_) throw std::runtime_error("truncated state");
  }
  void need_elems(std::uint64_t n, std::size_t size) const {
    if (n > (s_.size() - pos_) / size) throw std::runtime_error("truncated state");
  }
};

inline void write_settings(StateWriter& w, const Settings& st) {
  w.pod<std::int32_t>(st.ndim);
  w.pod<std::int32_t>(st.nlive);
  w.pod<std::int32_t>(static_cast<std::int32_t>(st.bound));
  w.pod<double>(st.enlarge);
  w.pod<std::int32_t>(st.update_interval);
  w.pod<double>(st.first_update_eff);
  w.pod<std::int32_t>(st.batch_min);
  w.pod<std::int32_t>(st.batch_max);
}

inline void write_bound(StateWriter& w, const EllipsoidUnion& b) {
  w.pod<std::uint64_t>(b.ells.size());
  for (const auto& e : b.ells) {
    w.evec(e.center);
    w.emat(e.shape);
    w.emat(e.precision);
    w.emat(e.axes);
    w.evec(e.major.size() == e.center.size() ? e.major : major_axis(e.shape));
    w.pod<double>(e.logvol);
  }
  w.vec(b.cumprob);
  w.pod<double>(b.logvol_sum);
}

inline void read_bound(StateReader& r, EllipsoidUnion& b, int nlive, Eigen::Index d) {
  const auto nell = r.pod<std::uint64_t>();
  if (nell > static_cast<std::uint64_t>(nlive)) throw std::runtime_error("too many ellipsoids");
  for (std::uint64_t k = 0; k < nell; ++k) {
    Ellipsoid e;
    e.center = r.evec();
    e.shape = r.mat<Eigen::MatrixXd>();
    e.precision = r.mat<Eigen::MatrixXd>();
    e.axes = r.mat<Eigen::MatrixXd>();
    e.major = r.evec();
    e.logvol = r.pod<double>();
    // axes stored lower triangular (a Cholesky factor) are drawn from as such
    e.lower = e.axes.rows() == e.axes.cols() && e.axes.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().isZero(0.0);
    if (e.center.size() != d || e.shape.rows() != d || e.shape.cols() != d || e.precision.rows() != d ||
        e.precision.cols() != d || e.axes.rows() != d || e.axes.cols() != d || e.major.size() != d)
      throw std::runtime_error("an ellipsoid has the wrong dimension");
    b.ells.push_back(std::move(e));
  }
  b.cumprob = r.vec();
  if (b.cumprob.size() != b.ells.size()) throw std::runtime_error("bound probabilities are inconsistent");
  b.logvol_sum = r.pod<double>();
}

inline std::string dump_state(const SamplerState& s) {
  if (s.in_iteration)
    throw std::runtime_error("the sampler is in the middle of an iteration (after an error); call run() to finish it first");
  StateWriter w;
  w.pod<std::uint32_t>(kStateVersion);
  write_settings(w, s.settings);
  w.rmat(s.live_u);
  w.rmat(s.live_x);
  w.evec(s.live_logl);
  w.evec(s.live_birth);
  w.vec(s.dead_u);
  w.vec(s.dead_x);
  w.vec(s.dead_logl);
  w.vec(s.dead_birth);
  w.vec(s.dead_logvol);
  w.ivec(s.dead_nlive);
  write_bound(w, s.bound);
  w.pod<std::uint8_t>(s.use_bound ? 1 : 0);
  w.pod<std::int64_t>(s.iter_at_update);
  w.pod<std::int64_t>(s.updates_since_search);
  w.pod<std::int32_t>(s.last_search_nell);
  w.vec(s.queue_u);
  w.vec(s.queue_x);
  w.vec(s.queue_logl);
  w.pod<std::uint64_t>(s.queue_head);
  w.pod<std::uint64_t>(s.rng.seed());
  w.pod<std::uint64_t>(s.rng.stream());
  w.pod<std::uint64_t>(s.rng.position());
  w.pod<std::uint8_t>(s.rng.has_spare() ? 1 : 0);
  w.pod<double>(s.rng.spare());
  w.pod<std::uint8_t>(s.initialized ? 1 : 0);
  w.pod<std::int64_t>(s.niter);
  w.pod<std::int64_t>(s.ncall);
  w.pod<std::int64_t>(s.accepted_since_update);
  w.pod<std::int64_t>(s.evaluated_since_update);
  w.pod<std::int64_t>(s.accepted_total);
  w.pod<std::int64_t>(s.evaluated_total);
  w.pod<double>(s.logvol);
  w.pod<double>(s.logz);
  w.pod<std::uint8_t>(s.slice_active ? 1 : 0);
  w.pod<std::int64_t>(s.slice_calls);
  w.pod<std::int64_t>(s.slice_replacements);
  w.pod<std::int32_t>(s.slice_nsteps);
  w.vec(s.slice_stats);
  // version 5: the count of normal deviates, the stream before the last batch of
  // candidates and its size, evaluated_total at the last refit, the bound kept
  // for the last batch
  w.pod<std::uint64_t>(s.rng.normals());
  w.pod<std::uint64_t>(s.batch_rng.position());
  w.pod<std::uint8_t>(s.batch_rng.has_spare() ? 1 : 0);
  w.pod<double>(s.batch_rng.spare());
  w.pod<std::uint64_t>(s.batch_rng.normals());
  w.pod<std::int64_t>(s.batch_size);
  w.pod<std::int64_t>(s.evaluated_at_update);
  w.pod<std::uint8_t>(s.batch_bound_saved ? 1 : 0);
  w.pod<std::uint8_t>(s.batch_use_bound ? 1 : 0);
  write_bound(w, s.batch_bound);
  // version 6: the frames of the bound and of the last batch's bound
  w.vec(s.bound.frame);
  w.vec(s.batch_bound.frame);
  return w.out;
}

// Consistency of a restored state: everything a run relies on (shapes are
// checked while reading).  A forged payload with a valid checksum must not make
// the sampler loop, read out of range or continue from impossible values.
// What this cannot detect: values that are consistent but not the ones the run
// computed (a different point inside the cube with a plausible likelihood);
// a file that passes is trusted data, as a pickle would be.
inline void validate_state(const SamplerState& t) {
  auto fail = [](const std::string& m) { throw std::runtime_error(m); };
  const int d = t.settings.ndim, n = t.settings.nlive;
  const auto du = static_cast<std::size_t>(d);
  auto in_cube = [](const double* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i)
      if (!(p[i] >= 0.0 && p[i] <= 1.0)) return false;
    return true;
  };
  auto finite = [](const double* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  };
  auto logl_ok = [](double v) { return !std::isnan(v) && v != std::numeric_limits<double>::infinity(); };
  if (t.niter < 0 || t.ncall < 0 || t.accepted_total < 0 || t.evaluated_total < t.accepted_total ||
      t.accepted_since_update < 0 || t.evaluated_since_update < t.accepted_since_update || t.iter_at_update < 0 ||
      t.iter_at_update > t.niter || t.updates_since_search < 0 || t.updates_since_search > t.niter || t.last_search_nell < 0 || t.slice_calls < 0 ||
      t.slice_replacements < 0 || t.slice_nsteps < 0 || t.slice_nsteps > (1 << 20) || t.evaluated_at_update < 0 ||
      t.evaluated_since_update != t.evaluated_total - t.evaluated_at_update)
    fail("a counter is negative or inconsistent");
  const std::size_t nd = t.dead_logl.size();
  if (!t.initialized) {
    if (t.live_logl.size() != 0 || nd != 0 || t.ncall != 0) fail("an uninitialised state holds points");
  } else {
    const auto nn = static_cast<std::size_t>(n);
    if (!in_cube(t.live_u.data(), nn * du)) fail("a live point lies outside the unit cube");
    if (!finite(t.live_x.data(), nn * du)) fail("a live point has a non-finite coordinate");
    for (std::size_t i = 0; i < nn; ++i) {
      const double l = t.live_logl[static_cast<Eigen::Index>(i)], b = t.live_birth[static_cast<Eigen::Index>(i)];
      if (!logl_ok(l) || std::isnan(b) || b > l) fail("a live point has an invalid log-likelihood or birth contour");
      if (nd > 0 && l < t.dead_logl.back()) fail("a live point lies below the last dead point");
    }
    if (t.live_logl.maxCoeff() == kNegInf) fail("every live point has log-likelihood -inf");
    if (t.ncall < static_cast<std::int64_t>(nn + nd)) fail("ncall is smaller than the number of points evaluated");
  }
  if (!in_cube(t.dead_u.data(), t.dead_u.size())) fail("a dead point lies outside the unit cube");
  if (!finite(t.dead_x.data(), t.dead_x.size())) fail("a dead point has a non-finite coordinate");
  // the volumes and the evidence, recomputed in the order the sampler sums them
  double lv = 0.0, lz = kNegInf;
  for (std::size_t i = 0; i < nd; ++i) {
    const double l = t.dead_logl[i], b = t.dead_birth[i];
    if (!logl_ok(l) || std::isnan(b) || b > l) fail("a dead point has an invalid log-likelihood or birth contour");
    if (i > 0 && l < t.dead_logl[i - 1]) fail("the dead points' log-likelihoods are not non-decreasing");
    const int nl = t.dead_nlive[i];
    if (nl < 1 || nl > n) fail("a dead point's number of live points is out of range");
    const double dlv = 1.0 / nl;
    const double logdvol = lv + std::log(-std::expm1(-dlv));
    lv -= dlv;
    if (!(t.dead_logvol[i] == lv)) fail("the dead points' log volumes are inconsistent");
    if (l != kNegInf) lz = logaddexp(lz, l + logdvol);
  }
  if (!(t.logvol == lv)) fail("the log volume is inconsistent with the dead points");
  if (!(t.logz == lz)) fail("log Z is inconsistent with the dead points");
  if (!in_cube(t.queue_u.data(), t.queue_u.size()) || !finite(t.queue_x.data(), t.queue_x.size()))
    fail("a queued candidate lies outside the unit cube or is not finite");
  for (double v : t.queue_logl)
    if (!logl_ok(v)) fail("a queued candidate has an invalid log-likelihood");
  double prev = 0.0;
  for (double c : t.bound.cumprob) {
    if (!(c >= prev && c <= 1.0)) fail("the bound's probabilities are not a distribution");
    prev = c;
  }
  for (const auto& e : t.bound.ells) {
    if (!finite(e.center.data(), du) || !finite(e.shape.data(), du * du) || !finite(e.precision.data(), du * du) ||
        !finite(e.axes.data(), du * du) || !finite(e.major.data(), du) || !std::isfinite(e.logvol))
      fail("an ellipsoid of the bound is not finite");
  }
  if (!t.bound.ells.empty() && !std::isfinite(t.bound.logvol_sum)) fail("the bound's volume is not finite");
  // frames: empty, or one lower edge in [0, 1) per dimension, 0 where the dimension is not periodic
  for (const EllipsoidUnion* b : {&t.bound, &t.batch_bound}) {
    if (b->frame.empty()) continue;
    if (b->frame.size() != du || b->ells.empty()) fail("a bound's frame has the wrong size");
    for (std::size_t i = 0; i < du; ++i) {
      const double f = b->frame[i];
      const bool periodic = i < t.settings.periodic.size() && t.settings.periodic[i] != 0;
      if (!(f >= 0.0 && f < 1.0) || (!periodic && f != 0.0)) fail("a bound's frame is out of range");
    }
  }
  if (!finite(t.slice_stats.data(), t.slice_stats.size()) || t.slice_stats.size() > (std::size_t{1} << 20))
    fail("the slice statistics are not finite");
}

// The random stream against the run's history.  The cached normal deviate is
// pending exactly when an odd number of deviates was drawn.  Before any
// candidate the stream stands after the initial live points.  Otherwise the
// last batch of rejection candidates is drawn again from the stream state
// recorded before it, when it came from the current bound (no refit since) and
// no slice chain drew numbers after it: the candidates must be the queued ones
// (or, the queue being used up, the last point accepted) and the stream must
// end exactly in the stored state (position, cached deviate, count).
inline void check_stream(const SamplerState& t) {
  auto fail = [](const std::string& m) { throw std::runtime_error(m); };
  const int d = t.settings.ndim, n = t.settings.nlive;
  const auto du = static_cast<std::size_t>(d);
  for (const RandomStream* r : {&t.rng, &t.batch_rng}) {
    if (r->has_spare() != ((r->normals() & 1) == 1))
      fail("the random stream's cached normal deviate does not match the number of deviates drawn");
    if (r->normals() > 2 * (r->position() / 2) || (r->normals() == 0 && r->spare() != 0.0))
      fail("the random stream's count of normal deviates is impossible for its position");
  }
  const std::int64_t bmax = std::max(t.settings.batch_min, t.settings.batch_max);
  if (t.batch_size < 0 || t.batch_size > bmax ||
      t.batch_rng.position() > t.rng.position() || t.batch_rng.normals() > t.rng.normals() ||
      (t.queue_size() > 0 && static_cast<std::int64_t>(t.queue_logl.size()) != t.batch_size))
    fail("the record of the last batch of candidates is inconsistent");
  if (!t.initialized) {
    if (t.rng.position() != 0 || t.rng.normals() != 0 || t.batch_size != 0 || t.batch_rng.position() != 0 ||
        t.batch_bound_saved || !t.batch_bound.empty())
      fail("an unstarted run has drawn random numbers");
    return;
  }
  if (t.batch_size == 0) {
    if (t.niter != 0 || t.rng.position() != static_cast<std::uint64_t>(n) * du || t.rng.normals() != 0 ||
        t.batch_rng.position() != 0 || t.batch_rng.normals() != 0 || t.batch_bound_saved ||
        t.batch_use_bound || !t.batch_bound.empty())
      fail("the random stream does not stand after the initial live points");
    return;
  }
  if (t.batch_rng.position() < static_cast<std::uint64_t>(n) * du)
    fail("the last batch of candidates starts inside the initial live points' random numbers");
  // the bound the batch was drawn from: the current one, or the one kept at a
  // refit while its candidates were queued
  const EllipsoidUnion& bound = t.batch_bound_saved ? t.batch_bound : t.bound;
  const bool use_bound = t.batch_bound_saved ? t.batch_use_bound : t.use_bound;
  if ((!t.batch_bound_saved && (t.batch_use_bound || !t.batch_bound.empty())) ||
      (t.batch_bound_saved && t.batch_use_bound == t.batch_bound.empty()) || (use_bound && bound.empty()))
    fail("the record of the bound of the last batch of candidates is inconsistent");
  for (const auto& e : t.batch_bound.ells) {
    auto finite = [](const auto& a) { return a.allFinite(); };
    if (!finite(e.center) || !finite(e.shape) || !finite(e.precision) || !finite(e.axes) || !finite(e.major) ||
        !std::isfinite(e.logvol))
      fail("an ellipsoid of the last batch's bound is not finite");
  }
  if (t.slice_active && t.use_bound) return;  // slice chains drew after the batch: not replayable
  const auto m = static_cast<std::size_t>(t.batch_size);
  std::vector<double> cand(m * du);
  RandomStream rs = t.batch_rng;
  CandidateScratch w;
  // (abandoned once past the stored position: the batch used no more numbers)
  if (!draw_candidates(bound, use_bound, d, rs, m, cand.data(), w, PollFn{}, t.rng.position()) ||
      !rs.same_state(t.rng))
    fail("the random stream is not in the state its last batch of candidates left it in");
  if (t.queue_size() > 0) {
    if (std::memcmp(cand.data(), t.queue_u.data(), m * du * sizeof(double)) != 0)
      fail("the queued candidates are not the ones drawn from the random stream");
  } else if (t.niter > 0 && t.dead_logl.back() != kNegInf) {
    // the queue was used up: its last candidate is the point accepted last, in
    // the highest row replaced in the last iteration (births equal to its contour)
    const double contour = t.dead_logl.back();
    Eigen::Index row = -1;
    for (Eigen::Index i = 0; i < t.live_birth.size(); ++i)
      if (t.live_birth[i] == contour) row = i;
    if (row < 0 || std::memcmp(cand.data() + (m - 1) * du, t.live_u.row(row).data(), du * sizeof(double)) != 0)
      fail("the last point accepted is not the last candidate drawn from the random stream");
  }
}

// Restore `s` from `data`.  The settings stored in the payload must equal the
// current ones (the caller checks the fingerprint first; this is a safety net).
// Throws std::runtime_error on any inconsistency; `s` is untouched then.
inline void load_state(SamplerState& s, const std::string& data) {
  StateReader r(data);
  const auto version = r.pod<std::uint32_t>();
  if (version != kStateVersion)
    throw std::runtime_error("state version " + std::to_string(version) + " is not " + std::to_string(kStateVersion));
  StateWriter cur, got;
  write_settings(cur, s.settings);
  Settings st;
  st.ndim = r.pod<std::int32_t>();
  st.nlive = r.pod<std::int32_t>();
  st.bound = static_cast<BoundKind>(r.pod<std::int32_t>());
  st.enlarge = r.pod<double>();
  st.update_interval = r.pod<std::int32_t>();
  st.first_update_eff = r.pod<double>();
  st.batch_min = r.pod<std::int32_t>();
  st.batch_max = r.pod<std::int32_t>();
  write_settings(got, st);
  if (cur.out != got.out) throw std::runtime_error("the saved settings differ from this sampler's");
  st.periodic = s.settings.periodic;  // not saved (the fingerprint holds it)
  const auto n = static_cast<Eigen::Index>(st.nlive), d = static_cast<Eigen::Index>(st.ndim);
  SamplerState t;
  t.settings = st;
  t.live_u = r.mat<RowMatrix>();
  t.live_x = r.mat<RowMatrix>();
  t.live_logl = r.evec();
  t.live_birth = r.evec();
  const bool live_ok = (t.live_u.rows() == 0 && t.live_logl.size() == 0) ||
                       (t.live_u.rows() == n && t.live_u.cols() == d && t.live_x.rows() == n && t.live_x.cols() == d &&
                        t.live_logl.size() == n && t.live_birth.size() == n);
  if (!live_ok) throw std::runtime_error("live points have the wrong shape");
  {
    const std::vector<double> du = r.vec(), dx = r.vec();
    t.dead_u.assign(du.begin(), du.end());
    t.dead_x.assign(dx.begin(), dx.end());
  }
  t.dead_logl = r.vec();
  t.dead_birth = r.vec();
  t.dead_logvol = r.vec();
  t.dead_nlive = r.ivec();
  const std::size_t nd = t.dead_logl.size();
  if (t.dead_u.size() != nd * static_cast<std::size_t>(d) || t.dead_x.size() != t.dead_u.size() ||
      t.dead_birth.size() != nd || t.dead_logvol.size() != nd || t.dead_nlive.size() != nd)
    throw std::runtime_error("dead points have inconsistent sizes");
  read_bound(r, t.bound, st.nlive, d);
  t.use_bound = r.pod<std::uint8_t>() != 0;
  if (t.use_bound && t.bound.ells.empty()) throw std::runtime_error("bound in use but empty");
  t.iter_at_update = r.pod<std::int64_t>();
  t.updates_since_search = r.pod<std::int64_t>();
  t.last_search_nell = r.pod<std::int32_t>();
  t.queue_u = r.vec();
  t.queue_x = r.vec();
  t.queue_logl = r.vec();
  t.queue_head = r.pod<std::uint64_t>();
  if (t.queue_u.size() != t.queue_logl.size() * static_cast<std::size_t>(d) || t.queue_x.size() != t.queue_u.size() ||
      t.queue_head > t.queue_logl.size())
    throw std::runtime_error("candidate queue is inconsistent");
  const auto seed = r.pod<std::uint64_t>(), stream = r.pod<std::uint64_t>(), pos = r.pod<std::uint64_t>();
  const bool has_spare = r.pod<std::uint8_t>() != 0;
  const double spare = r.pod<double>();
  t.rng = RandomStream(seed, stream, pos);
  t.initialized = r.pod<std::uint8_t>() != 0;
  if (t.initialized && t.live_logl.size() != n) throw std::runtime_error("initialised without live points");
  t.niter = r.pod<std::int64_t>();
  t.ncall = r.pod<std::int64_t>();
  t.accepted_since_update = r.pod<std::int64_t>();
  t.evaluated_since_update = r.pod<std::int64_t>();
  t.accepted_total = r.pod<std::int64_t>();
  t.evaluated_total = r.pod<std::int64_t>();
  t.logvol = r.pod<double>();
  t.logz = r.pod<double>();
  t.slice_active = r.pod<std::uint8_t>() != 0;
  t.slice_calls = r.pod<std::int64_t>();
  t.slice_replacements = r.pod<std::int64_t>();
  t.slice_nsteps = r.pod<std::int32_t>();
  t.slice_stats = r.vec();
  t.rng.restore(pos, has_spare, spare, r.pod<std::uint64_t>());
  const auto bpos = r.pod<std::uint64_t>();
  const bool bspare_flag = r.pod<std::uint8_t>() != 0;
  const double bspare = r.pod<double>();
  t.batch_rng = RandomStream(seed, stream, bpos);
  t.batch_rng.restore(bpos, bspare_flag, bspare, r.pod<std::uint64_t>());
  t.batch_size = r.pod<std::int64_t>();
  t.evaluated_at_update = r.pod<std::int64_t>();
  t.batch_bound_saved = r.pod<std::uint8_t>() != 0;
  t.batch_use_bound = r.pod<std::uint8_t>() != 0;
  read_bound(r, t.batch_bound, st.nlive, d);
  t.bound.frame = r.vec();
  t.batch_bound.frame = r.vec();
  if (!r.done()) throw std::runtime_error("trailing bytes after the state");
  if (static_cast<std::size_t>(t.niter) != nd) throw std::runtime_error("niter does not match the dead points");
  if (t.bound.ells.size() != t.bound.cumprob.size()) throw std::runtime_error("bound probabilities are inconsistent");
  validate_state(t);
  check_stream(t);
  s = std::move(t);
}

}  // namespace ridgeline::nested
