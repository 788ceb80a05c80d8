// Options and the Eigen-free interface of the Peng-Wei solver (no Python here).
//
// The solver (nlr.hpp) is compiled twice: once for the baseline instruction set
// and once, in its own translation unit and namespaces, for AVX2 + FMA
// (cpp/bindings/cluster_avx2.cpp).  This header is the boundary between them
// and therefore uses only standard types.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "ridgeline/common/errors.hpp"

namespace ridgeline::clusterapi {

struct NLROptions {
  double tol = 1e-6;
  long max_iter = 20000;
  int memory = 10;
  double max_move = 0.2;
  double dual_c = 1.0;
  double dual_bb = 100.0;  // cap of the Barzilai-Borwein dual step, in units of beta (0: plain y += beta r)
  double beta0 = -1.0;     // <= 0: 1 / n
  double beta_max = -1.0;  // > 0: the penalty doubles past it only after the infeasibility stalls (<= 0: no cap)
  int stall_duals = 20;    // the cap doubles after this many dual steps without halving the best infeasibility
  int threads = 1;
  bool multiplier_init = false;  // start from the least-squares multiplier at the projected U0
  // Early exit of the Peng-Wei solve once its rounding has settled (peng_wei.hpp, make_settle):
  // settle_n_init > 0 turns it on, with the rounding's k-means starts and seed; the test runs
  // below settle_infeas and never stops a solve whose U U^T is within settle_gap of the block
  // matrix of its rounding (that one is solved to tol, to be certified).
  int settle_n_init = 0;
  std::uint64_t settle_seed = 0;
  double settle_infeas = 1e-2;
  double settle_gap = 1e-2;
  // The stall rule of that test (make_settle): > 0 stops a non-tight solve once the rounding,
  // refined by Lloyd's iterations on the data, has not lowered the best K-means cost seen at
  // this many roundings in a row by more than a relative stall_rtol.  0: off.
  int stall_checks = 0;
  double stall_rtol = 1e-9;
  // Early exit of a likelihood-adjusted (la_sdp) solve, whose round needs only its labels
  // argmax_k (U_k U_k^T 1)_i: > 0 reads them every this many iterations once the infeasibility
  // is below settle_infeas, and stops (settled) when three readings in a row agree.  0: off.
  long label_settle_every = 0;
  // Warm start of the Peng-Wei solve (n labels in [0, K), or null for the random start): U0 is
  // init_weight times the block matrix's factor (1_k / sqrt(n_k) in column k) plus the rest
  // of the random start, with the least-squares multiplier at it.
  const std::int64_t* init_labels = nullptr;
  double init_weight = 0.5;  // share of ||U0||_F^2 from the block matrix (the rest: the random start)
  // Progress report, called every 16 iterations right after the interrupt poll with
  // (iteration, infeasibility, stationarity); it may throw to stop the run.  Empty: none.
  std::function<void(long, double, double)> report;
};

// Result of the Peng-Wei solve; U is rows x cols, row-major.
struct PengWeiOut {
  std::vector<double> U;
  long rows = 0, cols = 0;
  std::vector<double> y;
  double beta = 0.0, objective = 0.0, infeasibility = 0.0, stationarity = 0.0;
  double scale2 = 1.0;  // ||Xc||_2^2
  long n_iter = 0, n_dual = 0;
  bool converged = false;
  bool settled = false;  // stopped early: the rounding settled on a non-tight solution
  bool stalled = false;  // ... by the stall rule (settled is true too)
  std::vector<std::int64_t> best_rounding;  // the early-exit test's best rounding (empty: none)
  double best_cost = 0.0;  // its Lloyd-refined K-means cost (units of X; inf: none)
  long best_iter = 0;  // the iteration it was taken at
  const char* isa = "baseline";
};

// The Peng-Wei K-means SDP from X (n x p, row-major), rank-r factor, random start.
using PengWeiFn = PengWeiOut (*)(const double* X, long n, long p, int K, int rank, std::uint64_t seed,
                                 const NLROptions& opt, const PollFn& poll);

PengWeiOut peng_wei_baseline(const double* X, long n, long p, int K, int rank, std::uint64_t seed,
                             const NLROptions& opt, const PollFn& poll);
// Compiled for AVX2 + FMA; call only when the CPU has both (falls back to the
// baseline where the AVX2 build is not available).
PengWeiOut peng_wei_avx2(const double* X, long n, long p, int K, int rank, std::uint64_t seed,
                         const NLROptions& opt, const PollFn& poll);

// Result of the likelihood-adjusted solve; U is rows x cols, row-major.
struct LAOut {
  std::vector<double> U;
  long rows = 0, cols = 0;
  std::vector<double> y;
  double beta = 0.0, objective = 0.0, infeasibility = 0.0, stationarity = 0.0;
  long n_iter = 0, n_dual = 0;
  bool converged = false;
  bool settled = false;
  const char* isa = "baseline";
};

// The LA-SDP from X (n x p, row-major), K covariances (K x p x p, row-major) and the
// warm start U0 (n x K * rank, row-major).
using LAFn = LAOut (*)(const double* X, long n, long p, const double* covs, int K, const double* U0, int rank,
                       const NLROptions& opt, const PollFn& poll);

LAOut la_sdp_baseline(const double* X, long n, long p, const double* covs, int K, const double* U0, int rank,
                      const NLROptions& opt, const PollFn& poll);
// Compiled for AVX2 + FMA (as peng_wei_avx2).
LAOut la_sdp_avx2(const double* X, long n, long p, const double* covs, int K, const double* U0, int rank,
                  const NLROptions& opt, const PollFn& poll);

}  // namespace ridgeline::clusterapi
