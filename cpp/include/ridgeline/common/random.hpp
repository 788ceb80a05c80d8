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

// The i-th 64-bit word of a stream (word i lives in block i / 2).
inline std::uint64_t philox_word(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) noexcept {
  return philox_block64(seed, stream, i >> 1)[i & 1];
}

// 64 random bits -> double in the open interval (0, 1): 53 bits, offset by half an ulp.
inline double u64_to_uniform(std::uint64_t x) noexcept {
  return (static_cast<double>(x >> 11) + 0.5) * 0x1.0p-53;
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

  std::uint64_t next_u64() noexcept {
    if ((pos_ & 1) == 0 || pos_ != cached_block_pos_ + 1) {
      block_ = philox_block64(seed_, stream_, pos_ >> 1);
      cached_block_pos_ = pos_ & ~std::uint64_t{1};
    }
    return block_[(pos_++) & 1];
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
    cached_block_pos_ = ~std::uint64_t{0} - 1;
  }
  // The same state (seed, stream, position, cached normal and the count of normals).
  bool same_state(const RandomStream& o) const noexcept {
    return seed_ == o.seed_ && stream_ == o.stream_ && pos_ == o.pos_ && has_spare_ == o.has_spare_ &&
           std::memcmp(&spare_, &o.spare_, sizeof(double)) == 0 && normals_ == o.normals_;
  }

 private:
  std::uint64_t seed_ = 0, stream_ = 0, pos_ = 0;
  std::uint64_t cached_block_pos_ = ~std::uint64_t{0} - 1;
  std::array<std::uint64_t, 2> block_{};
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

inline double ziggurat_normal(RandomStream& rs) noexcept {
  const ZigguratTables& t = ziggurat_tables();
  for (;;) {
    const std::uint64_t w = rs.next_u64();
    const int i = static_cast<int>(w & (ZigguratTables::kLayers - 1));
    const double u = (static_cast<double>(w >> 11) + 0.5) * 0x1.0p-52 - 1.0;  // (-1, 1)
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

// Mix a user seed and a salt into a new 64-bit key (splitmix64 finaliser).
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) noexcept {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace ridgeline
