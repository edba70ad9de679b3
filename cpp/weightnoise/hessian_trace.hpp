// Traces of the per-example Hessians H_n = ∇²_θ ŷ(x_n) over a parameter subset.
#pragma once

#include "weightnoise/network.hpp"

#include <cstdint>

namespace weightnoise {

// Exact: with M_l = ∇²_{z_l} ŷ and ∂²ŷ/∂W_l[i,j]² = a_{l,j}² (M_l)_ii,
//   tr H_n = Σ_l (‖a_l‖²·[W_l] + [b_l]) tr M_l,
//   M_{L−1} = 0,  M_l = D_l W_{l+1}ᵀ M_{l+1} W_{l+1} D_l + diag(σ''(z_l) ⊙ g_l),  D_l = diag σ'(z_l).
// M_{L−2} is diagonal, so up to two hidden layers every trace is a batched
// product with squared weights; deeper layers carry dense M_l per example.
template <class T>
void hessian_trace_exact(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out);

// The terms of J̃_η ≈ J + η·Ω + η·C over the subset, from one forward and
// backward pass per chunk (what loss, penalty and hessian_trace_exact would
// each redo): J = (1/N) Σ r_n², Ω = (1/N) Σ ‖g_n‖², C = (1/N) Σ r_n tr H_n.
template <class T>
struct SecondOrderTerms {
  T loss, penalty, curvature;
};

template <class T>
SecondOrderTerms<T> second_order_terms(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y,
                                       const ParamSubset& subset);

// Hutchinson: out_n = (1/K) Σ_k v_kᵀ H_n v_k with Rademacher probes v_k on the
// subset (zero elsewhere), drawn from stream (seed, hutchinson, k, 0). Each
// quadratic form is the second derivative of ŷ(θ + t v_k) at t = 0, computed
// by forward-over-forward differentiation.
template <class T>
void hessian_trace_hutchinson(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset,
                              Index n_probes, std::uint64_t seed, VectorRef<T> out);

// The probe v_k of hessian_trace_hutchinson (length P), for tests and the reference.
template <class T>
void hutchinson_probe(const Layout& layout, const ParamSubset& subset, std::uint64_t seed, Index k, T* v);

}  // namespace weightnoise
