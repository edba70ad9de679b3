// The network: layer sizes, activation, and views of a flat parameter vector.
//
// Layer l (0-based, l = 0 … L−1) maps a_l ∈ R^{d_l} to
//   z_l = W_l a_l + b_l,   W_l: (d_{l+1}, d_l) row-major,   b_l: (d_{l+1})
// with a_{l+1} = σ(z_l) for l < L−1 and the scalar output ŷ = z_{L−1}.
// Flat order: W_0 (row-major), b_0, W_1, b_1, …  (torch.nn.Linear order).
#pragma once

#include "weightnoise/activation.hpp"
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

// A read-only network over a parameter vector owned elsewhere (a NumPy array).
template <class T>
struct Network {
  Layout layout;
  Activation activation;
  const T* params;

  Index n_layers() const { return layout.n_layers(); }
  auto weight(Index l) const { return layout.weight(params, l); }
  auto bias(Index l) const { return layout.bias(params, l); }
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
