#include "weightnoise/train.hpp"

#include "weightnoise/noise_passes.hpp"
#include "weightnoise/roperator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace weightnoise {

// The stable argsort of the keys, uniforms on [0, 1): a counting sort on
// their leading bits (about one key per bucket, indices placed in ascending
// order), then an insertion sort inside each bucket. O(N) where a comparison
// sort through keys[] took 6.6 ms for N = 65,536 (a tenth of a W6 epoch).
void epoch_order(std::uint64_t seed, Index epoch, Index N, Index* order) {
  std::vector<double> keys(N);
  fill_uniform(Stream{seed, Purpose::minibatch, u32(epoch), 0}, 0, keys.data(), N);
  int bits = 1;
  while (bits < 22 && (Index(1) << bits) < N) ++bits;
  const double buckets = std::ldexp(1.0, bits);  // keys[i] · 2^bits is exact: its floor is the bucket
  std::vector<Index> start((std::size_t(1) << bits) + 1, 0);
  for (Index i = 0; i < N; ++i) ++start[std::size_t(keys[i] * buckets) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<Index> next(start.begin(), start.end() - 1);
  for (Index i = 0; i < N; ++i) order[next[std::size_t(keys[i] * buckets)]++] = i;
  const auto by_key = [&keys](Index a, Index b) { return keys[a] < keys[b]; };
  for (std::size_t b = 0; b + 1 < start.size(); ++b) {
    Index* first = order + start[b];
    Index* last = order + start[b + 1];
    if (last - first > 32) {  // only for keys far from uniform
      std::stable_sort(first, last, by_key);
      continue;
    }
    for (Index* it = first + 1; it < last; ++it)  // insertion sort: equal keys keep their order
      for (Index* j = it; j > first && by_key(*j, *(j - 1)); --j) std::swap(*j, *(j - 1));
  }
}

namespace {

// Buffers of one thread for every objective.
template <class T>
struct TrainState {
  NoiseState<T> noise;  // noise.plus is the chunk's pass for every objective
  PenaltyState<T> penalty;
  explicit TrainState(const Layout& layout) : noise(layout), penalty(layout) {}
};

// Σ r² of the chunk; its contribution to the batch gradient goes into partial (P), or is added with add.
template <class T, class Ids>
T chunk_objective_grad(const Network<T>& net, const Network<T>& net_shared, ConstMatrixRef<T> X,
                       ConstVectorRef<T> y, Ids&& ids, Index rows, const TrainSpec<T>& spec, Index epoch,
                       T batch_scale, TrainState<T>& ts, T* partial, bool add) {
  NoiseState<T>& ns = ts.noise;
  ChunkState<T>& s = ns.plus;
  const NoiseSpec<T>& noise = spec.noise;
  const Purpose purpose = noise_purpose(noise.mode, true);
  Eigen::Map<const Eigen::Matrix<Index, Eigen::Dynamic, 1>> idx(&ids(0), rows);
  const auto x = X(idx, Eigen::all);
  const Network<T>* at = &net;
  if (spec.objective != Objective::noise) {
    forward(net, x, s, spec.objective == Objective::penalty ? r_derivatives(net.activation) : Derivatives::first);
    backward(net, s);
  } else if (noise.mode == NoiseMode::shared) {
    // θ + ε of this minibatch: the gradient at θ + ε is the gradient with respect to θ.
    at = &net_shared;
    forward(net_shared, x, s, Derivatives::first);
    backward(net_shared, s);
  } else if (noise.mode == NoiseMode::local) {
    draw_local_noise(noise, purpose, epoch, rows, ids, local_width(net.layout), ns);
    forward(net, x, s, Derivatives::first, local_forward_noise(net.layout, noise, s, ns, T(1)));
    backward(net, s, local_backward_noise(net.layout, noise, s, ns, T(1)));
  } else {
    s.rows = rows;
    s.top(s.a[0]) = x;
    for (Index l = 0; l < net.n_layers(); ++l) {
      affine(net, s, l);
      if (noise.subset.any(l)) add_example_noise(net, noise, purpose, epoch, ids, l, 1, ns);
      if (l + 1 < net.n_layers()) activate_layer(net, s, l, Derivatives::first);
    }
    backward(net, s, example_backward_noise(net, noise, purpose, epoch, ids, s, ns));
  }
  auto r = s.residual.head(rows);
  r = s.output() - y(idx);
  if (spec.objective == Objective::penalty)
    vjp_and_penalty_grad(net, s, ts.penalty, noise.subset, (T(2) * batch_scale) * r, T(2) * noise.eta * batch_scale,
                         partial, add);
  else
    write_vjp(*at, s, (T(2) * batch_scale) * r, partial, add);
  return r.squaredNorm();
}

// Σ r² of the batch; total (P + 1) = the batch gradient and that sum. finish
// runs on each block of the total as sum_over_chunks finishes it.
template <class T, class Finish = NoFinish>
T objective_grad_with(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const Index* ids,
                      Index rows, const TrainSpec<T>& spec, Index epoch, Index step,
                      std::vector<TrainState<T>>& states, Vector<T>& shared_params, Network<T>& net_shared,
                      Vector<T>& total, Finish&& finish = Finish{}) {
  const Index P = net.layout.n_params();
  if (spec.objective == Objective::noise && spec.noise.mode == NoiseMode::shared) {
    perturb(net, spec.noise, step, T(1), shared_params.data(), Purpose::train_shared_noise);
    net_shared.set_params(shared_params.data());
  }
  sum_over_chunks<T>(rows, P + 1, total.data(), [&](Index begin, Index chunk, int t, T* partial, bool add) {
    const auto chunk_ids = [ids, begin](Index n) -> const Index& { return ids[begin + n]; };
    put_partial(partial[P], chunk_objective_grad(net, net_shared, X, y, chunk_ids, chunk, spec, epoch,
                                                 T(1) / T(rows), states[t], partial, add), add);
  }, kTrainChunkRows, finish);
  return total[P];
}

// An optimizer update is elementwise once its step's scalars are known, so it
// runs a block of kSumBlock entries at a time: train_epoch applies it to each
// block of the batch gradient as the parallel sum finishes that block, and
// optimizer_update goes through the same blocks, so the two agree bitwise.
template <class T>
struct StepScalars {
  T correction1 = T(1), correction2 = T(1);  // Adam's bias corrections
};

// Advances state.step; the scalars of that step.
template <class T>
StepScalars<T> begin_update(const TrainSpec<T>& spec, OptimizerState<T>& state) {
  state.step += 1;
  if (spec.optimizer == Optimizer::sgd) return {};
  return {T(1) - std::pow(spec.beta1, T(state.step)), T(1) - std::pow(spec.beta2, T(state.step))};
}

// The update of params[begin, end) and their moments from grad[begin, end).
template <class T>
void update_entries(const TrainSpec<T>& spec, OptimizerState<T>& state, const StepScalars<T>& scalars, T* params,
                    const T* grad, Index begin, Index end) {
  const Index n = end - begin;
  Eigen::Map<Vector<T>> theta(params + begin, n);
  Eigen::Map<const Vector<T>> g(grad + begin, n);
  if (spec.optimizer == Optimizer::sgd) {
    // PyTorch SGD: v ← μ v + g, θ ← θ − lr v (v = g without momentum).
    auto v = state.moments.row(0).segment(begin, n).transpose();
    v = spec.momentum * v + g;
    theta -= spec.lr * v;
    return;
  }
  // Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr m̂ / (√v̂ + ε).
  auto m = state.moments.row(0).segment(begin, n).transpose();
  auto v = state.moments.row(1).segment(begin, n).transpose();
  m = spec.beta1 * m + (T(1) - spec.beta1) * g;
  v = spec.beta2 * v + (T(1) - spec.beta2) * g.cwiseProduct(g);
  theta.array() -=
      spec.lr * (m.array() / scalars.correction1) / ((v.array() / scalars.correction2).sqrt() + spec.epsilon);
}

}  // namespace

template <class T>
T objective_grad(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const Index* ids, Index rows,
                 const TrainSpec<T>& spec, Index epoch, Index step, T* grad) {
  const Index P = net.layout.n_params();
  auto states = per_thread<TrainState<T>>(net.layout);
  Vector<T> shared_params(P), total(P + 1);
  Network<T> net_shared = net;
  const T loss_sum =
      objective_grad_with(net, X, y, ids, rows, spec, epoch, step, states, shared_params, net_shared, total);
  std::copy(total.data(), total.data() + P, grad);
  return loss_sum;
}

template <class T>
void optimizer_update(const TrainSpec<T>& spec, OptimizerState<T>& state, T* params, const T* grad) {
  const Index P = state.moments.cols();
  const StepScalars<T> scalars = begin_update(spec, state);
  for (Index begin = 0; begin < P; begin += kSumBlock)
    update_entries(spec, state, scalars, params, grad, begin, std::min(P, begin + kSumBlock));
}

template <class T>
bool train_epoch(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const TrainSpec<T>& spec,
                 Index epoch, VectorRef<T> params, OptimizerState<T>& state, T& mean_loss) {
  const Index N = X.rows(), P = net.layout.n_params();
  std::vector<Index> order(N);
  epoch_order(spec.seed, epoch, N, order.data());
  // Work on copies; commit only a finished epoch.
  Vector<T> theta = params;
  OptimizerState<T> working = state;
  Network<T> at = net, at_shared = net;  // at θ, and at θ + ε under shared noise
  auto states = per_thread<TrainState<T>>(net.layout);
  Vector<T> shared_params(P), total(P + 1);
  T loss_sum = 0;
  const StopToken stop;
  for (Index begin = 0; begin < N; begin += spec.batch_size) {
    if (begin > 0 && stop.poll()) return false;
    const Index rows = std::min(spec.batch_size, N - begin);
    const Index step = working.step;  // shared noise draws by the step before the update
    const StepScalars<T> scalars = begin_update(spec, working);
    at.set_params(theta.data());  // the last step updated θ in place: repack
    // Every chunk has read θ before the first block is updated: the chunks' loop ends in a barrier.
    loss_sum += objective_grad_with(at, X, y, order.data() + begin, rows, spec, epoch, step, states, shared_params,
                                    at_shared, total, [&](Index j0, Index j1) {
                                      if (j0 < P)
                                        update_entries(spec, working, scalars, theta.data(), total.data(), j0,
                                                       std::min(j1, P));
                                    });
    if (stop.stopped()) return false;  // that step is incomplete
  }
  params = theta;
  state = working;
  mean_loss = loss_sum / T(N);
  return true;
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                                 \
  template T objective_grad<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, const Index*, Index,      \
                               const TrainSpec<T>&, Index, Index, T*);                                            \
  template void optimizer_update<T>(const TrainSpec<T>&, OptimizerState<T>&, T*, const T*);                       \
  template bool train_epoch<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, const TrainSpec<T>&, Index, \
                               VectorRef<T>, OptimizerState<T>&, T&);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
