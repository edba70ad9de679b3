"""The NumPy reference: every weightnoise kernel, written plainly.

Each public function has the name, signature and meaning of its compiled
twin in :mod:`weightnoise`; the tests hold one against the other. The code
favours the literal formula over speed: per-example Hessian–vector products
are formed as (n_examples, n_params) arrays, Hessian traces through dense
per-example matrices ∇²_z ŷ.

Notation (0-based layers l = 0 … L−1): a_0 = x, z_l = W_l a_l + b_l,
a_{l+1} = σ(z_l), ŷ = z_{L−1}; δ_l = ∂ŷ/∂z_l; g_n = ∇_θ ŷ(x_n);
H_n = ∇²_θ ŷ(x_n); r_n = ŷ(x_n) − y_n.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, _expansion, _philox
from ._expansion import Equivalence, SecondOrder
from ._typing import Array, FloatArray
from .curvature import METHODS
from .derivatives import _scalar
from .estimate import Estimate
from .model import MLP
from .noise import NOISE_MODES
from .training import ADAM_BETAS, ADAM_EPSILON, OptimizerState, _batch, _settings

# --- activations: σ, σ', σ'' (the formulas of cpp/weightnoise/activation.hpp) ---


def _sigma(name: str, z: Array) -> Array:
    with np.errstate(over="ignore"):
        if name == "tanh":
            return np.tanh(z)
        if name == "relu":
            return np.maximum(z, 0)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-z))
        if name == "softplus":
            return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        return z.copy()


def _sigma_prime(name: str, z: Array, a: Array) -> Array:
    with np.errstate(over="ignore"):
        if name == "tanh":
            return 1 - a * a
        if name == "relu":
            return (z > 0).astype(z.dtype)
        if name == "sigmoid":
            e = np.exp(-np.abs(z))
            slope: Array = e / (1 + e) ** 2
            return slope
        if name == "softplus":
            return 1 / (1 + np.exp(-z))
        return np.ones_like(z)


def _sigma_second(name: str, z: Array, a: Array, d1: Array) -> Array:
    if name == "tanh":
        return -2 * a * d1
    if name == "sigmoid":
        second: Array = d1 * (1 - 2 * a)
        return second
    if name == "softplus":
        e = np.exp(-np.abs(z))
        second = e / (1 + e) ** 2
        return second
    return np.zeros_like(z)


# --- passes ---


class _Passes:
    """Forward and backward quantities of a batch, all (n_examples, width)."""

    def __init__(self, model: MLP, X: Array) -> None:
        act, layers, L = model.activation, model.layers, model.n_layers
        self.layers = layers
        self.a: list[Array] = [X]
        self.z: list[Array] = []
        self.d1: list[Array] = []
        self.d2: list[Array] = []
        for l, (W, b) in enumerate(layers):
            z = self.a[l] @ W.T + b
            self.z.append(z)
            if l < L - 1:
                a = _sigma(act, z)
                d1 = _sigma_prime(act, z, a)
                self.a.append(a)
                self.d1.append(d1)
                self.d2.append(_sigma_second(act, z, a, d1))
        # Backward: g_l = ∂ŷ/∂a_{l+1} = δ_{l+1} W_{l+1},  δ_l = σ'(z_l) ⊙ g_l,  δ_{L−1} = 1.
        self.delta: list[Any] = [None] * L  # filled from the last layer down
        self.g: list[Any] = [None] * L
        self.delta[L - 1] = np.ones_like(self.z[L - 1])
        for l in range(L - 2, -1, -1):
            self.g[l] = self.delta[l + 1] @ layers[l + 1][0]
            self.delta[l] = self.d1[l] * self.g[l]

    @property
    def output(self) -> Array:
        return self.z[-1][:, 0]


def _blocks(model: MLP, flat: Array) -> list[tuple[Array, Array]]:
    """Split (…, n_params) into per-layer (W, b) blocks of shape (…, d_out, d_in) and (…, d_out)."""
    out: list[tuple[Array, Array]] = []
    offset = 0
    for d_in, d_out in zip(model.layer_sizes[:-1], model.layer_sizes[1:]):
        W = flat[..., offset:offset + d_out * d_in].reshape((*flat.shape[:-1], d_out, d_in))
        offset += d_out * d_in
        out.append((W, flat[..., offset:offset + d_out]))
        offset += d_out
    return out


def _subset_mask(model: MLP, layers: Collection[int] | None, biases: bool) -> Array:
    """(n_params,) 1 on the parameters that carry noise, 0 elsewhere."""
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    mask = np.zeros(model.n_params, dtype=model.dtype)
    for (W, b), w_on, b_on in zip(_blocks(model, mask), weights, bias_flags):
        W[...] = w_on
        b[...] = b_on
    return mask


def _subset_scale(a: Array, weights_on: bool, bias_on: bool) -> Array:
    """‖a‖²·[W_l] + [b_l] per example; an unselected W_l adds 0 even where ‖a‖² overflows (not 0·inf = NaN)."""
    squared = np.sum(a * a, axis=1) if weights_on else np.zeros(a.shape[0], dtype=a.dtype)
    return squared + bias_on


def _per_example_hvp(model: MLP, X: Array, V: Array) -> Array:
    """Rows H_n v_n (n_examples, n_params), for one direction (n_params,) or one per example.

    Pearlmutter's R-operator with directions (V_l, v_l):
      R{z_l} = V_l a_l + v_l + W_l R{a_l},  R{a_{l+1}} = σ'(z_l) R{z_l},  R{a_0} = 0,
      R{δ_{L−1}} = 0,  R{δ_l} = σ''(z_l) R{z_l} g_l + σ'(z_l) (V_{l+1}ᵀ δ_{l+1} + W_{l+1}ᵀ R{δ_{l+1}}),
      (Hv)_{W_l} = R{δ_l} a_lᵀ + δ_l R{a_l}ᵀ,  (Hv)_{b_l} = R{δ_l}.
    """
    p = _Passes(model, X)
    N, L = X.shape[0], model.n_layers
    V = np.broadcast_to(V, (N, model.n_params))
    blocks = _blocks(model, V)
    ra = [np.zeros_like(X)]
    rz: list[Array] = []
    for l, ((W, _), (Vl, vl)) in enumerate(zip(p.layers, blocks)):
        rz.append(np.einsum("nij,nj->ni", Vl, p.a[l]) + vl + ra[l] @ W.T)
        if l < L - 1:
            ra.append(p.d1[l] * rz[l])
    rdelta: list[Any] = [None] * L  # filled from the last layer down
    rdelta[L - 1] = np.zeros_like(rz[L - 1])
    for l in range(L - 2, -1, -1):
        W_next, V_next = p.layers[l + 1][0], blocks[l + 1][0]
        back = np.einsum("nij,ni->nj", V_next, p.delta[l + 1]) + rdelta[l + 1] @ W_next
        rdelta[l] = p.d2[l] * rz[l] * p.g[l] + p.d1[l] * back
    out = np.empty((N, model.n_params), dtype=model.dtype)
    for l, (W_out, b_out) in enumerate(_blocks(model, out)):
        W_out[...] = np.einsum("ni,nj->nij", rdelta[l], p.a[l]) + np.einsum("ni,nj->nij", p.delta[l], ra[l])
        b_out[...] = rdelta[l]
    return out


# --- the public kernels ---


def predict(model: MLP, X: ArrayLike) -> FloatArray:
    """Network outputs ŷ(x_n), shape (n_examples,)."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    return _Passes(model, X).output


def loss(model: MLP, X: ArrayLike, y: ArrayLike) -> np.floating[Any]:
    """J = (1/N) Σ_n (ŷ(x_n) − y_n)²."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    r = predict(model, X) - y
    return _scalar(model, np.mean(r * r))


def loss_grad(model: MLP, X: ArrayLike, y: ArrayLike) -> FloatArray:
    """∇J = (2/N) Σ_n r_n g_n, shape (n_params,)."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    r = predict(model, X) - y
    return vjp(model, X, (2 / X.shape[0]) * r)


def vjp(model: MLP, X: ArrayLike, u: ArrayLike) -> FloatArray:
    """Σ_n u_n g_n, shape (n_params,): ∂/∂W_l = (u ⊙ δ_l)ᵀ a_l, ∂/∂b_l = Σ_n u_n δ_l."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    u = _checks.as_example_vector(model, u, X.shape[0], "u")
    p = _Passes(model, X)
    out = np.empty(model.n_params, dtype=model.dtype)
    for l, (W_out, b_out) in enumerate(_blocks(model, out)):
        ud = u[:, None] * p.delta[l]
        W_out[...] = ud.T @ p.a[l]
        b_out[...] = ud.sum(axis=0)
    return out


def jvp(model: MLP, X: ArrayLike, v: ArrayLike) -> FloatArray:
    """g_n · v, shape (n_examples,), by forward-mode differentiation."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    v = _checks.as_param_vector(model, v, "v")
    p = _Passes(model, X)
    ra = np.zeros_like(X)
    for l, ((W, _), (V, vb)) in enumerate(zip(p.layers, _blocks(model, v))):
        rz: Array = p.a[l] @ V.T + vb + ra @ W.T
        if l < model.n_layers - 1:
            ra = p.d1[l] * rz
    return rz[:, 0]


def per_example_grads(model: MLP, X: ArrayLike) -> FloatArray:
    """Rows g_n, shape (n_examples, n_params): ∂ŷ/∂W_l = δ_l a_lᵀ, ∂ŷ/∂b_l = δ_l."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    _checks.check_memory(X.shape[0] * model.n_params, model.dtype.itemsize, "per_example_grads",
                         "pass X in slices")
    p = _Passes(model, X)
    out = np.empty((X.shape[0], model.n_params), dtype=model.dtype)
    for l, (W_out, b_out) in enumerate(_blocks(model, out)):
        W_out[...] = np.einsum("ni,nj->nij", p.delta[l], p.a[l])
        b_out[...] = p.delta[l]
    return out


def grad_norms_sq(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                  biases: bool = True) -> FloatArray:
    """‖g_n‖² over the subset: Σ_l ‖δ_l‖² (‖a_l‖²·[W_l] + [b_l]), shape (n_examples,)."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    p = _Passes(model, X)
    out = np.zeros(X.shape[0], dtype=model.dtype)
    for l in range(model.n_layers):
        scale = _subset_scale(p.a[l], weights[l], bias_flags[l])
        out += np.sum(p.delta[l] ** 2, axis=1) * scale
    return out


def hvp(model: MLP, X: ArrayLike, v: ArrayLike, u: ArrayLike | None = None) -> FloatArray:
    """Σ_n u_n H_n v, shape (n_params,); u defaults to 1/N."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    v = _checks.as_param_vector(model, v, "v")
    if u is None:
        u = np.full(X.shape[0], 1.0 / X.shape[0], dtype=model.dtype)
    u = _checks.as_example_vector(model, u, X.shape[0], "u")
    return u @ _per_example_hvp(model, X, v)


def penalty(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
            biases: bool = True) -> np.floating[Any]:
    """Ω = (1/N) Σ_n ‖g_n‖² over the subset."""
    return _scalar(model, np.mean(grad_norms_sq(model, X, layers=layers, biases=biases)))


def penalty_grad(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                 biases: bool = True) -> FloatArray:
    """∇_θ Ω = (2/N) Σ_n H_n (g_n restricted to the subset), shape (n_params,)."""
    mask = _subset_mask(model, layers, biases)
    G = per_example_grads(model, X) * mask
    X = _checks.as_inputs(model, X)
    grad: FloatArray = (2 / X.shape[0]) * _per_example_hvp(model, X, G).sum(axis=0)
    return grad


def penalty_and_grad(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                     biases: bool = True) -> tuple[np.floating[Any], FloatArray]:
    """(Ω, ∇_θ Ω)."""
    return penalty(model, X, layers=layers, biases=biases), penalty_grad(model, X, layers=layers, biases=biases)


def _trace_exact(model: MLP, X: Array, weights: list[bool], bias_flags: list[bool]) -> Array:
    """tr H_n = Σ_l (‖a_l‖²·[W_l] + [b_l]) tr M_l with dense M_l = ∇²_{z_l} ŷ (n_examples, d, d):
    M_{L−1} = 0,  M_l = D_l W_{l+1}ᵀ M_{l+1} W_{l+1} D_l + diag(σ''(z_l) ⊙ g_l)."""
    p = _Passes(model, X)
    N, L = X.shape[0], model.n_layers
    M = np.zeros((N, 1, 1), dtype=model.dtype)
    out = np.zeros(N, dtype=model.dtype)
    for l in range(L - 2, -1, -1):
        W = p.layers[l + 1][0]
        K = np.einsum("ij,nik,kl->njl", W, M, W)
        M = p.d1[l][:, :, None] * K * p.d1[l][:, None, :]
        M += np.einsum("ni,ij->nij", p.d2[l] * p.g[l], np.eye(W.shape[1], dtype=model.dtype))
        scale = _subset_scale(p.a[l], weights[l], bias_flags[l])
        out += scale * np.einsum("nii->n", M)
    return out


def _hutchinson_probe(model: MLP, mask: Array, seed: int, k: int) -> Array:
    v = _philox.rademacher(seed, _philox.Purpose.hutchinson, k, 0, 0, model.n_params, dtype=model.dtype)
    return v * mask


def hessian_trace(model: MLP, X: ArrayLike, method: str = "exact", *, n_probes: int = 64, seed: int = 0,
                  layers: Collection[int] | None = None, biases: bool = True) -> FloatArray:
    """tr H_n over the subset, shape (n_examples,): exact, or Hutchinson with the probes of the C++ core."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    method = _checks.as_choice(method, "method", METHODS)
    n_probes, seed = _checks.as_count(n_probes, "n_probes"), _checks.as_seed(seed)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    if method == "exact":
        return _trace_exact(model, X, weights, bias_flags)
    mask = _subset_mask(model, layers, biases)
    total = np.zeros(X.shape[0], dtype=model.dtype)
    for k in range(n_probes):
        v = _hutchinson_probe(model, mask, seed, k)
        total += _per_example_hvp(model, X, v) @ v
    return total / n_probes


def curvature(model: MLP, X: ArrayLike, y: ArrayLike, method: str = "exact", *, n_probes: int = 64, seed: int = 0,
              layers: Collection[int] | None = None, biases: bool = True) -> np.floating[Any]:
    """C = (1/N) Σ_n r_n tr H_n over the subset."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    r = predict(model, X) - y
    trace = hessian_trace(model, X, method, n_probes=n_probes, seed=seed, layers=layers, biases=biases)
    return _scalar(model, np.mean(r * trace))


# --- weight noise ---


def _normals(model: MLP, purpose: int, seed: int, draw: int, item: int, count: int) -> Array:
    return _philox.normal(seed, purpose, draw, item, 0, count, dtype=model.dtype)


def perturb(model: MLP, eta: float, seed: int = 0, *, draw: int = 0, layers: Collection[int] | None = None,
            biases: bool = True) -> MLP:
    """θ + √η ε_k with ε_k = stream (seed, shared_noise, draw, 0), zero outside the subset."""
    model = _checks.check_model(model)
    eta = _checks.as_eta(eta)
    seed, draw = _checks.as_seed(seed), _checks.as_count(draw, "draw", minimum=0)
    eps = _normals(model, _philox.Purpose.shared_noise, seed, draw, 0, model.n_params)
    return model.with_params(model.params + np.sqrt(eta) * eps * _subset_mask(model, layers, biases))


def _perturbed_predictions(model: MLP, X: Array, mode: str, eta: float, seed: int, draw: int,
                           sign: float, layers: Collection[int] | None, biases: bool) -> Array:
    """ŷ(x_n) under draw ``draw`` of the noise, scaled by sign (±1), shape (n_examples,)."""
    N, root_eta = X.shape[0], sign * np.sqrt(eta)
    mask = _subset_mask(model, layers, biases)
    if mode == "shared":
        eps = _normals(model, _philox.Purpose.shared_noise, seed, draw, 0, model.n_params)
        return predict(model.with_params(model.params + root_eta * eps * mask), X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    if mode == "per_example":
        # ε_{k,n} literally: every example has its own perturbed weights W_l + √η E_{l,n}.
        E = np.array([_normals(model, _philox.Purpose.example_noise, seed, draw, n, model.n_params)
                      for n in range(N)]) * mask
        a = X
        for l, ((W, b), (E_W, E_b)) in enumerate(zip(model.layers, _blocks(model, E))):
            z: Array = np.einsum("nij,nj->ni", W + root_eta * E_W, a) + b + root_eta * E_b
            a = _sigma(model.activation, z) if l < model.n_layers - 1 else z
        return z[:, 0]
    # local: z_l = W_l a_l + b_l + √η √(‖a_l‖²·[W_l] + [b_l]) ξ_l.
    widths = model.layer_sizes[1:]
    xi = np.array([_normals(model, _philox.Purpose.local_noise, seed, draw, n, sum(widths)) for n in range(N)])
    offsets = np.concatenate([[0], np.cumsum(widths)])
    a = X
    for l, (W, b) in enumerate(model.layers):
        scale = np.sqrt(_subset_scale(a, weights[l], bias_flags[l]))
        z = a @ W.T + b + root_eta * scale[:, None] * xi[:, offsets[l]:offsets[l + 1]]
        a = _sigma(model.activation, z) if l < model.n_layers - 1 else z
    return z[:, 0]


def perturbed_loss(model: MLP, X: ArrayLike, y: ArrayLike, eta: float, n_draws: int, noise: str = "shared",
                   antithetic: bool = True, seed: int = 0, *, layers: Collection[int] | None = None,
                   biases: bool = True) -> Estimate:
    """Monte Carlo estimate of J̃_η from the same noise streams as the compiled core."""
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    eta = _checks.as_eta(eta)
    n_draws = _checks.as_count(n_draws, "n_draws")
    mode = _checks.as_choice(noise, "noise", NOISE_MODES)
    antithetic = _checks.as_flag(antithetic, "antithetic")
    seed = _checks.as_seed(seed)
    _checks.as_subset(model, layers, biases)
    signs = (1.0, -1.0) if antithetic else (1.0,)
    draws = np.array([
        np.mean([np.mean((_perturbed_predictions(model, X, mode, eta, seed, k, s, layers, biases) - y) ** 2)
                 for s in signs])
        for k in range(n_draws)
    ], dtype=model.dtype)
    return Estimate.from_draws(draws, n_draws * X.shape[0] * len(signs))


# --- the second-order account (the same composition, over these kernels) ---


def second_order_terms(model: MLP, X: ArrayLike, y: ArrayLike, *, layers: Collection[int] | None = None,
                       biases: bool = True) -> tuple[np.floating[Any], np.floating[Any], np.floating[Any]]:
    """J, Ω and C (exact)."""
    return (loss(model, X, y), penalty(model, X, layers=layers, biases=biases),
            curvature(model, X, y, layers=layers, biases=biases))


def second_order(model: MLP, X: ArrayLike, y: ArrayLike, eta: float, *, layers: Collection[int] | None = None,
                 biases: bool = True) -> SecondOrder:
    """J, η·Ω, η·C and their sum."""
    return _expansion.second_order(sys.modules[__name__], model, X, y, eta, layers, biases)


def equivalence(model: MLP, X: ArrayLike, y: ArrayLike, etas: Sequence[float] | FloatArray, n_draws: int,
                noise: str = "shared", antithetic: bool = True, seed: int = 0, *,
                layers: Collection[int] | None = None, biases: bool = True) -> Equivalence:
    """Measured J̃_η against J + η·Ω and J + η·Ω + η·C over a grid of η."""
    return _expansion.equivalence(sys.modules[__name__], model, X, y, etas, n_draws, noise, antithetic, seed,
                                  layers, biases)


# --- training: one optimizer step of each objective ---


def epoch_order(seed: int, epoch: int, n_examples: int) -> NDArray[np.intp]:
    """The order of epoch ``epoch``: a stable argsort of the uniforms of stream (seed, minibatch, epoch, 0)."""
    keys = _philox.uniform(seed, _philox.Purpose.minibatch, epoch, 0, 0, n_examples)
    return np.argsort(keys, kind="stable")


def _noisy_value_and_grad(model: MLP, X: Array, y: Array, ids: NDArray[np.int64], mode: str, eta: float,
                          seed: int, epoch: int, step: int, layers: Collection[int] | None,
                          biases: bool) -> tuple[np.floating[Any], Array]:
    """Σ r_n² and ∇_θ (1/B) Σ_n r_n² for one presentation's noise, written out per example.

    Every example n has weights W_l + √η E_{l,n} (per_example; E = 0 for local) and,
    for local noise, z_l gains c_l ξ_l with c_l = √η √(‖a_l‖²·[W_l] + [b_l]).
    Backward: ∂ŷ/∂a_l = (W_l + √η E_l)ᵀ δ_l + (δ_l · ξ_l) η [W_l] a_l / c_l.
    """
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    mask = _subset_mask(model, layers, biases)
    B, root_eta = ids.size, np.sqrt(eta)
    if mode == "shared":
        eps = _normals(model, _philox.Purpose.train_shared_noise, seed, step, 0, model.n_params) * mask
        moved = model.with_params(model.params + root_eta * eps)
        r = predict(moved, X[ids]) - y[ids]
        return np.sum(r * r), vjp(moved, X[ids], (2 / B) * r)
    widths = model.layer_sizes[1:]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    if mode == "per_example":
        E = np.array([_normals(model, _philox.Purpose.train_example_noise, seed, epoch, i, model.n_params)
                      for i in ids]) * mask
        xi = np.zeros((B, offsets[-1]), dtype=model.dtype)
    else:
        E = np.zeros((B, model.n_params), dtype=model.dtype)
        xi = np.array([_normals(model, _philox.Purpose.train_local_noise, seed, epoch, i, offsets[-1])
                       for i in ids])
    W_n = [W + root_eta * E_W for (W, _), (E_W, _) in zip(model.layers, _blocks(model, E))]
    a: list[Array] = [X[ids]]
    z: list[Array] = []
    d1: list[Array] = []
    c: list[Array] = []
    for l, ((_, b), (_, E_b)) in enumerate(zip(model.layers, _blocks(model, E))):
        c.append(root_eta * np.sqrt(_subset_scale(a[l], weights[l], bias_flags[l])))
        z.append(np.einsum("nij,nj->ni", W_n[l], a[l]) + b + root_eta * E_b
                 + c[l][:, None] * xi[:, offsets[l]:offsets[l + 1]])
        if l < model.n_layers - 1:
            a.append(_sigma(model.activation, z[l]))
            d1.append(_sigma_prime(model.activation, z[l], a[l + 1]))
    L = model.n_layers
    delta: list[Any] = [None] * L  # filled from the last layer down
    delta[L - 1] = np.ones((B, 1), dtype=model.dtype)
    for l in range(L - 2, -1, -1):
        g = np.einsum("nij,ni->nj", W_n[l + 1], delta[l + 1])
        if mode == "local" and weights[l + 1]:
            dot = np.sum(delta[l + 1] * xi[:, offsets[l + 1]:offsets[l + 2]], axis=1)
            safe = np.where(c[l + 1] > 0, c[l + 1], 1)
            g = g + np.where(c[l + 1] > 0, eta * dot / safe, 0)[:, None] * a[l + 1]
        delta[l] = d1[l] * g
    r = z[L - 1][:, 0] - y[ids]
    grad = np.empty(model.n_params, dtype=model.dtype)
    for l, (W_out, b_out) in enumerate(_blocks(model, grad)):
        ud = (2 / B) * r[:, None] * delta[l]
        W_out[...] = ud.T @ a[l]
        b_out[...] = ud.sum(axis=0)
    return np.sum(r * r), grad


def _value_and_grad(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None, *, objective: str, eta: float,
                    noise: str, seed: int, epoch: int, step: int, layers: Collection[int] | None,
                    biases: bool) -> tuple[np.floating[Any], FloatArray]:
    model = _checks.check_model(model)
    X, y, ids = _batch(model, X, y, ids)
    _, plain = _settings(model, objective=objective, eta=eta, noise=noise, optimizer="sgd", lr=1.0, momentum=0.0,
                         batch_size=1, seed=seed, layers=layers, biases=biases)
    epoch, step = _checks.as_count(epoch, "epoch", 0), _checks.as_count(step, "step", 0)
    if plain["objective"] == "noise":
        loss_sum, grad = _noisy_value_and_grad(model, X, y, ids, plain["noise"], plain["eta"], plain["seed"], epoch,
                                               step, layers, biases)
        return model.dtype.type(loss_sum / ids.size), grad
    value, grad = loss(model, X[ids], y[ids]), loss_grad(model, X[ids], y[ids])
    if plain["objective"] == "penalty":
        value = value + plain["eta"] * penalty(model, X[ids], layers=layers, biases=biases)
        grad = grad + plain["eta"] * penalty_grad(model, X[ids], layers=layers, biases=biases)
    return model.dtype.type(value), grad


def objective(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None = None, *, objective: str = "plain",
              eta: float = 0.0, noise: str = "local", seed: int = 0, epoch: int = 0, step: int = 0,
              layers: Collection[int] | None = None, biases: bool = True) -> np.floating[Any]:
    """The minibatch objective: J, J + η·Ω, or the loss under this presentation's noise."""
    return _value_and_grad(model, X, y, ids, objective=objective, eta=eta, noise=noise, seed=seed, epoch=epoch,
                           step=step, layers=layers, biases=biases)[0]


def objective_grad(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None = None, *, objective: str = "plain",
                   eta: float = 0.0, noise: str = "local", seed: int = 0, epoch: int = 0, step: int = 0,
                   layers: Collection[int] | None = None, biases: bool = True) -> FloatArray:
    """Gradient of the minibatch objective, shape (n_params,)."""
    return _value_and_grad(model, X, y, ids, objective=objective, eta=eta, noise=noise, seed=seed, epoch=epoch,
                           step=step, layers=layers, biases=biases)[1]


def train_step(model: MLP, X: ArrayLike, y: ArrayLike, state: OptimizerState, ids: ArrayLike | None = None, *,
               objective: str = "plain", eta: float = 0.0, noise: str = "local", lr: float, momentum: float = 0.0,
               seed: int = 0, epoch: int = 0, layers: Collection[int] | None = None,
               biases: bool = True) -> tuple[MLP, OptimizerState, np.floating[Any]]:
    """One step: SGD v ← μv + g, θ ← θ − lr·v; Adam m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)."""
    model = _checks.check_model(model)
    X, y, ids = _batch(model, X, y, ids)
    _, plain = _settings(model, objective=objective, eta=eta, noise=noise, optimizer=state.optimizer, lr=lr,
                         momentum=momentum, batch_size=1, seed=seed, layers=layers, biases=biases)
    if plain["objective"] == "noise":
        loss_sum, grad = _noisy_value_and_grad(model, X, y, ids, plain["noise"], plain["eta"], plain["seed"], epoch,
                                               state.step, layers, biases)
    else:
        residual = predict(model, X[ids]) - y[ids]
        loss_sum = np.sum(residual * residual)
        grad = objective_grad(model, X, y, ids, objective=objective, eta=eta, seed=seed, layers=layers,
                              biases=biases)
    t = state.step + 1
    moments = state.moments.copy()
    if state.optimizer == "sgd":
        moments[0] = plain["momentum"] * moments[0] + grad
        params = model.params - plain["lr"] * moments[0]
    else:
        (beta1, beta2), lr = ADAM_BETAS, plain["lr"]
        moments[0] = beta1 * moments[0] + (1 - beta1) * grad
        moments[1] = beta2 * moments[1] + (1 - beta2) * grad * grad
        m_hat = moments[0] / (1 - beta1**t)
        v_hat = moments[1] / (1 - beta2**t)
        params = model.params - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPSILON)
    return model.with_params(params), OptimizerState(state.optimizer, t, moments), model.dtype.type(loss_sum / ids.size)
