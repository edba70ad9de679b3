"""The weight-noise penalty Ω = (1/N) Σ_n ‖g_n‖² and its exact gradient, in C++."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _checks, _core
from ._typing import FloatArray
from .derivatives import _scalar, _spec
from .model import MLP


def penalty(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
            biases: bool = True) -> np.floating[Any]:
    """The penalty Ω = (1/N) Σ_n ‖g_n‖² over the chosen parameters.

    For small η, training with weight noise ε ~ N(0, ηI) on those
    parameters adds η·Ω to the loss (plus the curvature term η·C).

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    layers : list of int, optional
        Layers that carry noise (default: all).
    biases : bool
        Whether their biases carry noise.

    Returns
    -------
    scalar of the model's dtype
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "penalty", X.shape[0])
    return _scalar(model, _core.penalty(*_spec(model), X, weights, bias_flags))


def penalty_grad(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                 biases: bool = True) -> FloatArray:
    """Exact gradient ∇_θ Ω = (2/N) Σ_n H_n g_n with respect to all parameters.

    Computed by the R-operator along the rank-one directions g_n, at a small
    constant multiple of one forward and backward pass; no g_n or H_n is formed.

    Returns
    -------
    ndarray of shape (n_params,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "penalty_grad", X.shape[0])
    return _core.penalty_grad(*_spec(model), X, weights, bias_flags)[1]


def penalty_and_grad(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                     biases: bool = True) -> tuple[np.floating[Any], FloatArray]:
    """Ω and ∇_θ Ω from one pass (the gradient pass yields Ω on the way).

    Returns
    -------
    penalty : scalar of the model's dtype
    grad : ndarray of shape (n_params,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "penalty_grad", X.shape[0], "penalty_and_grad")
    omega, grad = _core.penalty_grad(*_spec(model), X, weights, bias_flags)
    return _scalar(model, omega), grad
