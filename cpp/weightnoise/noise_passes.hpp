// The noisy forward and backward passes over one chunk, shared by the Monte
// Carlo estimators (noise.cpp) and the noise-injection training (train.cpp).
//
// Rows of a chunk are examples with stream items ids(n): the example index for
// an estimate, the index in the data set for a training minibatch.
#pragma once

#include "weightnoise/chunk.hpp"
#include "weightnoise/noise.hpp"
#include "weightnoise/random.hpp"

#include <cmath>

namespace weightnoise {

// Estimators and training draw from different streams of one seed.
inline Purpose noise_purpose(NoiseMode mode, bool training) {
  switch (mode) {
    case NoiseMode::shared: return training ? Purpose::train_shared_noise : Purpose::shared_noise;
    case NoiseMode::per_example: return training ? Purpose::train_example_noise : Purpose::example_noise;
    case NoiseMode::local: break;
  }
  return training ? Purpose::train_local_noise : Purpose::local_noise;
}

inline std::uint32_t u32(Index i) { return std::uint32_t(i); }

// Buffers of one thread: the + and − passes of a draw, and its noise.
template <class T>
struct NoiseState {
  ChunkState<T> plus, minus;
  RowMatrix<T> xi;           // (B, local_width rounded up to even) local noise ξ of the chunk's examples:
                             // whole blocks of normals per row, generated in place (fill_normal_rows)
  RowMatrix<T> local_scale;  // (B, L) c_l = √η √(‖a_l‖²·[W_l] + [b_l]) of the + pass
  Vector<T> eps;             // (max block) one example's ε for one layer: W block then b block
  Vector<T> u;               // (max d) one example's E a + e, or Eᵀ δ
  explicit NoiseState(const Layout& layout)
      : plus(layout), minus(layout), xi(kChunkRows, (local_width(layout) + 1) / 2 * 2),
        local_scale(kChunkRows, layout.n_layers()),
        eps(layout.max_width() * (layout.max_width() + 1)), u(layout.max_width()) {}
};

// ξ_{k,n} of every row of the chunk (rows of ns.xi).
template <class T, class Ids>
void draw_local_noise(const NoiseSpec<T>& spec, Purpose purpose, Index draw, Index rows, Ids&& ids,
                      Index width, NoiseState<T>& ns) {
  fill_normal_rows(Stream{spec.seed, purpose, u32(draw), 0}, [&ids](Index n) { return u32(ids(n)); }, rows, width,
                   ns.xi.data(), ns.xi.cols());
}

// Local reparameterization, forward: z_l += sign · c_l ⊙ ξ_l with
// c_l = √η √(‖a_l‖²·[W_l] + [b_l]) per example (kept in local_scale for backward).
template <class T>
auto local_forward_noise(const Layout& layout, const NoiseSpec<T>& spec, ChunkState<T>& s, NoiseState<T>& ns,
                         T sign) {
  return [&layout, &spec, &s, &ns, sign](Index l, auto& z) {
    if (!spec.subset.any(l)) return;
    const T w = spec.subset.weights[l] ? T(1) : T(0), b = spec.subset.biases[l] ? T(1) : T(0);
    auto c = ns.local_scale.col(l).head(s.rows);
    c = std::sqrt(spec.eta) * (w * s.top(s.a[l]).rowwise().squaredNorm().array() + b).sqrt().matrix();
    z.array() += ns.xi.topRows(s.rows).middleCols(local_offset(layout, l), layout.fan_out(l)).array().colwise() *
                 (sign * c.array());
  };
}

// Local reparameterization, backward: c_l depends on a_l, ∂c_l/∂a_l = η [W_l] a_l / c_l, so
// ∂ŷ/∂a_l gains sign · (δ_l · ξ_l) η [W_l] / c_l · a_l (zero where c_l = 0).
template <class T>
auto local_backward_noise(const Layout& layout, const NoiseSpec<T>& spec, ChunkState<T>& s, NoiseState<T>& ns,
                          T sign) {
  return [&layout, &spec, &s, &ns, sign](Index l, auto& g) {
    if (!spec.subset.weights[l]) return;
    for (Index n = 0; n < s.rows; ++n) {
      const T c = ns.local_scale(n, l);
      if (!(c > T(0))) continue;
      const T xi_dot_delta =
          ns.xi.row(n).segment(local_offset(layout, l), layout.fan_out(l)).dot(s.delta[l].row(n));
      g.row(n) += (sign * spec.eta * xi_dot_delta / c) * s.a[l].row(n);
    }
  };
}

// Per-example weight noise, forward, sampled literally: for each row and its
// ε_{k,n} blocks E (W_l) and e (b_l), z_l += ±√η (E a_l + e) in the + pass (and
// the − pass when antithetic, which runs in lockstep so each ε is drawn once).
template <class T, class Ids>
void add_example_noise(const Network<T>& net, const NoiseSpec<T>& spec, Purpose purpose, Index draw, Ids&& ids,
                       Index l, int passes, NoiseState<T>& ns) {
  const Layout& layout = net.layout;
  const Index d_out = layout.fan_out(l), d_in = layout.fan_in(l);
  const bool w_on = spec.subset.weights[l], b_on = spec.subset.biases[l];
  const T root_eta = std::sqrt(spec.eta);
  Eigen::Map<RowMatrix<T>> E(ns.eps.data(), d_out, d_in);
  Eigen::Map<Vector<T>> e(ns.eps.data() + d_out * d_in, d_out);
  auto u = ns.u.head(d_out);
  for (Index n = 0; n < ns.plus.rows; ++n) {
    const Stream stream{spec.seed, purpose, u32(draw), u32(ids(n))};
    if (w_on) fill_normal(stream, std::uint64_t(layout.weight_offset(l)), E.data(), d_out * d_in);
    if (b_on) fill_normal(stream, std::uint64_t(layout.bias_offset(l)), e.data(), d_out);
    for (int pass = 0; pass < passes; ++pass) {
      ChunkState<T>& s = pass == 0 ? ns.plus : ns.minus;
      if (w_on) u.noalias() = E * s.a[l].row(n).transpose();
      else u.setZero();
      if (b_on) u += e;
      s.z[l].row(n) += ((pass == 0 ? root_eta : -root_eta) * u).transpose();
    }
  }
}

// Per-example weight noise, backward: ∂ŷ/∂a_l through W_l + √η E_{l,n} gains √η E_{l,n}ᵀ δ_l
// (E redrawn from its stream: counter-based, so it is the same E).
template <class T, class Ids>
auto example_backward_noise(const Network<T>& net, const NoiseSpec<T>& spec, Purpose purpose, Index draw,
                            Ids ids, ChunkState<T>& s, NoiseState<T>& ns) {
  return [&net, &spec, purpose, draw, ids, &s, &ns](Index l, auto& g) {
    if (!spec.subset.weights[l]) return;
    const Layout& layout = net.layout;
    const Index d_out = layout.fan_out(l), d_in = layout.fan_in(l);
    Eigen::Map<RowMatrix<T>> E(ns.eps.data(), d_out, d_in);
    auto u = ns.u.head(d_in);
    for (Index n = 0; n < s.rows; ++n) {
      fill_normal(Stream{spec.seed, purpose, u32(draw), u32(ids(n))}, std::uint64_t(layout.weight_offset(l)),
                  E.data(), d_out * d_in);
      u.noalias() = E.transpose() * s.delta[l].row(n).transpose();
      g.row(n) += std::sqrt(spec.eta) * u.transpose();
    }
  };
}

}  // namespace weightnoise
