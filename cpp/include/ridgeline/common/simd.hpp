// Kernels compiled twice, for the baseline (SSE2 on x86-64) and for AVX2 lanes,
// with the path chosen at run time.  Each kernel does the same floating-point
// operations in the same order on both paths (elementwise loops, no FMA: the
// AVX2 path is compiled for "avx2" only), so the results are bit for bit the
// same whatever the CPU.
#pragma once

#include <cstddef>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RIDGELINE_NO_AVX2_KERNELS)
#define RIDGELINE_AVX2_KERNELS 1
#endif

namespace ridgeline::simd {

#if defined(RIDGELINE_AVX2_KERNELS)
inline bool cpu_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2") != 0;
  return has;
}
#else
inline bool cpu_has_avx2() noexcept { return false; }
#endif

namespace detail {

// See forward_radii.
[[gnu::always_inline]] inline double forward_radii_body(double* y, std::size_t n, int d, const double* L,
                                                         std::size_t ldl, double* r2) {
  for (std::size_t k = 0; k < n; ++k) r2[k] = 0.0;
  for (int i = 0; i < d; ++i) {
    double* yi = y + static_cast<std::size_t>(i) * n;
    for (int j = 0; j < i; ++j) {
      const double l = L[static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * ldl];
      const double* yj = y + static_cast<std::size_t>(j) * n;
      for (std::size_t k = 0; k < n; ++k) yi[k] -= l * yj[k];
    }
    const double inv = 1.0 / L[static_cast<std::size_t>(i) * (ldl + 1)];
    for (std::size_t k = 0; k < n; ++k) {
      yi[k] *= inv;
      r2[k] += yi[k] * yi[k];
    }
  }
  double m = 0.0;
  for (std::size_t k = 0; k < n; ++k) m = r2[k] > m ? r2[k] : m;
  return m;
}

#if defined(RIDGELINE_AVX2_KERNELS)
__attribute__((target("avx2"))) inline double forward_radii_avx2(double* y, std::size_t n, int d, const double* L,
                                                                 std::size_t ldl, double* r2) {
  return forward_radii_body(y, n, d, L, ldl, r2);
}
#endif

}  // namespace detail

// Forward substitution on the rows of y (d rows of n values, row-major):
// y <- L^-1 y with L lower triangular (column-major, leading dimension ldl);
// r2[k] = |column k of the result|^2; returns the largest r2 (0 when n = 0).
inline double forward_radii(double* y, std::size_t n, int d, const double* L, std::size_t ldl, double* r2) {
#if defined(RIDGELINE_AVX2_KERNELS)
  if (cpu_has_avx2()) return detail::forward_radii_avx2(y, n, d, L, ldl, r2);
#endif
  return detail::forward_radii_body(y, n, d, L, ldl, r2);
}

}  // namespace ridgeline::simd
