"""Hessian traces and the curvature term C = (1/N) Σ_n r_n tr H_n, in C++."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _checks, _core
from ._typing import FloatArray
from .derivatives import _scalar, _spec, predict
from .model import MLP

METHODS = ("exact", "hutchinson")


def _check_method(method: object, n_probes: object, seed: object) -> tuple[int, int]:
    _checks.as_choice(method, "method", METHODS)
    return _checks.as_count(n_probes, "n_probes"), _checks.as_seed(seed)


def hessian_trace(model: MLP, X: ArrayLike, method: str = "exact", *, n_probes: int = 64, seed: int = 0,
                  layers: Collection[int] | None = None, biases: bool = True) -> FloatArray:
    """Per-example Hessian traces tr H_n over the chosen parameters.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    method : {"exact", "hutchinson"}
        ``exact`` propagates ∇²_z ŷ layer by layer (batched products for up to
        two hidden layers, dense per-example matrices deeper); ``hutchinson``
        averages vᵀ H_n v over ``n_probes`` Rademacher probes v (unbiased,
        for very deep or wide nets).
    n_probes, seed : int
        Probes of the Hutchinson estimator and the seed of their stream.
    layers, biases
        The parameter subset, as in :func:`weightnoise.penalty`.

    Returns
    -------
    ndarray of shape (n_examples,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    n_probes, seed = _check_method(method, n_probes, seed)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, f"hessian_trace_{method}", X.shape[0], f"hessian_trace(method={method!r})")
    if method == "exact":
        return _core.hessian_trace_exact(*_spec(model), X, weights, bias_flags)
    return _core.hessian_trace_hutchinson(*_spec(model), X, weights, bias_flags, n_probes, seed)


def curvature(model: MLP, X: ArrayLike, y: ArrayLike, method: str = "exact", *, n_probes: int = 64, seed: int = 0,
              layers: Collection[int] | None = None, biases: bool = True) -> np.floating[Any]:
    """The curvature term C = (1/N) Σ_n r_n tr H_n, with r_n = ŷ(x_n) − y_n.

    The second-order expansion of the perturbed loss is
    J̃_η = J + η·Ω + η·C + O(η²); the textbook keeps only η·Ω.

    Returns
    -------
    scalar of the model's dtype
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    _check_method(method, n_probes, seed)
    if method == "exact":  # one pass, no trace vector
        return _terms(model, X, y, layers, biases, "curvature(method='exact')")[2]
    residual = predict(model, X) - y
    trace = hessian_trace(model, X, method, n_probes=n_probes, seed=seed, layers=layers, biases=biases)
    return _scalar(model, np.mean(residual * trace))


def second_order_terms(model: MLP, X: ArrayLike, y: ArrayLike, *, layers: Collection[int] | None = None,
                       biases: bool = True) -> tuple[np.floating[Any], np.floating[Any], np.floating[Any]]:
    """J, Ω and C (exact) over the subset, from one forward and backward pass per chunk.

    The same numbers as :func:`loss`, :func:`penalty` and :func:`curvature`,
    which would each redo those passes; :func:`second_order`,
    :func:`equivalence` and ``fit``'s monitoring use this.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)
    layers, biases
        The parameter subset, as in :func:`weightnoise.penalty`.

    Returns
    -------
    (J, Ω, C) : tuple of three scalars of the model's dtype
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    return _terms(model, X, _checks.as_example_vector(model, y, X.shape[0], "y"), layers, biases,
                  "second_order_terms")


def _terms(model: MLP, X: FloatArray, y: FloatArray, layers: Collection[int] | None, biases: bool,
           what: str) -> tuple[np.floating[Any], np.floating[Any], np.floating[Any]]:
    """second_order_terms for a checked model, X and y; ``what`` names the call in a MemoryError."""
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "hessian_trace_exact", X.shape[0], what)
    J, omega, C = _core.second_order_terms(*_spec(model), X, y, weights, bias_flags)
    return _scalar(model, J), _scalar(model, omega), _scalar(model, C)
