// Masked-diffusion ELBO planning and reduction (no Python here).
//
// A plan draws, for each sequence (row) and each of `budget` model evaluations,
// a set of masked positions and a coefficient, so that
//
//     ELBO estimate(row) = sum_k coef[row, k] * sum_{i masked in eval k} log p(x_i | unmasked)
//
// Every draw is a pure function of (key, row id, evaluation index) through the
// shared Philox generator: evaluation k of row r reads the stream
// (r << 24) | (k + 1) (word 0: its scalar uniform, words 1..n: one key per
// maskable position), and row-level draws read stream r << 24 (word 0: the offset of the
// systematic schemes; words 1..n: the row permutation of coupled_l).
// The repeated evaluations of a quadrature node reuse the keys of the node's first
// evaluation, rotated (see plan_row).
// The numpy twin lives in python/ridgeline/elbo/_reference.py.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/common/random.hpp"

namespace ridgeline::elbo {

enum class Scheme : int {
  double_mc = 0,
  stratified_t = 1,
  systematic_t = 2,
  stratified_l = 3,
  systematic_l = 4,
  quadrature = 5,
  coupled_l = 6,
};

enum class MaskKind : int { exact_k = 0, bernoulli = 1 };

constexpr unsigned kEvalBits = 24;
constexpr std::uint64_t kMaxBudget = (std::uint64_t{1} << kEvalBits) - 2;
constexpr std::uint64_t kMaxRowId = (std::uint64_t{1} << (64 - kEvalBits)) - 1;

inline std::uint64_t eval_stream(std::uint64_t row, std::uint64_t k) noexcept {
  return (row << kEvalBits) | (k + 1);
}
inline std::uint64_t row_stream(std::uint64_t row) noexcept { return row << kEvalBits; }

// Number of masked tokens of stratum k (of B) for n maskable tokens at offset v in [0, 1):
// u = (k + v) / B is uniform on the stratum, l = floor(u n) + 1 is then uniform on {1..n}
// when k is uniform, so the weight n / (B l) makes sum_k weight * f(l_k) unbiased for
// sum_l f(l) / l for every B and n (strata repeat when B > n).
inline std::int64_t stratum_l(double v, std::int64_t k, std::int64_t n, std::int64_t budget) noexcept {
  const double x = (static_cast<double>(k) + v) * static_cast<double>(n) / static_cast<double>(budget);
  std::int64_t l = static_cast<std::int64_t>(std::floor(x)) + 1;
  if (l < 1) l = 1;
  if (l > n) l = n;
  return l;
}

struct PlanSpec {
  Scheme scheme = Scheme::stratified_l;
  MaskKind mask = MaskKind::exact_k;
  std::int64_t budget = 1;
  std::uint64_t key = 0;  // Philox key (already mixed from the user seed)
  double t_min = 0.0;
  std::vector<double> nodes, weights;  // quadrature nodes/weights on [0, 1]
};

inline void check_spec(const PlanSpec& s) {
  require(s.budget >= 1, "budget=" + std::to_string(s.budget) + " must be >= 1");
  require(static_cast<std::uint64_t>(s.budget) <= kMaxBudget,
          "budget=" + std::to_string(s.budget) + " must be <= " + std::to_string(kMaxBudget));
  require(s.t_min >= 0.0 && s.t_min < 1.0, "t_min=" + std::to_string(s.t_min) + " must be in [0, 1)");
  if (s.scheme == Scheme::quadrature) {
    require(!s.nodes.empty() && s.nodes.size() == s.weights.size(), "quadrature nodes and weights must match");
    require(static_cast<std::int64_t>(s.nodes.size()) <= s.budget,
            "quadrature=" + std::to_string(s.nodes.size()) + " nodes must be <= budget=" + std::to_string(s.budget));
    for (double t : s.nodes) require(t > 0.0 && t <= 1.0, "quadrature nodes must lie in (0, 1]");
  }
  if (s.scheme == Scheme::stratified_l || s.scheme == Scheme::systematic_l || s.scheme == Scheme::coupled_l) {
    require(s.mask == MaskKind::exact_k, "l-schemes need exact_k masks");
  }
}

// Scratch buffer reused across the evaluations of one worker.
struct RowScratch {
  std::vector<std::pair<double, std::int64_t>> keyed;
  std::vector<std::int64_t> chosen;
  // coupled_l
  std::vector<double> p, F;
  std::vector<std::pair<std::uint64_t, std::int64_t>> perm;
  std::vector<std::int64_t> ls, order, offset;
  std::vector<std::uint64_t> load;
};

// The l-density of coupled_l on {1..n}: p[l] proportional to 1 / sqrt(l), F[l] = p[1] + ... + p[l]
// (F[0] = 0), both summed in increasing l (the numpy twin sums in the same order).
inline void sqrt_l_density(std::int64_t n, std::vector<double>& p, std::vector<double>& F) {
  p.assign(static_cast<std::size_t>(n + 1), 0.0);
  F.assign(static_cast<std::size_t>(n + 1), 0.0);
  double z = 0.0;
  for (std::int64_t l = 1; l <= n; ++l) {
    p[static_cast<std::size_t>(l)] = 1.0 / std::sqrt(static_cast<double>(l));
    z += p[static_cast<std::size_t>(l)];
  }
  for (std::int64_t l = 1; l <= n; ++l) {
    const std::size_t i = static_cast<std::size_t>(l);
    p[i] = p[i] / z;
    F[i] = F[i - 1] + p[i];
  }
}

// The smallest l in 1..n with F[l] > u (n when rounding leaves F[n] <= u).
inline std::int64_t density_l(const std::vector<double>& F, std::int64_t n, double u) noexcept {
  const auto it = std::upper_bound(F.begin() + 1, F.begin() + n + 1, u);
  const std::int64_t l = static_cast<std::int64_t>(it - F.begin());
  return l > n ? n : l;
}

// Integer proxy of the per-token weight of an l-mask of coupled_l (proportional to 1 / sqrt(l)),
// used only to place the masks (exact integer sums: no rounding can differ between implementations).
inline std::uint64_t coupled_load(std::int64_t l) noexcept {
  return static_cast<std::uint64_t>(std::floor(16777216.0 / std::sqrt(static_cast<double>(l))));
}

// coupled_l: stratified l from the density p(l) ~ 1/sqrt(l) (stratum k: u = (k + v_k) / B,
// l = the u-quantile of p, weight 1 / (B l p(l))), and the masks of a row coupled: one random
// permutation of the row's positions (row stream, words 1..n), evaluation k masks the l_k
// consecutive positions (cyclically) of the permutation from offset o_k.  The offsets depend on
// the l's only (never on the permutation), so each mask is a uniformly random l_k-subset and
// the estimator is exactly unbiased; they are chosen greedily (masks in increasing l, each at the
// first offset of least load, the load of a position being the summed weights of the masks
// already placed on it) so that every token's total weight over the row is close to 1.
inline void plan_row_coupled(const PlanSpec& s, std::uint64_t row_id, const std::int64_t* pos, std::int64_t n,
                             double* t_out, double* coef_out, std::int64_t* count_out,
                             std::vector<std::int64_t>& idx, RowScratch& sc) {
  const std::int64_t B = s.budget;
  const double nd = static_cast<double>(n), Bd = static_cast<double>(B);
  const std::size_t un = static_cast<std::size_t>(n), uB = static_cast<std::size_t>(B);
  sqrt_l_density(n, sc.p, sc.F);
  sc.ls.resize(uB);
  for (std::int64_t k = 0; k < B; ++k) {
    const double v = u64_to_uniform(philox_word(s.key, eval_stream(row_id, static_cast<std::uint64_t>(k)), 0));
    const std::int64_t l = density_l(sc.F, n, (static_cast<double>(k) + v) / Bd);
    sc.ls[static_cast<std::size_t>(k)] = l;
    t_out[k] = static_cast<double>(l) / nd;
    coef_out[k] = 1.0 / (Bd * static_cast<double>(l) * sc.p[static_cast<std::size_t>(l)]);
    count_out[k] = l;
  }
  sc.perm.resize(un);
  for (std::int64_t p = 0; p < n; ++p) {
    sc.perm[static_cast<std::size_t>(p)] = {philox_word(s.key, row_stream(row_id), static_cast<std::uint64_t>(p) + 1), p};
  }
  std::sort(sc.perm.begin(), sc.perm.end());
  sc.order.resize(uB);
  for (std::int64_t k = 0; k < B; ++k) sc.order[static_cast<std::size_t>(k)] = k;
  std::stable_sort(sc.order.begin(), sc.order.end(), [&](std::int64_t a, std::int64_t b) {
    return sc.ls[static_cast<std::size_t>(a)] < sc.ls[static_cast<std::size_t>(b)];
  });
  sc.load.assign(un, 0);
  sc.offset.assign(uB, 0);
  for (std::int64_t k : sc.order) {
    const std::int64_t l = sc.ls[static_cast<std::size_t>(k)];
    std::int64_t best_o = 0;
    if (l < n) {
      std::uint64_t sum = 0;
      for (std::int64_t j = 0; j < l; ++j) sum += sc.load[static_cast<std::size_t>(j)];
      std::uint64_t best = sum;
      for (std::int64_t o = 1; o < n; ++o) {
        sum = sum - sc.load[static_cast<std::size_t>(o - 1)] + sc.load[static_cast<std::size_t>((o - 1 + l) % n)];
        if (sum < best) {
          best = sum;
          best_o = o;
        }
      }
    }
    sc.offset[static_cast<std::size_t>(k)] = best_o;
    const std::uint64_t q = coupled_load(l);
    for (std::int64_t j = 0; j < l; ++j) sc.load[static_cast<std::size_t>((best_o + j) % n)] += q;
  }
  for (std::int64_t k = 0; k < B; ++k) {
    const std::int64_t l = sc.ls[static_cast<std::size_t>(k)], o = sc.offset[static_cast<std::size_t>(k)];
    std::vector<std::int64_t>& chosen = sc.chosen;
    chosen.clear();
    for (std::int64_t j = 0; j < l; ++j) chosen.push_back(pos[sc.perm[static_cast<std::size_t>((o + j) % n)].second]);
    std::sort(chosen.begin(), chosen.end());
    idx.insert(idx.end(), chosen.begin(), chosen.end());
  }
}

// Plan one row: n maskable positions pos[0..n-1] (ascending).  Writes t, coef, count for
// each of the budget evaluations and appends the masked positions (ascending per
// evaluation) to idx.
inline void plan_row(const PlanSpec& s, std::uint64_t row_id, const std::int64_t* pos, std::int64_t n, double* t_out,
                     double* coef_out, std::int64_t* count_out, std::vector<std::int64_t>& idx, RowScratch& scratch) {
  const std::int64_t B = s.budget;
  if (n <= 0) {
    for (std::int64_t k = 0; k < B; ++k) {
      t_out[k] = 0.0;
      coef_out[k] = 0.0;
      count_out[k] = 0;
    }
    return;
  }
  if (s.scheme == Scheme::coupled_l) {
    plan_row_coupled(s, row_id, pos, n, t_out, coef_out, count_out, idx, scratch);
    return;
  }
  const double nd = static_cast<double>(n), Bd = static_cast<double>(B);
  const double row_v = u64_to_uniform(philox_word(s.key, row_stream(row_id), 0));
  const std::int64_t Q = static_cast<std::int64_t>(s.nodes.size());
  for (std::int64_t k = 0; k < B; ++k) {
    const std::uint64_t stream = eval_stream(row_id, static_cast<std::uint64_t>(k));
    const double v = u64_to_uniform(philox_word(s.key, stream, 0));
    double t = 0.0, coef = 0.0;
    std::int64_t l = -1;  // -1: Bernoulli(t) mask
    switch (s.scheme) {
      case Scheme::double_mc:
      case Scheme::stratified_t:
      case Scheme::systematic_t: {
        double u = v;
        if (s.scheme == Scheme::stratified_t) u = (static_cast<double>(k) + v) / Bd;
        if (s.scheme == Scheme::systematic_t) u = (static_cast<double>(k) + row_v) / Bd;
        t = s.t_min + (1.0 - s.t_min) * u;
        coef = 1.0 / (Bd * t);
        break;
      }
      case Scheme::stratified_l:
      case Scheme::systematic_l: {
        l = stratum_l(s.scheme == Scheme::stratified_l ? v : row_v, k, n, B);
        t = static_cast<double>(l) / nd;
        coef = nd / (Bd * static_cast<double>(l));
        break;
      }
      case Scheme::coupled_l:  // planned by plan_row_coupled (never reached)
        break;
      case Scheme::quadrature: {
        const std::int64_t q = k % Q;
        const std::int64_t reps = B / Q + (q < B % Q ? 1 : 0);
        t = s.nodes[static_cast<std::size_t>(q)];
        coef = s.weights[static_cast<std::size_t>(q)] / (t * static_cast<double>(reps));
        break;
      }
    }
    if (l < 0 && s.mask == MaskKind::exact_k) {
      // GDPO-style exact count for time schemes: floor(t n) tokens (biased; see docs).
      l = static_cast<std::int64_t>(std::floor(t * nd));
      if (l > n) l = n;
    }
    // Keys: one uniform per maskable position.  Quadrature evaluations of one node share the
    // keys of the node's first evaluation, rotated by rep / reps (a Cranley-Patterson
    // rotation: each mask is still exactly Bernoulli(t) / uniform, and the reps of a node
    // cover the positions evenly).
    std::uint64_t key_stream = stream;
    double shift = 0.0;
    if (s.scheme == Scheme::quadrature) {
      const std::int64_t q = k % Q, rep = k / Q, reps = B / Q + (q < B % Q ? 1 : 0);
      key_stream = eval_stream(row_id, static_cast<std::uint64_t>(q));
      shift = static_cast<double>(rep) / static_cast<double>(reps);
    }
    auto key_of = [&](std::int64_t p) {
      double w = u64_to_uniform(philox_word(s.key, key_stream, static_cast<std::uint64_t>(p) + 1)) + shift;
      if (w >= 1.0) w -= 1.0;
      return w;
    };
    std::vector<std::int64_t>& chosen = scratch.chosen;
    chosen.clear();
    if (l < 0) {
      for (std::int64_t p = 0; p < n; ++p) {
        if (key_of(p) < t) chosen.push_back(pos[p]);
      }
    } else if (l >= n) {
      chosen.assign(pos, pos + n);
    } else if (l > 0) {
      auto& keyed = scratch.keyed;
      keyed.resize(static_cast<std::size_t>(n));
      for (std::int64_t p = 0; p < n; ++p) keyed[static_cast<std::size_t>(p)] = {key_of(p), p};
      // The l smallest (key, index) pairs: a uniformly random l-subset, ties broken by index.
      std::nth_element(keyed.begin(), keyed.begin() + (l - 1), keyed.end());
      for (std::int64_t j = 0; j < l; ++j) chosen.push_back(pos[keyed[static_cast<std::size_t>(j)].second]);
      std::sort(chosen.begin(), chosen.end());
    }
    t_out[k] = t;
    coef_out[k] = coef;
    count_out[k] = static_cast<std::int64_t>(chosen.size());
    idx.insert(idx.end(), chosen.begin(), chosen.end());
  }
}

struct PlanOut {
  std::vector<double> t, coef;        // [batch * budget]
  std::vector<std::int64_t> count;    // [batch * budget]
  std::vector<std::int64_t> indptr;   // [batch * budget + 1]
  std::vector<std::int64_t> indices;  // masked positions, evaluation after evaluation
};

// Plan a batch.  Row b has maskable positions pos[pos_ptr[b] .. pos_ptr[b+1]).
inline PlanOut make_plan(const PlanSpec& s, const std::uint64_t* row_ids, const std::int64_t* pos_ptr,
                         const std::int64_t* pos, std::int64_t batch, int nthreads, const PollFn& poll) {
  check_spec(s);
  for (std::int64_t b = 0; b < batch; ++b) {
    if (row_ids[b] > kMaxRowId) throw std::invalid_argument("row_ids must be < 2**40");
  }
  const std::int64_t B = s.budget;
  PlanOut out;
  const std::size_t m = static_cast<std::size_t>(batch * B);
  out.t.assign(m, 0.0);
  out.coef.assign(m, 0.0);
  out.count.assign(m, 0);
  std::vector<std::vector<std::int64_t>> per_row(static_cast<std::size_t>(batch));
  std::atomic<bool> stop{false};
  parallel_for(static_cast<std::size_t>(batch), nthreads, [&](std::size_t begin, std::size_t end, int worker) {
    RowScratch scratch;
    for (std::size_t b = begin; b < end; ++b) {
      if (stop.load(std::memory_order_relaxed)) return;
      // worker 0 runs in the calling thread, where Python handles signals; poll is rate-limited
      if (worker == 0 && poll && poll()) {
        stop.store(true);
        return;
      }
      const std::int64_t lo = pos_ptr[b], hi = pos_ptr[b + 1];
      const std::size_t o = b * static_cast<std::size_t>(B);
      plan_row(s, row_ids[b], pos + lo, hi - lo, out.t.data() + o, out.coef.data() + o, out.count.data() + o,
               per_row[b], scratch);
    }
  });
  if (stop.load()) throw Interrupted();
  out.indptr.assign(m + 1, 0);
  for (std::size_t j = 0; j < m; ++j) out.indptr[j + 1] = out.indptr[j] + out.count[j];
  out.indices.reserve(static_cast<std::size_t>(out.indptr[m]));
  for (auto& v : per_row) {
    out.indices.insert(out.indices.end(), v.begin(), v.end());
    std::vector<std::int64_t>().swap(v);
  }
  return out;
}

// terms[j] = coef[j] * sum_{i in indices[indptr[j]..indptr[j+1])} logp[j, i] for every evaluation j.
// Throws invalid_argument on a NaN or +inf log-probability at a masked position.
inline void reduce_terms(const std::int64_t* indptr, const std::int64_t* indices, const double* coef,
                         const double* logp, std::int64_t rows, std::int64_t seq_len, double* terms) {
  for (std::int64_t j = 0; j < rows; ++j) {
    const double* lp = logp + j * seq_len;
    double acc = 0.0;
    for (std::int64_t a = indptr[j]; a < indptr[j + 1]; ++a) {
      const double x = lp[indices[a]];
      if (std::isnan(x) || x == HUGE_VAL) {
        throw std::invalid_argument("logp[" + std::to_string(j) + ", " + std::to_string(indices[a]) + "]=" +
                                    (std::isnan(x) ? std::string("nan") : std::string("inf")) +
                                    " at a masked position; log-probabilities must be finite or -inf");
      }
      acc += x;
    }
    terms[j] = indptr[j + 1] > indptr[j] ? coef[j] * acc : 0.0;
  }
}

}  // namespace ridgeline::elbo
