// Owen-scrambled Sobol points and the normal quantile function (no Python here).
//
// Direction numbers: dimension 0 is the van der Corput sequence; dimension j >= 1
// uses the j-th primitive polynomial over GF(2) (enumerated by degree, then by its
// integer encoding) and initial direction numbers m_1 = 1, m_k (k >= 2) an odd
// integer below 2^k drawn from the Philox stream j of a fixed key.  Any such choice
// gives a digital (t, s)-sequence in base 2 whose one-dimensional projections are
// (0, m, 1)-nets.  Scrambling is Owen's nested uniform scramble of the first 32
// binary digits (one Philox bit per node of the binary tree, keyed by the dimension
// and the digit prefix), followed by uniform random lower digits, so each point is
// uniform on (0, 1)^d and the set keeps its net structure.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/random.hpp"

namespace ridgeline::elbo {

constexpr std::int64_t kMaxSobolDegree = 13;
constexpr std::int64_t kMaxSobolDim = 1111;  // 1 + number of primitive polynomials of degree <= 13
constexpr std::uint64_t kSobolDirectionKey = 0x50B01D1EC7100ull;

// Carry-less product of two polynomials over GF(2) reduced modulo p (degree s).
inline std::uint64_t gf2_mulmod(std::uint64_t a, std::uint64_t b, std::uint64_t p, int s) noexcept {
  std::uint64_t r = 0;
  while (b) {
    if (b & 1) r ^= a;
    b >>= 1;
    a <<= 1;
    if (a >> s & 1) a ^= p;
  }
  return r;
}

inline std::uint64_t gf2_powmod(std::uint64_t e, std::uint64_t p, int s) noexcept {
  std::uint64_t result = 1, base = 2;  // the polynomial x
  if (s == 1) base = 2 ^ p;              // x mod (x + 1) = 1
  while (e) {
    if (e & 1) result = gf2_mulmod(result, base, p, s);
    base = gf2_mulmod(base, base, p, s);
    e >>= 1;
  }
  return result;
}

// Whether p (degree s, constant term 1) is primitive: x has multiplicative order 2^s - 1.
inline bool gf2_primitive(std::uint64_t p, int s) noexcept {
  const std::uint64_t order = (std::uint64_t{1} << s) - 1;
  if (gf2_powmod(order, p, s) != 1) return false;
  std::uint64_t rest = order;
  for (std::uint64_t q = 2; q * q <= rest; ++q) {
    if (rest % q) continue;
    while (rest % q == 0) rest /= q;
    if (gf2_powmod(order / q, p, s) == 1) return false;
  }
  if (rest > 1 && rest != order && gf2_powmod(order / rest, p, s) == 1) return false;
  return true;
}

// Direction numbers v[j * 32 + b] (b = 0 is the most significant digit).
inline std::vector<std::uint32_t> build_sobol_directions() {
  std::vector<std::uint32_t> v(static_cast<std::size_t>(kMaxSobolDim) * 32, 0);
  for (int b = 0; b < 32; ++b) v[static_cast<std::size_t>(b)] = std::uint32_t{1} << (31 - b);
  std::int64_t j = 1;
  for (int s = 1; s <= kMaxSobolDegree && j < kMaxSobolDim; ++s) {
    for (std::uint64_t p = (std::uint64_t{1} << s) | 1; p < (std::uint64_t{1} << (s + 1)) && j < kMaxSobolDim; p += 2) {
      if (!gf2_primitive(p, s)) continue;
      std::uint64_t m[33] = {0};
      m[1] = 1;
      for (int k = 2; k <= s; ++k) {
        const std::uint64_t w = philox_word(kSobolDirectionKey, static_cast<std::uint64_t>(j), static_cast<std::uint64_t>(k));
        m[k] = ((w >> (65 - k)) << 1) | 1;  // odd, < 2^k
      }
      for (int k = s + 1; k <= 32; ++k) {
        std::uint64_t x = m[k - s] ^ (m[k - s] << s);
        for (int i = 1; i < s; ++i) {
          if (p >> (s - i) & 1) x ^= m[k - i] << i;
        }
        m[k] = x;
      }
      for (int k = 1; k <= 32; ++k) {
        v[static_cast<std::size_t>(j) * 32 + static_cast<std::size_t>(k - 1)] =
            static_cast<std::uint32_t>(m[k] << (32 - k));
      }
      ++j;
    }
  }
  return v;
}

inline const std::vector<std::uint32_t>& sobol_directions() {
  static const std::vector<std::uint32_t> dirs = build_sobol_directions();
  return dirs;
}

// Owen's nested uniform scramble of the 32 leading digits of x in dimension j.
inline std::uint32_t owen_scramble(std::uint32_t x, std::uint64_t key, std::uint64_t j) noexcept {
  std::uint32_t flips = 0;
  for (int k = 0; k < 32; ++k) {
    const std::uint64_t prefix = k == 0 ? 0 : (x >> (32 - k));
    const std::uint64_t node = (std::uint64_t{1} << k) | prefix;
    flips |= static_cast<std::uint32_t>(philox_word(key, j, node) >> 63) << (31 - k);
  }
  return x ^ flips;
}

// Standard normal quantile: an Abramowitz-Stegun 26.2.23 start and three Halley steps on erfc.
inline double norm_ppf(double p) noexcept {
  if (std::isnan(p) || p < 0.0 || p > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.0) return -std::numeric_limits<double>::infinity();
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  if (p > 0.5) return -norm_ppf(1.0 - p);  // exact for p >= 0.5
  const double r = std::sqrt(-2.0 * std::log(p));
  double x = -(r - (2.515517 + r * (0.802853 + r * 0.010328)) / (1.0 + r * (1.432788 + r * (0.189269 + r * 0.001308))));
  constexpr double kSqrt2Pi = 2.5066282746310005024157652848110;
  for (int it = 0; it < 3; ++it) {
    const double e = 0.5 * std::erfc(-x / 1.4142135623730950488016887242097) - p;
    const double u = e * kSqrt2Pi * std::exp(0.5 * x * x);
    x -= u / (1.0 + 0.5 * x * u);
  }
  return x;
}

// The first n points of the d-dimensional sequence, row-major (n, d).  With scramble,
// Owen-scrambled under `key` and completed with random lower digits; with normal, mapped
// through norm_ppf.  Without scramble the raw points k / 2^32 are returned (0 included).
inline void sobol_points(std::int64_t n, std::int64_t d, std::uint64_t key, bool scramble, double* out, bool normal) {
  require(d >= 1 && d <= kMaxSobolDim, "d out of range");
  require(n >= 1 && n <= (std::int64_t{1} << 32), "n out of range");
  const auto& v = sobol_directions();
  for (std::int64_t j = 0; j < d; ++j) {
    const std::uint32_t* vj = v.data() + j * 32;
    for (std::int64_t i = 0; i < n; ++i) {
      std::uint32_t x = 0;
      std::uint64_t g = static_cast<std::uint64_t>(i);
      for (int b = 0; g; ++b, g >>= 1) {
        if (g & 1) x ^= vj[b];
      }
      double u;
      if (scramble) {
        const std::uint32_t y = owen_scramble(x, key, static_cast<std::uint64_t>(j));
        const double low = u64_to_uniform(philox_word(key, static_cast<std::uint64_t>(j), (std::uint64_t{1} << 33) | x));
        u = (static_cast<double>(y) + low) * 0x1.0p-32;
        if (u >= 1.0) u = 1.0 - 0x1.0p-53;  // y + low can round up to 2^32
      } else {
        u = static_cast<double>(x) * 0x1.0p-32;
      }
      out[i * d + j] = normal ? norm_ppf(u) : u;
    }
  }
}

}  // namespace ridgeline::elbo
