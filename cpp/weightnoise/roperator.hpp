// Pearlmutter's R-operator over one chunk: the directional derivatives R{·}
// of the forward and backward passes along a parameter direction v with
// blocks (V_l, v_l). The direction enters through two sources, so a shared v
// and the per-example rank-one direction v = g_n use the same passes:
//   forward source  s_l (B, d_{l+1}), row n = V_l a_l + v_l
//   backward source t_l (B, d_l),     row n = V_lᵀ δ_l
// Shapes: ra[l] (B, d_l), rz[l] (B, d_{l+1}), rdelta[l] (B, d_{l+1}).
#pragma once

#include "weightnoise/chunk.hpp"

namespace weightnoise {

template <class T>
struct RState {
  std::vector<RowMatrix<T>> ra, rz, rdelta;
  RowMatrix<T> acc;  // (B, max d) scratch for a backward sum

  explicit RState(const Layout& layout) : acc(kChunkRows, layout.max_width()) {
    for (Index l = 0; l < layout.n_layers(); ++l) {
      ra.emplace_back(kChunkRows, layout.fan_in(l));
      rz.emplace_back(kChunkRows, layout.fan_out(l));
      rdelta.emplace_back(kChunkRows, layout.fan_out(l));
    }
  }
};

// R{z_l} = s_l + R{a_l} W_lᵀ,   R{a_{l+1}} = σ'(z_l) ⊙ R{z_l},   R{a_0} = 0.
// source(l, rz) must set rz = s_l. Runs after forward(net, …, s).
template <class T, class Source>
void r_forward(const Network<T>& net, const ChunkState<T>& s, RState<T>& r, Source&& source) {
  const Index L = net.n_layers(), B = s.rows;
  for (Index l = 0; l < L; ++l) {
    auto rz = r.rz[l].topRows(B);
    source(l, rz);
    if (l > 0) times_weight_transposed(net, l, r.ra[l].topRows(B), rz, false, true);
    if (l + 1 < L) r.ra[l + 1].topRows(B).array() = s.top(s.d1[l]).array() * rz.array();
  }
}

// What r_backward needs of forward: σ'' in d2, except for tanh, whose
// σ'' = −2σσ' it forms from a_{l+1} and R{a_{l+1}} = σ' ⊙ R{z_l} (no σ''
// pass to write, one buffer fewer in cache).
inline Derivatives r_derivatives(Activation f) {
  return f == Activation::tanh ? Derivatives::first : Derivatives::second;
}

// R{δ_{L−1}} = 0,
// R{δ_l} = σ''(z_l) ⊙ R{z_l} ⊙ g_l + σ'(z_l) ⊙ (t_{l+1} + R{δ_{l+1}} W_{l+1}).
// back_source(l, acc) must set acc = t_l. Runs after forward(…, r_derivatives(activation)).
template <class T, class BackSource>
void r_backward(const Network<T>& net, const ChunkState<T>& s, RState<T>& r, BackSource&& back_source) {
  const Index L = net.n_layers(), B = s.rows;
  r.rdelta[L - 1].topRows(B).setZero();
  for (Index l = L - 2; l >= 0; --l) {
    auto acc = scratch_of(r.acc, B, net.layout.fan_out(l));
    back_source(l + 1, acc);
    if (l + 2 < L) times_weight(net, l + 1, r.rdelta[l + 1].topRows(B), acc, true);
    auto rdelta = r.rdelta[l].topRows(B).array();
    if (net.activation == Activation::tanh)
      rdelta = s.top(s.d1[l]).array() * acc.array() -
               T(2) * s.top(s.a[l + 1]).array() * r.ra[l + 1].topRows(B).array() * s.top(s.g[l]).array();
    else
      rdelta = s.top(s.d2[l]).array() * r.rz[l].topRows(B).array() * s.top(s.g[l]).array() +
               s.top(s.d1[l]).array() * acc.array();
  }
}

// Adds Σ_n u_n (H_n v) into hv (length P), after r_forward and r_backward:
//   (Hv)_{W_l} = (u ⊙ R{δ_l})ᵀ a_l + (u ⊙ δ_l)ᵀ R{a_l},   (Hv)_{b_l} = Σ_n u_n R{δ_l}.
template <class T, class U>
void accumulate_hvp(const Network<T>& net, ChunkState<T>& s, const RState<T>& r, const Eigen::MatrixBase<U>& u,
                    T* hv) {
  const Index B = s.rows;
  for (Index l = 0; l < net.n_layers(); ++l) {
    auto W = net.layout.weight(hv, l);
    auto scaled = scratch_of(s.scratch, B, net.layout.fan_out(l));
    scaled = r.rdelta[l].topRows(B).array().colwise() * u.derived().array();
    add_outer_products<T>(scaled, s.top(s.a[l]), W);
    net.layout.bias(hv, l) += scaled.colwise().sum().transpose();
    if (l > 0) {
      scaled = s.top(s.delta[l]).array().colwise() * u.derived().array();
      add_outer_products<T>(scaled, r.ra[l].topRows(B), W);
    }
  }
}

// accumulate_hvp with the same u_n = scale for every example: the scale
// applies to each block's sum, so no scaled copies of R{δ} and δ are formed.
template <class T>
void accumulate_hvp(const Network<T>& net, ChunkState<T>& s, const RState<T>& r, T scale, T* hv) {
  const Index B = s.rows;
  for (Index l = 0; l < net.n_layers(); ++l) {
    auto W = net.layout.weight(hv, l);
    add_outer_products<T>(r.rdelta[l].topRows(B), s.top(s.a[l]), W, scale);
    net.layout.bias(hv, l) += scale * r.rdelta[l].topRows(B).colwise().sum().transpose();
    if (l > 0) add_outer_products<T>(s.top(s.delta[l]), r.ra[l].topRows(B), W, scale);
  }
}

// Per-thread buffers of the penalty gradient.
template <class T>
struct PenaltyState {
  RState<T> r;
  RowMatrix<T> c;  // (B, 2L): c_l = ‖a_l‖²·[W_l] + [b_l] in column l, e_l = ‖δ_l‖²·[W_l] in column L + l
  explicit PenaltyState(const Layout& layout) : r(layout), c(kChunkRows, 2 * layout.n_layers()) {}
};

// The R-passes of the penalty gradient along the direction g_n (restricted to
// the subset), after forward(…, r_derivatives(activation)) and backward;
// returns Σ_n ‖g_n‖² over the subset. g_n is rank one per layer,
// V_l = δ_l a_lᵀ, so the sources are s_l = V_l a_l + v_l = δ_l c_l and
// t_l = V_lᵀ δ_l = a_l e_l.
template <class T>
T penalty_r_passes(const Network<T>& net, ChunkState<T>& s, PenaltyState<T>& ps, const ParamSubset& subset) {
  const Index L = net.n_layers(), rows = s.rows;
  RowMatrix<T>& c = ps.c;
  T norm_sq = 0;
  for (Index l = 0; l < L; ++l) {
    const T w = subset.weights[l] ? T(1) : T(0), b = subset.biases[l] ? T(1) : T(0);
    c.col(l).head(rows) = w * s.top(s.a[l]).rowwise().squaredNorm().array() + b;
    auto e = c.col(L + l).head(rows);
    e = s.top(s.delta[l]).rowwise().squaredNorm();  // ‖δ_l‖² once, for the norm and for e_l
    norm_sq += (c.col(l).head(rows).array() * e.array()).sum();
    e *= w;
  }
  auto forward_source = [&](Index l, auto& rz) {
    rz = s.top(s.delta[l]).array().colwise() * c.col(l).head(rows).array();
  };
  auto backward_source = [&](Index l, auto& acc) {
    acc = s.top(s.a[l]).array().colwise() * c.col(L + l).head(rows).array();
  };
  r_forward(net, s, ps.r, forward_source);
  r_backward(net, s, ps.r, backward_source);
  return norm_sq;
}

// Adds scale · Σ_n H_n g_n (g_n restricted to the subset) into grad (P), after
// forward(…, r_derivatives(activation)) and backward; returns Σ_n ‖g_n‖² over the subset.
template <class T>
T accumulate_penalty_grad(const Network<T>& net, ChunkState<T>& s, PenaltyState<T>& ps, const ParamSubset& subset,
                          T scale, T* grad) {
  const T norm_sq = penalty_r_passes(net, s, ps, subset);
  accumulate_hvp(net, s, ps.r, scale, grad);
  return norm_sq;
}

// grad (+)= Σ_n u_n g_n + scale · Σ_n H_n g_n: write_vjp(u) followed by
// accumulate_penalty_grad(scale), with one weight-gradient product per layer
// fewer, as both sums multiply a_l: (u ⊙ δ_l + scale R{δ_l})ᵀ a_l. Returns
// Σ_n ‖g_n‖² over the subset.
template <class T, class U>
T vjp_and_penalty_grad(const Network<T>& net, ChunkState<T>& s, PenaltyState<T>& ps, const ParamSubset& subset,
                       const Eigen::MatrixBase<U>& u, T scale, T* grad, bool add) {
  const T norm_sq = penalty_r_passes(net, s, ps, subset);
  const Index B = s.rows;
  for (Index l = 0; l < net.n_layers(); ++l) {
    auto left = scratch_of(s.scratch, B, net.layout.fan_out(l));
    left = s.top(s.delta[l]).array().colwise() * u.derived().array() + scale * ps.r.rdelta[l].topRows(B).array();
    write_layer_grad(net, s, l, left, grad, add);
    if (l > 0) add_outer_products<T>(s.top(s.delta[l]), ps.r.ra[l].topRows(B), net.layout.weight(grad, l), scale);
  }
  return norm_sq;
}

// Forward source of a direction v shared by all examples: s_l = a_l V_lᵀ + v_lᵀ.
template <class T>
auto shared_forward_source(const Network<T>& net, const ChunkState<T>& s, const T* v) {
  return [&net, &s, v](Index l, auto& rz) {
    rz.noalias() = s.top(s.a[l]) * net.layout.weight(v, l).transpose();
    rz.rowwise() += net.layout.bias(v, l).transpose();
  };
}

// Backward source of a shared direction: t_l = δ_l V_l.
template <class T>
auto shared_backward_source(const Network<T>& net, const ChunkState<T>& s, const T* v) {
  return [&net, &s, v](Index l, auto& acc) { acc.noalias() = s.top(s.delta[l]) * net.layout.weight(v, l); };
}

}  // namespace weightnoise
