"""One epoch of minibatch SGD in NumPy, for every W6 objective, with the gradients of the other NumPy peers.

A noise source is a callable step → noise for that minibatch: ε (P,) for
shared noise, ε (B, P) for per-example noise, [ξ_l (B, d_{l+1})] for local
noise. The checks pass the same fixed noise to every loop.
"""

from __future__ import annotations

import numpy as np

from ..problems import split_layers
from . import numpy_noise, numpy_rank_one

OBJECTIVES = ("plain", "penalty", "noise per_example", "noise local", "noise shared")


def batch_order(n_examples: int, seed: int = 0) -> np.ndarray:
    """The example order of one epoch, shared by the NumPy and PyTorch loops."""
    return np.random.default_rng(seed).permutation(n_examples)


def noise_source(objective: str, sizes, batch: int, dtype, seed: int = 0):
    """Fresh noise at every step from default_rng, in the form the objective takes; None for plain/penalty."""
    if not objective.startswith("noise"):
        return None
    rng = np.random.default_rng(seed)
    n_params = sum(d_out * (d_in + 1) for d_in, d_out in zip(sizes[:-1], sizes[1:]))
    mode = objective.split()[1]
    if mode == "shared":
        return lambda step: rng.standard_normal(n_params, dtype=dtype)
    if mode == "per_example":
        buffer = np.empty((batch, n_params), dtype=dtype)
        return lambda step: rng.standard_normal(out=buffer, dtype=dtype)
    return lambda step: [rng.standard_normal((batch, d), dtype=dtype) for d in sizes[1:]]


def minibatch_grad(objective: str, sizes, params, X, y, eta: float, noise) -> np.ndarray:
    if objective == "plain":
        return numpy_rank_one.loss_grad(split_layers(sizes, params), X, y)
    if objective == "penalty":
        return numpy_rank_one.penalty_and_grad(split_layers(sizes, params), X, y, eta)[1]
    mode = objective.split()[1]
    grad = {"shared": numpy_noise.shared_noise_grad, "per_example": numpy_noise.literal_noise_grad,
            "local": numpy_noise.local_noise_grad}[mode]
    return grad(sizes, params, X, y, eta, noise)


def sgd_epoch(problem, objective: str, eta: float, lr: float, batch: int, n_batches: int, order: np.ndarray,
              noise=None) -> np.ndarray:
    """Parameters after n_batches SGD steps θ ← θ − lr ∇ on the minibatches order[i·B:(i+1)·B]."""
    params = problem.params.copy()
    for step in range(n_batches):
        idx = order[step * batch:(step + 1) * batch]
        draw = noise(step) if noise is not None else None
        params -= lr * minibatch_grad(objective, problem.sizes, params, problem.X[idx], problem.y[idx], eta, draw)
    return params
