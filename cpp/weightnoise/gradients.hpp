// First-order kernels: outputs, the loss, and products with the per-example
// gradients g_n = ∇_θ ŷ(x_n). X is (N, d_0) row-major; y, u are (N).
#pragma once

#include "weightnoise/network.hpp"

namespace weightnoise {

// out_n = ŷ(x_n).
template <class T>
void predict(const Network<T>& net, ConstMatrixRef<T> X, VectorRef<T> out);

// J = (1/N) Σ_n (ŷ(x_n) − y_n)².
template <class T>
T loss(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y);

// grad = ∇J = (2/N) Σ_n r_n g_n; returns J.
template <class T>
T loss_grad(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, VectorRef<T> grad);

// grad = Σ_n u_n g_n (vector–Jacobian product with cotangent u).
template <class T>
void vjp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> u, VectorRef<T> grad);

// out_n = g_n · v (Jacobian–vector product with tangent v, length P).
template <class T>
void jvp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> v, VectorRef<T> out);

// Row n of out (N, P) = g_n.
template <class T>
void per_example_grads(const Network<T>& net, ConstMatrixRef<T> X, MatrixRef<T> out);

// out_n = ‖g_n‖² over the subset, by the rank-one identity
//   ‖g_n‖² = Σ_l ‖δ_l‖² (‖a_l‖²·[W_l] + [b_l]);   no g_n is formed.
template <class T>
void grad_norms_sq(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out);

// Ω = (1/N) Σ_n ‖g_n‖² over the subset.
template <class T>
T penalty(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset);

}  // namespace weightnoise
