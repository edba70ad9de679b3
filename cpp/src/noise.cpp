#include "weightnoise/noise.hpp"

#include "weightnoise/noise_passes.hpp"

#include <cmath>

namespace weightnoise {

namespace {

// Σ_n (ŷ_n − y_n)² over the chunk, from a finished forward pass.
template <class T, class Y>
T squared_residuals(const ChunkState<T>& s, const Eigen::MatrixBase<Y>& y) {
  return (s.output() - y).squaredNorm();
}

// Σ_n over the chunk of the squared residuals of draw k (+ pass, plus − pass when antithetic).
template <class T, class X, class Y>
T chunk_perturbed_loss(const Network<T>& net, const Network<T>& net_minus, const NoiseSpec<T>& spec, Index draw,
                       Index begin, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y, NoiseState<T>& ns) {
  const Layout& layout = net.layout;
  const Index rows = x.rows();
  const int passes = spec.antithetic ? 2 : 1;
  const auto ids = [begin](Index n) { return begin + n; };
  const Purpose purpose = noise_purpose(spec.mode, false);
  switch (spec.mode) {
    case NoiseMode::shared:
      // net and net_minus already carry θ ± √η ε_k.
      forward(net, x, ns.plus, Derivatives::none);
      if (passes == 2) forward(net_minus, x, ns.minus, Derivatives::none);
      break;
    case NoiseMode::local: {
      draw_local_noise(spec, purpose, draw, rows, ids, local_width(layout), ns);
      forward(net, x, ns.plus, Derivatives::none, local_forward_noise(layout, spec, ns.plus, ns, T(1)));
      if (passes == 2)
        forward(net, x, ns.minus, Derivatives::none, local_forward_noise(layout, spec, ns.minus, ns, T(-1)));
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
        if (spec.subset.any(l)) add_example_noise(net, spec, purpose, draw, ids, l, passes, ns);
        if (l + 1 < net.n_layers())
          for (int pass = 0; pass < passes; ++pass)
            activate_layer(net, pass == 0 ? ns.plus : ns.minus, l, Derivatives::none);
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
void perturb(const Network<T>& net, const NoiseSpec<T>& spec, Index draw, T sign, T* out, Purpose purpose) {
  const Layout& layout = net.layout;
  const Index P = layout.n_params();
  Eigen::Map<Vector<T>> theta(out, P);
  fill_normal(Stream{spec.seed, purpose, u32(draw), 0}, 0, out, P, sign * std::sqrt(spec.eta));
  for (Index l = 0; l < layout.n_layers(); ++l) {
    if (!spec.subset.weights[l]) layout.weight(out, l).setZero();
    if (!spec.subset.biases[l]) layout.bias(out, l).setZero();
  }
  theta += Eigen::Map<const Vector<T>>(net.params(), P);
}

template <class T>
bool perturbed_losses(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const NoiseSpec<T>& spec,
                      Index first_draw, VectorRef<T> out) {
  const Index N = X.rows(), P = net.layout.n_params(), K = out.size(), chunks = n_chunks(N);
  const bool shared = spec.mode == NoiseMode::shared;
  // Every (draw, chunk) pair is a task with its own partial sum, so few
  // examples with many draws spread over threads as well as many examples do.
  // Tasks run in waves (Ctrl-C is polled between them); under shared noise a
  // wave's draws hold their θ ± √η ε_k and the networks packed from them
  // (about P each), within a memory budget.
  constexpr Index kWaveTasks = 256, kBudgetBytes = Index(64) << 20;
  const Index max_draws = shared ? std::max<Index>(1, kBudgetBytes / (4 * P * Index(sizeof(T)))) : K;
  const Index wave = std::max<Index>(1, std::min(kWaveTasks, (max_draws - 1) * chunks + 1));
  const Index wave_draws = std::min(K, (wave + chunks - 1) / chunks + 1);  // draws a wave can touch
  RowMatrix<T> theta_plus(shared ? wave_draws : 0, P), theta_minus(shared && spec.antithetic ? wave_draws : 0, P);
  // The networks at a wave's θ ± √η ε_k, packed once per draw for all its chunks.
  std::vector<Network<T>> plus_nets(theta_plus.rows(), net), minus_nets(theta_minus.rows(), net);
  auto states = per_thread<NoiseState<T>>(net.layout);
  Vector<T> sums(K * chunks);
  const StopToken stop;
  for (Index t0 = 0; t0 < K * chunks; t0 += wave) {
    if (stop.poll()) return false;
    const Index t1 = std::min(K * chunks, t0 + wave), k0 = t0 / chunks, k1 = (t1 - 1) / chunks + 1;
#pragma omp parallel num_threads(threads_for(t1 - t0))
    {
      if (shared) {
#pragma omp for schedule(static)
        for (Index k = k0; k < k1; ++k) {
          perturb(net, spec, first_draw + k, T(1), theta_plus.row(k - k0).data());
          plus_nets[k - k0].set_params(theta_plus.row(k - k0).data());
          if (spec.antithetic) {
            perturb(net, spec, first_draw + k, T(-1), theta_minus.row(k - k0).data());
            minus_nets[k - k0].set_params(theta_minus.row(k - k0).data());
          }
        }
      }
#pragma omp for schedule(static)
      for (Index task = t0; task < t1; ++task) {
        if (stop.stopped()) continue;
        const Index k = task / chunks, begin = (task % chunks) * kChunkRows, rows = std::min(kChunkRows, N - begin);
        const Network<T>& plus = shared ? plus_nets[k - k0] : net;
        const Network<T>& minus = shared && spec.antithetic ? minus_nets[k - k0] : net;
        sums[task] = chunk_perturbed_loss(plus, minus, spec, first_draw + k, begin, X.middleRows(begin, rows),
                                          y.segment(begin, rows), states[omp_get_thread_num()]);
        stop.after_piece();
      }
    }
  }
  if (stop.stopped()) return false;
  // Each draw's chunks in chunk order: the same sums for any thread count.
  for (Index k = 0; k < K; ++k) {
    T sum = 0;
    for (Index c = 0; c < chunks; ++c) sum += sums[k * chunks + c];
    out[k] = sum / T(N * (spec.antithetic ? 2 : 1));
  }
  return true;
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                         \
  template void perturb<T>(const Network<T>&, const NoiseSpec<T>&, Index, T, T*, Purpose);                          \
  template bool perturbed_losses<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, const NoiseSpec<T>&, \
                                    Index, VectorRef<T>);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
