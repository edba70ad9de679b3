// Activations σ with their first and second derivatives, applied to whole
// chunks of pre-activations. Each formula is written to stay finite and
// accurate for saturated inputs (|z| in the hundreds).
#pragma once

#include "weightnoise/types.hpp"

namespace weightnoise {

enum class Activation : int { tanh = 0, relu = 1, sigmoid = 2, softplus = 3, identity = 4 };

// a = σ(z), elementwise.
template <class T>
void activate(Activation f, ConstMatrixRef<T> z, MatrixRef<T> a) {
  const auto Z = z.array();
  auto A = a.array();
  switch (f) {
    case Activation::tanh: A = Z.tanh(); break;
    case Activation::relu: A = Z.max(T(0)); break;
    // 1 / (1 + e^{-z}): e^{-z} = inf for z ≪ 0 gives the exact limit 0.
    case Activation::sigmoid: A = T(1) / (T(1) + (-Z).exp()); break;
    // log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), no overflow.
    case Activation::softplus: A = Z.max(T(0)) + (-Z.abs()).exp().log1p(); break;
    case Activation::identity: A = Z; break;
  }
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
      const auto e = (-Z.abs()).exp();
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
      const auto e = (-Z.abs()).exp();
      D2 = e / (T(1) + e).square();
      break;
    }
    case Activation::identity: D2.setZero(); break;
  }
}

}  // namespace weightnoise
