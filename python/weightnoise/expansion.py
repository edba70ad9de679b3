"""The full second-order account J̃_η = J + η·Ω + η·C + O(η²), and the
table that holds it against Monte Carlo measurements of J̃_η."""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from types import ModuleType

from numpy.typing import ArrayLike

from . import _expansion
from ._expansion import Equivalence, SecondOrder
from ._typing import FloatArray
from .model import MLP

__all__ = ["Equivalence", "SecondOrder", "equivalence", "second_order"]


def second_order(model: MLP, X: ArrayLike, y: ArrayLike, eta: float, *, layers: Collection[int] | None = None,
                 biases: bool = True) -> SecondOrder:
    """The second-order prediction of the perturbed loss, term by term.

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)
    eta : float
        Noise variance η ≥ 0.
    layers, biases
        The parameters that carry noise; Ω and C range over the same subset.

    Returns
    -------
    SecondOrder
        ``loss`` (J), ``eta_penalty`` (η·Ω), ``eta_curvature`` (η·C), ``total``
        (their sum, the prediction of J̃_η) and ``textbook`` (J + η·Ω).
    """
    return _expansion.second_order(_api(), model, X, y, eta, layers, biases)


def equivalence(model: MLP, X: ArrayLike, y: ArrayLike, etas: Sequence[float] | FloatArray, n_draws: int,
                noise: str = "shared", antithetic: bool = True, seed: int = 0, *,
                layers: Collection[int] | None = None, biases: bool = True) -> Equivalence:
    """Measured J̃_η against J + η·Ω and J + η·Ω + η·C over a grid of η.

    Every η uses the same seed, so the draws are common random numbers
    (ε = √η ξ with the same ξ), and the residuals vary smoothly with η.

    Parameters
    ----------
    etas : sequence of float
        The grid of noise variances.
    n_draws, noise, antithetic, seed
        The estimator, as in :func:`weightnoise.perturbed_loss`.
    layers, biases
        The parameters that carry noise.

    Returns
    -------
    Equivalence
        The table (a structured array), the fitted log-log slopes of both
        residuals, and J, Ω, C.
    """
    return _expansion.equivalence(_api(), model, X, y, etas, n_draws, noise, antithetic, seed, layers, biases)


def _api() -> ModuleType:
    return sys.modules["weightnoise"]
