"""PyTorch weight noise: K perturbed forward passes (shared), literal per-example noise by bmm, local noise.

The *_given functions take the noise (as NumPy arrays) and are deterministic,
for the checks; the estimators draw their own with torch.randn.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .numpy_noise import LITERAL_CHUNK, per_example_stats
from .torch_common import forward, generator, split, tensors


def _stats_shared(losses: torch.Tensor) -> tuple[float, float]:
    K = losses.shape[0]
    return float(losses.mean()), float(losses.std() / math.sqrt(K)) if K > 1 else math.inf


@torch.no_grad()
def shared_losses_given(problem, eta: float, eps: np.ndarray) -> np.ndarray:
    """(K,) losses at θ + √η ε_k, one forward pass each."""
    _, X, y = tensors(problem)
    theta = torch.from_numpy(problem.params)
    E = torch.from_numpy(eps)
    return np.array([float((forward(split(problem.sizes, theta + math.sqrt(eta) * E[k]), X) - y).pow(2).mean())
                     for k in range(E.shape[0])])


def shared_estimator(problem, n_draws: int, eta: float, seed: int = 0):
    """Noise drawn up front with torch.randn, then a loop of K forward passes."""
    _, X, y = tensors(problem)
    theta = torch.from_numpy(problem.params)

    @torch.no_grad()
    def run():
        E = torch.randn(n_draws, theta.numel(), generator=generator(seed), dtype=theta.dtype)
        E.mul_(math.sqrt(eta)).add_(theta)
        losses = torch.stack([(forward(split(problem.sizes, E[k]), X) - y).pow(2).mean() for k in range(n_draws)])
        return _stats_shared(losses)
    return run


def literal_forward(layers, noise_layers, X, sqrt_eta: float):
    """Per-example weight tensors W_l + √η E_{l,n} (n, d_out, d_in), applied with torch.bmm."""
    a = X
    L = len(layers)
    for l, ((W, b), (E, e)) in enumerate(zip(layers, noise_layers)):
        W_n = W + sqrt_eta * E                                # (n, d_out, d_in)
        z = torch.bmm(W_n, a.unsqueeze(2)).squeeze(2) + b + sqrt_eta * e
        a = torch.tanh(z) if l < L - 1 else z
    return a[:, 0]


@torch.no_grad()
def literal_sq_given(problem, eta: float, eps: np.ndarray) -> np.ndarray:
    """(N,) squared residuals, example n perturbed by row n of eps (N, P)."""
    layers, X, y = tensors(problem)
    noise = split(problem.sizes, torch.from_numpy(eps))
    return (literal_forward(layers, noise, X, math.sqrt(eta)) - y).pow(2).numpy()


def literal_estimator(problem, n_draws: int, eta: float, seed: int = 0):
    """K·N·P normals from torch.randn, LITERAL_CHUNK examples at a time, per-example weights by bmm."""
    layers, X, y = tensors(problem)
    N, P = problem.n_examples, problem.n_params

    @torch.no_grad()
    def run():
        g = generator(seed)
        buffer = torch.empty(min(N, LITERAL_CHUNK), P, dtype=X.dtype)
        sq = torch.empty(n_draws, N, dtype=X.dtype)
        for k in range(n_draws):
            for start in range(0, N, LITERAL_CHUNK):
                stop = min(N, start + LITERAL_CHUNK)
                eps = buffer[:stop - start].normal_(generator=g)
                pred = literal_forward(layers, split(problem.sizes, eps), X[start:stop], math.sqrt(eta))
                sq[k, start:stop] = (pred - y[start:stop]).pow(2)
        return per_example_stats(sq.numpy())
    return run


def local_forward(layers, X, sqrt_eta: float, xi):
    """z_l = a_l W_lᵀ + b_l + √η √(‖a_l‖² + 1) ξ_l; differentiable through the noise scale."""
    a = X
    L = len(layers)
    for l, (W, b) in enumerate(layers):
        s = torch.sqrt(a.pow(2).sum(1, keepdim=True) + 1)
        z = torch.addmm(b, a, W.T) + sqrt_eta * s * xi[l]
        a = torch.tanh(z) if l < L - 1 else z
    return a[:, 0]


@torch.no_grad()
def local_sq_given(problem, eta: float, xi: list[np.ndarray]) -> np.ndarray:
    layers, X, y = tensors(problem)
    return (local_forward(layers, X, math.sqrt(eta), [torch.from_numpy(x) for x in xi]) - y).pow(2).numpy()


def local_estimator(problem, n_draws: int, eta: float, seed: int = 0):
    layers, X, y = tensors(problem)

    @torch.no_grad()
    def run():
        g = generator(seed)
        sq = torch.empty(n_draws, problem.n_examples, dtype=X.dtype)
        for k in range(n_draws):
            xi = [torch.randn(problem.n_examples, d, generator=g, dtype=X.dtype) for d in problem.sizes[1:]]
            sq[k] = (local_forward(layers, X, math.sqrt(eta), xi) - y).pow(2)
        return per_example_stats(sq.numpy())
    return run
