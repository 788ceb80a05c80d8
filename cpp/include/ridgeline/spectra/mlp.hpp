// Multilayer perceptrons with exact Hessian-vector products (no Python here).
//
// Layout: parameters are one flat vector, layer by layer, each weight of shape
// (out, in) in row-major order followed by its bias: the order of
// torch.nn.utils.parameters_to_vector for a stack of nn.Linear.  Inputs are
// X of shape (N, d0) in C order, which is the column-major d0 x N matrix with
// one sample per column; all activations are kept that way.  The loss is the
// mean over samples of softmax cross-entropy (integer labels) or of
// 0.5 * ||z - y||^2 (squared loss).
//
// Hessian-vector products use Pearlmutter's R-operator: with the forward and
// backward passes cached for fixed (params, X, y), each product is one
// R-forward and one R-backward pass.  Gauss-Newton products G v = J^T H_out J v
// drop the second-order terms of the hidden layers.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/spectra/mlp_spec.hpp"
#include "ridgeline/spectra/operators.hpp"

#ifndef RIDGELINE_MLP_ISA
#define RIDGELINE_MLP_ISA "baseline"
#endif

namespace ridgeline::spectra {

// C = alpha op(A) op(B) + beta C on column-major buffers.
inline void gemm(bool ta, bool tb, Index m, Index n, Index k, double alpha, const double* A, Index lda,
                 const double* B, Index ldb, double beta, double* C, Index ldc) {
  if (m == 0 || n == 0) return;
  using Map = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
  Eigen::Map<Matrix, 0, Eigen::OuterStride<>> Cm(C, m, n, Eigen::OuterStride<>(ldc));
  const Map Am(A, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const Map Bm(B, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (beta == 0.0) {
    Cm.setZero();
  } else if (beta != 1.0) {
    Cm *= beta;
  }
  if (!ta && !tb) Cm.noalias() += alpha * Am * Bm;
  if (ta && !tb) Cm.noalias() += alpha * Am.transpose() * Bm;
  if (!ta && tb) Cm.noalias() += alpha * Am * Bm.transpose();
  if (ta && tb) Cm.noalias() += alpha * Am.transpose() * Bm.transpose();
}

using mlpapi::Activation;
using mlpapi::Loss;
using Mlp = mlpapi::Spec;

// Forward and backward state for fixed (params, X, y): loss, gradient and
// everything the R-operator needs.  Hessian and Gauss-Newton products reuse it.
class MlpState final : public mlpapi::Backend {
 public:
  // X: N x d0 C-order buffer; labels (cross-entropy, N entries) or targets (squared, N x d_out C-order).
  MlpState(Mlp net, const double* params, const double* X, Index N, const std::int64_t* labels,
           const double* targets)
      : net_(std::move(net)), N_(N) {
    require(N >= 1, "X must have at least one sample");
    const Index L = net_.n_layers();
    params_ = Eigen::Map<const Vector>(params, net_.n_params());
    require(params_.allFinite(), "params contains NaN or inf");
    A_.resize(static_cast<std::size_t>(L));
    A_[0] = Eigen::Map<const Matrix>(X, net_.in_dim(0), N);
    require(A_[0].allFinite(), "X contains NaN or inf");
    if (net_.loss() == Loss::CrossEntropy) {
      labels_.assign(labels, labels + N);
      for (std::int64_t c : labels_) {
        require(c >= 0 && c < net_.out_dim(L - 1),
                "y must hold integer labels in [0, " + std::to_string(net_.out_dim(L - 1)) + "), got " +
                    std::to_string(c));
      }
    } else {
      targets_ = Eigen::Map<const Matrix>(targets, net_.out_dim(L - 1), N);
      require(targets_.allFinite(), "y contains NaN or inf");
    }
    D1_.resize(static_cast<std::size_t>(L));
    D2_.resize(static_cast<std::size_t>(L));
    G_.resize(static_cast<std::size_t>(L));
    forward_backward();
  }

  double loss() const override { return loss_value_; }
  const double* gradient() const override { return grad_.data(); }
  Index size() const override { return net_.n_params(); }
  const char* isa() const override { return RIDGELINE_MLP_ISA; }
  void apply(const double* V, double* HV, Index ncols, bool gauss_newton, int n_threads) const override {
    Eigen::Map<const Matrix> Vm(V, size(), ncols);
    Eigen::Map<Matrix> HVm(HV, size(), ncols);
    apply(Vm, HVm, gauss_newton, n_threads);
  }

  // HV = H V (gauss_newton=false) or G V, columns independent (parallel over columns).
  void apply(const ConstMatrixRef& V, MatrixRef HV, bool gauss_newton, int n_threads) const {
    require(V.rows() == net_.n_params(), "direction length does not match the number of parameters");
    const std::size_t b = static_cast<std::size_t>(V.cols());
    parallel_for(b, n_threads, [&](std::size_t begin, std::size_t end, int) {
      Work w;
      // Own (aligned) copies: SIMD peeling depends on alignment, and results must not.
      Vector vin(V.rows()), vout(V.rows());
      for (std::size_t c = begin; c < end; ++c) {
        vin = V.col(static_cast<Index>(c));
        r_product(vin.data(), vout.data(), gauss_newton, w);
        HV.col(static_cast<Index>(c)) = vout;
      }
    });
  }

 private:
  struct Work {
    std::vector<Matrix> RZ, RA;
    Matrix Rd, Rd_prev, tmp;
  };

  const double* W(Index l) const { return params_.data() + net_.w_offset(l); }
  const double* bias(Index l) const { return params_.data() + net_.b_offset(l); }

  void activate(const Matrix& Z, Matrix& A, Matrix& D1, Matrix& D2) const {
    if (net_.activation() == Activation::Tanh) {
      A = Z.array().tanh().matrix();
      D1 = (1.0 - A.array().square()).matrix();
      D2 = (-2.0 * A.array() * D1.array()).matrix();
    } else {
      A = Z.cwiseMax(0.0);
      D1 = (Z.array() > 0.0).cast<double>().matrix();
      D2.resize(0, 0);  // relu'' = 0 almost everywhere
    }
  }

  void forward_backward() {
    const Index L = net_.n_layers();
    Matrix Z;
    for (Index l = 0; l < L; ++l) {
      const Index in = net_.in_dim(l), out = net_.out_dim(l);
      Z.resize(out, N_);
      Z.colwise() = Eigen::Map<const Vector>(bias(l), out);
      gemm(true, false, out, N_, in, 1.0, W(l), in, A_[static_cast<std::size_t>(l)].data(), in, 1.0, Z.data(), out);
      if (l + 1 < L) {
        const auto s = static_cast<std::size_t>(l + 1);
        activate(Z, A_[s], D1_[s], D2_[s]);
      }
    }
    // Output layer: loss, delta = dloss/dz (N-averaged), and the softmax probabilities.
    const double invN = 1.0 / static_cast<double>(N_);
    Matrix delta(Z.rows(), N_);
    double total = 0.0;
    if (net_.loss() == Loss::CrossEntropy) {
      P_.resize(Z.rows(), N_);
      for (Index i = 0; i < N_; ++i) {
        const double m = Z.col(i).maxCoeff();
        P_.col(i) = (Z.col(i).array() - m).exp().matrix();
        const double s = P_.col(i).sum();
        P_.col(i) /= s;
        const auto y = static_cast<Index>(labels_[static_cast<std::size_t>(i)]);
        total += m + std::log(s) - Z(y, i);
        delta.col(i) = P_.col(i) * invN;
        delta(y, i) -= invN;
      }
    } else {
      const Matrix r = Z - targets_;
      total = 0.5 * r.squaredNorm();
      delta = r * invN;
    }
    loss_value_ = total * invN;
    if (!std::isfinite(loss_value_)) throw std::domain_error("the loss is not finite (overflow in the network?)");
    grad_.resize(net_.n_params());
    deltas_.resize(static_cast<std::size_t>(L) + 1);
    deltas_[static_cast<std::size_t>(L)] = delta;
    for (Index l = L - 1; l >= 0; --l) {
      const Index in = net_.in_dim(l), out = net_.out_dim(l);
      const Matrix& d = deltas_[static_cast<std::size_t>(l + 1)];
      // dW (out x in row-major) = in x out column-major = A d^T.
      gemm(false, true, in, out, N_, 1.0, A_[static_cast<std::size_t>(l)].data(), in, d.data(), out, 0.0,
            grad_.data() + net_.w_offset(l), in);
      Eigen::Map<Vector>(grad_.data() + net_.b_offset(l), out) = d.rowwise().sum();
      if (l > 0) {
        auto& G = G_[static_cast<std::size_t>(l)];
        G.resize(in, N_);
        gemm(false, false, in, N_, out, 1.0, W(l), in, d.data(), out, 0.0, G.data(), in);
        deltas_[static_cast<std::size_t>(l)] = G.cwiseProduct(D1_[static_cast<std::size_t>(l)]);
      }
    }
  }

  // One product: out = H v or G v.
  void r_product(const double* v, double* out, bool gn, Work& w) const {
    const Index L = net_.n_layers();
    const double invN = 1.0 / static_cast<double>(N_);
    w.RZ.resize(static_cast<std::size_t>(L) + 1);
    w.RA.resize(static_cast<std::size_t>(L));
    // R-forward: RZ_{l+1} = W_l RA_l + V_l A_l + vb_l; RA_{l+1} = s'(Z) * RZ.
    for (Index l = 0; l < L; ++l) {
      const Index in = net_.in_dim(l), out_d = net_.out_dim(l);
      Matrix& RZ = w.RZ[static_cast<std::size_t>(l + 1)];
      RZ.resize(out_d, N_);
      RZ.colwise() = Eigen::Map<const Vector>(v + net_.b_offset(l), out_d);
      gemm(true, false, out_d, N_, in, 1.0, v + net_.w_offset(l), in, A_[static_cast<std::size_t>(l)].data(), in,
            1.0, RZ.data(), out_d);
      if (l > 0) {
        gemm(true, false, out_d, N_, in, 1.0, W(l), in, w.RA[static_cast<std::size_t>(l)].data(), in, 1.0,
              RZ.data(), out_d);
      }
      if (l + 1 < L) {
        w.RA[static_cast<std::size_t>(l + 1)] = RZ.cwiseProduct(D1_[static_cast<std::size_t>(l + 1)]);
      }
    }
    // Output Hessian of the loss (per sample, averaged): R delta_L = H_out RZ_L / N.
    const Matrix& RZL = w.RZ[static_cast<std::size_t>(L)];
    Matrix& Rd = w.Rd;
    if (net_.loss() == Loss::CrossEntropy) {
      Rd.resize(RZL.rows(), N_);
      for (Index i = 0; i < N_; ++i) {
        const double pu = P_.col(i).dot(RZL.col(i));
        Rd.col(i) = (P_.col(i).array() * (RZL.col(i).array() - pu)).matrix() * invN;
      }
    } else {
      Rd = RZL * invN;
    }
    // R-backward.
    for (Index l = L - 1; l >= 0; --l) {
      const Index in = net_.in_dim(l), out_d = net_.out_dim(l);
      const auto sl = static_cast<std::size_t>(l);
      gemm(false, true, in, out_d, N_, 1.0, A_[sl].data(), in, Rd.data(), out_d, 0.0, out + net_.w_offset(l), in);
      if (!gn && l > 0) {
        gemm(false, true, in, out_d, N_, 1.0, w.RA[sl].data(), in, deltas_[sl + 1].data(), out_d, 1.0,
              out + net_.w_offset(l), in);
      }
      Eigen::Map<Vector>(out + net_.b_offset(l), out_d) = Rd.rowwise().sum();
      if (l > 0) {
        Matrix& T = w.tmp;
        T.resize(in, N_);
        gemm(false, false, in, N_, out_d, 1.0, W(l), in, Rd.data(), out_d, 0.0, T.data(), in);
        if (!gn) {
          gemm(false, false, in, N_, out_d, 1.0, v + net_.w_offset(l), in, deltas_[sl + 1].data(), out_d, 1.0,
                T.data(), in);
        }
        w.Rd_prev = T.cwiseProduct(D1_[sl]);
        if (!gn && D2_[sl].size() > 0) {
          w.Rd_prev.array() += G_[sl].array() * D2_[sl].array() * w.RZ[sl].array();
        }
        std::swap(Rd, w.Rd_prev);
      }
    }
  }

  Mlp net_;
  Index N_;
  Vector params_;
  std::vector<std::int64_t> labels_;
  Matrix targets_;
  std::vector<Matrix> A_, D1_, D2_, G_, deltas_;
  Matrix P_;
  Vector grad_;
  double loss_value_ = 0.0;
};

}  // namespace ridgeline::spectra
