"""NumPy, hand-vectorized for speed: per-example gradient norms, the penalty and its gradient.

No per-example gradient is ever formed. Notation (0-based layers, as in
weightnoise.reference): a_0 = x, z_l = a_l W_lᵀ + b_l, a_{l+1} = tanh(z_l),
ŷ = z_{L−1}; δ_l = ∂ŷ/∂z_l (N, d_{l+1}); s_l = ‖a_l‖² + 1 (N,).
"""

from __future__ import annotations

import numpy as np


def row_sq(a: np.ndarray) -> np.ndarray:
    """‖a_n‖² for every row, (N,)."""
    return np.einsum("ij,ij->i", a, a)


def forward(layers, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Inputs of every layer [a_0 = X, a_1, …, a_{L−1}] (N, d_l), and ŷ (N,)."""
    acts = [X]
    for W, b in layers[:-1]:
        z = acts[-1] @ W.T
        z += b
        acts.append(np.tanh(z, out=z))
    W, b = layers[-1]
    return acts, acts[-1] @ W[0] + b[0]


def backward(layers, acts: list[np.ndarray], seed: np.ndarray) -> list[np.ndarray]:
    """e_l = seed ⊙ δ_l for every layer: e_{L−1} = seed (N, 1), e_l = σ'(z_l) ⊙ (e_{l+1} W_{l+1}), σ' = 1 − a²."""
    L = len(layers)
    e = [None] * L
    e[L - 1] = seed[:, None]
    for l in range(L - 2, -1, -1):
        g = e[l + 1] @ layers[l + 1][0]
        a = acts[l + 1]
        g *= 1 - a * a
        e[l] = g
    return e


def grad_norms_sq(layers, X: np.ndarray) -> np.ndarray:
    """‖g_n‖² = Σ_l ‖δ_l‖² (‖a_l‖² + 1), (N,)."""
    acts, _ = forward(layers, X)
    delta = backward(layers, acts, np.ones(X.shape[0], dtype=X.dtype))
    out = row_sq(acts[-1]) + 1  # δ_{L−1} = 1
    for l in range(len(layers) - 1):
        out += row_sq(delta[l]) * (row_sq(acts[l]) + 1)
    return out


def penalty_and_grad(layers, X: np.ndarray, y: np.ndarray | None = None, eta: float = 1.0):
    """Ω = mean ‖g_n‖² and ∇Ω = (2/N) Σ_n H_n g_n in one pass (R-operator along the rank-one g_n).

    With targets y, the gradient returned is ∇J + η ∇Ω (the minibatch gradient
    of J + η·Ω), sharing the forward pass; without, it is η ∇Ω.

      R{z_l} = δ_l s_l + R{a_l} W_lᵀ,  R{a_{l+1}} = σ'(z_l) R{z_l},  R{a_0} = 0
      R{δ_{L−1}} = 0,  R{δ_l} = σ''(z_l) R{z_l} g_l + σ'(z_l) (a_{l+1} ‖δ_{l+1}‖² + R{δ_{l+1}} W_{l+1})
      (H g)_{W_l} = Σ_n R{δ_l} a_lᵀ + δ_l R{a_l}ᵀ,  (H g)_{b_l} = Σ_n R{δ_l}
    with g_l = δ_{l+1} W_{l+1}, σ' = 1 − a², σ'' = −2 a σ'.
    """
    N, L = X.shape[0], len(layers)
    acts, pred = forward(layers, X)
    u = None if y is None else (2.0 / N) * (pred - y)
    # δ and g_l (before the σ' factor) for every layer.
    delta, g = [None] * L, [None] * L
    delta[L - 1] = np.ones((N, 1), dtype=X.dtype)
    for l in range(L - 2, -1, -1):
        g[l] = delta[l + 1] @ layers[l + 1][0]
        a = acts[l + 1]
        delta[l] = (1 - a * a) * g[l]
    s = [row_sq(a) + 1 for a in acts]
    dsq = [row_sq(d) for d in delta]
    omega = float(np.mean(sum(dsq[l] * s[l] for l in range(L))))
    # R-forward.
    rz, ra = [None] * L, [None] * L
    for l in range(L):
        rz[l] = delta[l] * s[l][:, None]
        if l > 0:
            rz[l] += ra[l] @ layers[l][0].T
        if l < L - 1:
            a = acts[l + 1]
            ra[l + 1] = (1 - a * a) * rz[l]
    # R-backward and accumulation of H g (scaled by 2η/N) plus Σ u_n g_n.
    scale = 2.0 * eta / N
    out = []
    rdelta = np.zeros((N, 1), dtype=X.dtype)
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            a = acts[l + 1]
            d1 = 1 - a * a
            back = a * dsq[l + 1][:, None]
            back += rdelta @ layers[l + 1][0]
            rdelta = (-2 * a * d1) * rz[l] * g[l] + d1 * back
        left = scale * rdelta if u is None else scale * rdelta + u[:, None] * delta[l]
        gW = left.T @ acts[l]
        if l > 0:
            gW += (scale * delta[l]).T @ ra[l]
        out.append((gW, left.sum(axis=0)))
    grad = np.concatenate([part for gW, gb in reversed(out) for part in (gW.ravel(), gb)])
    return omega, grad


def loss_grad(layers, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∇J = (2/N) Σ_n r_n g_n: one forward, one backward, one GEMM per layer."""
    acts, out = forward(layers, X)
    e = backward(layers, acts, (2.0 / X.shape[0]) * (out - y))
    return np.concatenate([part for l in range(len(layers)) for part in ((e[l].T @ acts[l]).ravel(), e[l].sum(0))])
