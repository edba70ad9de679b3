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

// tanh, and optionally its derivative 1 − tanh², over n contiguous doubles,
// vectorized with Eigen's packet math (Eigen vectorizes tanh for float only).
// One formula for every x, so no lanes are computed twice and blended, and a
// single division. With w = 2|x| = −(n ln2 + r), n = round(−w/ln2) (Cody–Waite
// split of ln2, |r| ≤ ln2/2), Cephes' Padé form e^r = (Q + rP)/(Q − rP)
// (P of degree 2 and Q of degree 3 in r², relative error below 2⁻⁵⁵ on the
// range) gives e^{−w} = 2ⁿ e^r, and
//   tanh|x| = (1 − e^{−w}) / (1 + e^{−w})
//           = (Q (1 − 2ⁿ) − rP (1 + 2ⁿ)) / (Q (1 + 2ⁿ) − rP (1 − 2ⁿ)),
// which has no cancellation: at n = 0 it is −rP/Q, elsewhere 1 − 2ⁿ ≥ 1/2.
// This takes 25 vector operations where expm1 by a degree-13 Taylor
// polynomial took 29 and ran a third slower. |x| is clamped at 20, where tanh
// rounds to 1; the sign of x is copied on. Error within 4.5 ulp (a scan of
// 2.8·10⁷ points against long double found 4.3; NumPy's tanh is within 1).
// The tail goes through the same packet code via a buffer, so every element
// gets the same formula wherever it sits.
//
// S packets in lockstep, each step applied to all S before the next, so that
// independent operations sit side by side in the instruction stream. Written
// as four calls of a one-packet function, GCC emitted one packet's whole chain
// (polynomial, division) after another, and Zen 3 overlapped them poorly:
// 3.9 cycles per tanh with 1 − tanh², 3.4–3.65 with S = 3 (S = 2 and 4 slower).
template <int S, class Packet>
WEIGHTNOISE_SIMD_INLINE void tanh_lockstep(const Packet (&x)[S], Packet (&t)[S]) {
  using namespace Eigen::internal;
#define WEIGHTNOISE_EACH for (int s = 0; s < S; ++s)
  const Packet magic = pset1<Packet>(6755399441055744.0);  // 1.5·2⁵²: adding it rounds to an integer
  const Packet one = pset1<Packet>(1.0);
  Packet w[S], shifted[S], n[S], minus_r[S], r2[S], p[S], q[S], pow2[S], one_minus[S], one_plus[S];
  WEIGHTNOISE_EACH w[s] = pmul(pset1<Packet>(2.0), pmin(pabs(x[s]), pset1<Packet>(20.0)));
  WEIGHTNOISE_EACH shifted[s] = pmadd(w[s], pset1<Packet>(-1.4426950408889634074), magic);
  WEIGHTNOISE_EACH n[s] = psub(shifted[s], magic);
  // minus_r = −r = w + n ln2, exact to the low part of ln2.
  WEIGHTNOISE_EACH minus_r[s] = pmadd(n[s], pset1<Packet>(6.93147180369123816490e-01), w[s]);
  WEIGHTNOISE_EACH minus_r[s] = pmadd(n[s], pset1<Packet>(1.90821492927058770002e-10), minus_r[s]);
  WEIGHTNOISE_EACH r2[s] = pmul(minus_r[s], minus_r[s]);
  WEIGHTNOISE_EACH p[s] = pmadd(pset1<Packet>(1.26177193074810590878e-4), r2[s], pset1<Packet>(3.02994407707441961300e-2));
  WEIGHTNOISE_EACH q[s] = pmadd(pset1<Packet>(3.00198505138664455042e-6), r2[s], pset1<Packet>(2.52448340349684104192e-3));
  WEIGHTNOISE_EACH p[s] = pmadd(p[s], r2[s], one);
  WEIGHTNOISE_EACH q[s] = pmadd(q[s], r2[s], pset1<Packet>(2.27265548208155028766e-1));
  WEIGHTNOISE_EACH q[s] = pmadd(q[s], r2[s], pset1<Packet>(2.0));
  WEIGHTNOISE_EACH minus_r[s] = pmul(minus_r[s], p[s]);  // now −rP
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  typedef long long Bits __attribute__((vector_size(sizeof(Packet))));  // the lanes as 64-bit integers
  // shifted holds 1.5·2⁵² + n, whose low bits are n: (bits + 1023) << 52 is 2ⁿ.
  WEIGHTNOISE_EACH pow2[s] = reinterpret_cast<Packet>((reinterpret_cast<Bits>(shifted[s]) + 1023) << 52);
#else
  WEIGHTNOISE_EACH pow2[s] = pldexp(one, n[s]);  // Eigen's portable 2ⁿ
#endif
  // 1 − 2ⁿ and 1 + 2ⁿ are exact (n ≤ 0); numerator is +0 at x = ±0, so that the sign comes from x alone.
  WEIGHTNOISE_EACH one_minus[s] = psub(one, pow2[s]);
  WEIGHTNOISE_EACH one_plus[s] = padd(one, pow2[s]);
  WEIGHTNOISE_EACH t[s] = pdiv(pmadd(minus_r[s], one_plus[s], pmul(q[s], one_minus[s])),
                               pmadd(minus_r[s], one_minus[s], pmul(q[s], one_plus[s])));
  WEIGHTNOISE_EACH t[s] = por(t[s], pand(x[s], pset1<Packet>(-0.0)));
#undef WEIGHTNOISE_EACH
}

// One packet: the tail and remainder of tanh_packets.
template <class Packet>
WEIGHTNOISE_SIMD_INLINE Packet tanh_packet(const Packet& x) {
  const Packet in[1] = {x};
  Packet t[1];
  tanh_lockstep(in, t);
  return t[0];
}

// out = tanh(x) and, where they are not null, d1 = 1 − tanh²(x) and
// d2 = −2 tanh(x) d1 (d2 only with d1), in one pass.
inline void tanh_packets(const double* x, double* out, double* d1, double* d2, Index n) {
  using namespace Eigen::internal;
  using Packet = packet_traits<double>::type;
  constexpr Index W = Index(sizeof(Packet) / sizeof(double));
  const Packet one = pset1<Packet>(1.0), minus_two = pset1<Packet>(-2.0);
  // As first_derivative and second_derivative write them, so fused and separate passes agree bitwise.
  const auto store = [&](Index i, double* a, double* d, double* dd, const Packet& t) {
    pstoreu(a + i, t);
    if (!d1) return;
    const Packet first = psub(one, pmul(t, t));
    pstoreu(d + i, first);
    if (d2) pstoreu(dd + i, pmul(pmul(minus_two, t), first));
  };
  Index i = 0;
  constexpr int S = 3;
  for (; i + S * W <= n; i += S * W) {
    Packet in[S], t[S];
    for (int s = 0; s < S; ++s) in[s] = ploadu<Packet>(x + i + s * W);
    tanh_lockstep(in, t);
    for (int s = 0; s < S; ++s) store(i + s * W, out, d1, d2, t[s]);
  }
  for (; i + W <= n; i += W) store(i, out, d1, d2, tanh_packet(ploadu<Packet>(x + i)));
  if (i < n) {
    double buffer[W] = {}, first[W] = {}, second[W] = {};
    std::copy(x + i, x + n, buffer);
    store(0, buffer, first, second, tanh_packet(ploadu<Packet>(buffer)));
    std::copy(buffer, buffer + (n - i), out + i);
    if (d1) std::copy(first, first + (n - i), d1 + i);
    if (d2) std::copy(second, second + (n - i), d2 + i);
  }
}

// a = tanh(z) and, where given, d1 = 1 − a² and d2 = −2 a d1 in buffers of
// row stride `stride` (fused: one pass over z).
template <class T>
void tanh_of(ConstMatrixRef<T> z, MatrixRef<T> a, T* d1 = nullptr, T* d2 = nullptr, Index stride = 0) {
  if constexpr (std::is_same_v<T, double>) {
    if (z.outerStride() == z.cols() && a.outerStride() == a.cols() && (!d1 || stride == z.cols())) {
      tanh_packets(z.data(), a.data(), d1, d2, z.size());
      return;
    }
    for (Index r = 0; r < z.rows(); ++r)
      tanh_packets(z.row(r).data(), a.row(r).data(), d1 ? d1 + r * stride : nullptr, d2 ? d2 + r * stride : nullptr,
                   z.cols());
  } else {
    a.array() = z.array().tanh();  // Eigen's own vectorized float tanh
    using Strided = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;
    if (d1) Strided(d1, z.rows(), z.cols(), Eigen::OuterStride<>(stride)).array() = T(1) - a.array().square();
    if (d2)
      Strided(d2, z.rows(), z.cols(), Eigen::OuterStride<>(stride)).array() =
          T(-2) * a.array() * Strided(d1, z.rows(), z.cols(), Eigen::OuterStride<>(stride)).array();
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
