"""Gaussian weight perturbation and Monte Carlo estimates of the perturbed loss, in C++.

The perturbed loss is J̃_η = E_ε (1/N) Σ_n (ŷ_{θ+ε}(x_n) − y_n)² with
ε ~ N(0, ηI) on the chosen parameters. Noise modes:

``shared``
    one ε_k per draw, shared by all examples;
``per_example``
    an independent ε_{k,n} for every draw and example, sampled literally;
``local``
    the same distribution as ``per_example``, sampled through the
    pre-activations: z_l += √η √(‖a_l‖² + 1) ξ_l, ξ_l ~ N(0, I), at about the
    cost of a forward pass.

With ``antithetic=True`` every draw is evaluated at +ε and −ε (±ξ), so the
first-order term cancels exactly and the standard error of (J̃ − J)/η stays
bounded as η → 0. Random numbers come from counter-based streams, so results
do not depend on the number of threads.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numpy.typing import ArrayLike

from . import _checks, _core
from .derivatives import _spec
from .estimate import Estimate
from .model import MLP

NOISE_MODES = ("shared", "per_example", "local")


def perturb(model: MLP, eta: float, seed: int = 0, *, draw: int = 0, layers: Collection[int] | None = None,
            biases: bool = True) -> MLP:
    """A new model with parameters θ + ε, ε ~ N(0, ηI) on the chosen parameters.

    ε is draw ``draw`` of the shared-noise stream of ``seed``: the
    perturbation that ``perturbed_loss(..., noise="shared", seed=seed)``
    applies in that draw.

    Parameters
    ----------
    model : MLP
    eta : float
        Noise variance, η ≥ 0.
    seed, draw : int
    layers, biases
        The parameters that carry noise, as in :func:`weightnoise.penalty`.

    Returns
    -------
    MLP
    """
    model = _checks.check_model(model)
    eta = _checks.as_eta(eta, dtype=model.dtype)
    seed, draw = _checks.as_seed(seed), _checks.as_count(draw, "draw", minimum=0)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    sizes, activation, params = _spec(model)
    moved = _core.perturb(sizes, activation, params, eta, seed, draw, weights, bias_flags)
    if not np.all(np.isfinite(moved)):
        raise ValueError(f"eta = {eta} is so large that θ + ε overflows {model.dtype}")
    return model.with_params(moved)


def perturbed_loss(model: MLP, X: ArrayLike, y: ArrayLike, eta: float, n_draws: int, noise: str = "shared",
                   antithetic: bool = True, seed: int = 0, *, layers: Collection[int] | None = None,
                   biases: bool = True) -> Estimate:
    """Monte Carlo estimate of the perturbed loss J̃_η.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)
    eta : float
        Noise variance, η ≥ 0.
    n_draws : int
        Independent draws K (each covers every example once, twice when antithetic).
    noise : {"shared", "per_example", "local"}
    antithetic : bool
        Evaluate every draw at ±ε.
    seed : int
    layers, biases
        The parameters that carry noise.

    Returns
    -------
    Estimate
        ``mean``, ``stderr`` (over the K independent draws), ``n_evaluations`` and ``draws``.
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    eta = _checks.as_eta(eta, dtype=model.dtype)
    n_draws = _checks.as_count(n_draws, "n_draws")
    mode = _checks.as_choice(noise, "noise", NOISE_MODES)
    antithetic = _checks.as_flag(antithetic, "antithetic")
    seed = _checks.as_seed(seed)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "perturbed_loss", X.shape[0], n_draws=n_draws, noise=mode,
                                antithetic=antithetic)
    draws = _core.perturbed_losses(*_spec(model), X, y, NOISE_MODES.index(mode), eta, seed, antithetic,
                                   weights, bias_flags, n_draws, 0)
    return Estimate.from_draws(draws, n_draws * X.shape[0] * (2 if antithetic else 1))
