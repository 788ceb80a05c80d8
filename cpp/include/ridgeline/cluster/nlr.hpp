// Non-negative low-rank (Burer-Monteiro) augmented-Lagrangian solver for
// block-factored clustering SDPs, and the two cost operators that use it.
//
//   minimise  sum_b <C_b, U_b U_b^T>
//   s.t.      U_b >= 0,  ||U_b||_F^2 = rho_b,  sum_b U_b U_b^T 1 = 1.
//
// Peng-Wei K-means SDP: one block, C = -A with A = Xc Xc^T / ||Xc||_2^2 kept
// factored, rho = K.  LA-SDP: K blocks, C_k = c W_k applied from whitened data,
// rho_k = 1.  No n x n matrix is ever formed: every product is O(n p r).
//
// Reductions over the n rows are done on fixed row blocks (independent of the
// thread count) and summed in block order, so results do not depend on threads.
// The algorithm mirrors python/ridgeline/cluster/_reference.py.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ridgeline/cluster/nlr_api.hpp"
#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/common/random.hpp"

namespace ridgeline::cluster {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXd;

constexpr std::size_t kRowBlock = 4096;

inline std::size_t n_row_blocks(std::size_t n) { return (n + kRowBlock - 1) / kRowBlock; }

// Sum over fixed row blocks of fn(i0, i1) -> T (T supports += and is copyable),
// in block order.  `zero` is the neutral element.
template <class T, class Fn>
T block_reduce(std::size_t n, int threads, const T& zero, Fn&& fn) {
  const std::size_t nb = n_row_blocks(n);
  std::vector<T> part(nb, zero);
  parallel_for(nb, threads, [&](std::size_t b0, std::size_t b1, int) {
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t i0 = b * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
      part[b] = fn(i0, i1);
    }
  });
  T out = zero;
  for (std::size_t b = 0; b < nb; ++b) out += part[b];
  return out;
}

// Row-wise work on [0, n) (no reduction): deterministic for any thread count.
template <class Fn>
void rows_for(std::size_t n, int threads, Fn&& fn) {
  const std::size_t nb = n_row_blocks(n);
  parallel_for(nb, threads, [&](std::size_t b0, std::size_t b1, int) {
    fn(b0 * kRowBlock, std::min(n, b1 * kRowBlock));
  });
}

struct Block {
  int c0 = 0;
  int w = 0;
  double rho = 1.0;
};

using NLROptions = clusterapi::NLROptions;

struct NLRResult {
  Mat U;
  Vec y;
  double beta = 0.0;
  double objective = 0.0;
  double infeasibility = 0.0;
  double stationarity = 0.0;
  long n_iter = 0;
  long n_dual = 0;
  bool converged = false;
  bool settled = false;  // stopped by the `settle` test (the rounding stopped changing), not converged
};

// Exact projection of each column block onto {U >= 0, ||U||_F^2 = rho}.
// A block without positive entries becomes sqrt(rho) at its largest entry
// (the first in row-major order on ties).
inline void project(const Mat& V, Mat& U, const std::vector<Block>& blocks, int threads) {
  const std::size_t n = static_cast<std::size_t>(V.rows());
  const std::size_t nbk = blocks.size();
  U.resize(V.rows(), V.cols());
  rows_for(n, threads, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i)
      for (Eigen::Index j = 0; j < V.cols(); ++j) U(i, j) = std::max(V(i, j), 0.0);
  });
  const Vec sq = block_reduce(n, threads, Vec(Vec::Zero(static_cast<Eigen::Index>(nbk))),
                              [&](std::size_t i0, std::size_t i1) {
                                Vec acc = Vec::Zero(static_cast<Eigen::Index>(nbk));
                                for (std::size_t k = 0; k < nbk; ++k) {
                                  const Block& bk = blocks[k];
                                  double a = 0.0;
                                  for (std::size_t i = i0; i < i1; ++i)
                                    for (int j = bk.c0; j < bk.c0 + bk.w; ++j) a += U(i, j) * U(i, j);
                                  acc[static_cast<Eigen::Index>(k)] = a;
                                }
                                return acc;
                              });
  for (std::size_t k = 0; k < nbk; ++k) {
    const Block& bk = blocks[k];
    const double nrm = std::sqrt(sq[static_cast<Eigen::Index>(k)]);
    if (nrm > 0.0) {
      const double f = std::sqrt(bk.rho) / nrm;
      U.middleCols(bk.c0, bk.w) *= f;
    } else {
      Eigen::Index bi = 0, bj = 0;
      double best = -std::numeric_limits<double>::infinity();
      for (Eigen::Index i = 0; i < V.rows(); ++i)
        for (int j = bk.c0; j < bk.c0 + bk.w; ++j)
          if (V(i, j) > best) {
            best = V(i, j);
            bi = i;
            bj = j;
          }
      U.middleCols(bk.c0, bk.w).setZero();
      U(bi, bj) = std::sqrt(bk.rho);
    }
  }
}

// Uniforms in (0, 1) of one Philox stream, row-major into an n x r matrix.
inline Mat initial_factor(std::size_t n, int r, std::uint64_t seed, std::uint64_t stream = 0) {
  Mat U(static_cast<Eigen::Index>(n), r);
  RandomStream rs(seed, stream);
  for (Eigen::Index i = 0; i < U.rows(); ++i)
    for (Eigen::Index j = 0; j < U.cols(); ++j) U(i, j) = rs.uniform();
  return U;
}

// Cost operator interface: void apply(const Mat& U, Mat& CU, int threads) const.

// C U = -Y (Y^T U) for Y = Xc / ||Xc||_2 (Peng-Wei).  The per-block partial
// products and Y^T U live in a workspace reused across calls (no allocation per call).
struct PengWeiCost {
  const Mat* Y = nullptr;
  mutable std::vector<Mat> part_;
  mutable Mat YtU_;
  void apply(const Mat& U, Mat& CU, int threads) const {
    const Mat& X = *Y;
    const std::size_t n = static_cast<std::size_t>(X.rows());
    const std::size_t nb = n_row_blocks(n);
    part_.resize(nb);
    parallel_for(nb, threads, [&](std::size_t b0, std::size_t b1, int) {
      for (std::size_t b = b0; b < b1; ++b) {
        const std::size_t i0 = b * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
        const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
        part_[b].resize(X.cols(), U.cols());
        part_[b].noalias() = X.middleRows(a, m).transpose() * U.middleRows(a, m);
      }
    });
    // summed in block order (the result does not depend on the thread count)
    YtU_ = part_[0];
    for (std::size_t b = 1; b < nb; ++b) YtU_ += part_[b];
    CU.resize(U.rows(), U.cols());
    rows_for(n, threads, [&](std::size_t i0, std::size_t i1) {
      const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
      CU.middleRows(a, m).noalias() = -(X.middleRows(a, m) * YtU_);
    });
  }
};

// c W_k U_k for each factor block k, W_k = D^(k)/2 + logdet_k 1 1^T, with the whitened
// data Y_k = Xc L_k^{-T} (S_k = L_k L_k^T) never formed: Y_k Y_k^T = Xc P_k Xc^T with the
// precision P_k = S_k^{-1}, so
//   W_k U = (d_k (1^T U) + 1 (d_k^T U)) / 2 - Xc (P_k (Xc^T U)) + logdet_k 1 (1^T U),
// d_k the squared whitened row norms.  Xc^T U for all blocks is one n x p x (K rank) product
// and so is Xc [P_1 (Xc^T U_1), ..., P_K (Xc^T U_K)]: X is read twice per apply, not 2K times.
struct LACost {
  Mat Xc;                       // centred data (n x p)
  std::vector<Eigen::MatrixXd> P;  // K precision matrices (p x p)
  std::vector<Vec> d;           // K squared whitened row norms
  std::vector<double> logdet;
  double scale = 1.0;
  int rank = 2;
  mutable std::vector<Mat> part_;
  mutable Mat XtU_, V_;
  void apply(const Mat& U, Mat& CU, int threads) const {
    const std::size_t n = static_cast<std::size_t>(U.rows());
    const int K = static_cast<int>(P.size());
    const Eigen::Index p = Xc.cols(), cols = U.cols();
    // reductions by row block: Xc^T U (p x cols), then the row d_k^T U_k (block k's columns)
    // and the column sums 1^T U, stacked in one (p + 2) x cols matrix, summed in block order
    const std::size_t nb = n_row_blocks(n);
    part_.resize(nb);
    parallel_for(nb, threads, [&](std::size_t b0, std::size_t b1, int) {
      for (std::size_t b = b0; b < b1; ++b) {
        const std::size_t i0 = b * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
        const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
        Mat& acc = part_[b];
        acc.resize(p + 2, cols);
        acc.topRows(p).noalias() = Xc.middleRows(a, m).transpose() * U.middleRows(a, m);
        for (int k = 0; k < K; ++k)
          acc.row(p).segment(k * rank, rank).noalias() = d[static_cast<std::size_t>(k)].segment(a, m).transpose() *
                                                         U.block(a, k * rank, m, rank);
        acc.row(p + 1) = U.middleRows(a, m).colwise().sum();
      }
    });
    XtU_ = part_[0];
    for (std::size_t b = 1; b < nb; ++b) XtU_ += part_[b];
    V_.resize(p, cols);
    for (int k = 0; k < K; ++k)
      V_.middleCols(k * rank, rank).noalias() = P[static_cast<std::size_t>(k)] * XtU_.block(0, k * rank, p, rank);
    CU.resize(U.rows(), cols);
    rows_for(n, threads, [&](std::size_t i0, std::size_t i1) {
      const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
      auto out = CU.middleRows(a, m);
      out.noalias() = -(Xc.middleRows(a, m) * V_);
      for (int k = 0; k < K; ++k) {
        const double ld = logdet[static_cast<std::size_t>(k)];
        const Vec& dk = d[static_cast<std::size_t>(k)];
        for (Eigen::Index i = 0; i < m; ++i) {
          const double di = dk[a + i];
          for (int j = k * rank; j < (k + 1) * rank; ++j)
            out(i, j) += 0.5 * (di * XtU_(p + 1, j) + XtU_(p, j)) + ld * XtU_(p + 1, j);
        }
      }
      out *= scale;
    });
  }
};

namespace detail {

// One point of the inner iteration: U, C U, s = U^T 1, r = U s - 1,
// v = y + beta r, w = U^T v, and the values.  The gradient is
// G = 2 C U + v s^T + 1 w^T (formed by `gradient`).
struct Eval {
  Mat U, CU, G;
  Vec r, v;
  Eigen::RowVectorXd s, w;
  double f = 0.0, obj = 0.0, infeas = 0.0;
};

// Row kernels.  They take restrict-qualified pointers and keep their sums in
// per-column accumulators (or four interleaved lanes for a dot product along a
// row) so that the compiler vectorises them without reassociating anything:
// the order of every floating-point sum is fixed by the code.

// sum_j a[j] b[j] in four interleaved lanes.
inline double row_dot(const double* __restrict a, const double* __restrict b, Eigen::Index r) {
  double l[4] = {0.0, 0.0, 0.0, 0.0};
  Eigen::Index j = 0;
  for (; j + 4 <= r; j += 4)
    for (int q = 0; q < 4; ++q) l[q] += a[j + q] * b[j + q];
  for (int q = 0; j < r; ++j, ++q) l[q] += a[j] * b[j];
  return (l[0] + l[1]) + (l[2] + l[3]);
}

// rows [0, m) of: un = max(u - t g, 0); colsq[j] += un^2 (two loops: the first,
// over contiguous memory, vectorises with the branch-free max).
inline void kernel_step(const double* __restrict u, const double* __restrict g, double* __restrict un,
                        double* __restrict colsq, std::size_t m, Eigen::Index r, double t) {
  const std::size_t len = m * static_cast<std::size_t>(r);
  for (std::size_t k = 0; k < len; ++k) {
    const double z = u[k] - t * g[k];
    un[k] = z < 0.0 ? 0.0 : z;  // std::max(z, 0.0)
  }
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t o = i * static_cast<std::size_t>(r);
    for (Eigen::Index j = 0; j < r; ++j) colsq[j] += un[o + j] * un[o + j];
  }
}

// rows [0, m) of: un *= fac; acc[j] += (un - u)^2, acc[r + j] += un.
inline void kernel_scale(const double* __restrict u, double* __restrict un, const double* __restrict fac,
                         double* __restrict acc, std::size_t m, Eigen::Index r) {
  double* __restrict dd = acc;
  double* __restrict cs = acc + r;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t o = i * static_cast<std::size_t>(r);
    for (Eigen::Index j = 0; j < r; ++j) {
      const double x = un[o + j] * fac[j];
      un[o + j] = x;
      const double d = x - u[o + j];
      dd[j] += d * d;
      cs[j] += x;
    }
  }
}

// rows [0, m) of the values: ri = u.s - 1, vi = y + beta ri, and the sums
// acc = [obj, y.r, r.r, max|r|, U^T v (r entries), <U, C U> by column (r entries)].
inline void kernel_values(const double* __restrict u, const double* __restrict cu, const double* __restrict s,
                          const double* __restrict y, double* __restrict rr, double* __restrict vv,
                          double* __restrict acc, std::size_t m, Eigen::Index r, double beta) {
  double yr = 0.0, r2 = 0.0, mx = 0.0;
  double* __restrict w = acc + 4;
  double* __restrict oc = acc + 4 + r;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t o = i * static_cast<std::size_t>(r);
    const double ri = row_dot(u + o, s, r) - 1.0;
    const double vi = y[i] + beta * ri;
    rr[i] = ri;
    vv[i] = vi;
    yr += y[i] * ri;
    r2 += ri * ri;
    mx = std::max(mx, std::abs(ri));
    for (Eigen::Index j = 0; j < r; ++j) {
      w[j] += u[o + j] * vi;
      oc[j] += u[o + j] * cu[o + j];
    }
  }
  acc[1] += yr;
  acc[2] += r2;
  acc[3] = std::max(acc[3], mx);
}

// rows [0, m) of g = 2 cu + v s^T + 1 w^T; with u0, g0 also acc[j] += (u - u0)(g - g0).
inline void kernel_gradient(const double* __restrict cu, const double* __restrict v, const double* __restrict s,
                            const double* __restrict w, double* __restrict g, const double* __restrict u,
                            const double* __restrict u0, const double* __restrict g0, double* __restrict acc,
                            std::size_t m, Eigen::Index r) {
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t o = i * static_cast<std::size_t>(r);
    const double vi = v[i];
    for (Eigen::Index j = 0; j < r; ++j) g[o + j] = 2.0 * cu[o + j] + vi * s[j] + w[j];
  }
  if (!g0) return;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t o = i * static_cast<std::size_t>(r);
    for (Eigen::Index j = 0; j < r; ++j) acc[j] += (u[o + j] - u0[o + j]) * (g[o + j] - g0[o + j]);
  }
}

// Everything but C U and the gradient, in one pass over the rows (s must be set).
inline void values(Eval& e, const Vec& y, double beta, int threads) {
  const std::size_t n = static_cast<std::size_t>(e.U.rows());
  const Eigen::Index r = e.U.cols();
  e.r.resize(static_cast<Eigen::Index>(n));
  e.v.resize(static_cast<Eigen::Index>(n));
  // partial sums: [obj (unused), y.r, r.r, max|r|, U^T v (r entries), <U, C U> by column (r entries)]
  const Vec acc = block_reduce(n, threads, Vec(Vec::Zero(4 + 2 * r)), [&](std::size_t i0, std::size_t i1) {
    Vec a = Vec::Zero(4 + 2 * r);
    const std::size_t o = i0 * static_cast<std::size_t>(r);
    kernel_values(e.U.data() + o, e.CU.data() + o, e.s.data(), y.data() + i0, e.r.data() + i0, e.v.data() + i0,
                  a.data(), i1 - i0, r, beta);
    return a;
  });
  double obj = 0.0;
  for (Eigen::Index j = 0; j < r; ++j) obj += acc[4 + r + j];
  e.obj = obj;
  e.f = obj + acc[1] + 0.5 * beta * acc[2];
  // the block maxima add up to at most nb times the maximum: take it exactly
  if (n_row_blocks(n) == 1) {
    e.infeas = acc[3];
  } else {
    double mx = 0.0;
    for (Eigen::Index i = 0; i < e.r.size(); ++i) mx = std::max(mx, std::abs(e.r[i]));
    e.infeas = mx;
  }
  e.w = acc.segment(4, r).transpose();
}

inline double block_dot(const Mat& A, const Mat& B, int threads) {
  const std::size_t n = static_cast<std::size_t>(A.rows());
  return block_reduce(n, threads, 0.0, [&](std::size_t i0, std::size_t i1) {
    const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
    return A.middleRows(a, m).cwiseProduct(B.middleRows(a, m)).sum();
  });
}

// C U, s and the values at e.U.
template <class Cost>
void evaluate(const Cost& cost, Eval& e, const Vec& y, double beta, int threads) {
  const std::size_t n = static_cast<std::size_t>(e.U.rows());
  const Eigen::Index r = e.U.cols();
  cost.apply(e.U, e.CU, threads);
  e.s = block_reduce(n, threads, Eigen::RowVectorXd(Eigen::RowVectorXd::Zero(r)), [&](std::size_t i0, std::size_t i1) {
    return Eigen::RowVectorXd(
        e.U.middleRows(static_cast<Eigen::Index>(i0), static_cast<Eigen::Index>(i1 - i0)).colwise().sum());
  });
  values(e, y, beta, threads);
}

// e.G = 2 C U + v s^T + 1 w^T; with `prev` also returns <U - prev.U, G - prev.G>.
inline double gradient(Eval& e, const Eval* prev, int threads) {
  const std::size_t n = static_cast<std::size_t>(e.U.rows());
  const Eigen::Index r = e.U.cols();
  e.G.resize(e.U.rows(), r);
  const Vec acc = block_reduce(n, threads, Vec(Vec::Zero(r)), [&](std::size_t i0, std::size_t i1) {
    Vec a = Vec::Zero(r);
    const std::size_t o = i0 * static_cast<std::size_t>(r);
    kernel_gradient(e.CU.data() + o, e.v.data() + i0, e.s.data(), e.w.data(), e.G.data() + o, e.U.data() + o,
                    prev ? prev->U.data() + o : nullptr, prev ? prev->G.data() + o : nullptr, a.data(), i1 - i0, r);
    return a;
  });
  double sy = 0.0;
  for (Eigen::Index j = 0; j < r; ++j) sy += acc[j];
  return sy;
}

// Trial point e.U = P(U - t G) (exact projection onto the blocks), its column sums e.s,
// and ||e.U - U||^2, in two passes over the rows.
inline double step_project(const Eval& cur, double t, const std::vector<Block>& blocks, int threads, Eval& e) {
  const std::size_t n = static_cast<std::size_t>(cur.U.rows());
  const Eigen::Index r = cur.U.cols();
  const std::size_t nbk = blocks.size();
  e.U.resize(cur.U.rows(), r);
  const Vec colsq = block_reduce(n, threads, Vec(Vec::Zero(r)), [&](std::size_t i0, std::size_t i1) {
    Vec acc = Vec::Zero(r);
    const std::size_t o = i0 * static_cast<std::size_t>(r);
    kernel_step(cur.U.data() + o, cur.G.data() + o, e.U.data() + o, acc.data(), i1 - i0, r, t);
    return acc;
  });
  Eigen::RowVectorXd fac(r);
  bool degenerate = false;
  for (std::size_t k = 0; k < nbk; ++k) {
    double sq = 0.0;
    for (int j = blocks[k].c0; j < blocks[k].c0 + blocks[k].w; ++j) sq += colsq[j];
    const double nrm = std::sqrt(sq);
    if (!(nrm > 0.0)) degenerate = true;
    for (int j = blocks[k].c0; j < blocks[k].c0 + blocks[k].w; ++j) fac[j] = nrm > 0.0 ? std::sqrt(blocks[k].rho) / nrm : 0.0;
  }
  if (degenerate) {  // a block without positive entries: the general projection
    const Mat V = cur.U - t * cur.G;
    Mat Un;
    project(V, Un, blocks, threads);
    e.U = std::move(Un);
    fac.setOnes();
  }
  const Vec acc = block_reduce(n, threads, Vec(Vec::Zero(2 * r)), [&](std::size_t i0, std::size_t i1) {
    Vec a = Vec::Zero(2 * r);
    const std::size_t o = i0 * static_cast<std::size_t>(r);
    kernel_scale(cur.U.data() + o, e.U.data() + o, fac.data(), a.data(), i1 - i0, r);
    return a;
  });
  double dd = 0.0;
  for (Eigen::Index j = 0; j < r; ++j) dd += acc[j];
  e.s = acc.tail(r).transpose();
  return dd;
}

}  // namespace detail

// Least-squares multiplier estimate at U: (y, mu) minimising
// || M o (2 C U + y s^T + 1 (U^T y)^T - 2 mu U) ||_F  over the support M = {U > 0},
// by Jacobi-preconditioned conjugate gradients on the normal equations (at most
// `iters` steps).  Used to start a warm-started solve with a consistent dual.
template <class Cost>
Vec ls_multiplier(const Cost& cost, const Mat& U, int iters, int threads) {
  const std::size_t n = static_cast<std::size_t>(U.rows());
  const Eigen::Index r = U.cols(), N = static_cast<Eigen::Index>(n);
  Mat CU;
  cost.apply(U, CU, threads);
  const Eigen::RowVectorXd s = U.colwise().sum();
  auto masked = [&](Mat& E) {
    for (Eigen::Index i = 0; i < N; ++i)
      for (Eigen::Index j = 0; j < r; ++j)
        if (!(U(i, j) > 0.0)) E(i, j) = 0.0;
  };
  // T(y, mu) and T^T(E)
  Mat E(N, r);
  auto T = [&](const Vec& y, double mu) {
    const Eigen::RowVectorXd w = (U.transpose() * y).transpose();
    for (Eigen::Index i = 0; i < N; ++i)
      for (Eigen::Index j = 0; j < r; ++j) E(i, j) = y[i] * s[j] + w[j] - 2.0 * mu * U(i, j);
    masked(E);
  };
  auto Tt = [&](Vec& gy, double& gmu) {
    const Eigen::RowVectorXd c = E.colwise().sum();
    gy = E * s.transpose() + U * c.transpose();
    gmu = -2.0 * E.cwiseProduct(U).sum();
  };
  E = -2.0 * CU;
  masked(E);
  Vec ry;
  double rmu;
  Tt(ry, rmu);
  Vec dy(N);
  for (Eigen::Index i = 0; i < N; ++i) {
    double a = 0.0;
    for (Eigen::Index j = 0; j < r; ++j)
      if (U(i, j) > 0.0) a += s[j] * s[j];
    dy[i] = a + 1e-300;
  }
  double dmu = 0.0;
  for (Eigen::Index i = 0; i < N; ++i)
    for (Eigen::Index j = 0; j < r; ++j)
      if (U(i, j) > 0.0) dmu += 4.0 * U(i, j) * U(i, j);
  dmu += 1e-300;
  Vec xy = Vec::Zero(N), zy = ry.cwiseQuotient(dy), py = zy, qy;
  double xmu = 0.0, zmu = rmu / dmu, pmu = zmu, qmu = 0.0;
  double rz = ry.dot(zy) + rmu * zmu;
  const double rz0 = std::abs(rz);
  for (int it = 0; it < iters && rz0 > 0.0; ++it) {
    T(py, pmu);
    Tt(qy, qmu);
    const double den = py.dot(qy) + pmu * qmu;
    if (!(den > 0.0)) break;
    const double alpha = rz / den;
    xy += alpha * py;
    xmu += alpha * pmu;
    ry -= alpha * qy;
    rmu -= alpha * qmu;
    zy = ry.cwiseQuotient(dy);
    zmu = rmu / dmu;
    const double rz2 = ry.dot(zy) + rmu * zmu;
    if (std::sqrt(std::abs(rz2)) < 1e-12 * std::sqrt(rz0)) break;
    py = zy + (rz2 / rz) * py;
    pmu = zmu + (rz2 / rz) * pmu;
    rz = rz2;
  }
  return xy;
}

// The augmented-Lagrangian projected-gradient solver (see _reference.nlr_solve).
// `settle(U, iteration, infeasibility)`, when given, is asked after every iteration
// that did not converge; returning true stops the solve early (res.settled).
using SettleFn = std::function<bool(const Mat&, long, double)>;

template <class Cost>
NLRResult nlr_solve(const Cost& cost, const Mat& U0, const std::vector<Block>& blocks, const Vec* y0,
                    const NLROptions& opt, const PollFn& poll = {}, const SettleFn& settle = {}) {
  const std::size_t n = static_cast<std::size_t>(U0.rows());
  const int th = resolve_threads(opt.threads);
  require(n >= 1, "the factor must have at least one row");
  NLRResult res;
  Mat U;
  project(U0, U, blocks, th);
  Vec y = y0 ? *y0 : Vec(Vec::Zero(static_cast<Eigen::Index>(n)));
  if (!y0 && opt.multiplier_init) y = ls_multiplier(cost, U, 200, th);
  double beta = opt.beta0 > 0.0 ? opt.beta0 : 1.0 / static_cast<double>(n);
  double rho_sum = 0.0;
  for (const Block& b : blocks) rho_sum += b.rho;
  const double unorm = std::sqrt(rho_sum);
  // stationarity target: the gradient-mapping norm at sqrt(tol) / 10 (at least tol)
  const double stat_tol = std::max(opt.tol, 0.1 * std::sqrt(opt.tol));

  detail::Eval cur, nxt;
  cur.U = std::move(U);
  detail::evaluate(cost, cur, y, beta, th);
  detail::gradient(cur, nullptr, th);
  std::deque<double> hist{cur.f};
  const double gnorm = std::sqrt(detail::block_dot(cur.G, cur.G, th));
  double t = 0.1 * unorm / std::max(gnorm, 1e-300);
  double infeas_prev = cur.infeas;
  double stat = std::numeric_limits<double>::infinity();
  long it = 0;
  Vec dy_prev, r_prev;
  bool have_prev = false;
  double beta_cap = opt.beta_max, best_infeas = std::numeric_limits<double>::infinity();
  int stall = 0;
  double step_prev = 0.0, beta_at_prev = 0.0;
  double inner_c = opt.dual_c;  // inner-solve accuracy asked before a dual step, relative to infeasibility
  while (it < opt.max_iter) {
    ++it;
    if ((it & 15) == 0) {
      poll_or_throw(poll);
      if (opt.report) opt.report(it, cur.infeas, stat);
      // a non-finite objective cannot recover (data or covariances out of the double range)
      require(std::isfinite(cur.f), "the SDP solver met non-finite values; rescale the data (its squared "
                                    "distances or covariances leave the double range)");
    }
    double fref = -std::numeric_limits<double>::infinity();
    for (double h : hist) fref = std::max(fref, h);
    double dd = 0.0;
    while (true) {
      dd = detail::step_project(cur, t, blocks, th, nxt);
      cost.apply(nxt.U, nxt.CU, th);
      detail::values(nxt, y, beta, th);
      const bool small = dd <= (opt.max_move * unorm) * (opt.max_move * unorm);
      // !(t >= 1e-20): a NaN step (non-finite data or settings) ends the search too
      if ((small && nxt.f <= fref - 1e-4 * dd / t) || dd == 0.0 || !(t >= 1e-20)) break;
      t *= 0.5;
    }
    stat = std::sqrt(dd) / t;
    const double sy = detail::gradient(nxt, &cur, th);
    std::swap(cur, nxt);
    hist.push_back(cur.f);
    while (static_cast<int>(hist.size()) > opt.memory) hist.pop_front();
    // Barzilai-Borwein (long) step <s, s> / <s, y>; along non-positive curvature the
    // step doubles instead (the line search still checks it)
    if (sy > 0.0) {
      t = dd / sy;
    } else {
      t *= 2.0;
    }
    t = std::min(std::max(t, 1e-12), 1e12);
    if (cur.infeas <= opt.tol && stat <= stat_tol) {
      res.converged = true;
      break;
    }
    if (settle && settle(cur.U, it, cur.infeas)) {
      res.settled = true;
      break;
    }
    // dual step once the primal has settled to dual_c * infeasibility, or to the final
    // stationarity target (never asking more of the inner solve than the stopping test)
    if (stat <= std::max(stat_tol, inner_c * cur.infeas) || dd == 0.0) {
      // an infeasibility that grew after an extrapolated (Barzilai-Borwein, > beta) dual step
      // means that step was taken on a too inexact inner solve: ask more of the following ones
      if (cur.infeas > infeas_prev && step_prev > beta_at_prev) inner_c *= 0.5;
      double step = beta;
      // BB dual step, unless the infeasibility grew since the last dual step (overshoot)
      if (opt.dual_bb > 0.0 && have_prev && cur.infeas <= infeas_prev) {
        const double den = -(dy_prev.dot(cur.r - r_prev));
        if (den > 0.0) step = std::min(std::max(dy_prev.squaredNorm() / den, beta), opt.dual_bb * beta);
      }
      step_prev = step;
      beta_at_prev = beta;
      dy_prev = step * cur.r;
      r_prev = cur.r;
      have_prev = true;
      y += dy_prev;
      ++res.n_dual;
      // the cap on beta rises only when the infeasibility stalls at it
      if (cur.infeas < 0.5 * best_infeas) {
        best_infeas = cur.infeas;
        stall = 0;
      } else if (++stall >= opt.stall_duals) {
        beta_cap *= 2.0;
        stall = 0;
      }
      if (cur.infeas > 0.25 * infeas_prev && !(beta_cap > 0.0 && 2.0 * beta > beta_cap)) beta *= 2.0;
      infeas_prev = cur.infeas;
      detail::values(cur, y, beta, th);  // U (so C U, s) unchanged
      detail::gradient(cur, nullptr, th);
      hist.assign(1, cur.f);
    }
  }
  res.U = std::move(cur.U);
  res.y = std::move(y);
  res.beta = beta;
  res.objective = cur.obj;
  res.infeasibility = cur.infeas;
  res.stationarity = stat;
  res.n_iter = it;
  return res;
}

// Centre the rows of X and divide by the largest singular value; returns the
// scaled copy and ||Xc||_2^2 (1 when Xc = 0).
inline Mat centre_scale(const Eigen::Ref<const Mat>& X, double* scale2, int threads) {
  const std::size_t n = static_cast<std::size_t>(X.rows());
  const Eigen::RowVectorXd mean =
      block_reduce(n, threads, Eigen::RowVectorXd(Eigen::RowVectorXd::Zero(X.cols())), [&](std::size_t i0, std::size_t i1) {
        return Eigen::RowVectorXd(
            X.middleRows(static_cast<Eigen::Index>(i0), static_cast<Eigen::Index>(i1 - i0)).colwise().sum());
      }) /
      static_cast<double>(n);
  Mat Y = X.rowwise() - mean;
  const Mat gram = block_reduce(n, threads, Mat(Mat::Zero(X.cols(), X.cols())), [&](std::size_t i0, std::size_t i1) {
    const auto B = Y.middleRows(static_cast<Eigen::Index>(i0), static_cast<Eigen::Index>(i1 - i0));
    return Mat(B.transpose() * B);
  });
  require(gram.allFinite(), "X is too large: its squared norms leave the double range (rescale it)");
  double s2 = 0.0;
  if (gram.size() > 0) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(Eigen::MatrixXd(gram), Eigen::EigenvaluesOnly);
    s2 = es.eigenvalues().maxCoeff();
  }
  if (!(s2 > 0.0)) s2 = 1.0;
  Y /= std::sqrt(s2);
  *scale2 = s2;
  return Y;
}

// LA-SDP cost from data X and K covariance matrices (each p x p, SPD).
inline LACost make_la_cost(const Mat& X, const std::vector<Eigen::MatrixXd>& covs, int rank, int threads) {
  const std::size_t n = static_cast<std::size_t>(X.rows());
  const Eigen::RowVectorXd mean =
      block_reduce(n, threads, Eigen::RowVectorXd(Eigen::RowVectorXd::Zero(X.cols())), [&](std::size_t i0, std::size_t i1) {
        return Eigen::RowVectorXd(
            X.middleRows(static_cast<Eigen::Index>(i0), static_cast<Eigen::Index>(i1 - i0)).colwise().sum());
      }) /
      static_cast<double>(n);
  LACost c;
  c.Xc = X.rowwise() - mean;
  c.rank = rank;
  double dmax = 1.0;
  const Eigen::Index p = X.cols();
  for (std::size_t k = 0; k < covs.size(); ++k) {
    Eigen::LLT<Eigen::MatrixXd> llt(covs[k]);
    require(llt.info() == Eigen::Success, "covariance " + std::to_string(k) + " is not positive definite");
    const Eigen::MatrixXd L = llt.matrixL();
    Eigen::MatrixXd Pk = llt.solve(Eigen::MatrixXd::Identity(p, p));
    Pk = 0.5 * (Pk + Pk.transpose());
    // d_k = squared norms of the whitened rows Xc L^{-T}, by row blocks (no n x p copy per k)
    Vec dk(static_cast<Eigen::Index>(n));
    rows_for(n, threads, [&](std::size_t i0, std::size_t i1) {
      const Eigen::Index a = static_cast<Eigen::Index>(i0), m = static_cast<Eigen::Index>(i1 - i0);
      const Eigen::MatrixXd Yk = llt.matrixL().solve(c.Xc.middleRows(a, m).transpose());
      dk.segment(a, m) = Yk.colwise().squaredNorm().transpose();
    });
    const double ld = 2.0 * L.diagonal().array().log().sum();
    require(dk.allFinite() && std::isfinite(ld) && Pk.allFinite(),
            "covariance " + std::to_string(k) +
                " is too small or too ill-conditioned for the data: the whitened distances leave the double range");
    dmax = std::max(dmax, dk.maxCoeff());
    c.P.push_back(std::move(Pk));
    c.d.push_back(std::move(dk));
    c.logdet.push_back(ld);
  }
  c.scale = 1.0 / dmax;
  return c;
}

// The labels argmax_k (U_k U_k^T 1)_i of a factor of K blocks of `rank` columns (the first
// block on ties), summed sequentially: the same whatever the thread count.
inline std::vector<std::int32_t> block_labels(const Mat& U, int K, int rank) {
  const Eigen::RowVectorXd s = U.colwise().sum();
  std::vector<std::int32_t> lab(static_cast<std::size_t>(U.rows()), 0);
  for (Eigen::Index i = 0; i < U.rows(); ++i) {
    double best = -std::numeric_limits<double>::infinity();
    for (int k = 0; k < K; ++k) {
      double v = 0.0;
      for (int j = k * rank; j < (k + 1) * rank; ++j) v += U(i, j) * s[j];
      if (v > best) {
        best = v;
        lab[static_cast<std::size_t>(i)] = k;
      }
    }
  }
  return lab;
}

// The early exit of a likelihood-adjusted solve (opt.label_settle_every > 0): once the
// infeasibility is below opt.settle_infeas, the block labels are read every
// opt.label_settle_every iterations; three equal readings in a row stop the solve.
inline SettleFn make_label_settle(int K, int rank, const NLROptions& opt) {
  struct State {
    long next = 0;
    int same = 0;
    std::vector<std::int32_t> prev;
  };
  auto st = std::make_shared<State>();
  const long every = opt.label_settle_every;
  const double lim = opt.settle_infeas;
  return [st, K, rank, every, lim](const Mat& U, long it, double infeas) -> bool {
    if (!(infeas <= lim) || it < st->next) return false;
    st->next = it + every;
    std::vector<std::int32_t> lab = block_labels(U, K, rank);
    const bool eq = !st->prev.empty() && lab == st->prev;
    st->prev = std::move(lab);
    st->same = eq ? st->same + 1 : 0;
    return st->same >= 2;
  };
}

inline NLRResult la_sdp(const Mat& X, const std::vector<Eigen::MatrixXd>& covs, const Mat& U0, int rank,
                        const NLROptions& opt, const PollFn& poll = {}) {
  const int K = static_cast<int>(covs.size());
  require(K >= 1, "covariances must hold at least one matrix");
  require(U0.cols() == static_cast<Eigen::Index>(K) * rank && U0.rows() == X.rows(),
          "U0 must have shape (n_samples, n_clusters * rank)");
  const LACost cost = make_la_cost(X, covs, rank, resolve_threads(opt.threads));
  std::vector<Block> blocks;
  for (int k = 0; k < K; ++k) blocks.push_back(Block{k * rank, rank, 1.0});
  NLROptions o = opt;
  o.multiplier_init = true;
  if (!(o.beta0 > 0.0)) o.beta0 = 10.0 / static_cast<double>(X.rows());
  const SettleFn settle = o.label_settle_every > 0 ? make_label_settle(K, rank, o) : SettleFn{};
  return nlr_solve(cost, U0, blocks, nullptr, o, poll, settle);
}

}  // namespace ridgeline::cluster
