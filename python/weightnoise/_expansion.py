"""The second-order account of the perturbed loss, composed from the kernels of
one implementation (the compiled core or the NumPy reference)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .model import MLP


@dataclass(frozen=True)
class SecondOrder:
    """J̃_η ≈ J + η·Ω + η·C, term by term."""

    loss: float           # J
    eta_penalty: float    # η·Ω, the textbook regularizer
    eta_curvature: float  # η·C, the term the textbook drops
    total: float          # J + η·Ω + η·C, the second-order prediction of J̃_η

    @property
    def textbook(self) -> float:
        """J + η·Ω, the textbook prediction of J̃_η."""
        return self.loss + self.eta_penalty


def second_order(impl: ModuleType, model: MLP, X: ArrayLike, y: ArrayLike, eta: float,
                 layers: Collection[int] | None, biases: bool) -> SecondOrder:
    model = _checks.check_model(model)
    eta = _checks.as_eta(eta, dtype=model.dtype)
    J, omega, C = (float(term) for term in impl.second_order_terms(model, X, y, layers=layers, biases=biases))
    return SecondOrder(J, eta * omega, eta * C, J + eta * omega + eta * C)


def log_log_slope(etas: NDArray[np.float64], residuals: NDArray[np.float64]) -> float:
    """Least-squares slope of log|residual| against log η (NaN without two distinct η > 0 with nonzero,
    finite residuals)."""
    keep = (np.abs(residuals) > 0) & np.isfinite(residuals) & (etas > 0)
    if np.unique(etas[keep]).size < 2:
        return float("nan")
    return float(np.polyfit(np.log(etas[keep]), np.log(np.abs(residuals[keep])), 1)[0])


FIELDS = [("eta", "f8"), ("measured", "f8"), ("stderr", "f8"), ("textbook", "f8"), ("second_order", "f8"),
          ("residual_textbook", "f8"), ("residual_second_order", "f8")]


@dataclass(frozen=True)
class Equivalence:
    """Measured J̃_η against the textbook (J + ηΩ) and full second-order (J + ηΩ + ηC) predictions.

    Attributes
    ----------
    table : structured ndarray
        One row per η with fields eta, measured, stderr, textbook, second_order,
        residual_textbook (measured − textbook) and residual_second_order.
    slope_textbook, slope_second_order : float
        Fitted log-log slopes of |residual| against η: about 1 for the textbook
        residual when C ≠ 0 (it misses η·C), about 2 for the full one.
    loss, penalty, curvature : float
        J, Ω and C of the model.
    noise, n_draws, antithetic, seed
        The estimator's settings.
    """

    table: NDArray[np.void]
    slope_textbook: float
    slope_second_order: float
    loss: float
    penalty: float
    curvature: float
    noise: str
    n_draws: int
    antithetic: bool
    seed: int

    def __str__(self) -> str:
        header = f"{'eta':>10} {'measured J~':>14} {'stderr':>9} {'J + eta*Omega':>14} {'+ eta*C':>14} " \
                 f"{'resid text':>11} {'resid full':>11}"
        lines = [header]
        for r in self.table:
            lines.append(f"{r['eta']:10.3g} {r['measured']:14.8f} {r['stderr']:9.2g} {r['textbook']:14.8f} "
                         f"{r['second_order']:14.8f} {r['residual_textbook']:11.3g} "
                         f"{r['residual_second_order']:11.3g}")
        lines.append(f"log-log slope of |residual| against eta: textbook {self.slope_textbook:.2f}, "
                     f"second order {self.slope_second_order:.2f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, for JSON."""
        out: dict[str, Any] = {name: [float(v) for v in self.table[name]] for name, _ in FIELDS}
        out.update(slope_textbook=self.slope_textbook, slope_second_order=self.slope_second_order,
                   loss=self.loss, penalty=self.penalty, curvature=self.curvature, noise=self.noise,
                   n_draws=self.n_draws, antithetic=self.antithetic, seed=self.seed)
        return out


def equivalence(impl: ModuleType, model: MLP, X: ArrayLike, y: ArrayLike, etas: ArrayLike, n_draws: int, noise: str,
                antithetic: bool, seed: int, layers: Collection[int] | None, biases: bool) -> Equivalence:
    if isinstance(etas, (str, bytes)):
        raise TypeError(f"etas must be a sequence of noise variances, got {etas!r}")
    try:
        etas = np.asarray(etas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"etas must be a sequence of real noise variances: {exc}") from None
    if etas.ndim != 1 or etas.size == 0:
        raise ValueError(f"etas must be a non-empty 1-D sequence, got shape {etas.shape}")
    for eta in etas:
        _checks.as_eta(eta, "every eta")
    J, omega, C = (float(term) for term in impl.second_order_terms(model, X, y, layers=layers, biases=biases))
    table = np.zeros(etas.size, dtype=FIELDS)
    for row, eta in zip(table, etas):
        # The same seed at every η: common random numbers, ε = √η ξ with one ξ.
        estimate = impl.perturbed_loss(model, X, y, float(eta), n_draws, noise, antithetic, seed,
                                       layers=layers, biases=biases)
        row["eta"], row["measured"], row["stderr"] = eta, estimate.mean, estimate.stderr
        row["textbook"] = J + eta * omega
        row["second_order"] = J + eta * (omega + C)
    table["residual_textbook"] = table["measured"] - table["textbook"]
    table["residual_second_order"] = table["measured"] - table["second_order"]
    # The options as plain Python values (perturbed_loss has checked them; they may be NumPy scalars).
    return Equivalence(table, log_log_slope(etas, table["residual_textbook"]),
                       log_log_slope(etas, table["residual_second_order"]), J, omega, C, str(noise), int(n_draws),
                       bool(antithetic), int(seed))
