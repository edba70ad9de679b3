// Activations σ with their first and second derivatives, applied to whole
// chunks of pre-activations. Each formula is written to stay finite and
// accurate for saturated inputs (|z| in the hundreds).
#pragma once

#include "weightnoise/types.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace weightnoise {

enum class Activation : int { tanh = 0, relu = 1, sigmoid = 2, softplus = 3, identity = 4 };

// e^v for v ∈ [−40, 0] without a division: v = n ln2 + r with n = round(v/ln2)
// (Cody–Waite split of ln2), e^r by its Taylor series to r¹³ (|r| ≤ ln2/2, so
// the truncation is below 5e−18), and 2ⁿ built in the exponent bits. Eigen's
// pexp spends a division on a Padé form; the tanh below already needs one.
template <class Packet>
Packet exp_nonpositive(const Packet& v) {
  return Eigen::internal::pexp(v);
}

#if defined(__AVX2__) && defined(__FMA__)
inline Eigen::internal::Packet4d exp_nonpositive(const Eigen::internal::Packet4d& v) {
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);  // 1.5·2⁵²: adding it rounds to an integer
  const __m256d shifted = _mm256_fmadd_pd(v, _mm256_set1_pd(1.4426950408889634074), magic);
  const __m256d n = _mm256_sub_pd(shifted, magic);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), v);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  constexpr double inverse_factorials[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                           1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                           1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                           1.0 / 24.0,         1.0 / 6.0,         0.5,
                                           1.0,                1.0};
  __m256d p = _mm256_set1_pd(inverse_factorials[0]);
  for (int k = 1; k < 14; ++k) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(inverse_factorials[k]));
  // shifted holds 1.5·2⁵² + n, whose low bits are n: (bits + 1023) << 52 is 2ⁿ.
  const __m256i two_n =
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(shifted), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(two_n));
}
#endif

// tanh over n contiguous doubles, vectorized with Eigen's packet math (Eigen
// vectorizes tanh for float only). Below |x| = 0.625 Cephes' rational
// approximation x + x³P(x²)/Q(x²); above, (1 − t)/(1 + t) with t = e^{−2|x|}
// (|x| clamped at 20, where tanh rounds to 1); the sign of x is copied on.
// Both branches are fractions, so one division serves. Relative error within
// 2 ulp. The tail goes through the same packet code via a buffer, so every
// element gets the same formula wherever it sits.
inline void tanh_packets(const double* x, double* out, Index n) {
  using namespace Eigen::internal;
  using Packet = packet_traits<double>::type;
  constexpr Index W = Index(sizeof(Packet) / sizeof(double));
  const Packet one = pset1<Packet>(1.0), cut = pset1<Packet>(0.625), sign = pset1<Packet>(-0.0);
  const auto kernel = [&](const Packet& v) {
    const Packet ax = pabs(v);
    const Packet xs = pmin(ax, cut);  // the rational branch sees |x| ≤ 0.625 only: always finite
    const Packet x2 = pmul(xs, xs);
    Packet p = pmadd(pset1<Packet>(-9.64399179425052238628e-1), x2, pset1<Packet>(-9.92877231001918586564e1));
    p = pmadd(p, x2, pset1<Packet>(-1.61468768441708447952e3));
    Packet q = padd(x2, pset1<Packet>(1.12811678491632931402e2));
    q = pmadd(q, x2, pset1<Packet>(2.23548839060100448583e3));
    q = pmadd(q, x2, pset1<Packet>(4.84406305325125486048e3));
    // x + x·x²·p/q = x(q + x²p)/q.
    const Packet t = exp_nonpositive(pmul(pset1<Packet>(-2.0), pmin(ax, pset1<Packet>(20.0))));
    const Packet is_small = pcmp_lt(ax, cut);
    const Packet numerator = pselect(is_small, pmul(xs, pmadd(x2, p, q)), psub(one, t));
    const Packet denominator = pselect(is_small, q, padd(one, t));
    return por(pdiv(numerator, denominator), pand(v, sign));
  };
  Index i = 0;
  for (; i + W <= n; i += W) pstoreu(out + i, kernel(ploadu<Packet>(x + i)));
  if (i < n) {
    double buffer[W] = {};
    std::copy(x + i, x + n, buffer);
    pstoreu(buffer, kernel(ploadu<Packet>(buffer)));
    std::copy(buffer, buffer + (n - i), out + i);
  }
}

template <class T>
void tanh_of(ConstMatrixRef<T> z, MatrixRef<T> a) {
  if constexpr (std::is_same_v<T, double>) {
    if (z.outerStride() == z.cols() && a.outerStride() == a.cols()) {
      tanh_packets(z.data(), a.data(), z.size());
      return;
    }
    for (Index r = 0; r < z.rows(); ++r) tanh_packets(z.row(r).data(), a.row(r).data(), z.cols());
  } else {
    a.array() = z.array().tanh();  // Eigen's own vectorized float tanh
  }
}

// a = σ(z), elementwise.
template <class T>
void activate(Activation f, ConstMatrixRef<T> z, MatrixRef<T> a) {
  const auto Z = z.array();
  auto A = a.array();
  switch (f) {
    case Activation::tanh: tanh_of<T>(z, a); break;
    case Activation::relu: A = Z.max(T(0)); break;
    // 1 / (1 + e^{-z}): e^{-z} = inf for z ≪ 0 gives the exact limit 0.
    case Activation::sigmoid: A = T(1) / (T(1) + (-Z).exp()); break;
    // log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), no overflow.
    case Activation::softplus: A = Z.max(T(0)) + (-Z.abs()).exp().log1p(); break;
    case Activation::identity: A = Z; break;
  }
}

// e^{−|z|}, exactly 0 where it underflows. Eigen's vectorized exp clamps its
// argument at the smallest normal's logarithm (≈ −709.8 in double), so alone
// it would give e^{−709.8} ≈ 5.6e−309 for every |z| beyond, and σ'(z)·x a
// spurious 5.6e−9 at x = 1e300.
template <class Z>
auto exp_of_minus_abs(const Z& z) {
  using T = typename Z::Scalar;
  static const T kUnderflow = -std::log(std::numeric_limits<T>::denorm_min());
  return (z.abs() < kUnderflow).select((-z.abs()).exp(), T(0));
}

// d1 = σ'(z), given z and a = σ(z).
template <class T>
void first_derivative(Activation f, ConstMatrixRef<T> z, ConstMatrixRef<T> a, MatrixRef<T> d1) {
  const auto Z = z.array();
  const auto A = a.array();
  auto D1 = d1.array();
  switch (f) {
    case Activation::tanh: D1 = T(1) - A.square(); break;
    // The kink: σ'(0) = 0, the subgradient PyTorch and JAX use.
    case Activation::relu: D1 = (Z > T(0)).template cast<T>(); break;
    // s(z) s(-z) = e / (1 + e)² with e = e^{-|z|}: exact in both tails.
    case Activation::sigmoid: {
      const auto e = exp_of_minus_abs(Z);
      D1 = e / (T(1) + e).square();
      break;
    }
    case Activation::softplus: D1 = T(1) / (T(1) + (-Z).exp()); break;
    case Activation::identity: D1.setConstant(T(1)); break;
  }
}

// d2 = σ''(z), given z, a = σ(z) and d1 = σ'(z).
template <class T>
void second_derivative(Activation f, ConstMatrixRef<T> z, ConstMatrixRef<T> a, ConstMatrixRef<T> d1,
                       MatrixRef<T> d2) {
  const auto Z = z.array();
  const auto A = a.array();
  const auto D1 = d1.array();
  auto D2 = d2.array();
  switch (f) {
    case Activation::tanh: D2 = T(-2) * A * D1; break;
    case Activation::relu: D2.setZero(); break;
    case Activation::sigmoid: D2 = D1 * (T(1) - T(2) * A); break;
    case Activation::softplus: {
      const auto e = exp_of_minus_abs(Z);
      D2 = e / (T(1) + e).square();
      break;
    }
    case Activation::identity: D2.setZero(); break;
  }
}

}  // namespace weightnoise
