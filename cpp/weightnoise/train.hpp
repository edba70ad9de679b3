// Minibatch training on one of three objectives, on the same minibatches:
//   plain    J
//   penalty  J + η·Ω (exact gradient through the R-operator)
//   noise    J̃_η: a fresh perturbation at every presentation (per minibatch
//            for shared noise, per example for per_example and local noise);
//            the gradient is the exact gradient of the perturbed loss.
// Optimizers: SGD with momentum and Adam, as PyTorch defines them.
#pragma once

#include "weightnoise/noise.hpp"

namespace weightnoise {

enum class Objective : int { plain = 0, penalty = 1, noise = 2 };
enum class Optimizer : int { sgd = 0, adam = 1 };

template <class T>
struct TrainSpec {
  Objective objective;
  NoiseSpec<T> noise;  // η (which also weights the penalty), mode, seed, subset; antithetic unused
  Optimizer optimizer;
  T lr;
  T momentum;          // SGD
  T beta1, beta2, epsilon;  // Adam
  Index batch_size;
  std::uint64_t seed;  // minibatch order
};

template <class T>
struct OptimizerState {
  Index step = 0;        // steps taken (Adam's t; shared noise draws by step)
  RowMatrix<T> moments;  // (1, P) SGD velocity, or (2, P) Adam first and second moments
};

// Rows per chunk of a minibatch: small, so a batch of 256 still spreads over threads.
constexpr Index kTrainChunkRows = 64;

// order (N) = the order in which epoch `epoch` presents the examples: a
// stable argsort of the uniforms of stream (seed, minibatch, epoch, 0).
void epoch_order(std::uint64_t seed, Index epoch, Index N, Index* order);

// grad (P) = ∇_θ of the objective on the batch X[ids], y[ids] (mean over the
// batch); ids also name the examples' noise streams (per-example draws are
// (epoch, id), shared draws are `step`). Returns Σ r_n² over the batch, with
// the perturbed residuals under noise.
template <class T>
T objective_grad(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const Index* ids, Index rows,
                 const TrainSpec<T>& spec, Index epoch, Index step, T* grad);

// One optimizer update of params with grad; state.step advances.
template <class T>
void optimizer_update(const TrainSpec<T>& spec, OptimizerState<T>& state, T* params, const T* grad);

// One epoch of minibatch steps. params and state change only if the epoch
// completes; returns false (nothing changed) when the call's Cancel stops it.
// mean_loss = (1/N) Σ over the epoch's presentations of r_n².
template <class T>
bool train_epoch(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const TrainSpec<T>& spec,
                 Index epoch, VectorRef<T> params, OptimizerState<T>& state, T& mean_loss);

}  // namespace weightnoise
