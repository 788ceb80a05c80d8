// MLP architecture and the Eigen-free interface of the compiled MLP state (no Python here).
//
// The state (forward/backward cache plus R-operator products, mlp.hpp) is
// compiled twice: once for the baseline instruction set and once, in its own
// translation unit and namespaces, for AVX2+FMA.  This header is the boundary
// between them and therefore uses only standard types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"

namespace ridgeline::mlpapi {

using Index = std::ptrdiff_t;

enum class Activation { Tanh, Relu };
enum class Loss { CrossEntropy, Squared };

inline Activation parse_activation(const std::string& s) {
  if (s == "tanh") return Activation::Tanh;
  if (s == "relu") return Activation::Relu;
  throw std::invalid_argument("unknown activation '" + s + "'; expected one of 'tanh', 'relu'");
}

inline Loss parse_loss(const std::string& s) {
  if (s == "cross_entropy") return Loss::CrossEntropy;
  if (s == "squared") return Loss::Squared;
  throw std::invalid_argument("unknown loss '" + s + "'; expected one of 'cross_entropy', 'squared'");
}

// Layer sizes (d0, h1, ..., d_out), activation and loss.  Parameters are one
// flat vector, layer by layer, weight (out, in) row-major then bias.
class Spec {
 public:
  Spec(std::vector<Index> sizes, Activation act, Loss loss) : sizes_(std::move(sizes)), act_(act), loss_(loss) {
    require(sizes_.size() >= 2, "layer_sizes must have at least 2 entries (input and output)");
    for (Index s : sizes_) require(s >= 1, "layer_sizes must be >= 1, got " + std::to_string(s));
    if (loss_ == Loss::CrossEntropy) {
      require(sizes_.back() >= 2, "cross_entropy needs at least 2 outputs, got " + std::to_string(sizes_.back()));
    }
    offsets_.push_back(0);
    for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
      offsets_.push_back(offsets_.back() + sizes_[l] * sizes_[l + 1] + sizes_[l + 1]);
    }
  }
  Index n_params() const { return offsets_.back(); }
  Index n_layers() const { return static_cast<Index>(sizes_.size()) - 1; }
  Index in_dim(Index l) const { return sizes_[static_cast<std::size_t>(l)]; }
  Index out_dim(Index l) const { return sizes_[static_cast<std::size_t>(l) + 1]; }
  Index w_offset(Index l) const { return offsets_[static_cast<std::size_t>(l)]; }
  Index b_offset(Index l) const { return w_offset(l) + in_dim(l) * out_dim(l); }
  Activation activation() const { return act_; }
  Loss loss() const { return loss_; }

 private:
  std::vector<Index> sizes_;
  Activation act_;
  Loss loss_;
  std::vector<Index> offsets_;
};

// Cached state at fixed (params, X, y), computing in float64 or (single() true) float32.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Index size() const = 0;
  virtual double loss() const = 0;
  virtual const double* gradient() const = 0;
  // HV[:, c] = H V[:, c] (or G V[:, c]) for ncols contiguous columns of length size(); the
  // columns are converted to the state's arithmetic type and back when the types differ.
  virtual void apply(const double* V, double* HV, Index ncols, bool gauss_newton, int n_threads) const = 0;
  virtual void apply(const float* V, float* HV, Index ncols, bool gauss_newton, int n_threads) const = 0;
  virtual bool single() const = 0;
  virtual const char* isa() const = 0;
};

// X: N x d0 in C order; labels (cross-entropy, N) or targets (squared, N x d_out, C order);
// single: float32 arithmetic.
using Factory = std::shared_ptr<Backend> (*)(const Spec&, const double* params, const double* X, Index N,
                                             const std::int64_t* labels, const double* targets, bool single);

// Defined in cpp/bindings/spectra.cpp (baseline) and cpp/bindings/spectra_avx2.cpp (nullptr when
// that build is unavailable or the CPU lacks AVX2/FMA).
std::shared_ptr<Backend> make_backend_baseline(const Spec&, const double*, const double*, Index, const std::int64_t*,
                                               const double*, bool);
std::shared_ptr<Backend> make_backend_avx2(const Spec&, const double*, const double*, Index, const std::int64_t*,
                                           const double*, bool);

}  // namespace ridgeline::mlpapi
