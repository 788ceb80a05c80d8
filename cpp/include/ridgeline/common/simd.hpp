// Kernels compiled twice, for the baseline (SSE2 on x86-64) and for AVX2 lanes,
// with the path chosen at run time.  Each kernel does the same floating-point
// operations in the same order on both paths (elementwise loops, no FMA: the
// AVX2 path is compiled for "avx2" only), so the results are bit for bit the
// same whatever the CPU.
#pragma once

#include <cstddef>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RIDGELINE_NO_AVX2_KERNELS)
#define RIDGELINE_AVX2_KERNELS 1
#include <immintrin.h>
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

// Dot product in four lanes (element k in lane k mod 4, each lane summed in
// order, the lanes added as (0 + 1) + (2 + 3)): the same bits in SSE2 and in
// AVX2 registers.
[[gnu::always_inline]] inline double dot_lanes(const double* a, const double* b, std::size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

// See gram_lower.
[[gnu::always_inline]] inline void gram_lower_body(const double* y, std::size_t n, int d, double* g, std::size_t ldg) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j) {
      const double v = dot_lanes(y + static_cast<std::size_t>(i) * n, y + static_cast<std::size_t>(j) * n, n);
      g[static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * ldg] = v;
      g[static_cast<std::size_t>(j) + static_cast<std::size_t>(i) * ldg] = v;
    }
}

// See affine_rows.  Rows in groups of four; within a group every row takes
// the same columns (for `lower`, those up to the group's last row: the entries
// above the diagonal are zeros, whose products add nothing).
[[gnu::always_inline]] inline void affine_rows_body(const double* c, const double* A, std::size_t lda, int d,
                                                     bool lower, const double* z, int r0, int r1, double* out) {
  for (int a = r0; a < r1; a += 4) {
    const int w = r1 - a < 4 ? r1 - a : 4;
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    const int jend = lower ? a + w : d;
    for (int j = 0; j < jend; ++j) {
      const double zj = z[j];
      const double* col = A + static_cast<std::size_t>(j) * lda + a;
      for (int t = 0; t < w; ++t) acc[t] += col[t] * zj;
    }
    for (int t = 0; t < w; ++t) out[a + t] = c[a + t] + acc[t];
  }
}

#if defined(RIDGELINE_AVX2_KERNELS)
__attribute__((target("avx2"))) inline void affine_rows_avx2(const double* c, const double* A, std::size_t lda, int d,
                                                             bool lower, const double* z, int r0, int r1, double* out) {
  const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
  for (int a = r0; a < r1; a += 4) {
    const int w = r1 - a < 4 ? r1 - a : 4;
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(w), lane);
    __m256d acc = _mm256_setzero_pd();
    const int jend = lower ? a + w : d;
    for (int j = 0; j < jend; ++j) {
      const __m256d col = _mm256_maskload_pd(A + static_cast<std::size_t>(j) * lda + a, mask);
      acc = _mm256_add_pd(acc, _mm256_mul_pd(col, _mm256_set1_pd(z[j])));
    }
    _mm256_maskstore_pd(out + a, mask, _mm256_add_pd(_mm256_maskload_pd(c + a, mask), acc));
  }
}

__attribute__((target("avx2"))) inline void gram_lower_avx2(const double* y, std::size_t n, int d, double* g,
                                                            std::size_t ldg) {
  gram_lower_body(y, n, d, g, ldg);
}

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

// The Gram matrix of the rows of y (d rows of n values, row-major): g(i, j) =
// row i . row j, written symmetric to g (column-major, leading dimension ldg).
inline void gram(const double* y, std::size_t n, int d, double* g, std::size_t ldg) {
#if defined(RIDGELINE_AVX2_KERNELS)
  if (cpu_has_avx2()) {
    detail::gram_lower_avx2(y, n, d, g, ldg);
    return;
  }
#endif
  detail::gram_lower_body(y, n, d, g, ldg);
}

// Rows r0 .. r1 - 1 of the affine map out = c + A z, A (d x d) column-major
// with leading dimension lda, only its lower triangle read when `lower`:
// out[i] = c[i] + sum_j A(i, j) z[j], each sum taken in the order j = 0, 1, ...
// from 0.0 (the order of a plain row-by-row loop, so the same bits), computed
// a column at a time so that the rows fill the lanes.
inline void affine_rows(const double* c, const double* A, std::size_t lda, int d, bool lower, const double* z, int r0,
                        int r1, double* out) {
#if defined(RIDGELINE_AVX2_KERNELS)
  if (cpu_has_avx2()) {
    detail::affine_rows_avx2(c, A, lda, d, lower, z, r0, r1, out);
    return;
  }
#endif
  detail::affine_rows_body(c, A, lda, d, lower, z, r0, r1, out);
}

}  // namespace ridgeline::simd
