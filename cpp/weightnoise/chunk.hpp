// Forward and backward passes over one chunk of examples, kept in per-thread
// buffers so that the derivative kernels can reuse every intermediate.
//
// Shapes for a chunk of B examples (rows), layer l = 0 … L−1:
//   a[l]     (B, d_l)       a[0] = x, a[l+1] = σ(z[l])
//   z[l]     (B, d_{l+1})   z[l] = a[l] W_lᵀ + b_lᵀ;  z[L−1] = ŷ
//   d1[l]    (B, d_{l+1})   σ'(z[l])      (hidden layers, l < L−1)
//   d2[l]    (B, d_{l+1})   σ''(z[l])     (when second derivatives are asked for)
//   g[l]     (B, d_{l+1})   ∂ŷ/∂a_{l+1} = δ[l+1] W_{l+1}      (l < L−1)
//   delta[l] (B, d_{l+1})   δ_l = ∂ŷ/∂z[l];  δ[L−1] = 1,  δ[l] = d1[l] ⊙ g[l]
// Buffers hold kChunkRows rows; a chunk of B rows uses the top B.
#pragma once

#include "weightnoise/activation.hpp"
#include "weightnoise/network.hpp"
#include "weightnoise/parallel.hpp"

#include <vector>

namespace weightnoise {

template <class T>
struct ChunkState {
  std::vector<RowMatrix<T>> a, z, d1, d2, g, delta;
  RowMatrix<T> scratch;  // (B, max d): room for one scaled copy of a layer
  Vector<T> residual;    // (B) ŷ − y where a kernel needs it
  Index rows = 0;

  explicit ChunkState(const Layout& layout) : scratch(kChunkRows, layout.max_width()), residual(kChunkRows) {
    const Index L = layout.n_layers();
    for (Index l = 0; l < L; ++l) {
      a.emplace_back(kChunkRows, layout.fan_in(l));
      z.emplace_back(kChunkRows, layout.fan_out(l));
      d1.emplace_back(kChunkRows, layout.fan_out(l));
      d2.emplace_back(kChunkRows, layout.fan_out(l));
      g.emplace_back(kChunkRows, layout.fan_out(l));
      delta.emplace_back(kChunkRows, layout.fan_out(l));
    }
  }

  // The top `rows` rows of a buffer: the chunk's part of it.
  auto top(RowMatrix<T>& m) const { return m.topRows(rows); }
  auto top(const RowMatrix<T>& m) const { return m.topRows(rows); }
  auto output() const { return z.back().col(0).head(rows); }
};

// z_l = a_l W_lᵀ + b_lᵀ for the chunk's rows.
template <class T>
void affine(const Network<T>& net, ChunkState<T>& s, Index l) {
  auto z = s.top(s.z[l]);
  z.noalias() = s.top(s.a[l]) * net.weight(l).transpose();
  z.rowwise() += net.bias(l).transpose();
}

// a_{l+1} = σ(z_l) with σ' (and σ'') for a hidden layer l < L−1.
template <class T>
void activate_layer(const Network<T>& net, ChunkState<T>& s, Index l, bool second) {
  const auto z = s.top(s.z[l]);
  activate<T>(net.activation, z, s.top(s.a[l + 1]));
  first_derivative<T>(net.activation, z, s.top(s.a[l + 1]), s.top(s.d1[l]));
  if (second) second_derivative<T>(net.activation, z, s.top(s.a[l + 1]), s.top(s.d1[l]), s.top(s.d2[l]));
}

// A forward pass without noise.
struct NoNoise {
  template <class Z>
  void operator()(Index, Z&) const {}
};

// z, a, d1 (and d2) for the chunk x (B, d_0). noise(l, z) may perturb each
// z_l after the affine map and before the activation (local weight noise
// enters there).
template <class T, class X, class Noise = NoNoise>
void forward(const Network<T>& net, const Eigen::MatrixBase<X>& x, ChunkState<T>& s, bool second,
             Noise&& noise = Noise{}) {
  s.rows = x.rows();
  s.top(s.a[0]) = x;
  for (Index l = 0; l < net.n_layers(); ++l) {
    affine(net, s, l);
    auto z = s.top(s.z[l]);
    noise(l, z);
    if (l + 1 < net.n_layers()) activate_layer(net, s, l, second);
  }
}

// g and δ for the chunk, after forward. noise(l, g) may add to g = ∂ŷ/∂a_l
// the paths through layer l's noise (which can depend on a_l).
template <class T, class Noise = NoNoise>
void backward(const Network<T>& net, ChunkState<T>& s, Noise&& noise = Noise{}) {
  const Index L = net.n_layers();
  s.top(s.delta[L - 1]).setOnes();
  for (Index l = L - 2; l >= 0; --l) {
    auto g = s.top(s.g[l]);
    g.noalias() = s.top(s.delta[l + 1]) * net.weight(l + 1);
    noise(l + 1, g);
    s.top(s.delta[l]).array() = s.top(s.d1[l]).array() * g.array();
  }
}

// Adds Σ_n u_n ∂ŷ_n/∂θ (the vjp of the chunk, after backward) into grad (P):
//   ∂/∂W_l += (u ⊙ δ_l)ᵀ a_l,   ∂/∂b_l += Σ_n u_n δ_l,n.
template <class T, class U>
void accumulate_vjp(const Network<T>& net, ChunkState<T>& s, const Eigen::MatrixBase<U>& u, T* grad) {
  for (Index l = 0; l < net.n_layers(); ++l) {
    auto ud = s.scratch.topLeftCorner(s.rows, net.layout.fan_out(l));
    ud = s.top(s.delta[l]).array().colwise() * u.derived().array();
    net.layout.weight(grad, l).noalias() += ud.transpose() * s.top(s.a[l]);
    net.layout.bias(grad, l) += ud.colwise().sum().transpose();
  }
}

}  // namespace weightnoise
