// Counter-based random numbers shared by every engine.
//
// Philox4x32-10 (Salmon et al., SC'11) keyed by a 64-bit seed.  A stream is
// identified by a 64-bit stream id (one per task, row, chain, ...), and draws
// are a pure function of (seed, stream, position), so results do not depend on
// the number of threads or on the order in which tasks run.  The uniform and
// normal transforms are our own (not <random> distributions, whose output
// differs between standard libraries).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// (define RIDGELINE_NO_AVX2_PHILOX to build without the AVX2 path, e.g. to check
// that both paths give the same words)
#if defined(__GNUC__) && defined(__x86_64__) && !defined(RIDGELINE_NO_AVX2_PHILOX)
#include <immintrin.h>
#define RIDGELINE_PHILOX_AVX2 1
#endif

namespace ridgeline {

using Philox4x32Ctr = std::array<std::uint32_t, 4>;

// One Philox4x32-10 block: 4 x 32 random bits for a 128-bit counter and a 64-bit key.
inline Philox4x32Ctr philox4x32_10(Philox4x32Ctr ctr, std::uint32_t k0, std::uint32_t k1) noexcept {
  constexpr std::uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    const std::uint64_t p0 = M0 * ctr[0];
    const std::uint64_t p1 = M1 * ctr[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ k0, lo1, hi0 ^ ctr[3] ^ k1, lo0};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// The two 64-bit words of block `block` of stream `stream` under key `seed`.
// Counter layout: (block lo, block hi, stream lo, stream hi).
inline std::array<std::uint64_t, 2> philox_block64(std::uint64_t seed, std::uint64_t stream,
                                                   std::uint64_t block) noexcept {
  const Philox4x32Ctr out = philox4x32_10(
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
       static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  return {(static_cast<std::uint64_t>(out[1]) << 32) | out[0],
          (static_cast<std::uint64_t>(out[3]) << 32) | out[2]};
}

// Blocks block0 .. block0 + 3 of a stream, 8 words in order (word 2 j + l is
// philox_block64(seed, stream, block0 + j)[l]).  With SSE2 (every x86-64) the
// four blocks go through the rounds side by side, one 32-bit lane each: the
// same integer arithmetic, so the same bits as four calls of philox_block64,
// at about a third of the cost.
inline void philox_4blocks64(std::uint64_t seed, std::uint64_t stream, std::uint64_t block0,
                             std::uint64_t* out) noexcept {
#if defined(__SSE2__)
  alignas(16) std::uint32_t c0[4], c1[4];
  for (int j = 0; j < 4; ++j) {
    const std::uint64_t b = block0 + static_cast<std::uint64_t>(j);
    c0[j] = static_cast<std::uint32_t>(b);
    c1[j] = static_cast<std::uint32_t>(b >> 32);
  }
  __m128i x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(c0));
  __m128i x1 = _mm_load_si128(reinterpret_cast<const __m128i*>(c1));
  __m128i x2 = _mm_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
  __m128i x3 = _mm_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm_set1_epi32(static_cast<int>(0xCD9E8D57u));
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  // the 64-bit products of the four lanes of a by m, split into their low and high halves
  auto mul = [](__m128i a, __m128i m, __m128i& lo, __m128i& hi) {
    const __m128i even = _mm_mul_epu32(a, m);                     // lanes 0, 2
    const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);  // lanes 1, 3
    const __m128i u = _mm_unpacklo_epi32(even, odd);              // lo0 lo1 hi0 hi1
    const __m128i v = _mm_unpackhi_epi32(even, odd);              // lo2 lo3 hi2 hi3
    lo = _mm_unpacklo_epi64(u, v);
    hi = _mm_unpackhi_epi64(u, v);
  };
  for (int r = 0; r < 10; ++r) {
    __m128i lo0, hi0, lo1, hi1;
    mul(x0, m0, lo0, hi0);
    mul(x2, m1, lo1, hi1);
    const __m128i kk0 = _mm_set1_epi32(static_cast<int>(k0)), kk1 = _mm_set1_epi32(static_cast<int>(k1));
    x0 = _mm_xor_si128(_mm_xor_si128(hi1, x1), kk0);
    x2 = _mm_xor_si128(_mm_xor_si128(hi0, x3), kk1);
    x1 = lo1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // words: (x1 << 32 | x0) and (x3 << 32 | x2) of each block
  const __m128i w0a = _mm_unpacklo_epi32(x0, x1), w0b = _mm_unpackhi_epi32(x0, x1);  // blocks 0,1 / 2,3 word 0
  const __m128i w1a = _mm_unpacklo_epi32(x2, x3), w1b = _mm_unpackhi_epi32(x2, x3);  // blocks 0,1 / 2,3 word 1
  alignas(16) std::uint64_t a[2], b[2], c[2], d[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(a), w0a);
  _mm_store_si128(reinterpret_cast<__m128i*>(b), w1a);
  _mm_store_si128(reinterpret_cast<__m128i*>(c), w0b);
  _mm_store_si128(reinterpret_cast<__m128i*>(d), w1b);
  out[0] = a[0];
  out[1] = b[0];
  out[2] = a[1];
  out[3] = b[1];
  out[4] = c[0];
  out[5] = d[0];
  out[6] = c[1];
  out[7] = d[1];
#else
  for (std::uint64_t j = 0; j < 4; ++j) {
    const auto w = philox_block64(seed, stream, block0 + j);
    out[2 * j] = w[0];
    out[2 * j + 1] = w[1];
  }
#endif
}

#if defined(RIDGELINE_PHILOX_AVX2)
// philox_4blocks64 for eight blocks at once in AVX2 lanes (the same integer
// arithmetic, so the same bits), compiled for AVX2 whatever the baseline and
// called only where the CPU has it (philox_8blocks64).
__attribute__((target("avx2"))) inline void philox_8blocks64_avx2(std::uint64_t seed, std::uint64_t stream,
                                                                   std::uint64_t block0, std::uint64_t* out) noexcept {
  alignas(32) std::uint32_t c0[8], c1[8];
  for (int j = 0; j < 8; ++j) {
    const std::uint64_t b = block0 + static_cast<std::uint64_t>(j);
    c0[j] = static_cast<std::uint32_t>(b);
    c1[j] = static_cast<std::uint32_t>(b >> 32);
  }
  __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(c0));
  __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(c1));
  __m256i x2 = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
  __m256i x3 = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    // 64-bit products of the lanes (within each 128-bit half, as in the SSE2 code)
    const __m256i e0 = _mm256_mul_epu32(x0, m0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(x0, 32), m0);
    const __m256i e1 = _mm256_mul_epu32(x2, m1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(x2, 32), m1);
    const __m256i u0 = _mm256_unpacklo_epi32(e0, o0), v0 = _mm256_unpackhi_epi32(e0, o0);
    const __m256i u1 = _mm256_unpacklo_epi32(e1, o1), v1 = _mm256_unpackhi_epi32(e1, o1);
    const __m256i lo0 = _mm256_unpacklo_epi64(u0, v0), hi0 = _mm256_unpackhi_epi64(u0, v0);
    const __m256i lo1 = _mm256_unpacklo_epi64(u1, v1), hi1 = _mm256_unpackhi_epi64(u1, v1);
    x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(static_cast<int>(k0)));
    x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(static_cast<int>(k1)));
    x1 = lo1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // words (x1 << 32 | x0), (x3 << 32 | x2); per 128-bit half, unpacklo holds
  // blocks 0, 1 (4, 5) and unpackhi blocks 2, 3 (6, 7)
  alignas(32) std::uint64_t a[4], b[4], c[4], d[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), _mm256_unpacklo_epi32(x0, x1));
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), _mm256_unpacklo_epi32(x2, x3));
  _mm256_store_si256(reinterpret_cast<__m256i*>(c), _mm256_unpackhi_epi32(x0, x1));
  _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_unpackhi_epi32(x2, x3));
  const int block_of[8][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}};
  for (int j = 0; j < 8; ++j) {
    const int src = block_of[j][0], k = block_of[j][1];
    out[2 * j] = src == 0 ? a[k] : c[k];
    out[2 * j + 1] = src == 0 ? b[k] : d[k];
  }
}

inline bool philox_cpu_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2") != 0;
  return has;
}
#endif

// Blocks block0 .. block0 + 7 of a stream, 16 words in order: AVX2 lanes where
// the CPU has them, else two groups of four.
inline void philox_8blocks64(std::uint64_t seed, std::uint64_t stream, std::uint64_t block0,
                             std::uint64_t* out) noexcept {
#if defined(RIDGELINE_PHILOX_AVX2)
  if (philox_cpu_has_avx2()) {
    philox_8blocks64_avx2(seed, stream, block0, out);
    return;
  }
#endif
  philox_4blocks64(seed, stream, block0, out);
  philox_4blocks64(seed, stream, block0 + 4, out + 8);
}

// The i-th 64-bit word of a stream (word i lives in block i / 2).
inline std::uint64_t philox_word(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) noexcept {
  return philox_block64(seed, stream, i >> 1)[i & 1];
}

// 64 random bits -> double in the open interval (0, 1): 53 bits, offset by half an ulp.
// (x >> 11 < 2^53 converts exactly through a signed integer: one instruction,
// where an unsigned 64-bit conversion takes several on x86-64)
inline double u53_to_double(std::uint64_t x) noexcept { return static_cast<double>(static_cast<std::int64_t>(x >> 11)); }

inline double u64_to_uniform(std::uint64_t x) noexcept {
  return (u53_to_double(x) + 0.5) * 0x1.0p-53;
}

// Unbiased integer in [0, n) from a stream of words (Lemire's multiply-shift with rejection).
template <class NextWord>
inline std::uint64_t bounded_u64(std::uint64_t n, NextWord&& next) {
  if (n == 0) return 0;
#if defined(__SIZEOF_INT128__)
  __extension__ using u128 = unsigned __int128;
  std::uint64_t x = next();
  u128 m = static_cast<u128>(x) * n;
  std::uint64_t l = static_cast<std::uint64_t>(m);
  if (l < n) {
    const std::uint64_t t = (0 - n) % n;
    while (l < t) {
      x = next();
      m = static_cast<u128>(x) * n;
      l = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
#else
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do { x = next(); } while (x >= limit);
  return x % n;
#endif
}

// A sequential view of one stream: next 64-bit words, uniforms, normals.
// The full state is (seed, stream, position, cached normal) and is plain data,
// so it can be checkpointed and restored exactly.
class RandomStream {
 public:
  RandomStream() = default;
  RandomStream(std::uint64_t seed, std::uint64_t stream, std::uint64_t position = 0) noexcept
      : seed_(seed), stream_(stream), pos_(position) {}

  // Words are computed eight blocks (16 words) at a time, aligned to multiples
  // of 16 positions; the cache is a pure function of (seed, stream, position).
  std::uint64_t next_u64() noexcept {
    if (pos_ - cache_pos_ >= kCache) refill();
    return cache_[(pos_++) - cache_pos_];
  }
  double uniform() noexcept { return u64_to_uniform(next_u64()); }
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
  std::uint64_t integer(std::uint64_t n) { return bounded_u64(n, [this] { return next_u64(); }); }

  // Standard normal by the Box-Muller transform; the second value of each pair is kept.
  // The deviates drawn are counted: the cached value is pending exactly when the
  // count is odd (a checkpoint's stream state can be checked against it).
  double normal() noexcept {
    ++normals_;
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform(), u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586476925286766559 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t stream() const noexcept { return stream_; }
  std::uint64_t position() const noexcept { return pos_; }
  bool has_spare() const noexcept { return has_spare_; }
  double spare() const noexcept { return spare_; }
  std::uint64_t normals() const noexcept { return normals_; }
  void restore(std::uint64_t position, bool has_spare, double spare, std::uint64_t normals) noexcept {
    pos_ = position;
    has_spare_ = has_spare;
    spare_ = spare;
    normals_ = normals;
    cache_pos_ = kNoCache;
  }
  // The same state (seed, stream, position, cached normal and the count of normals).
  bool same_state(const RandomStream& o) const noexcept {
    return seed_ == o.seed_ && stream_ == o.stream_ && pos_ == o.pos_ && has_spare_ == o.has_spare_ &&
           std::memcmp(&spare_, &o.spare_, sizeof(double)) == 0 && normals_ == o.normals_;
  }

 private:
#if defined(__GNUC__)
  __attribute__((noinline))
#endif
  void refill() noexcept {
    cache_pos_ = pos_ & ~(kCache - 1);
    philox_8blocks64(seed_, stream_, cache_pos_ >> 1, cache_.data());
  }
  static constexpr std::uint64_t kCache = 16;
  // (pos - kNoCache >= kCache for every position: the first draw fills the cache)
  static constexpr std::uint64_t kNoCache = ~std::uint64_t{0} - 31;
  std::uint64_t seed_ = 0, stream_ = 0, pos_ = 0;
  std::uint64_t cache_pos_ = kNoCache;
  std::array<std::uint64_t, kCache> cache_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
  std::uint64_t normals_ = 0;
};

// Standard normal by the ziggurat method (Marsaglia and Tsang 2000) with 128
// layers: one 64-bit word per deviate in about 99% of the calls (bits 0-6
// choose the layer, bits 11-63 give the signed abscissa), no logarithm or
// trigonometric function on that path.  About 3-4x cheaper than normal()
// (Box-Muller); a different sequence of deviates from the same stream, so a
// kernel uses one or the other for a given purpose.  The tables are computed
// once from the layer equations (not stored constants).
struct ZigguratTables {
  static constexpr int kLayers = 128;
  static constexpr double kR = 3.442619855899;            // start of the tail
  static constexpr double kArea = 9.91256303526217e-3;    // area of each layer
  double x[kLayers + 1];   // right edge of layer i (x[0]: the base strip's pseudo-width)
  double ratio[kLayers];   // x[i + 1] / x[i]: the share of layer i that is inside the curve for sure
  ZigguratTables() {
    double f = std::exp(-0.5 * kR * kR);
    x[0] = kArea / f;
    x[1] = kR;
    x[kLayers] = 0.0;
    for (int i = 2; i < kLayers; ++i) {
      x[i] = std::sqrt(-2.0 * std::log(kArea / x[i - 1] + f));
      f = std::exp(-0.5 * x[i] * x[i]);
    }
    for (int i = 0; i < kLayers; ++i) ratio[i] = x[i + 1] / x[i];
  }
};

inline const ZigguratTables& ziggurat_tables() {
  static const ZigguratTables t;
  return t;
}

#if defined(__GNUC__)
[[gnu::always_inline]]
#endif
inline double ziggurat_normal(RandomStream& rs, const ZigguratTables& t) noexcept {
  for (;;) {
    const std::uint64_t w = rs.next_u64();
    const int i = static_cast<int>(w & (ZigguratTables::kLayers - 1));
    const double u = (u53_to_double(w) + 0.5) * 0x1.0p-52 - 1.0;  // (-1, 1)
    if (std::fabs(u) < t.ratio[i]) return u * t.x[i];
    if (i == 0) {
      // the tail beyond kR (Marsaglia 1964)
      double xt, yt;
      do {
        xt = std::log(rs.uniform()) / ZigguratTables::kR;
        yt = std::log(rs.uniform());
      } while (-2.0 * yt < xt * xt);
      return u < 0.0 ? xt - ZigguratTables::kR : ZigguratTables::kR - xt;
    }
    // the wedge between the layer's rectangle and the curve
    const double xv = u * t.x[i];
    const double f0 = std::exp(-0.5 * (t.x[i] * t.x[i] - xv * xv));
    const double f1 = std::exp(-0.5 * (t.x[i + 1] * t.x[i + 1] - xv * xv));
    if (f1 + rs.uniform() * (f0 - f1) < 1.0) return xv;
  }
}

inline double ziggurat_normal(RandomStream& rs) noexcept { return ziggurat_normal(rs, ziggurat_tables()); }

// n standard normals by ziggurat_normal (the same deviates, in order) to z;
// returns the sum of their squares, added in order.
inline double ziggurat_normals(RandomStream& rs, double* z, int n) noexcept {
  const ZigguratTables& t = ziggurat_tables();
  double s = 0.0;
  for (int i = 0; i < n; ++i) {
    const double v = ziggurat_normal(rs, t);
    z[i] = v;
    s += v * v;
  }
  return s;
}

// Mix a user seed and a salt into a new 64-bit key (splitmix64 finaliser).
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) noexcept {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace ridgeline
