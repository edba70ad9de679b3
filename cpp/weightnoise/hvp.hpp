// Second-order products with the per-example Hessians H_n = ∇²_θ ŷ(x_n),
// by Pearlmutter's R-operator; no H_n is ever formed.
#pragma once

#include "weightnoise/network.hpp"

namespace weightnoise {

// out = Σ_n u_n H_n v  (v and out length P, u length N).
template <class T>
void hvp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> v, ConstVectorRef<T> u, VectorRef<T> out);

// out = ∇_θ Ω = (2/N) Σ_n H_n g_n over the subset; returns Ω. Each example's
// direction g_n is rank one per layer, V_l = δ_l a_lᵀ, so the R-operator
// sources reduce to s_l = δ_l (‖a_l‖² + 1) and t_l = a_l ‖δ_l‖²: the cost is
// a small multiple of one forward and backward pass.
template <class T>
T penalty_grad(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out);

}  // namespace weightnoise
