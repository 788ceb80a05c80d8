// The MLP kernels (ridgeline/spectra/mlp.hpp) compiled a second time for AVX2 + FMA.
//
// Not a binding: the build compiles every cpp/bindings/*.cpp into _core, and
// this translation unit must be separate from the baseline one.  GCC's target
// pragma switches code generation for the functions defined below it; Eigen
// picks its SIMD kernels from the __AVX__-style macros, which the pragma does
// not set, so avx2_target.hpp defines them.  Everything compiled for AVX2 lives in
// renamed namespaces (Eigen -> ridgeline_eigen_avx2, ridgeline::spectra ->
// ridgeline::spectra_avx2), so no inline function is shared with the baseline
// build; only the standard-type interface in mlp_spec.hpp crosses over, and it
// is used only after a runtime CPU check (cpu_has_avx2_fma in spectra.cpp).
// Standard headers are included before the pragma so that their inline code
// stays baseline.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/spectra/mlp_spec.hpp"

#include "avx2_target.hpp"  // after every other include: AVX2 code generation from here on

#ifdef RIDGELINE_AVX2_BUILD
namespace ridgeline_mlp_iface = ridgeline::mlpapi;
#define Eigen ridgeline_eigen_avx2
#define spectra spectra_avx2
#define RIDGELINE_MLP_ISA "avx2+fma"
#include "ridgeline/spectra/mlp.hpp"

std::shared_ptr<ridgeline_mlp_iface::Backend> ridgeline_mlp_iface::make_backend_avx2(
    const Spec& spec, const double* params, const double* X, Index N, const std::int64_t* labels,
    const double* targets, bool single) {
  if (single) return std::make_shared<ridgeline::spectra_avx2::MlpState32>(spec, params, X, N, labels, targets);
  return std::make_shared<ridgeline::spectra_avx2::MlpState>(spec, params, X, N, labels, targets);
}
#else
// Built for AVX2 already (or not GCC on x86-64): the baseline kernels are used.
std::shared_ptr<ridgeline::mlpapi::Backend> ridgeline::mlpapi::make_backend_avx2(const Spec& spec,
                                                                              const double* params,
                                                                              const double* X, Index N,
                                                                              const std::int64_t* labels,
                                                                              const double* targets,
                                                                              bool single) {
  return make_backend_baseline(spec, params, X, N, labels, targets, single);
}
#endif
