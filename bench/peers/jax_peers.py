"""JAX: per-example gradients by jit(vmap(grad)), the rank-one formula under jit, jit(value_and_grad)
of the rank-one penalty, K perturbed forwards by lax.map over noise drawn up front, jax.random.normal.

Importing this module turns on float64 in JAX (jax_enable_x64), as every workload needs it.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

VMAP_CHUNK_BYTES = 1 << 27  # per-example gradients of one chunk: at most 128 MiB


def _layers(problem):
    return [(jnp.asarray(W), jnp.asarray(b)) for W, b in problem.layers()]


def _split(sizes, flat):
    out, offset = [], 0
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        W = flat[offset:offset + d_out * d_in].reshape(d_out, d_in)
        offset += d_out * d_in
        out.append((W, flat[offset:offset + d_out]))
        offset += d_out
    return out


def forward(layers, X):
    """ŷ (N,), the inputs a_l of every layer."""
    acts = [X]
    for W, b in layers[:-1]:
        acts.append(jnp.tanh(acts[-1] @ W.T + b))
    W, b = layers[-1]
    return (acts[-1] @ W.T + b)[:, 0], acts


def rank_one_terms(layers, X):
    """Per-example ‖g_n‖² = Σ_l ‖δ_l‖² (‖a_l‖² + 1), backward written by hand: δ_l = (1 − a²) ⊙ (δ_{l+1} W_{l+1})."""
    _, acts = forward(layers, X)
    delta = jnp.ones((X.shape[0], 1), X.dtype)
    norms = jnp.sum(acts[-1] ** 2, axis=1) + 1
    for l in range(len(layers) - 2, -1, -1):
        a = acts[l + 1]
        delta = (1 - a * a) * (delta @ layers[l + 1][0])
        norms = norms + jnp.sum(delta**2, axis=1) * (jnp.sum(acts[l] ** 2, axis=1) + 1)
    return norms


def rank_one_grad_norms(problem):
    layers, X = _layers(problem), jnp.asarray(problem.X)
    kernel = jax.jit(rank_one_terms)
    return lambda: kernel(layers, X)


def vmap_grad_norms(problem):
    """jit(vmap(grad(ŷ))) per-example gradients, squared and summed, over chunks of examples."""
    layers, X = _layers(problem), jnp.asarray(problem.X)
    chunk = max(1, 1 << int((VMAP_CHUNK_BYTES // (problem.n_params * 8)).bit_length() - 1))

    def output(ps, x):
        return forward(ps, x[None])[0][0]

    @jax.jit
    def norms(ps, Xc):
        grads = jax.vmap(jax.grad(output), in_axes=(None, 0))(ps, Xc)
        return sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in jax.tree_util.tree_leaves(grads))

    def run():
        return jnp.concatenate([norms(layers, X[start:start + chunk]) for start in range(0, X.shape[0], chunk)])
    return run


def penalty_value_and_grad(problem):
    """jit(value_and_grad) of Ω = mean ‖g_n‖² written with the rank-one formula (double backprop by JAX)."""
    flat, X = jnp.asarray(problem.params), jnp.asarray(problem.X)
    kernel = jax.jit(jax.value_and_grad(lambda theta: jnp.mean(rank_one_terms(_split(problem.sizes, theta), X))))
    return lambda: kernel(flat)


@partial(jax.jit, static_argnums=(0,))
def _shared_losses(sizes, theta, X, y, eta, eps):
    def loss(e):
        return jnp.mean((forward(_split(sizes, theta + jnp.sqrt(eta) * e), X)[0] - y) ** 2)
    return jax.lax.map(loss, eps)


def shared_losses_given(problem, eta: float, eps: np.ndarray) -> np.ndarray:
    """(K,) losses at θ + √η ε_k by lax.map over the given draws (for the checks)."""
    return np.asarray(_shared_losses(problem.sizes, jnp.asarray(problem.params), jnp.asarray(problem.X),
                                     jnp.asarray(problem.y), eta, jnp.asarray(eps)))


def shared_estimator(problem, n_draws: int, eta: float, seed: int = 0):
    """All K draws up front with jax.random.normal, then lax.map over the K forward passes, in one jit."""
    sizes = problem.sizes
    theta, X, y = jnp.asarray(problem.params), jnp.asarray(problem.X), jnp.asarray(problem.y)

    @jax.jit
    def estimate(key):
        eps = jax.random.normal(key, (n_draws, theta.shape[0]), dtype=theta.dtype)
        losses = _shared_losses(sizes, theta, X, y, eta, eps)
        return jnp.mean(losses), jnp.std(losses, ddof=1) / math.sqrt(n_draws)

    key = jax.random.PRNGKey(seed)
    return lambda: estimate(key)


def standard_normal(n: int, dtype, seed: int = 0):
    """jit(jax.random.normal) of n draws."""
    key = jax.random.PRNGKey(seed)
    draw = jax.jit(lambda k: jax.random.normal(k, (n,), dtype=dtype))
    return lambda: draw(key)
