"""NumPy weight noise: the perturbed forward passes (given ε), the estimators of J̃_η, and noisy gradients.

Three samplers of ε ~ N(0, η I_P) (DESIGN.md §2):
  shared       one ε_k per draw for all examples;
  per_example  literal: an independent ε_{k,n} per draw and example (K·N·P normals);
  local        the same distribution through the pre-activations:
               z_l = a_l W_lᵀ + b_l + √η · √(‖a_l‖² + 1) · ξ_l,  ξ_l ~ N(0, I).
The functions taking ε or ξ are deterministic: the checks feed every peer the same noise.
"""

from __future__ import annotations

import math

import numpy as np

from ..problems import split_layers
from .numpy_rank_one import forward, loss_grad, row_sq

LITERAL_CHUNK = 256  # examples per slab of per-example noise: 256·P normals at a time


# --- deterministic cores: losses for given noise ---

def shared_losses(sizes, params, X, y, eta: float, eps: np.ndarray) -> np.ndarray:
    """(K,) losses (1/N) Σ_n (ŷ_{θ+√η ε_k}(x_n) − y_n)² for the rows ε_k of eps (K, P)."""
    out = np.empty(eps.shape[0])
    for k, e in enumerate(eps):
        _, pred = forward(split_layers(sizes, params + math.sqrt(eta) * e), X)
        out[k] = np.mean((pred - y) ** 2)
    return out


def literal_forward(layers, noise_layers, X, sqrt_eta: float):
    """Forward with per-example weights W_l + √η E_{l,n}: noise_layers are (N, d_out, d_in), (N, d_out) blocks.

    z_l = a_l W_lᵀ + b_l + √η (E_{l,n} a_l + e_{l,n}): the per-example product is a batched matrix–vector product.
    """
    acts = [X]
    L = len(layers)
    for l, ((W, b), (E, e)) in enumerate(zip(layers, noise_layers)):
        a = acts[-1]
        z = a @ W.T
        z += b
        z += sqrt_eta * (np.matmul(E, a[:, :, None])[:, :, 0] + e)
        if l < L - 1:
            acts.append(np.tanh(z, out=z))
    return acts, z[:, 0]


def literal_sq_residuals(sizes, params, X, y, eta: float, eps: np.ndarray) -> np.ndarray:
    """(N,) squared residuals with an own ε_n (row n of eps, (N, P)) for every example."""
    _, pred = literal_forward(split_layers(sizes, params), split_layers(sizes, eps), X, math.sqrt(eta))
    return (pred - y) ** 2


def local_forward(layers, X, sqrt_eta: float, xi: list[np.ndarray]):
    """Forward with local noise √η √(‖a_l‖²+1) ξ_l added to every pre-activation; xi[l] is (N, d_{l+1})."""
    acts, scales = [X], []
    L = len(layers)
    for l, (W, b) in enumerate(layers):
        a = acts[-1]
        s = np.sqrt(row_sq(a) + 1)
        scales.append(s)
        z = a @ W.T
        z += b
        z += (sqrt_eta * s)[:, None] * xi[l]
        if l < L - 1:
            acts.append(np.tanh(z, out=z))
    return acts, scales, z[:, 0]


def local_sq_residuals(sizes, params, X, y, eta: float, xi: list[np.ndarray]) -> np.ndarray:
    _, _, pred = local_forward(split_layers(sizes, params), X, math.sqrt(eta), xi)
    return (pred - y) ** 2


# --- estimators of J̃_η: (mean, standard error) ---

def shared_estimate(problem, n_draws: int, eta: float, seed: int = 0) -> tuple[float, float]:
    """Noise drawn up front with default_rng, then one forward pass per draw; SE over the draws."""
    eps = np.random.default_rng(seed).standard_normal((n_draws, problem.n_params), dtype=problem.params.dtype)
    losses = shared_losses(problem.sizes, problem.params, problem.X, problem.y, eta, eps)
    return float(losses.mean()), float(losses.std(ddof=1) / math.sqrt(n_draws)) if n_draws > 1 else math.inf


def per_example_stats(sq: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of J̃ from squared residuals (K, N) with independent noise per (k, n).

    Examples are fixed, only the noise is random: Var = Σ_n Var_k(r²_{k,n}) / (K N²).
    """
    K, N = sq.shape
    se = math.sqrt(float(sq.var(axis=0, ddof=1).sum()) / (K * N * N)) if K > 1 else math.inf
    return float(sq.mean()), se


def literal_estimate(problem, n_draws: int, eta: float, seed: int = 0) -> tuple[float, float]:
    """Literal per-example noise: K·N·P normals, drawn a slab of LITERAL_CHUNK examples at a time."""
    rng = np.random.default_rng(seed)
    N, P, dtype = problem.n_examples, problem.n_params, problem.params.dtype
    layers = problem.layers()
    buffer = np.empty((min(N, LITERAL_CHUNK), P), dtype=dtype)
    sq = np.empty((n_draws, N), dtype=dtype)
    for k in range(n_draws):
        for start in range(0, N, LITERAL_CHUNK):
            stop = min(N, start + LITERAL_CHUNK)
            eps = buffer[:stop - start]
            rng.standard_normal(out=eps, dtype=dtype)
            _, pred = literal_forward(layers, split_layers(problem.sizes, eps), problem.X[start:stop], math.sqrt(eta))
            sq[k, start:stop] = (pred - problem.y[start:stop]) ** 2
    return per_example_stats(sq)


def local_estimate(problem, n_draws: int, eta: float, seed: int = 0) -> tuple[float, float]:
    """Local reparameterization: one forward pass per draw, (N, H + 1) normals each."""
    rng = np.random.default_rng(seed)
    dtype = problem.params.dtype
    layers = problem.layers()
    sq = np.empty((n_draws, problem.n_examples), dtype=dtype)
    for k in range(n_draws):
        xi = [rng.standard_normal((problem.n_examples, d), dtype=dtype) for d in problem.sizes[1:]]
        _, _, pred = local_forward(layers, problem.X, math.sqrt(eta), xi)
        sq[k] = (pred - problem.y) ** 2
    return per_example_stats(sq)


# --- noisy minibatch gradients (W6): ∇_θ of (1/B) Σ_n (ŷ_{θ+ε}(x_n) − y_n)² for one draw ---

def shared_noise_grad(sizes, params, X, y, eta: float, eps: np.ndarray) -> np.ndarray:
    """One ε (P,) for the batch: the plain gradient at θ + √η ε."""
    return loss_grad(split_layers(sizes, params + math.sqrt(eta) * eps), X, y)


def literal_noise_grad(sizes, params, X, y, eta: float, eps: np.ndarray) -> np.ndarray:
    """An own ε_n (row n of eps, (B, P)) per example; backward through the per-example weights:
    e_l = σ'(z_l) ⊙ (e_{l+1} (W_{l+1} + √η E_{l+1,n})), ∂/∂W_l = Σ_n e_l a_lᵀ."""
    sqrt_eta = math.sqrt(eta)
    layers, noise = split_layers(sizes, params), split_layers(sizes, eps)
    acts, pred = literal_forward(layers, noise, X, sqrt_eta)
    L = len(layers)
    e = [None] * L
    e[L - 1] = ((2.0 / X.shape[0]) * (pred - y))[:, None]
    for l in range(L - 2, -1, -1):
        W, E = layers[l + 1][0], noise[l + 1][0]
        g = e[l + 1] @ W + sqrt_eta * np.matmul(e[l + 1][:, None, :], E)[:, 0, :]
        a = acts[l + 1]
        e[l] = g * (1 - a * a)
    return np.concatenate([part for l in range(L) for part in ((e[l].T @ acts[l]).ravel(), e[l].sum(0))])


def local_noise_grad(sizes, params, X, y, eta: float, xi: list[np.ndarray]) -> np.ndarray:
    """Local noise; the pathwise gradient also flows through the noise scale s_l = √(‖a_l‖² + 1):
    ∂z_l/∂a_l adds √η (e_l · ξ_l) a_l / s_l to e_l W_l."""
    sqrt_eta = math.sqrt(eta)
    layers = split_layers(sizes, params)
    acts, scales, pred = local_forward(layers, X, sqrt_eta, xi)
    L = len(layers)
    e = [None] * L
    e[L - 1] = ((2.0 / X.shape[0]) * (pred - y))[:, None]
    for l in range(L - 2, -1, -1):
        a = acts[l + 1]
        g = e[l + 1] @ layers[l + 1][0]
        g += (sqrt_eta * np.einsum("ij,ij->i", e[l + 1], xi[l + 1]) / scales[l + 1])[:, None] * a
        e[l] = g * (1 - a * a)
    return np.concatenate([part for l in range(L) for part in ((e[l].T @ acts[l]).ravel(), e[l].sum(0))])


