// Symmetric linear operators v -> A v used by the spectra kernels (no Python here).
//
// Every kernel works on blocks: apply(X, Y) sets Y = A X for an n x b block X
// (column-major, one vector per column).  Built-in operators run without the
// Python interpreter, so the drivers can release the GIL around them.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/spectra/mlp_spec.hpp"

namespace ridgeline::spectra {

using Index = Eigen::Index;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using ConstMatrixRef = Eigen::Ref<const Matrix>;
using MatrixRef = Eigen::Ref<Matrix>;

class LinearOperator {
 public:
  virtual ~LinearOperator() = default;
  virtual Index size() const = 0;
  // Y = A X for a block of columns; Y has the shape of X.
  virtual void apply(const ConstMatrixRef& X, MatrixRef Y) const = 0;
};

// A dense n x n matrix stored row-major (numpy C order) and not owned.
class DenseOperator final : public LinearOperator {
 public:
  DenseOperator(const double* data, Index n) : data_(data), n_(n) {}
  Index size() const override { return n_; }
  void apply(const ConstMatrixRef& X, MatrixRef Y) const override {
    // Row-major A is column-major A^T; (A^T)^T X = A X.
    Eigen::Map<const Matrix> At(data_, n_, n_);
    Y.noalias() = At.transpose() * X;
  }

 private:
  const double* data_;
  Index n_;
};

// A CSR sparse matrix (scipy.sparse csr layout, 64-bit indices), not owned.
class CsrOperator final : public LinearOperator {
 public:
  CsrOperator(const double* data, const std::int64_t* indices, const std::int64_t* indptr, Index n, int n_threads)
      : data_(data), indices_(indices), indptr_(indptr), n_(n), n_threads_(n_threads) {}
  Index size() const override { return n_; }
  void apply(const ConstMatrixRef& X, MatrixRef Y) const override {
    const Index b = X.cols();
    // Rows are independent, so the result does not depend on the thread count.
    parallel_for(static_cast<std::size_t>(n_), n_threads_, [&](std::size_t begin, std::size_t end, int) {
      for (std::size_t i = begin; i < end; ++i) {
        for (Index c = 0; c < b; ++c) {
          double s = 0.0;
          for (std::int64_t p = indptr_[i]; p < indptr_[i + 1]; ++p) s += data_[p] * X(indices_[p], c);
          Y(static_cast<Index>(i), c) = s;
        }
      }
    });
  }

 private:
  const double* data_;
  const std::int64_t* indices_;
  const std::int64_t* indptr_;
  Index n_;
  int n_threads_;
};

// The Hessian (or Gauss-Newton matrix) of a compiled MLP state.
class MlpOperator final : public LinearOperator {
 public:
  MlpOperator(std::shared_ptr<const mlpapi::Backend> state, bool gauss_newton, int n_threads)
      : state_(std::move(state)), gn_(gauss_newton), n_threads_(n_threads) {}
  Index size() const override { return state_->size(); }
  void apply(const ConstMatrixRef& X, MatrixRef Y) const override {
    if (X.outerStride() == X.rows() && Y.outerStride() == Y.rows()) {
      state_->apply(X.data(), Y.data(), X.cols(), gn_, n_threads_);
      return;
    }
    const Matrix Xc = X;
    Matrix Yc(X.rows(), X.cols());
    state_->apply(Xc.data(), Yc.data(), Xc.cols(), gn_, n_threads_);
    Y = Yc;
  }

 private:
  std::shared_ptr<const mlpapi::Backend> state_;
  bool gn_;
  int n_threads_;
};

}  // namespace ridgeline::spectra
