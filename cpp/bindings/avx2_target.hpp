// Switches the rest of a translation unit to AVX2 + FMA code generation (GCC on
// x86-64 without -mavx2), for the kernels compiled a second time
// (cpp/bindings/*_avx2.cpp) and chosen at run time by cpu_has_avx2_fma().
//
// Include it after every standard and baseline header, so their inline code
// stays baseline.  GCC's target pragma does not set the __AVX2__-style macros
// from which Eigen picks its SIMD kernels, so they are defined here.  Defines
// RIDGELINE_AVX2_BUILD when the switch happened; otherwise (already built for
// AVX2, or another compiler) the including file falls back to the baseline code.
// Deliberately no include guard: it must act in each file that includes it.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#include <immintrin.h>
#pragma GCC target("avx2,fma")
#define __SSE3__ 1
#define __SSSE3__ 1
#define __SSE4_1__ 1
#define __SSE4_2__ 1
#define __AVX__ 1
#define __AVX2__ 1
#define __FMA__ 1
#define RIDGELINE_AVX2_BUILD 1
#endif
