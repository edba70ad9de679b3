#include "weightnoise/noise.hpp"

#include "weightnoise/chunk.hpp"
#include "weightnoise/random.hpp"

#include <cmath>

namespace weightnoise {

namespace {

inline std::uint32_t u32(Index i) { return std::uint32_t(i); }

// Buffers of one thread: the + and − passes of a draw, and its noise.
template <class T>
struct NoiseState {
  ChunkState<T> plus, minus;
  RowMatrix<T> xi;  // (B, local_width) local noise ξ of the chunk's examples
  Vector<T> eps;    // (max block) one example's ε for one layer: W block then b block
  Vector<T> u;      // (max d) one example's E a + e
  Vector<T> scale;  // (B) √η √(‖a_l‖²·[W_l] + [b_l])
  explicit NoiseState(const Layout& layout)
      : plus(layout), minus(layout), xi(kChunkRows, local_width(layout)),
        eps(layout.max_width() * (layout.max_width() + 1)), u(layout.max_width()), scale(kChunkRows) {}
};

// Σ_n (ŷ_n − y_n)² over the chunk, from a finished forward pass.
template <class T, class Y>
T squared_residuals(const ChunkState<T>& s, const Eigen::MatrixBase<Y>& y) {
  return (s.output() - y).squaredNorm();
}

// Local reparameterization: z_l += sign · √η √(‖a_l‖²·[W_l] + [b_l]) ⊙ ξ_l, per example.
template <class T>
auto local_noise(const Layout& layout, const NoiseSpec<T>& spec, ChunkState<T>& s, NoiseState<T>& ns, T sign) {
  return [&layout, &spec, &s, &ns, sign](Index l, auto& z) {
    if (!spec.subset.any(l)) return;
    const T w = spec.subset.weights[l] ? T(1) : T(0), b = spec.subset.biases[l] ? T(1) : T(0);
    auto scale = ns.scale.head(s.rows);
    scale = (sign * std::sqrt(spec.eta)) * (w * s.top(s.a[l]).rowwise().squaredNorm().array() + b).sqrt().matrix();
    z.array() += ns.xi.topRows(s.rows).middleCols(local_offset(layout, l), layout.fan_out(l)).array().colwise() *
                 scale.array();
  };
}

// Per-example weight noise, sampled literally: for each example and layer,
// ε's W block E and b block e, then z_l += ±√η (E a_l + e) for the + and − passes.
template <class T>
void add_example_noise(const Network<T>& net, const NoiseSpec<T>& spec, Index draw, Index begin, Index l,
                       NoiseState<T>& ns) {
  const Layout& layout = net.layout;
  const Index d_out = layout.fan_out(l), d_in = layout.fan_in(l);
  const bool w_on = spec.subset.weights[l], b_on = spec.subset.biases[l];
  const T root_eta = std::sqrt(spec.eta);
  Eigen::Map<RowMatrix<T>> E(ns.eps.data(), d_out, d_in);
  Eigen::Map<Vector<T>> e(ns.eps.data() + d_out * d_in, d_out);
  auto u = ns.u.head(d_out);
  for (Index n = 0; n < ns.plus.rows; ++n) {
    const Stream stream{spec.seed, Purpose::example_noise, u32(draw), u32(begin + n)};
    if (w_on) fill_normal(stream, std::uint64_t(layout.weight_offset(l)), E.data(), d_out * d_in);
    if (b_on) fill_normal(stream, std::uint64_t(layout.bias_offset(l)), e.data(), d_out);
    for (int pass = 0; pass < (spec.antithetic ? 2 : 1); ++pass) {
      ChunkState<T>& s = pass == 0 ? ns.plus : ns.minus;
      if (w_on) u.noalias() = E * s.a[l].row(n).transpose();
      else u.setZero();
      if (b_on) u += e;
      s.z[l].row(n) += ((pass == 0 ? root_eta : -root_eta) * u).transpose();
    }
  }
}

// Σ_n over the chunk of the squared residuals of draw k (+ pass, plus − pass when antithetic).
template <class T, class X, class Y>
T chunk_perturbed_loss(const Network<T>& net, const Network<T>& net_minus, const NoiseSpec<T>& spec, Index draw,
                       Index begin, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, NoiseState<T>& ns) {
  const Layout& layout = net.layout;
  const Index rows = x.rows();
  const int passes = spec.antithetic ? 2 : 1;
  switch (spec.mode) {
    case NoiseMode::shared:
      // net and net_minus already carry θ ± √η ε_k.
      forward(net, x, ns.plus, false);
      if (passes == 2) forward(net_minus, x, ns.minus, false);
      break;
    case NoiseMode::local: {
      const Index width = local_width(layout);
      for (Index n = 0; n < rows; ++n)
        fill_normal(Stream{spec.seed, Purpose::local_noise, u32(draw), u32(begin + n)}, 0, ns.xi.row(n).data(), width);
      forward(net, x, ns.plus, false, local_noise(layout, spec, ns.plus, ns, T(1)));
      if (passes == 2) forward(net, x, ns.minus, false, local_noise(layout, spec, ns.minus, ns, T(-1)));
      break;
    }
    case NoiseMode::per_example: {
      // The + and − passes run in lockstep so each ε block is drawn once.
      for (int pass = 0; pass < passes; ++pass) {
        ChunkState<T>& s = pass == 0 ? ns.plus : ns.minus;
        s.rows = rows;
        s.top(s.a[0]) = x;
      }
      for (Index l = 0; l < net.n_layers(); ++l) {
        for (int pass = 0; pass < passes; ++pass) affine(net, pass == 0 ? ns.plus : ns.minus, l);
        if (spec.subset.any(l)) add_example_noise(net, spec, draw, begin, l, ns);
        if (l + 1 < net.n_layers())
          for (int pass = 0; pass < passes; ++pass) activate_layer(net, pass == 0 ? ns.plus : ns.minus, l, false);
      }
      break;
    }
  }
  T sum = squared_residuals(ns.plus, y);
  if (passes == 2) sum += squared_residuals(ns.minus, y);
  return sum;
}

}  // namespace

template <class T>
void perturb(const Network<T>& net, const NoiseSpec<T>& spec, Index draw, T sign, T* out) {
  const Layout& layout = net.layout;
  const Index P = layout.n_params();
  Eigen::Map<Vector<T>> theta(out, P);
  fill_normal(Stream{spec.seed, Purpose::shared_noise, u32(draw), 0}, 0, out, P, sign * std::sqrt(spec.eta));
  for (Index l = 0; l < layout.n_layers(); ++l) {
    if (!spec.subset.weights[l]) layout.weight(out, l).setZero();
    if (!spec.subset.biases[l]) layout.bias(out, l).setZero();
  }
  theta += Eigen::Map<const Vector<T>>(net.params, P);
}

template <class T>
bool perturbed_losses(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const NoiseSpec<T>& spec,
                      Index first_draw, VectorRef<T> out, const Interrupt& stop) {
  const Index N = X.rows(), P = net.layout.n_params();
  auto states = per_thread<NoiseState<T>>(net.layout);
  Vector<T> theta_plus(P), theta_minus(P);
  Network<T> net_plus = net, net_minus = net;
  if (spec.mode == NoiseMode::shared) {
    net_plus.params = theta_plus.data();
    net_minus.params = theta_minus.data();
  }
  for (Index k = 0; k < out.size(); ++k) {
    if (k > 0 && stop && stop()) return false;
    const Index draw = first_draw + k;
    if (spec.mode == NoiseMode::shared) {
      perturb(net, spec, draw, T(1), theta_plus.data());
      if (spec.antithetic) perturb(net, spec, draw, T(-1), theta_minus.data());
    }
    T sum;
    const bool done = sum_over_chunks<T>(N, 1, &sum, [&](Index begin, Index rows, int t, T* partial) {
      *partial = chunk_perturbed_loss(net_plus, net_minus, spec, draw, begin, X.middleRows(begin, rows),
                                      y.segment(begin, rows), states[t]);
    }, stop);
    if (!done) return false;
    out[k] = sum / T(N * (spec.antithetic ? 2 : 1));
  }
  return true;
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                         \
  template void perturb<T>(const Network<T>&, const NoiseSpec<T>&, Index, T, T*);                          \
  template bool perturbed_losses<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, const NoiseSpec<T>&, \
                                    Index, VectorRef<T>, const Interrupt&);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
