"""Outputs, the loss and products with the per-example gradients, in C++.

Notation: g_n = ∇_θ ŷ(x_n) (length n_params), H_n = ∇²_θ ŷ(x_n),
r_n = ŷ(x_n) − y_n. Every function has a NumPy twin of the same name and
signature in :mod:`weightnoise.reference`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _checks, _core
from ._typing import Array, FloatArray
from .model import ACTIVATIONS, MLP


def _spec(model: MLP) -> tuple[list[int], int, Array]:
    """The (sizes, activation code, params) triple the compiled core takes."""
    return list(model.layer_sizes), ACTIVATIONS.index(model.activation), model.params


def _scalar(model: MLP, value: float | np.floating[Any]) -> np.floating[Any]:
    scalar: np.floating[Any] = model.dtype.type(value)
    return scalar


def predict(model: MLP, X: ArrayLike) -> FloatArray:
    """Network outputs ŷ(x_n).

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)

    Returns
    -------
    ndarray of shape (n_examples,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    _checks.check_kernel_memory(model, "predict", X.shape[0])
    return _core.predict(*_spec(model), X)


def loss(model: MLP, X: ArrayLike, y: ArrayLike) -> np.floating[Any]:
    """Mean squared error J = (1/N) Σ_n (ŷ(x_n) − y_n)².

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)

    Returns
    -------
    scalar of the model's dtype
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    _checks.check_kernel_memory(model, "loss", X.shape[0])
    return _scalar(model, _core.loss(*_spec(model), X, y))


def loss_grad(model: MLP, X: ArrayLike, y: ArrayLike) -> FloatArray:
    """Gradient of the loss, ∇J = (2/N) Σ_n r_n g_n.

    Returns
    -------
    ndarray of shape (n_params,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    _checks.check_kernel_memory(model, "loss_grad", X.shape[0])
    return _core.loss_grad(*_spec(model), X, y)[1]


def vjp(model: MLP, X: ArrayLike, u: ArrayLike) -> FloatArray:
    """Vector–Jacobian product Σ_n u_n g_n with the cotangent u.

    Parameters
    ----------
    u : ndarray of shape (n_examples,)

    Returns
    -------
    ndarray of shape (n_params,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    u = _checks.as_example_vector(model, u, X.shape[0], "u")
    _checks.check_kernel_memory(model, "vjp", X.shape[0])
    return _core.vjp(*_spec(model), X, u)


def jvp(model: MLP, X: ArrayLike, v: ArrayLike) -> FloatArray:
    """Jacobian–vector products g_n · v with the tangent v.

    Parameters
    ----------
    v : ndarray of shape (n_params,)

    Returns
    -------
    ndarray of shape (n_examples,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    v = _checks.as_param_vector(model, v, "v")
    _checks.check_kernel_memory(model, "jvp", X.shape[0])
    return _core.jvp(*_spec(model), X, v)


def per_example_grads(model: MLP, X: ArrayLike) -> FloatArray:
    """All per-example gradients g_n as rows of one matrix.

    Returns
    -------
    ndarray of shape (n_examples, n_params)

    Raises
    ------
    MemoryError
        If the matrix would exceed the memory limit (16 GiB, or
        ``WEIGHTNOISE_MEMORY_LIMIT``); products with it (vjp, jvp) and its row
        norms (grad_norms_sq) never form it.
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    _checks.check_kernel_memory(model, "per_example_grads", X.shape[0])
    return _core.per_example_grads(*_spec(model), X)


def grad_norms_sq(model: MLP, X: ArrayLike, *, layers: Collection[int] | None = None,
                  biases: bool = True) -> FloatArray:
    """Squared norms ‖g_n‖² by the rank-one identity; no g_n is formed.

    Parameters
    ----------
    layers : list of int, optional
        Layers whose parameters count (default: all).
    biases : bool
        Whether the biases of those layers count.

    Returns
    -------
    ndarray of shape (n_examples,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    _checks.check_kernel_memory(model, "grad_norms_sq", X.shape[0])
    return _core.grad_norms_sq(*_spec(model), X, weights, bias_flags)


def hvp(model: MLP, X: ArrayLike, v: ArrayLike, u: ArrayLike | None = None) -> FloatArray:
    """Hessian–vector product Σ_n u_n H_n v by the R-operator.

    Parameters
    ----------
    v : ndarray of shape (n_params,)
    u : ndarray of shape (n_examples,), optional
        Example weights; default 1/N each (the Hessian of the mean output).

    Returns
    -------
    ndarray of shape (n_params,)
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    v = _checks.as_param_vector(model, v, "v")
    if u is None:
        u = np.full(X.shape[0], 1.0 / X.shape[0], dtype=model.dtype)
    u = _checks.as_example_vector(model, u, X.shape[0], "u")
    _checks.check_kernel_memory(model, "hvp", X.shape[0])
    return _core.hvp(*_spec(model), X, v, u)
