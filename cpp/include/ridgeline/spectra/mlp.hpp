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
//
// The state is a template on the arithmetic type T (double or float): a float
// state keeps parameters, data and activations in float32 and computes every
// product in float32 (the loss is accumulated in double).
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
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
template <class T>
inline void gemm(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda, const T* B, Index ldb,
                 T beta, T* C, Index ldc) {
  if (m == 0 || n == 0) return;
  using MatT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using Map = Eigen::Map<const MatT, 0, Eigen::OuterStride<>>;
  Eigen::Map<MatT, 0, Eigen::OuterStride<>> Cm(C, m, n, Eigen::OuterStride<>(ldc));
  const Map Am(A, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const Map Bm(B, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (beta == T(0)) {
    Cm.setZero();
  } else if (beta != T(1)) {
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

// Forward and backward state for fixed (params, X, y) in arithmetic type T: loss,
// gradient and everything the R-operator needs.  Hessian and Gauss-Newton products reuse it.
template <class T>
class MlpStateT final : public mlpapi::Backend {
 public:
  using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using VectorT = Eigen::Matrix<T, Eigen::Dynamic, 1>;

  // X: N x d0 C-order buffer; labels (cross-entropy, N entries) or targets (squared, N x d_out C-order).
  MlpStateT(Mlp net, const double* params, const double* X, Index N, const std::int64_t* labels,
            const double* targets)
      : net_(std::move(net)), N_(N) {
    require(N >= 1, "X must have at least one sample");
    const Index L = net_.n_layers();
    const Vector p64 = Eigen::Map<const Vector>(params, net_.n_params());
    require(p64.allFinite(), "params contains NaN or inf");
    params_ = p64.template cast<T>();
    require(params_.allFinite(), "params overflow the arithmetic type");
    A_.resize(static_cast<std::size_t>(L));
    const Matrix X64 = Eigen::Map<const Matrix>(X, net_.in_dim(0), N);
    require(X64.allFinite(), "X contains NaN or inf");
    A_[0] = X64.template cast<T>();
    require(A_[0].allFinite(), "X overflows the arithmetic type");
    if (net_.loss() == Loss::CrossEntropy) {
      labels_.assign(labels, labels + N);
      for (std::int64_t c : labels_) {
        require(c >= 0 && c < net_.out_dim(L - 1),
                "y must hold integer labels in [0, " + std::to_string(net_.out_dim(L - 1)) + "), got " +
                    std::to_string(c));
      }
    } else {
      const Matrix t64 = Eigen::Map<const Matrix>(targets, net_.out_dim(L - 1), N);
      require(t64.allFinite(), "y contains NaN or inf");
      targets_ = t64.template cast<T>();
    }
    D1_.resize(static_cast<std::size_t>(L));
    D2_.resize(static_cast<std::size_t>(L));
    G_.resize(static_cast<std::size_t>(L));
    forward_backward();
  }

  double loss() const override { return loss_value_; }
  const double* gradient() const override { return grad64_.data(); }
  Index size() const override { return net_.n_params(); }
  const char* isa() const override { return RIDGELINE_MLP_ISA; }
  bool single() const override { return std::is_same_v<T, float>; }
  void apply(const double* V, double* HV, Index ncols, bool gauss_newton, int n_threads) const override {
    apply_columns(V, HV, ncols, gauss_newton, n_threads);
  }
  void apply(const float* V, float* HV, Index ncols, bool gauss_newton, int n_threads) const override {
    apply_columns(V, HV, ncols, gauss_newton, n_threads);
  }

 private:
  // HV = H V (gauss_newton=false) or G V for ncols contiguous columns of type In, columns
  // independent (parallel over columns); each column is converted to T on the way.
  template <class In>
  void apply_columns(const In* V, In* HV, Index ncols, bool gn, int n_threads) const {
    const Index n = size();
    const std::size_t b = static_cast<std::size_t>(ncols);
    parallel_for(b, n_threads, [&](std::size_t begin, std::size_t end, int) {
      Work w;
      // Own (aligned) copies: SIMD peeling depends on alignment, and results must not.
      VectorT vin(n), vout(n);
      for (std::size_t c = begin; c < end; ++c) {
        const Index off = static_cast<Index>(c) * n;
        vin = Eigen::Map<const Eigen::Matrix<In, Eigen::Dynamic, 1>>(V + off, n).template cast<T>();
        r_product(vin.data(), vout.data(), gn, w);
        Eigen::Map<Eigen::Matrix<In, Eigen::Dynamic, 1>>(HV + off, n) = vout.template cast<In>();
      }
    });
  }

  struct Work {
    std::vector<MatrixT> RZ, RA;
    MatrixT Rd, Rd_prev, tmp;
  };

  const T* W(Index l) const { return params_.data() + net_.w_offset(l); }
  const T* bias(Index l) const { return params_.data() + net_.b_offset(l); }

  void activate(const MatrixT& Z, MatrixT& A, MatrixT& D1, MatrixT& D2) const {
    if (net_.activation() == Activation::Tanh) {
      A = Z.array().tanh().matrix();
      D1 = (T(1) - A.array().square()).matrix();
      D2 = (T(-2) * A.array() * D1.array()).matrix();
    } else {
      A = Z.cwiseMax(T(0));
      D1 = (Z.array() > T(0)).template cast<T>().matrix();
      D2.resize(0, 0);  // relu'' = 0 almost everywhere
    }
  }

  void forward_backward() {
    const Index L = net_.n_layers();
    MatrixT Z;
    for (Index l = 0; l < L; ++l) {
      const Index in = net_.in_dim(l), out = net_.out_dim(l);
      Z.resize(out, N_);
      Z.colwise() = Eigen::Map<const VectorT>(bias(l), out);
      gemm<T>(true, false, out, N_, in, T(1), W(l), in, A_[static_cast<std::size_t>(l)].data(), in, T(1), Z.data(),
              out);
      if (l + 1 < L) {
        const auto s = static_cast<std::size_t>(l + 1);
        activate(Z, A_[s], D1_[s], D2_[s]);
      }
    }
    // Output layer: loss (accumulated in double), delta = dloss/dz (N-averaged), and the
    // softmax probabilities.
    const T invN = T(1) / static_cast<T>(N_);
    MatrixT delta(Z.rows(), N_);
    double total = 0.0;
    if (net_.loss() == Loss::CrossEntropy) {
      P_.resize(Z.rows(), N_);
      for (Index i = 0; i < N_; ++i) {
        const T m = Z.col(i).maxCoeff();
        P_.col(i) = (Z.col(i).array() - m).exp().matrix();
        const T s = P_.col(i).sum();
        P_.col(i) /= s;
        const auto y = static_cast<Index>(labels_[static_cast<std::size_t>(i)]);
        total += static_cast<double>(m) + std::log(static_cast<double>(s)) - static_cast<double>(Z(y, i));
        delta.col(i) = P_.col(i) * invN;
        delta(y, i) -= invN;
      }
    } else {
      const MatrixT r = Z - targets_;
      total = 0.5 * static_cast<double>(r.template cast<double>().squaredNorm());
      delta = r * invN;
    }
    loss_value_ = total / static_cast<double>(N_);
    if (!std::isfinite(loss_value_)) throw std::domain_error("the loss is not finite (overflow in the network?)");
    VectorT grad(net_.n_params());
    deltas_.resize(static_cast<std::size_t>(L) + 1);
    deltas_[static_cast<std::size_t>(L)] = delta;
    for (Index l = L - 1; l >= 0; --l) {
      const Index in = net_.in_dim(l), out = net_.out_dim(l);
      const MatrixT& d = deltas_[static_cast<std::size_t>(l + 1)];
      // dW (out x in row-major) = in x out column-major = A d^T.
      gemm<T>(false, true, in, out, N_, T(1), A_[static_cast<std::size_t>(l)].data(), in, d.data(), out, T(0),
              grad.data() + net_.w_offset(l), in);
      Eigen::Map<VectorT>(grad.data() + net_.b_offset(l), out) = d.rowwise().sum();
      if (l > 0) {
        auto& G = G_[static_cast<std::size_t>(l)];
        G.resize(in, N_);
        gemm<T>(false, false, in, N_, out, T(1), W(l), in, d.data(), out, T(0), G.data(), in);
        deltas_[static_cast<std::size_t>(l)] = G.cwiseProduct(D1_[static_cast<std::size_t>(l)]);
      }
    }
    grad64_ = grad.template cast<double>();
  }

  // One product: out = H v or G v.
  void r_product(const T* v, T* out, bool gn, Work& w) const {
    const Index L = net_.n_layers();
    const T invN = T(1) / static_cast<T>(N_);
    w.RZ.resize(static_cast<std::size_t>(L) + 1);
    w.RA.resize(static_cast<std::size_t>(L));
    // R-forward: RZ_{l+1} = W_l RA_l + V_l A_l + vb_l; RA_{l+1} = s'(Z) * RZ.
    for (Index l = 0; l < L; ++l) {
      const Index in = net_.in_dim(l), out_d = net_.out_dim(l);
      MatrixT& RZ = w.RZ[static_cast<std::size_t>(l + 1)];
      RZ.resize(out_d, N_);
      RZ.colwise() = Eigen::Map<const VectorT>(v + net_.b_offset(l), out_d);
      gemm<T>(true, false, out_d, N_, in, T(1), v + net_.w_offset(l), in, A_[static_cast<std::size_t>(l)].data(),
              in, T(1), RZ.data(), out_d);
      if (l > 0) {
        gemm<T>(true, false, out_d, N_, in, T(1), W(l), in, w.RA[static_cast<std::size_t>(l)].data(), in, T(1),
                RZ.data(), out_d);
      }
      if (l + 1 < L) {
        w.RA[static_cast<std::size_t>(l + 1)] = RZ.cwiseProduct(D1_[static_cast<std::size_t>(l + 1)]);
      }
    }
    // Output Hessian of the loss (per sample, averaged): R delta_L = H_out RZ_L / N.
    const MatrixT& RZL = w.RZ[static_cast<std::size_t>(L)];
    MatrixT& Rd = w.Rd;
    if (net_.loss() == Loss::CrossEntropy) {
      Rd.resize(RZL.rows(), N_);
      for (Index i = 0; i < N_; ++i) {
        const T pu = P_.col(i).dot(RZL.col(i));
        Rd.col(i) = (P_.col(i).array() * (RZL.col(i).array() - pu)).matrix() * invN;
      }
    } else {
      Rd = RZL * invN;
    }
    // R-backward.
    for (Index l = L - 1; l >= 0; --l) {
      const Index in = net_.in_dim(l), out_d = net_.out_dim(l);
      const auto sl = static_cast<std::size_t>(l);
      gemm<T>(false, true, in, out_d, N_, T(1), A_[sl].data(), in, Rd.data(), out_d, T(0), out + net_.w_offset(l),
              in);
      if (!gn && l > 0) {
        gemm<T>(false, true, in, out_d, N_, T(1), w.RA[sl].data(), in, deltas_[sl + 1].data(), out_d, T(1),
                out + net_.w_offset(l), in);
      }
      Eigen::Map<VectorT>(out + net_.b_offset(l), out_d) = Rd.rowwise().sum();
      if (l > 0) {
        MatrixT& Tm = w.tmp;
        Tm.resize(in, N_);
        gemm<T>(false, false, in, N_, out_d, T(1), W(l), in, Rd.data(), out_d, T(0), Tm.data(), in);
        if (!gn) {
          gemm<T>(false, false, in, N_, out_d, T(1), v + net_.w_offset(l), in, deltas_[sl + 1].data(), out_d, T(1),
                  Tm.data(), in);
        }
        w.Rd_prev = Tm.cwiseProduct(D1_[sl]);
        if (!gn && D2_[sl].size() > 0) {
          w.Rd_prev.array() += G_[sl].array() * D2_[sl].array() * w.RZ[sl].array();
        }
        std::swap(Rd, w.Rd_prev);
      }
    }
  }

  Mlp net_;
  Index N_;
  VectorT params_;
  std::vector<std::int64_t> labels_;
  MatrixT targets_;
  std::vector<MatrixT> A_, D1_, D2_, G_, deltas_;
  MatrixT P_;
  Vector grad64_;
  double loss_value_ = 0.0;
};

using MlpState = MlpStateT<double>;
using MlpState32 = MlpStateT<float>;

}  // namespace ridgeline::spectra
