// The network: layer sizes, activation, and views of a flat parameter vector.
//
// Layer l (0-based, l = 0 … L−1) maps a_l ∈ R^{d_l} to
//   z_l = W_l a_l + b_l,   W_l: (d_{l+1}, d_l) row-major,   b_l: (d_{l+1})
// with a_{l+1} = σ(z_l) for l < L−1 and the scalar output ŷ = z_{L−1}.
// Flat order: W_0 (row-major), b_0, W_1, b_1, …  (torch.nn.Linear order).
#pragma once

#include "weightnoise/activation.hpp"
#include "weightnoise/gemm.hpp"
#include "weightnoise/types.hpp"

#include <type_traits>
#include <vector>

namespace weightnoise {

class Layout {
 public:
  explicit Layout(std::vector<Index> sizes) : sizes_(std::move(sizes)), offsets_(sizes_.size(), 0) {
    for (Index l = 0; l + 1 < Index(sizes_.size()); ++l)
      offsets_[l + 1] = offsets_[l] + sizes_[l + 1] * (sizes_[l] + 1);
  }
  Index n_layers() const { return Index(sizes_.size()) - 1; }
  Index size(Index l) const { return sizes_[l]; }  // d_l, l = 0 … L
  Index fan_in(Index l) const { return sizes_[l]; }
  Index fan_out(Index l) const { return sizes_[l + 1]; }
  Index weight_offset(Index l) const { return offsets_[l]; }
  Index bias_offset(Index l) const { return offsets_[l] + fan_out(l) * fan_in(l); }
  Index n_params() const { return offsets_.back(); }
  Index max_width() const {
    Index w = 0;
    for (Index d : sizes_) w = d > w ? d : w;
    return w;
  }
  const std::vector<Index>& sizes() const { return sizes_; }

  // Views of layer l's blocks inside a flat vector p (const-ness follows p).
  template <class S>
  auto weight(S* p, Index l) const {
    using M = std::conditional_t<std::is_const_v<S>, const RowMatrix<std::remove_const_t<S>>,
                                 RowMatrix<S>>;
    return Eigen::Map<M>(p + weight_offset(l), fan_out(l), fan_in(l));
  }
  template <class S>
  auto bias(S* p, Index l) const {
    using V = std::conditional_t<std::is_const_v<S>, const Vector<std::remove_const_t<S>>, Vector<S>>;
    return Eigen::Map<V>(p + bias_offset(l), fan_out(l));
  }

 private:
  std::vector<Index> sizes_;
  std::vector<Index> offsets_;  // offsets_[l] = start of W_l; offsets_.back() = P
};

// A read-only network over a parameter vector owned elsewhere (an aligned
// copy of a NumPy array, or a perturbed θ), with two copies of each layer's
// weights packed once for gemm, which reads B along its rows: [W_lᵀ; b_lᵀ]
// for the products a W_lᵀ + b_lᵀ of the forward passes (layers at least a
// packet wide), and W_l for δ W_l of the backward passes (layers past the
// first, at least a packet wide in fan-in), both at gemm::leading_dimension.
// Packing per chunk cost 4% of a forward pass. The packs follow the
// parameters, so those change only through set_params.
template <class T>
class Network {
 public:
  Network(Layout layout_, Activation activation_, const T* params)
      : layout(std::move(layout_)), activation(activation_) {
    for (Index l = 0; l < layout.n_layers(); ++l) {
      const Index k = layout.fan_in(l), n = layout.fan_out(l);
      packed_.push_back(n >= gemm::kPacket<T> ? RowMatrix<T>::Zero(k + 1, gemm::leading_dimension<T>(n))
                                               : RowMatrix<T>());
      // No backward pass goes into the input, so none reads W_0.
      const bool backward = l > 0 && k >= gemm::kPacket<T>;
      padded_weights_.push_back(backward ? RowMatrix<T>::Zero(n, gemm::leading_dimension<T>(k)) : RowMatrix<T>());
    }
    set_params(params);
  }

  void set_params(const T* params) {
    params_ = params;
    for (Index l = 0; l < n_layers(); ++l) {
      const Index k = layout.fan_in(l), n = layout.fan_out(l);
      if (packed_[l].size() != 0) {
        packed_[l].topLeftCorner(k, n) = weight(l).transpose();
        packed_[l].row(k).head(n) = bias(l).transpose();
      }
      if (padded_weights_[l].size() != 0) padded_weights_[l].leftCols(k) = weight(l);
    }
  }

  const T* params() const { return params_; }
  Index n_layers() const { return layout.n_layers(); }
  auto weight(Index l) const { return layout.weight(params_, l); }
  auto bias(Index l) const { return layout.bias(params_, l); }
  // [W_lᵀ; b_lᵀ] (d_l + 1, d_{l+1} padded); empty where fan_out(l) < a packet.
  const RowMatrix<T>& packed(Index l) const { return packed_[l]; }
  // W_l (d_{l+1}, d_l padded); empty for l = 0 and where fan_in(l) < a packet.
  const RowMatrix<T>& padded_weight(Index l) const { return padded_weights_[l]; }

  const Layout layout;
  const Activation activation;

 private:
  const T* params_ = nullptr;
  std::vector<RowMatrix<T>> packed_, padded_weights_;
};

// The parameters that carry noise: per layer, its weights and/or its bias.
// Ω, C and every noise estimator range over the same subset.
struct ParamSubset {
  std::vector<bool> weights;
  std::vector<bool> biases;

  static ParamSubset all(Index n_layers) {
    return {std::vector<bool>(n_layers, true), std::vector<bool>(n_layers, true)};
  }
  // ‖∂z_l/∂(W_l, b_l)‖² factor of a rank-one block: ‖a_l‖²·[W_l in] + [b_l in].
  template <class T>
  T block_scale(Index l, T a_norm_sq) const {
    return (weights[l] ? a_norm_sq : T(0)) + (biases[l] ? T(1) : T(0));
  }
  bool any(Index l) const { return weights[l] || biases[l]; }
};

}  // namespace weightnoise
