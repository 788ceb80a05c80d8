// The Peng-Wei K-means SDP on data X: centring and scaling, the factored solve
// (nlr.hpp) and its early exit once the rounding (rounding.hpp) has settled.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ridgeline/cluster/nlr.hpp"
#include "ridgeline/cluster/rounding.hpp"

namespace ridgeline::cluster {

// Whether two labelings are the same partition (equal up to a renaming of the labels).
inline bool same_partition(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b, int K) {
  if (a.size() != b.size() || a.empty()) return false;
  std::vector<std::int64_t> fwd(static_cast<std::size_t>(K), -1), bwd(static_cast<std::size_t>(K), -1);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<std::size_t>(a[i]), y = static_cast<std::size_t>(b[i]);
    if (fwd[x] < 0 && bwd[y] < 0) {
      fwd[x] = b[i];
      bwd[y] = a[i];
    } else if (fwd[x] != b[i] || bwd[y] != a[i]) {
      return false;
    }
  }
  return true;
}

// ||U U^T - B||_F / ||B||_F for the block matrix B = sum_k 1_k 1_k^T / n_k of `labels`,
// from U only: ||U^T U||_F^2 - 2 sum_k ||U^T 1_k||^2 / n_k + K' (K' non-empty clusters).
// Sequential sums over the rows in order: the value does not depend on the thread count.
inline double block_gap(const Mat& U, const std::vector<std::int64_t>& labels, int K) {
  const Eigen::Index r = U.cols();
  Eigen::MatrixXd S = Eigen::MatrixXd::Zero(K, r);
  std::vector<double> cnt(static_cast<std::size_t>(K), 0.0);
  for (Eigen::Index i = 0; i < U.rows(); ++i) {
    S.row(labels[static_cast<std::size_t>(i)]) += U.row(i);
    cnt[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])] += 1.0;
  }
  const Eigen::MatrixXd G = U.transpose() * U;
  double cross = 0.0, kk = 0.0;
  for (int k = 0; k < K; ++k)
    if (cnt[static_cast<std::size_t>(k)] > 0.0) {
      cross += S.row(k).squaredNorm() / cnt[static_cast<std::size_t>(k)];
      kk += 1.0;
    }
  return std::sqrt(std::max(G.squaredNorm() - 2.0 * cross + kk, 0.0) / std::max(kk, 1.0));
}

// What the early-exit test saw: the rounding whose Lloyd refinement (on the data) had the
// lowest K-means cost so far, and why the test stopped the solve.
struct SettleState {
  long next = 0;
  int same = 0;
  int stale = 0;
  long checks = 0;
  std::vector<std::int64_t> prev;
  double prev_gap = std::numeric_limits<double>::infinity();
  std::vector<std::int64_t> best_rounding;  // raw rounding (before Lloyd) of the best check
  double best_cost = std::numeric_limits<double>::infinity();  // its refined cost, in units of Y
  long best_iter = 0;
  bool stalled = false;  // stopped by the stall rule (not by three equal roundings)
};

// The early exit of a non-tight solve.  Once the infeasibility is below
// opt.settle_infeas, the factor is rounded (round_factor, then kmeans with
// opt.settle_n_init starts and opt.settle_seed: the rounding kmeans_sdp applies
// to the result) at iterations spaced by max(50, it / 4).  Never while U U^T is within
// opt.settle_gap of the rounding's block matrix or that gap still shrinks by a quarter
// between two roundings (a solution heading to tight is solved to tol, to be certified);
// otherwise the solve stops when
//  - "settled": three roundings in a row are the same partition, or
//  - "stalled" (with Y, opt.stall_checks > 0): the rounding refined by Lloyd's iterations
//    on Y has not lowered the best K-means cost seen by more than a relative
//    opt.stall_rtol at opt.stall_checks roundings in a row.  The best rounding is kept.
inline SettleFn make_settle(int K, const NLROptions& opt, int threads, const Mat* Y,
                            const std::shared_ptr<SettleState>& st) {
  return [st, K, opt, threads, Y](const Mat& U, long it, double infeas) -> bool {
    if (!(infeas <= opt.settle_infeas) || it < st->next) return false;
    st->next = it + std::max<long>(50, it / 4);
    ++st->checks;
    KMeansResult km = kmeans(round_factor(U, K), K, opt.settle_n_init, 300, opt.settle_seed, threads);
    const bool eq = same_partition(st->prev, km.labels, K);
    const double gap = block_gap(U, km.labels, K);
    bool improved = false;
    if (Y && opt.stall_checks > 0) {
      Mat C;
      cluster_means(*Y, km.labels, K, C);
      const double c = lloyd(*Y, std::move(C), 300).cost;
      if (c < st->best_cost) {
        // only a drop by more than a relative opt.stall_rtol counts as progress
        improved = c < st->best_cost * (1.0 - opt.stall_rtol);
        st->best_cost = c;
        st->best_rounding = km.labels;
        st->best_iter = it;
      }
    }
    st->prev = std::move(km.labels);
    // a gap still shrinking by a quarter or more between two roundings may be heading to 0
    // (a tight solution, to be certified): only a stalled gap counts
    const bool shrinking = gap < 0.75 * st->prev_gap;
    st->prev_gap = gap;
    if (gap <= opt.settle_gap || shrinking) {
      st->same = 0;
      st->stale = 0;
      return false;
    }
    st->same = eq ? st->same + 1 : 0;
    st->stale = improved ? 0 : st->stale + 1;
    if (st->same >= 2) return true;
    if (opt.stall_checks > 0 && Y && st->stale >= opt.stall_checks) {
      st->stalled = true;
      return true;
    }
    return false;
  };
}

struct PengWeiResult {
  NLRResult nlr;
  double scale2 = 1.0;  // ||Xc||_2^2: <Xc Xc^T, Z> = -objective * scale2
  bool stalled = false;  // the early exit was the stall rule (make_settle)
  std::vector<std::int64_t> best_rounding;  // the early-exit test's best rounding (empty: none)
  double best_cost = std::numeric_limits<double>::infinity();  // its Lloyd-refined cost, units of X
  long best_iter = 0;
};

// The factor of the block matrix of `labels` (n_k > 0 points with label k < K): column k
// is 1_k / sqrt(n_k), the other columns are zero; U U^T 1 = 1 and ||U||_F^2 = K' exactly.
inline Mat block_factor(const std::int64_t* labels, Eigen::Index n, int K, int rank) {
  std::vector<double> cnt(static_cast<std::size_t>(K), 0.0);
  for (Eigen::Index i = 0; i < n; ++i) {
    require(labels[i] >= 0 && labels[i] < K, "init_labels must lie in [0, n_clusters)");
    cnt[static_cast<std::size_t>(labels[i])] += 1.0;
  }
  Mat U = Mat::Zero(n, rank);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(labels[i]);
    if (static_cast<int>(k) < rank) U(i, static_cast<Eigen::Index>(k)) = 1.0 / std::sqrt(cnt[k]);
  }
  return U;
}

// The Peng-Wei K-means SDP from data X (rows are points), rank-r factor, random start
// (or the warm start of opt.init_labels).
inline PengWeiResult peng_wei(const Eigen::Ref<const Mat>& X, int K, int rank, std::uint64_t seed, const NLROptions& opt,
                              const PollFn& poll = {}) {
  require(K >= 1, "n_clusters=" + std::to_string(K) + " must be >= 1");
  require(X.rows() >= K, "n_samples=" + std::to_string(X.rows()) + " should be >= n_clusters=" + std::to_string(K));
  require(rank >= 1, "rank=" + std::to_string(rank) + " must be >= 1");
  const int th = resolve_threads(opt.threads);
  PengWeiResult out;
  const Mat Y = centre_scale(X, &out.scale2, th);
  PengWeiCost cost;
  cost.Y = &Y;
  NLROptions o = opt;
  // a moderate penalty: beyond beta n ~ 64 the inner solve slows down (its step is
  // ~1 / (beta n)) far more than the multiplier steps speed up
  if (!(o.beta_max > 0.0)) o.beta_max = 64.0 / static_cast<double>(X.rows());
  Mat U0;
  U0 = initial_factor(static_cast<std::size_t>(X.rows()), rank, seed, 0);
  if (o.init_labels) {
    // a fraction init_weight (0.5) of the energy from the block matrix, the rest from the random start: the block factor
    // alone is a stationary point of the factored problem whether or not the SDP is tight
    // there (a spurious certificate); from the mixture the solve has to find the block
    // structure again, as from the random start
    const Mat B = block_factor(o.init_labels, X.rows(), K, rank);
    const double rn = U0.norm(), bn = B.norm();
    const double wb = std::min(std::max(o.init_weight, 0.0), 1.0);
    U0 *= std::sqrt((1.0 - wb) * K) / rn;
    U0 += (std::sqrt(wb * K) / bn) * B;
    o.multiplier_init = true;
  }
  auto st = std::make_shared<SettleState>();
  const SettleFn settle = o.settle_n_init > 0 ? make_settle(K, o, th, &Y, st) : SettleFn{};
  out.nlr = nlr_solve(cost, U0, {Block{0, rank, static_cast<double>(K)}}, nullptr, o, poll, settle);
  out.stalled = out.nlr.settled && st->stalled;
  out.best_rounding = std::move(st->best_rounding);
  out.best_cost = st->best_cost * out.scale2;
  out.best_iter = st->best_iter;
  return out;
}

// peng_wei on a row-major buffer, with a standard-type result (the interface of nlr_api.hpp).
#ifndef RIDGELINE_CLUSTER_ISA
#define RIDGELINE_CLUSTER_ISA "baseline"
#endif
inline clusterapi::PengWeiOut peng_wei_flat(const double* X, long n, long p, int K, int rank, std::uint64_t seed,
                                            const NLROptions& opt, const PollFn& poll) {
  const Eigen::Map<const Mat> Xm(X, n, p);  // no copy of X
  PengWeiResult r = peng_wei(Xm, K, rank, seed, opt, poll);
  clusterapi::PengWeiOut out;
  out.rows = static_cast<long>(r.nlr.U.rows());
  out.cols = static_cast<long>(r.nlr.U.cols());
  out.U.assign(r.nlr.U.data(), r.nlr.U.data() + r.nlr.U.size());
  out.y.assign(r.nlr.y.data(), r.nlr.y.data() + r.nlr.y.size());
  out.beta = r.nlr.beta;
  out.objective = r.nlr.objective;
  out.infeasibility = r.nlr.infeasibility;
  out.stationarity = r.nlr.stationarity;
  out.scale2 = r.scale2;
  out.n_iter = r.nlr.n_iter;
  out.n_dual = r.nlr.n_dual;
  out.converged = r.nlr.converged;
  out.settled = r.nlr.settled;
  out.stalled = r.stalled;
  out.best_rounding = std::move(r.best_rounding);
  out.best_cost = r.best_cost;
  out.best_iter = r.best_iter;
  out.isa = RIDGELINE_CLUSTER_ISA;
  return out;
}

// la_sdp on row-major buffers, with a standard-type result (the interface of nlr_api.hpp).
inline clusterapi::LAOut la_sdp_flat(const double* X, long n, long p, const double* covs, int K, const double* U0,
                                     int rank, const NLROptions& opt, const PollFn& poll) {
  const Mat Xm = Eigen::Map<const Mat>(X, n, p);
  std::vector<Eigen::MatrixXd> cv;
  for (int k = 0; k < K; ++k)
    cv.push_back(Eigen::MatrixXd(Eigen::Map<const Mat>(covs + static_cast<std::size_t>(k) * p * p, p, p)));
  const Mat U = Eigen::Map<const Mat>(U0, n, static_cast<Eigen::Index>(K) * rank);
  NLRResult r = la_sdp(Xm, cv, U, rank, opt, poll);
  clusterapi::LAOut out;
  out.rows = static_cast<long>(r.U.rows());
  out.cols = static_cast<long>(r.U.cols());
  out.U.assign(r.U.data(), r.U.data() + r.U.size());
  out.y.assign(r.y.data(), r.y.data() + r.y.size());
  out.beta = r.beta;
  out.objective = r.objective;
  out.infeasibility = r.infeasibility;
  out.stationarity = r.stationarity;
  out.n_iter = r.n_iter;
  out.n_dual = r.n_dual;
  out.converged = r.converged;
  out.settled = r.settled;
  out.isa = RIDGELINE_CLUSTER_ISA;
  return out;
}

}  // namespace ridgeline::cluster
