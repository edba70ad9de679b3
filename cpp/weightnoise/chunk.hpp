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
#include "weightnoise/gemm.hpp"
#include "weightnoise/network.hpp"
#include "weightnoise/parallel.hpp"

#include <vector>

namespace weightnoise {

// The first rows·cols entries of a scratch buffer as a rows × cols matrix with
// adjacent rows. A topLeftCorner of the buffer would keep its row stride, and
// Eigen then runs elementwise expressions one row at a time with scalar
// peeling at each row's start; over adjacent rows they run as one loop.
template <class T>
Eigen::Map<RowMatrix<T>> scratch_of(RowMatrix<T>& buffer, Index rows, Index cols) {
  eigen_assert(rows * cols <= buffer.size());
  return {buffer.data(), rows, cols};
}

template <class T>
struct ChunkState {
  std::vector<RowMatrix<T>> a, z, d1, d2, g, delta;
  RowMatrix<T> scratch;  // (B, max d): room for one scaled copy of a layer
  Vector<T> residual;    // (B) ŷ − y where a kernel needs it
  Index rows = 0;

  explicit ChunkState(const Layout& layout)
      : scratch(kChunkRows, layout.max_width()),
        residual(kChunkRows) {
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

// out (+)= in · W_lᵀ (+ b_lᵀ) for rows of in (d_l wide). Layers at least a
// packet wide go through gemm::multiply with the network's packed
// [W_lᵀ; b_lᵀ]; narrower ones (the scalar output) through Eigen.
template <class T, class In, class Out>
void times_weight_transposed(const Network<T>& net, Index l, const In& in, Out&& out, bool with_bias, bool add) {
  const RowMatrix<T>& packed = net.packed(l);
  if (packed.size() == 0) {  // narrower than a packet: the network keeps no pack
    if (add) out.noalias() += in * net.weight(l).transpose();
    else out.noalias() = in * net.weight(l).transpose();
    if (with_bias) out.rowwise() += net.bias(l).transpose();
    return;
  }
  const Index k = net.layout.fan_in(l), n = net.layout.fan_out(l);
  gemm::multiply(in.data(), in.outerStride(), packed.data(), packed.outerStride(), in.rows(), k, n, out.data(),
                 out.outerStride(), {T(1), add, with_bias ? packed.row(k).data() : nullptr});
}

// z_l = a_l W_lᵀ + b_lᵀ for the chunk's rows.
template <class T>
void affine(const Network<T>& net, ChunkState<T>& s, Index l) {
  times_weight_transposed(net, l, s.top(s.a[l]), s.top(s.z[l]), true, false);
}

// out (+)= in · W_l (rows × d_l): ∂ŷ/∂a_l from ∂ŷ/∂z_l, through the
// network's padded copy of W_l where it keeps one.
template <class T, class In, class Out>
void times_weight(const Network<T>& net, Index l, const In& in, Out&& out, bool add = false) {
  const RowMatrix<T>& weight = net.padded_weight(l);
  if (weight.size() == 0) {
    if (add) out.noalias() += in * net.weight(l);
    else out.noalias() = in * net.weight(l);
    return;
  }
  const Index k = net.layout.fan_out(l), n = net.layout.fan_in(l);
  gemm::multiply(in.data(), in.outerStride(), weight.data(), weight.outerStride(), in.rows(), k, n, out.data(),
                 out.outerStride(), {T(1), add});
}

// How many derivatives of σ a forward pass keeps: none for outputs and losses,
// σ' for a backward pass, σ'' too for second-order kernels.
enum class Derivatives { none, first, second };

// a_{l+1} = σ(z_l), with σ' (and σ'') as asked, for a hidden layer l < L−1.
template <class T>
void activate_layer(const Network<T>& net, ChunkState<T>& s, Index l, Derivatives derivatives) {
  const auto z = s.top(s.z[l]);
  if (derivatives == Derivatives::none) {
    activate<T>(net.activation, z, s.top(s.a[l + 1]));
    return;
  }
  const bool second = derivatives == Derivatives::second;
  if (net.activation == Activation::tanh) {  // σ, σ' (and σ'') in one pass: tanh is the costly part
    tanh_of<T>(z, s.top(s.a[l + 1]), s.d1[l].data(), second ? s.d2[l].data() : nullptr, s.d1[l].cols());
    return;
  }
  activate<T>(net.activation, z, s.top(s.a[l + 1]));
  first_derivative<T>(net.activation, z, s.top(s.a[l + 1]), s.top(s.d1[l]));
  if (second) second_derivative<T>(net.activation, z, s.top(s.a[l + 1]), s.top(s.d1[l]), s.top(s.d2[l]));
}

// A forward pass without noise.
struct NoNoise {
  template <class Z>
  void operator()(Index, Z&) const {}
};

// z, a and the derivatives asked for (d1, d2) for the chunk x (B, d_0). noise(l, z) may perturb each
// z_l after the affine map and before the activation (local weight noise
// enters there).
template <class T, class X, class Noise = NoNoise>
void forward(const Network<T>& net, const Eigen::MatrixBase<X>& x, ChunkState<T>& s, Derivatives derivatives,
             Noise&& noise = Noise{}) {
  s.rows = x.rows();
  s.top(s.a[0]) = x;
  for (Index l = 0; l < net.n_layers(); ++l) {
    affine(net, s, l);
    auto z = s.top(s.z[l]);
    noise(l, z);
    if (l + 1 < net.n_layers()) activate_layer(net, s, l, derivatives);
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
    if (l == L - 2)
      g.rowwise() = net.weight(L - 1).row(0);  // δ_{L−1} = 1 (scalar output): every row is W_{L−1}
    else
      times_weight(net, l + 1, s.top(s.delta[l + 1]), g);
    noise(l + 1, g);
    s.top(s.delta[l]).array() = s.top(s.d1[l]).array() * g.array();
  }
}

// block += scale · leftᵀ · right (block = … with add false) for the chunk's
// rows of left (B, d_{l+1}) and right (B, d_l): a weight block (d_{l+1}, d_l)
// of a sum over examples.
template <class T, class Left, class Right, class Block>
void add_outer_products(const Left& left, const Right& right, Block&& block, T scale = T(1), bool add = true) {
  const Index n = right.cols();
  if (n < gemm::kPacket<T> || !gemm::whole_packets<T>(n)) {
    if (add) block.noalias() += scale * (left.transpose() * right);
    else block.noalias() = scale * (left.transpose() * right);
    return;
  }
  gemm::multiply<T, true>(left.data(), left.outerStride(), right.data(), right.outerStride(), left.cols(),
                          left.rows(), n, block.data(), block.outerStride(), {scale, add});
}

// Layer l's block of a gradient from left (B, d_{l+1}), each example's
// weighted ∂/∂z_l: ∂/∂W_l = leftᵀ a_l, ∂/∂b_l = Σ_n left_n; added with add.
template <class T, class Left>
void write_layer_grad(const Network<T>& net, const ChunkState<T>& s, Index l, const Left& left, T* grad, bool add) {
  add_outer_products<T>(left, s.top(s.a[l]), net.layout.weight(grad, l), T(1), add);
  if (add) net.layout.bias(grad, l) += left.colwise().sum().transpose();
  else net.layout.bias(grad, l) = left.colwise().sum().transpose();
}

// grad (P) = Σ_n u_n ∂ŷ_n/∂θ, the vjp of the chunk (after backward), or
// grad += it with add; without add every entry is written, so grad need not
// be zeroed first:
//   ∂/∂W_l = (u ⊙ δ_l)ᵀ a_l,   ∂/∂b_l = Σ_n u_n δ_l,n.
template <class T, class U>
void write_vjp(const Network<T>& net, ChunkState<T>& s, const Eigen::MatrixBase<U>& u, T* grad, bool add) {
  for (Index l = 0; l < net.n_layers(); ++l) {
    auto ud = scratch_of(s.scratch, s.rows, net.layout.fan_out(l));
    ud = s.top(s.delta[l]).array().colwise() * u.derived().array();
    write_layer_grad(net, s, l, ud, grad, add);
  }
}

// ‖g_n‖² of the chunk's rows into out (B).
template <class T, class Out>
void chunk_grad_norms_sq(const Network<T>& net, ChunkState<T>& s, const ParamSubset& subset, Out&& out) {
  out.setZero();
  for (Index l = 0; l < net.n_layers(); ++l) {
    if (!subset.any(l)) continue;
    const T bias_term = subset.biases[l] ? T(1) : T(0);
    const T weight_term = subset.weights[l] ? T(1) : T(0);
    out.array() += s.top(s.delta[l]).rowwise().squaredNorm().array() *
                   (weight_term * s.top(s.a[l]).rowwise().squaredNorm().array() + bias_term);
  }
}

}  // namespace weightnoise
