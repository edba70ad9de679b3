"""Monte Carlo estimates with their standard errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ._typing import FloatArray


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate of the perturbed loss.

    Attributes
    ----------
    mean : float
        The estimate: the mean of the per-draw values.
    stderr : float
        Its standard error, std(draws, ddof=1) / sqrt(n_draws); NaN for one draw.
    n_evaluations : int
        Forward evaluations of one example at one perturbation that went into it.
    draws : ndarray of shape (n_draws,)
        The independent per-draw values (each the mean over the examples, and
        over the ± pair of an antithetic draw).
    """

    mean: float
    stderr: float
    n_evaluations: int
    draws: FloatArray = field(repr=False)

    @classmethod
    def from_draws(cls, draws: ArrayLike, n_evaluations: int) -> Estimate:
        draws = np.asarray(draws)
        with np.errstate(invalid="ignore", over="ignore"):  # infinite draws (a diverged model): NaN, no warning
            stderr = draws.std(ddof=1) / np.sqrt(draws.size) if draws.size > 1 else np.nan
        return cls(draws.dtype.type(draws.mean()), draws.dtype.type(stderr), int(n_evaluations), draws)

    def __str__(self) -> str:
        return f"{self.mean:.8g} ± {self.stderr:.2g}"
