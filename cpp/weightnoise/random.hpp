// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, the
// Random123 constants). Every number is a pure function of
// (seed, purpose, draw, item, index), so any chunking and any thread count
// give the same bits. A stream is (seed, purpose, draw, item); its block b is
//   key = (seed lo32, seed hi32),  counter = (b, item, draw, purpose).
//
// Element schedule (the contract; python/weightnoise/_philox.py mirrors it):
//   uniform  e: words (2(e mod 2), 2(e mod 2)+1) of block e/2, 53 high bits / 2^53, in [0, 1)
//   normal   e: block e/2 by Box–Muller, e even → r cos, e odd → r sin
//   ±1       e: bit e mod 32 of word (e mod 128)/32 of block e/128, 1 → +1
// Block indices are uint32, so a stream holds 2^33 normals or uniforms.
//
// The fills work on batches of consecutive blocks, kBatch of them in the
// bulk and fewer (whole SIMD registers of blocks) at the ends of a fill: Philox
// runs on SIMD lanes (AVX-512, AVX2, SSE2, or plain loops elsewhere) and the
// Box–Muller transform uses branch-free, auto-vectorized log and sincos below
// instead of libm. Every lane of every batch size runs the same arithmetic,
// so a fill's values never depend on its offset, length or thread.
// All fills are allocation-free, throw nothing and touch no global state:
// they may run inside OpenMP parallel regions.
//
// Accuracy against glibc (uniforms and signs are bit-exact): ln (log_reduce, log_finish),
// and sin and cos of fl(2π u), are each within 1 ulp over 10^7 random inputs
// plus every input within 10^6 (log) or 2·10^5 (sincos) ulp of the ends
// u1 = 2^-53 and 1 and of each eighth of a turn; a normal is within 3 ulp of
// libm Box–Muller, √(−2 log u1) · cos or sin(fl(2π u2)), over 10^8 elements,
// with or without FMA. The tests allow 4 (_philox.NORMAL_ULP_BOUND).
// The exact steps (uniform conversion, angle reduction, Fast2Sum) rely on
// IEEE evaluation order: never compile this with -ffast-math or
// -fassociative-math.
#pragma once

#include "weightnoise/types.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace weightnoise {

// What a stream is for, so that different uses of one seed never share bits.
enum class Purpose : std::uint32_t {
  standard_normal = 1,  // weightnoise.standard_normal
  shared_noise = 2,     // ε_k shared by all examples (item = 0)
  example_noise = 3,    // ε_{k,n} for example n (item = n)
  local_noise = 4,      // ξ_{k,n} of the local reparameterization
  hutchinson = 5,       // Rademacher probes (draw = probe)
  minibatch = 6,        // minibatch order of training epochs
  train_shared_noise = 7,   // training: ε per minibatch (draw = step)
  train_example_noise = 8,  // training: ε per presentation (draw = epoch, item = example)
  train_local_noise = 9,    // training: ξ per presentation (draw = epoch, item = example)
};

struct Stream {
  std::uint64_t seed;
  Purpose purpose;
  std::uint32_t draw;
  std::uint32_t item;
};

using Block = std::array<std::uint32_t, 4>;

inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // round multipliers
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // key increments (Weyl)

// One Philox4x32-10 block (the reference the batched version must match).
inline Block philox4x32_10(Block c, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t(kPhiloxM0) * c[0];
    const std::uint64_t p1 = std::uint64_t(kPhiloxM1) * c[2];
    c = {std::uint32_t(p1 >> 32) ^ c[1] ^ k0, std::uint32_t(p1), std::uint32_t(p0 >> 32) ^ c[3] ^ k1,
         std::uint32_t(p0)};
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return c;
}

inline Block stream_block(const Stream& s, std::uint32_t b) {
  return philox4x32_10({b, s.item, s.draw, std::uint32_t(s.purpose)}, std::uint32_t(s.seed),
                       std::uint32_t(s.seed >> 32));
}

// A uniform in (0, 1] from the 53 high bits of (hi, lo).
inline double uniform_open0(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t x = (std::uint64_t(hi) << 32 | lo) >> 11;
  return double(x + 1) * 0x1.0p-53;
}

namespace detail {

// Blocks per batch: a whole number of SIMD registers of blocks. Five AVX2
// groups per Philox word measured fastest among 8 … 32 blocks on Zen 3:
// enough independent chains to hide latency, few enough to limit register
// spills; with AVX-512, four groups of 8 (2.7 → 2.2 ns per normal on Zen 4,
// as the Box–Muller loops then run on whole 8-double registers too).
// The ends of a fill take the fewest groups of kGroup blocks that cover
// them: a row of 129 local-noise normals costs 72 blocks, not 96.
#if defined(__AVX512F__)
constexpr int kBatch = 32, kGroup = 8;
#else
constexpr int kBatch = 20, kGroup = 4;
#endif
static_assert(kBatch % kGroup == 0 && kGroup % 4 == 0, "whole AVX2 (and AVX-512) registers of blocks");

// Word j of block b0 + i of a stream is words[j][i], in the low 32 bits,
// for batches of nb blocks.
template <int nb = kBatch>
using BatchWords = std::uint64_t[4][nb];

#if defined(__AVX2__) || defined(__SSE2__)
// Philox on SIMD lanes of 64 bits that carry one 32-bit word each. The high
// 32 bits of a lane hold garbage between rounds: the 32×32→64 multiply reads
// only the low halves, and every word is masked once at the end.
#if defined(__AVX512F__)
struct Lanes {
  using V = __m512i;
  static constexpr int width = 8;
  static V set1(std::uint32_t a) { return _mm512_set1_epi64(std::int64_t(a)); }
  static V iota() { return _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7); }
  static V load_u32(const std::uint32_t* p) {
    return _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V add(V a, V b) { return _mm512_add_epi64(a, b); }
  static V mul(V a, V b) { return _mm512_mul_epu32(a, b); }
  static V high(V p) { return _mm512_srli_epi64(p, 32); }
  static V xor3(V a, V b, V c) { return _mm512_ternarylogic_epi64(a, b, c, 0x96); }  // a ^ b ^ c
  static void store_low(std::uint64_t* out, V a) {
    _mm512_storeu_si512(reinterpret_cast<V*>(out), _mm512_and_si512(a, _mm512_set1_epi64(0xFFFFFFFF)));
  }
};
#elif defined(__AVX2__)
struct Lanes {
  using V = __m256i;
  static constexpr int width = 4;
  static V set1(std::uint32_t a) { return _mm256_set1_epi64x(std::int64_t(a)); }
  static V iota() { return _mm256_setr_epi64x(0, 1, 2, 3); }
  static V load_u32(const std::uint32_t* p) {
    return _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static V add(V a, V b) { return _mm256_add_epi64(a, b); }
  static V mul(V a, V b) { return _mm256_mul_epu32(a, b); }
  static V high(V p) { return _mm256_srli_epi64(p, 32); }
  static V xor3(V a, V b, V c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  static void store_low(std::uint64_t* out, V a) {
    _mm256_storeu_si256(reinterpret_cast<V*>(out), _mm256_and_si256(a, _mm256_set1_epi64x(0xFFFFFFFF)));
  }
};
#else
struct Lanes {
  using V = __m128i;
  static constexpr int width = 2;
  static V set1(std::uint32_t a) { return _mm_set1_epi64x(std::int64_t(a)); }
  static V iota() { return _mm_set_epi64x(1, 0); }
  static V load_u32(const std::uint32_t* p) {
    return _mm_unpacklo_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_setzero_si128());
  }
  static V add(V a, V b) { return _mm_add_epi64(a, b); }
  static V mul(V a, V b) { return _mm_mul_epu32(a, b); }
  static V high(V p) { return _mm_srli_epi64(p, 32); }
  static V xor3(V a, V b, V c) { return _mm_xor_si128(_mm_xor_si128(a, b), c); }
  static void store_low(std::uint64_t* out, V a) {
    _mm_storeu_si128(reinterpret_cast<V*>(out), _mm_and_si128(a, _mm_set1_epi64x(0xFFFFFFFF)));
  }
};
#endif

// A stream set up for batches: its constant counter words and its key
// schedule k + r (W0, W1), r = 0 … 9, broadcast to lanes once per fill.
class BatchStream {
 public:
  explicit BatchStream(const Stream& s)
      : item_(Lanes::set1(s.item)), draw_(Lanes::set1(s.draw)), purpose_(Lanes::set1(std::uint32_t(s.purpose))) {
    std::uint32_t k0 = std::uint32_t(s.seed), k1 = std::uint32_t(s.seed >> 32);
    for (int r = 0; r < 10; ++r, k0 += kPhiloxW0, k1 += kPhiloxW1) {
      key0_[r] = Lanes::set1(k0);
      key1_[r] = Lanes::set1(k1);
    }
  }

  // Blocks b0 … b0 + nb − 1 (block indices wrap modulo 2^32). All
  // nb / width groups advance round by round, so that their dependency
  // chains (multiply, shift, xor) overlap.
  template <int nb>
  void blocks(std::uint32_t b0, BatchWords<nb>& words) const {
    static_assert(nb % Lanes::width == 0, "whole registers of blocks");
    Lanes::V x0[nb / Lanes::width], x1[nb / Lanes::width];
    for (int g = 0; g < nb / Lanes::width; ++g) {
      x0[g] = Lanes::add(Lanes::set1(b0 + std::uint32_t(g * Lanes::width)), Lanes::iota());
      x1[g] = item_;
    }
    rounds<nb>(x0, x1, words);
  }

  // Block blocks[i] of the stream with item items[i] (this stream's seed,
  // purpose and draw), for i < nb: blocks of several streams in one batch.
  template <int nb>
  void blocks_of_items(const std::uint32_t* blocks, const std::uint32_t* items, BatchWords<nb>& words) const {
    static_assert(nb % Lanes::width == 0, "whole registers of blocks");
    Lanes::V x0[nb / Lanes::width], x1[nb / Lanes::width];
    for (int g = 0; g < nb / Lanes::width; ++g) {
      x0[g] = Lanes::load_u32(blocks + g * Lanes::width);
      x1[g] = Lanes::load_u32(items + g * Lanes::width);
    }
    rounds<nb>(x0, x1, words);
  }

 private:
  // The ten rounds from counter words 0 and 1 (2 and 3: draw, purpose).
  template <int nb>
  void rounds(Lanes::V* x0, Lanes::V* x1, BatchWords<nb>& words) const {
    using V = Lanes::V;
    constexpr int g_count = nb / Lanes::width;
    const V m0 = Lanes::set1(kPhiloxM0), m1 = Lanes::set1(kPhiloxM1);
    V x2[g_count], x3[g_count];
    for (int g = 0; g < g_count; ++g) {
      x2[g] = draw_;
      x3[g] = purpose_;
    }
#pragma GCC unroll 10
    for (int r = 0; r < 10; ++r) {
      for (int g = 0; g < g_count; ++g) {
        const V p0 = Lanes::mul(x0[g], m0), p1 = Lanes::mul(x2[g], m1);
        x0[g] = Lanes::xor3(Lanes::high(p1), x1[g], key0_[r]);
        x2[g] = Lanes::xor3(Lanes::high(p0), x3[g], key1_[r]);
        x1[g] = p1;
        x3[g] = p0;
      }
    }
    for (int g = 0; g < g_count; ++g) {
      Lanes::store_low(words[0] + g * Lanes::width, x0[g]);
      Lanes::store_low(words[1] + g * Lanes::width, x1[g]);
      Lanes::store_low(words[2] + g * Lanes::width, x2[g]);
      Lanes::store_low(words[3] + g * Lanes::width, x3[g]);
    }
  }

  Lanes::V item_, draw_, purpose_, key0_[10], key1_[10];
};
#else
// Plain loops: compilers turn the widening multiply into vector code where
// the ISA has one (NEON umull).
class BatchStream {
 public:
  explicit BatchStream(const Stream& s) : s_(s) {}

  template <int nb>
  void blocks(std::uint32_t b0, BatchWords<nb>& words) const {
    std::uint32_t x0[nb], x1[nb];
    for (int i = 0; i < nb; ++i) {
      x0[i] = b0 + std::uint32_t(i);
      x1[i] = s_.item;
    }
    rounds<nb>(x0, x1, words);
  }

  template <int nb>
  void blocks_of_items(const std::uint32_t* blocks, const std::uint32_t* items, BatchWords<nb>& words) const {
    std::uint32_t x0[nb], x1[nb];
    std::copy(blocks, blocks + nb, x0);
    std::copy(items, items + nb, x1);
    rounds<nb>(x0, x1, words);
  }

 private:
  template <int nb>
  void rounds(std::uint32_t* x0, std::uint32_t* x1, BatchWords<nb>& words) const {
    std::uint32_t x2[nb], x3[nb];
    for (int i = 0; i < nb; ++i) {
      x2[i] = s_.draw;
      x3[i] = std::uint32_t(s_.purpose);
    }
    std::uint32_t k0 = std::uint32_t(s_.seed), k1 = std::uint32_t(s_.seed >> 32);
    for (int r = 0; r < 10; ++r, k0 += kPhiloxW0, k1 += kPhiloxW1) {
      for (int i = 0; i < nb; ++i) {
        const std::uint64_t p0 = std::uint64_t(kPhiloxM0) * x0[i], p1 = std::uint64_t(kPhiloxM1) * x2[i];
        x0[i] = std::uint32_t(p1 >> 32) ^ x1[i] ^ k0;
        x2[i] = std::uint32_t(p0 >> 32) ^ x3[i] ^ k1;
        x1[i] = std::uint32_t(p1);
        x3[i] = std::uint32_t(p0);
      }
    }
    for (int i = 0; i < nb; ++i) {
      words[0][i] = x0[i];
      words[1][i] = x1[i];
      words[2][i] = x2[i];
      words[3][i] = x3[i];
    }
  }

  Stream s_;
};
#endif

WEIGHTNOISE_SIMD_INLINE double from_bits(std::uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

WEIGHTNOISE_SIMD_INLINE std::uint64_t to_bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// a·b + c, fused where the target has FMA: the last bits then differ
// between builds, the error bounds below hold for both.
WEIGHTNOISE_SIMD_INLINE double mul_add(double a, double b, double c) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// n for an integer n < 2^52, exactly: 2^52 + n has n as its mantissa (no
// vector int64 → double conversion exists before AVX-512).
WEIGHTNOISE_SIMD_INLINE double small_to_double(std::uint64_t n) {
  return from_bits(0x4330000000000000u | n) - 0x1.0p52;
}

// x·2^-53 + offset (offset 0 or 2^-53) with x = the 53 high bits of (hi, lo)
// = hi·2^21 + lo/2^11, exactly: with H = 2^52 + hi and L = 2^52 + lo/2^11
// (bit patterns, no conversion), H 2^-32 − 2^20 − 1/2 + offset = hi 2^-32 − 1/2
// + offset and L 2^-53 − 1/2 are exact, and so is their sum, x 2^-53 + offset
// (which has at most 53 significant bits). In [0, 1 − 2^-53] or (0, 1].
WEIGHTNOISE_SIMD_INLINE double uniform53(std::uint64_t hi, std::uint64_t lo, double offset = 0.0) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  const double h = from_bits(0x4330000000000000u | hi), l = from_bits(0x4330000000000000u | (lo >> 11));
  return std::fma(l, 0x1.0p-53, std::fma(h, 0x1.0p-32, -(0x1.0p20 + 0.5)) + offset);
#else
  return small_to_double(hi) * 0x1.0p-32 + small_to_double(lo >> 11) * 0x1.0p-53 + offset;
#endif
}

// ln x for a positive normal x (fdlibm's e_log.c without branches):
//   x = 2^k m, m ∈ [√2/2, √2), f = m − 1, s = f/(2 + f),
//   ln m = 2 atanh s = f − f²/2 + s (f²/2 + R(s²)),  R the minimax series,
//   ln x = k ln2_hi + (f − f²/2 + s (f²/2 + R) + k ln2_lo).
// Error < 1 ulp; exactly 0 at x = 1.
//
// In two steps, log_reduce (k, f, s) and log_finish: box_muller_batch runs
// each step over the whole batch before the next. Auto-vectorized, a loop of
// whole logs became one register's long chain after another, which Zen 3
// overlapped poorly; split (and sincos the same way), a normal cost 9% less
// (3.2 → 2.95 ns), each value computed by the same operations as before.
struct LogParts {
  double k, f, s;
};

WEIGHTNOISE_SIMD_INLINE LogParts log_reduce(double x) {
  // Shift the mantissa window so that m lands in [√2/2, √2): adding
  // (1 − bits(√2/2)) carries into the exponent exactly when m ≥ √2.
  const std::uint64_t ix = to_bits(x) + (0x3FF0000000000000u - 0x3FE6A09E667F3BCDu);
  const double k = from_bits(0x4330000000000000u | (ix >> 52)) - (0x1.0p52 + 1023.0);  // exact
  const double m = from_bits((ix & 0x000FFFFFFFFFFFFFu) + 0x3FE6A09E667F3BCDu);
  const double f = m - 1.0;
  return {k, f, f / (2.0 + f)};
}

WEIGHTNOISE_SIMD_INLINE double log_finish(const LogParts& parts) {
  constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  constexpr double lg1 = 6.666666666666735130e-01, lg2 = 3.999999999940941908e-01,
                   lg3 = 2.857142874366239149e-01, lg4 = 2.222219843214978396e-01,
                   lg5 = 1.818357216161805012e-01, lg6 = 1.531383769920937332e-01,
                   lg7 = 1.479819860511658591e-01;
  const double k = parts.k, f = parts.f, s = parts.s;
  const double hfsq = 0.5 * f * f;
  const double z = s * s;
  // R = z (lg1 + lg2 z + … + lg7 z^6) by Estrin's scheme (a short dependency chain).
  const double w = z * z;
  const double r = z * mul_add(w * w, mul_add(w, lg7, mul_add(z, lg6, lg5)),
                               mul_add(w, mul_add(z, lg4, lg3), mul_add(z, lg2, lg1)));
  return mul_add(k, ln2_hi, mul_add(s, hfsq + r, k * ln2_lo) - hfsq + f);
}

// sin and cos of a = fl(2π u) for u ∈ [0, 1), so a ∈ [0, 2π): the angle of
// libm-based Box–Muller, rounded exactly as it rounds it.
// Reduction a = n π/2 + y, |y| ≤ π/4 (+ an ulp): a − n p1 is exact, and y is
// carried as y + y_lo to ~100 bits, so that sin and cos keep their relative
// accuracy where a is nearest a multiple of π/2 (no double comes closer than
// 6e-17). Kernels: fdlibm's __kernel_sin and __kernel_cos (minimax on
// [−π/4, π/4], < 1 ulp), with y_lo to first order:
//   sin(y + y_lo) ≈ y + y³ (s1 + y² r_s(y²)) + y_lo,
//   cos(y + y_lo) ≈ 1 − y²/2 + y⁴ r_c(y²) − y y_lo.
// Also in two steps, angle_reduce and sincos_finish (see log_reduce).
struct AngleParts {
  double y, y_lo, t;  // a = n π/2 + y + y_lo; t holds n in its low bits
};

WEIGHTNOISE_SIMD_INLINE AngleParts angle_reduce(double u) {
  constexpr double two_pi = 6.283185307179586476925286766559;
  constexpr double round_magic = 0x1.8p52;  // adding it rounds to an integer, kept in the low mantissa bits
  const double a = two_pi * u;
  // n = round(4u) (exact: 4u has 53 bits below 4) leaves |a − n π/2| ≤ π/4 + 2^-50,
  // and is ready before a is.
  const double t = mul_add(u, 4.0, round_magic);
  const double n = t - round_magic;  // 0 … 4
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  // π/2 = p1 + p2 + p3, 53 bits each. a − n p1 is a multiple of 2^-53 below 1
  // in magnitude, so the fused a − n p1 is exact; y − (r1 − n p2) is recovered exactly.
  constexpr double p1 = 0x1.921fb54442d18p+0, p2 = 0x1.1a62633145c07p-54, p3 = -0x1.f1976b7ed8fbcp-110;
  const double r1 = std::fma(-n, p1, a);
  const double y = std::fma(-n, p2, r1);
  const double y_lo = std::fma(-n, p3, std::fma(-n, p2, r1 - y));
#else
  // π/2 = p1 + p2 + p3 with p1, p2 of 33 bits (n p1, n p2 exact products):
  // a − n p1 is exact, Fast2Sum recovers the rounding error of r1 − n p2.
  constexpr double p1 = 1.57079632673412561417e+00, p2 = 6.07710050630396597660e-11,
                   p3 = 2.02226624879595063154e-21;
  const double r1 = a - n * p1;
  const double w2 = n * p2;
  const double r2 = r1 - w2;
  const double tail = ((r1 - r2) - w2) - n * p3;
  const double y = r2 + tail;
  const double y_lo = (r2 - y) + tail;
#endif
  return {y, y_lo, t};
}

// (sin a, cos a) from angle_reduce's parts.
WEIGHTNOISE_SIMD_INLINE void sincos_finish(const AngleParts& parts, double& sin_a, double& cos_a) {
  const double y = parts.y, y_lo = parts.y_lo, t = parts.t;
  constexpr double s1 = -1.66666666666666324348e-01, s2 = 8.33333333332248946124e-03,
                   s3 = -1.98412698298579493134e-04, s4 = 2.75573137070700676789e-06,
                   s5 = -2.50507602534068634195e-08, s6 = 1.58969099521155010221e-10;
  constexpr double c1 = 4.16666666666666019037e-02, c2 = -1.38888888888741095749e-03,
                   c3 = 2.48015872894767294178e-05, c4 = -2.75573143513906633035e-07,
                   c5 = 2.08757232129817482790e-09, c6 = -1.13596475577881948265e-11;
  const double z = y * y;
  const double w = z * z;
  const double rs = mul_add(z * w, mul_add(z, s6, s5), mul_add(z, mul_add(z, s4, s3), s2));
  const double sin_y = y + mul_add(z * y, mul_add(z, rs, s1), y_lo);
  const double rc = mul_add(z, mul_add(z, mul_add(z, c3, c2), c1), w * w * mul_add(z, mul_add(z, c6, c5), c4));
  // 1 − z/2 rounded, plus its rounding error, plus the small terms.
  const double hz = 0.5 * z;
  const double one_hz = 1.0 - hz;
  const double cos_y = one_hz + (((1.0 - one_hz) - hz) + mul_add(z, rc, -(y * y_lo)));

  // Quadrant n (low bits of t): (cos a, sin a) = (c, s), (−s, c), (−c, −s), (s, −c).
  const std::uint64_t q = to_bits(t);
  constexpr std::uint64_t sign = std::uint64_t(1) << 63;
#if defined(__SSE4_1__) || !defined(__SSE2__)
  const double c_pick = (q & 1) ? sin_y : cos_y;  // a blend
  const double s_pick = (q & 1) ? cos_y : sin_y;
#else
  // SSE2 has no 64-bit compare, so the ternary would stop vectorization: select with a mask.
  const std::uint64_t odd = 0 - (q & 1);
  const double c_pick = from_bits((to_bits(sin_y) & odd) | (to_bits(cos_y) & ~odd));
  const double s_pick = from_bits((to_bits(cos_y) & odd) | (to_bits(sin_y) & ~odd));
#endif
  cos_a = from_bits(to_bits(c_pick) ^ (((q + 1) << 62) & sign));
  sin_a = from_bits(to_bits(s_pick) ^ ((q << 62) & sign));
}

// Doubles on SIMD lanes, for the last steps of a batch: load, multiply,
// square root, and store two registers interleaved (x0 y0 x1 y1 …).
#if defined(__AVX512F__)
struct DoubleLanes {
  using V = __m512d;
  static constexpr int width = 8;
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V sqrt(V a) { return _mm512_sqrt_pd(a); }
  static void store_interleaved(double* out, V x, V y) {
    _mm512_storeu_pd(out, _mm512_permutex2var_pd(x, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), y));
    _mm512_storeu_pd(out + 8, _mm512_permutex2var_pd(x, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), y));
  }
};
#elif defined(__AVX__)
struct DoubleLanes {
  using V = __m256d;
  static constexpr int width = 4;
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_pd(a); }
  static void store_interleaved(double* out, V x, V y) {
    const V lo = _mm256_unpacklo_pd(x, y), hi = _mm256_unpackhi_pd(x, y);  // x0 y0 x2 y2, x1 y1 x3 y3
    _mm256_storeu_pd(out, _mm256_permute2f128_pd(lo, hi, 0x20));
    _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
  }
};
#elif defined(__SSE2__)
struct DoubleLanes {
  using V = __m128d;
  static constexpr int width = 2;
  static V load(const double* p) { return _mm_loadu_pd(p); }
  static V mul(V a, V b) { return _mm_mul_pd(a, b); }
  static V sqrt(V a) { return _mm_sqrt_pd(a); }
  static void store_interleaved(double* out, V x, V y) {
    _mm_storeu_pd(out, _mm_unpacklo_pd(x, y));
    _mm_storeu_pd(out + 2, _mm_unpackhi_pd(x, y));
  }
};
#else
struct DoubleLanes {
  using V = double;
  static constexpr int width = 1;
  static V load(const double* p) { return *p; }
  static V mul(V a, V b) { return a * b; }
  static V sqrt(V a) { return std::sqrt(a); }
  static void store_interleaved(double* out, V x, V y) {
    out[0] = x;
    out[1] = y;
  }
};
#endif

// out[2i] = a[i], out[2i+1] = b[i] for i < nb.
template <int nb>
void interleave(const double* a, const double* b, double* out) {
  using L = DoubleLanes;
  static_assert(nb % L::width == 0, "whole registers");
  for (int i = 0; i < nb; i += L::width) L::store_interleaved(out + 2 * i, L::load(a + i), L::load(b + i));
}

// out[2i] = √q[i] · c[i], out[2i+1] = √q[i] · s[i] for q[i] ≥ 0, i < nb: the
// radius, its products and the interleaving in one pass over registers, so
// that the square roots overlap the rest (7% of a normal's time on Zen 4).
// Hardware square roots on all lanes: std::sqrt in a loop would keep its
// errno branch and stop vectorization.
template <int nb>
void scale_interleave(const double* q, const double* c, const double* s, double* out) {
  using L = DoubleLanes;
  static_assert(nb % L::width == 0, "whole registers");
  for (int i = 0; i < nb; i += L::width) {
    const L::V r = L::sqrt(L::load(q + i));
    L::store_interleaved(out + 2 * i, L::mul(r, L::load(c + i)), L::mul(r, L::load(s + i)));
  }
}

// Box–Muller on nb blocks (words as from BatchStream::blocks) into out[2 nb]:
//   u1 = (x1 + 1) 2^-53 ∈ (0, 1],  u2 = x2 2^-53 ∈ [0, 1)  (x1, x2: 53 high bits of words 0:1, 2:3),
//   r = √(−2 ln u1),  out[2i] = r cos 2πu2,  out[2i+1] = r sin 2πu2.
template <int nb>
void box_muller_batch(const BatchWords<nb>& words, double* out) {
  double r[nb], x_cos[nb], x_sin[nb];
  LogParts logs[nb];
  AngleParts angles[nb];
#pragma omp simd
  for (int i = 0; i < nb; ++i) logs[i] = log_reduce(uniform53(words[0][i], words[1][i], 0x1.0p-53));
#pragma omp simd
  for (int i = 0; i < nb; ++i) r[i] = -2.0 * log_finish(logs[i]);
#pragma omp simd
  for (int i = 0; i < nb; ++i) angles[i] = angle_reduce(uniform53(words[2][i], words[3][i]));
#pragma omp simd
  for (int i = 0; i < nb; ++i) sincos_finish(angles[i], x_sin[i], x_cos[i]);
  scale_interleave<nb>(r, x_cos, x_sin, out);
}

// Elements 2 b0 … 2 (b0 + nb) − 1 of a normal stream into out[2 nb].
template <int nb>
void normal_batch(const BatchStream& bs, std::uint32_t b0, double* out) {
  BatchWords<nb> words;
  bs.blocks<nb>(b0, words);
  box_muller_batch<nb>(words, out);
}

// Elements 2 blocks[i], 2 blocks[i] + 1 of the normal stream with item
// items[i] into out[2i], out[2i + 1], i < nb.
template <int nb>
void normal_batch_of_items(const BatchStream& bs, const std::uint32_t* blocks, const std::uint32_t* items,
                           double* out) {
  BatchWords<nb> words;
  bs.blocks_of_items<nb>(blocks, items, words);
  box_muller_batch<nb>(words, out);
}

// Uniforms 2 b0 … 2 (b0 + nb) − 1 of a stream into out[2 nb].
template <int nb>
void uniform_batch(const BatchStream& bs, std::uint32_t b0, double* out) {
  BatchWords<nb> words;
  bs.blocks<nb>(b0, words);
  double even[nb], odd[nb];
#pragma omp simd
  for (int i = 0; i < nb; ++i) {
    even[i] = uniform53(words[0][i], words[1][i]);
    odd[i] = uniform53(words[2][i], words[3][i]);
  }
  interleave<nb>(even, odd, out);
}

template <int nb>
using Blocks = std::integral_constant<int, nb>;

// batch(Blocks<g kGroup>{}, b0, dst) for the fewest groups g ≥ 1 that hold
// `blocks` blocks (at most kBatch).
template <int g = 1, class Batch>
void batch_of_groups(Index blocks, const Batch& batch, std::uint32_t b0, double* dst) {
  if constexpr (g * kGroup < kBatch) {
    if (blocks > g * kGroup) return batch_of_groups<g + 1>(blocks, batch, b0, dst);
  }
  batch(Blocks<g * kGroup>{}, b0, dst);
}

// out[i] = convert(element first + i) for a stream with two elements per
// block, batch(Blocks<nb>{}, b0, dst) writing elements 2 b0 … 2 (b0 + nb) − 1
// as doubles. Whole even-aligned batches of doubles go straight to out (and
// are converted in place); the ends go through a buffer, in the fewest
// groups of blocks that cover them.
template <class T, class Batch, class Convert>
void fill_pairs(std::uint64_t first, T* out, Index count, Batch batch, Convert convert) {
  constexpr Index batch_size = 2 * kBatch;
  double buffer[batch_size];
  std::uint64_t e = first;
  for (Index i = 0; i < count;) {
    const std::uint32_t b0 = std::uint32_t(e >> 1);
    const Index skip = Index(e & 1);
    if constexpr (std::is_same_v<T, double>) {
      if (skip == 0 && count - i >= batch_size) {
        batch(Blocks<kBatch>{}, b0, out + i);
        for (Index j = 0; j < batch_size; ++j) out[i + j] = convert(out[i + j]);
        i += batch_size;
        e += std::uint64_t(batch_size);
        continue;
      }
    }
    const Index take = std::min<Index>(batch_size - skip, count - i);
    batch_of_groups((skip + take + 1) / 2, batch, b0, buffer);
    for (Index j = 0; j < take; ++j) out[i + j] = convert(buffer[skip + j]);
    i += take;
    e += std::uint64_t(take);
  }
}

}  // namespace detail

// out[i] = scale · (element first + i of the stream's standard normals); for
// float, the double normal is rounded first, then scaled.
template <class T>
void fill_normal(const Stream& s, std::uint64_t first, T* out, Index count, T scale = T(1)) {
  const detail::BatchStream bs(s);
  const auto batch = [&bs](auto nb, std::uint32_t b0, double* dst) { detail::normal_batch<nb()>(bs, b0, dst); };
  if (std::is_same_v<T, double> && scale == T(1)) {
    detail::fill_pairs(first, out, count, batch, [](double x) { return T(x); });
  } else {
    detail::fill_pairs(first, out, count, batch, [scale](double x) { return scale * T(x); });
  }
}

// Row n of out (row stride ld) = elements 0 … count − 1 of the standard
// normals of stream {stream.seed, stream.purpose, stream.draw, item(n)}, for
// n < rows: the values fill_normal gives each row. The rows' blocks run as
// one sequence of batches, so that a batch spans rows: a row of 129 normals
// (65 blocks) no longer pays for a partial batch of its own, only the last
// batch of all is partial. With ld = 2⌈count/2⌉ (room for a row's last block
// whole) batches of doubles are generated in place.
template <class T, class Item>
void fill_normal_rows(const Stream& stream, Item&& item, Index rows, Index count, T* out, Index ld) {
  using detail::kBatch;
  const detail::BatchStream bs(stream);
  const Index per_row = (count + 1) / 2, total = rows * per_row;  // blocks
  alignas(64) std::uint32_t blocks[kBatch], items[kBatch];
  alignas(64) double buffer[2 * kBatch];
  Index n = 0, b = 0;  // row and block of the batch's first lane
  for (Index first = 0; first < total; first += kBatch) {
    const Index nb = std::min<Index>(kBatch, total - first);
    // The lanes, a run of blocks per row; lanes past the last block repeat the last row's blocks.
    for (Index i = 0, lane_n = n, lane_b = b; i < kBatch; ++lane_n, lane_b = 0) {
      const Index run = std::min(kBatch - i, per_row - lane_b);
      const std::uint32_t lane_item = std::uint32_t(item(std::min(lane_n, rows - 1)));
      for (Index k = 0; k < run; ++k) {
        blocks[i + k] = std::uint32_t(lane_b + k);
        items[i + k] = lane_item;
      }
      i += run;
    }
    const auto batch = [&](auto g, std::uint32_t, double* dst) {
      detail::normal_batch_of_items<g()>(bs, blocks, items, dst);
    };
    if constexpr (std::is_same_v<T, double>) {
      if (ld == 2 * per_row && nb == kBatch) {  // rows of whole blocks, back to back: the batch is in place
        batch(detail::Blocks<kBatch>{}, 0, out + 2 * first);
        n = (first + nb) / per_row;
        b = (first + nb) % per_row;
        continue;
      }
    }
    detail::batch_of_groups(nb, batch, 0, buffer);
    // Block b of row n holds elements 2b and 2b + 1 (the latter past an odd count is dropped).
    for (Index i = 0; i < nb;) {
      const Index run = std::min(nb - i, per_row - b);
      T* row = out + n * ld;
      const Index end = std::min(count, 2 * (b + run));
      std::copy(buffer + 2 * i, buffer + 2 * i + (end - 2 * b), row + 2 * b);  // converts to T
      i += run;
      b += run;
      if (b == per_row) {
        b = 0;
        ++n;
      }
    }
  }
}

// out[i] = element first + i of the stream's uniforms on [0, 1) (53 bits each).
inline void fill_uniform(const Stream& s, std::uint64_t first, double* out, Index count) {
  const detail::BatchStream bs(s);
  detail::fill_pairs(
      first, out, count,
      [&bs](auto nb, std::uint32_t b0, double* dst) { detail::uniform_batch<nb()>(bs, b0, dst); },
      [](double x) { return x; });
}

// out[2i], out[2i+1] = the two normals of blocks[i], i < n_blocks, by the
// very code of fill_normal: lets tests feed chosen words (u1 = 2^-53, u1 = 1,
// angles at multiples of π/2) through the vectorized Box–Muller.
inline void box_muller(const Block* blocks, Index n_blocks, double* out) {
  detail::BatchWords<> words;
  double buffer[2 * detail::kBatch];
  for (Index b = 0; b < n_blocks; b += detail::kBatch) {
    const Index count = std::min<Index>(detail::kBatch, n_blocks - b);
    for (int i = 0; i < detail::kBatch; ++i) {
      const Block& w = blocks[b + std::min<Index>(i, count - 1)];  // pad with the last block
      for (int j = 0; j < 4; ++j) words[j][i] = w[j];
    }
    detail::box_muller_batch(words, buffer);
    std::copy(buffer, buffer + 2 * count, out + 2 * b);
  }
}

// Rademacher ±1: element e is bit (e mod 32) of word (e mod 128) / 32 of block e / 128.
template <class T>
void fill_rademacher(const Stream& s, std::uint64_t first, T* out, Index count) {
  std::uint64_t e = first;
  for (Index i = 0; i < count;) {
    const Block w = stream_block(s, std::uint32_t(e >> 7));
    const int begin = int(e & 127);
    const int end = int(std::min<std::uint64_t>(128, std::uint64_t(begin) + std::uint64_t(count - i)));
    T* o = out + i;
    for (int t = begin; t < end; ++t) o[t - begin] = T(2 * int((w[t >> 5] >> (t & 31)) & 1u) - 1);
    i += end - begin;
    e += std::uint64_t(end - begin);
  }
}

}  // namespace weightnoise
