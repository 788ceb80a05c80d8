// Krylov-deflated Hutchinson trace estimation (no Python here).
//
// A Lanczos (Krylov) subspace Q captures the extreme eigenvalues of a
// symmetric A far better per product than a one-pass random sketch (Hutch++):
// j Lanczos products give a j-dimensional Q whose exact trace tr(Q^T A Q) is
// the sum of the Lanczos alphas, with no extra product (Hutch++ needs 2 s
// products for an s-dimensional sketch and its trace).  The rest,
// tr((I - P) A (I - P)) with P = Q Q^T, is estimated by Hutchinson with fresh
// Rademacher probes z, using A (I - P) z = A z - (A Q)(Q^T z): the probes'
// products can be taken before Q is final, so the depth j of the Krylov
// stage can be chosen from the data.
//
// Budget m, g1 = max(2, m / 4):
//  1. one block [v0 | z_1..z_g1]: v0 = z_0 / sqrt(n) (Rademacher stream 0) starts
//     Lanczos; z_i (stream i) are probes.
//  2. Lanczos with full reorthogonalisation, one product per step.  After j
//     products the residual Frobenius mass R_j = ||(I - P) A (I - P)||_F^2,
//     which sets the final variance ~ 2 R_j / (m - j), is estimated by the mean
//     of ||(I - P) A (I - P) z_i||^2 over the first g1 probes (kept deflated
//     incrementally: A (I - P) z = A z - (A Q) Q^T z).  One more step pays while
//     the mean decrease of R over the last 3 steps exceeds R_j / (m - j) (from
//     j = 4 on; at most m - g1 steps; stop at an invariant subspace).
//  3. the remaining m - j - g1 probes; residual samples
//     r_i = ((I - P) z_i)^T A (I - P) z_i, estimate tr(T_j) + mean(r), standard
//     error std(r) / sqrt(m - j).
// With the fallback on ("auto"), the plain Hutchinson samples z_i^T A z_i of
// the same probes (and of z_0) are compared: if their standard error is
// smaller (e.g. a diagonally dominant A, where Rademacher probes are nearly
// exact) the Hutchinson estimate is returned instead.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/spectra/lanczos.hpp"

namespace ridgeline::spectra {

class KrylovTrace final : public ReverseComm {
 public:
  static constexpr Index kMinBudget = 8;
  static constexpr Index kWindow = 3;
  static constexpr Index kMinDepth = 4;

  KrylovTrace(Index n, Index budget, std::uint64_t seed, bool fallback)
      : n_(n), m_(budget), seed_(seed), fallback_(fallback) {
    require(n >= 2, "n=" + std::to_string(n) + " must be >= 2");
    require(budget >= kMinBudget, "budget=" + std::to_string(budget) + " must be >= " + std::to_string(kMinBudget));
    require(budget < n, "budget=" + std::to_string(budget) + " must be < n=" + std::to_string(n) +
                            " (use the exact trace)");
    g1_ = std::max<Index>(2, m_ / 4);
    jmax_ = m_ - g1_;
    V_.resize(n_, jmax_ + 1);
    W_.resize(n_, jmax_);
    Z_.resize(n_, m_);
    AZ_.resize(n_, m_);
    Vector z0(n_);
    rademacher_vector(seed_, 0, z0.data(), n_);
    V_.col(0) = z0 / std::sqrt(static_cast<double>(n_));
    for (Index c = 0; c < g1_; ++c) rademacher_vector(seed_, static_cast<std::uint64_t>(c + 1), Z_.col(c).data(), n_);
    request_.resize(n_, g1_ + 1);
    request_.col(0) = V_.col(0);
    request_.rightCols(g1_) = Z_.leftCols(g1_);
    phase_ = Phase::Start;
  }

  bool done() const override { return phase_ == Phase::Done; }
  const Matrix& request() const override { return request_; }

  void supply(const ConstMatrixRef& AX) override {
    check_supply(AX);
    switch (phase_) {
      case Phase::Start: {
        W_.col(0) = AX.col(0);
        AZ_.leftCols(g1_) = AX.rightCols(g1_);
        hutch0_ = static_cast<double>(n_) * V_.col(0).dot(AX.col(0));
        Zt_ = Z_.leftCols(g1_);
        AZt_ = AZ_.leftCols(g1_);
        j_ = 1;
        advance();
        break;
      }
      case Phase::Step: {
        W_.col(j_) = AX.col(0);
        ++j_;
        advance();
        break;
      }
      case Phase::Probes: {
        AZ_.middleCols(g1_, AX.cols()) = AX;
        finish();
        break;
      }
      case Phase::Done:
        break;
    }
  }

  double value() const { return value_; }
  double standard_error() const { return stderr_; }
  const std::string& method_used() const { return used_; }
  const std::vector<double>& samples() const { return samples_; }
  // Dimension of the Krylov subspace whose trace is exact.
  Index n_krylov() const { return j_; }
  // The Krylov estimate and its standard error (also when the fallback was returned).
  double krylov_value() const { return kvalue_; }
  double krylov_stderr() const { return kstderr_; }

 private:
  enum class Phase { Start, Step, Probes, Done };

  // Lanczos step on the newest product W_.col(j_ - 1); decide whether to take another.
  void advance() {
    const Index j = j_;
    const auto w = W_.col(j - 1);
    wsq_ += w.squaredNorm();
    Vector r = w;
    const Vector h = cgs2(V_, j, r);
    alpha_.push_back(h(j - 1));
    const double b = r.norm();
    // Deflate the first probes by the new direction q = v_{j-1} (orthogonal to the previous ones).
    const Eigen::RowVectorXd c = V_.col(j - 1).transpose() * Zt_;
    Zt_.noalias() -= V_.col(j - 1) * c;
    AZt_.noalias() -= w * c;
    const auto Q = V_.leftCols(j);
    const Matrix B = AZt_ - Q * (Q.transpose() * AZt_);
    const double R = B.squaredNorm() / static_cast<double>(g1_);
    R_.push_back(R);
    bool more = j < jmax_ && b > 1e-12 * std::sqrt(wsq_);
    if (more && j >= kMinDepth) {
      const double drop = (R_[static_cast<std::size_t>(j - 1 - kWindow)] - R) / static_cast<double>(kWindow);
      more = drop > R / static_cast<double>(m_ - j);
    }
    if (more) {
      V_.col(j) = r / b;
      request_ = V_.col(j);
      phase_ = Phase::Step;
      return;
    }
    const Index rest = m_ - j - g1_;
    if (rest == 0) {
      finish();
      return;
    }
    for (Index c = g1_; c < g1_ + rest; ++c) {
      rademacher_vector(seed_, static_cast<std::uint64_t>(c + 1), Z_.col(c).data(), n_);
    }
    request_ = Z_.middleCols(g1_, rest);
    phase_ = Phase::Probes;
  }

  static void mean_se(const std::vector<double>& x, double& mean, double& se) {
    const auto m = static_cast<double>(x.size());
    mean = 0.0;
    for (double v : x) mean += v;
    mean /= m;
    double ss = 0.0;
    for (double v : x) ss += (v - mean) * (v - mean);
    se = x.size() >= 2 ? std::sqrt(ss / (m - 1.0) / m) : std::numeric_limits<double>::infinity();
  }

  void finish() {
    const Index g = m_ - j_;
    const auto Q = V_.leftCols(j_);
    const auto AQ = W_.leftCols(j_);
    const auto Z = Z_.leftCols(g);
    const auto AZ = AZ_.leftCols(g);
    const Matrix C = Q.transpose() * Z;
    const Matrix Zt = Z - Q * C;
    const Matrix AZt = AZ - AQ * C;
    std::vector<double> res(static_cast<std::size_t>(g)), hut(static_cast<std::size_t>(g + 1));
    hut[0] = hutch0_;
    for (Index c = 0; c < g; ++c) {
      res[static_cast<std::size_t>(c)] = Zt.col(c).dot(AZt.col(c));
      hut[static_cast<std::size_t>(c + 1)] = Z.col(c).dot(AZ.col(c));
    }
    double exact = 0.0;
    for (double a : alpha_) exact += a;
    double mk = 0.0, mh = 0.0, sh = 0.0;
    mean_se(res, mk, kstderr_);
    mean_se(hut, mh, sh);
    kvalue_ = exact + mk;
    if (fallback_ && sh < kstderr_) {
      value_ = mh;
      stderr_ = sh;
      samples_ = hut;
      used_ = "hutchinson";
    } else {
      value_ = kvalue_;
      stderr_ = kstderr_;
      samples_ = res;
      used_ = "krylov";
    }
    phase_ = Phase::Done;
    request_.resize(n_, 0);
  }

  Index n_, m_;
  std::uint64_t seed_;
  bool fallback_;
  Index g1_ = 0, jmax_ = 0, j_ = 0;
  Phase phase_ = Phase::Done;
  Matrix V_, W_, Z_, AZ_, Zt_, AZt_, request_;
  std::vector<double> alpha_, R_, samples_;
  double wsq_ = 0.0, hutch0_ = 0.0;
  double value_ = 0.0, stderr_ = 0.0, kvalue_ = 0.0, kstderr_ = 0.0;
  std::string used_;
};

}  // namespace ridgeline::spectra
