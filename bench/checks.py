"""Agreement checks run before any timing: a contender that disagrees is reported FAILED, not timed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Normwise relative error allowed against the anchor (weightnoise, or NumPy where
# weightnoise lacks the function). float32 rows are checked against float64 results.
RTOL = {"float64": 1e-8, "float32": 1e-4}
# Two Monte Carlo estimates of the same expectation must agree within this many
# standard errors of their difference (a false alarm at 5σ has odds below 1e-6).
N_SIGMA = 5.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def __post_init__(self):
        object.__setattr__(self, "ok", bool(self.ok))  # NumPy comparisons give numpy.bool

    def __bool__(self) -> bool:
        return self.ok


def parts(value) -> list[np.ndarray]:
    """An output as a list of float64 arrays: (Ω, ∇Ω) → [Ω, ∇Ω]; an array → [array]."""
    if isinstance(value, (tuple, list)):
        return [np.asarray(v, dtype=np.float64) for v in value]
    return [np.asarray(value, dtype=np.float64)]


def relative_error(actual, expected) -> float:
    """‖actual − expected‖∞ / ‖expected‖∞ (the test suite's convention)."""
    actual = np.asarray(actual, dtype=np.float64).ravel()
    expected = np.asarray(expected, dtype=np.float64).ravel()
    if actual.shape != expected.shape:
        return math.inf
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    if not np.all(np.isfinite(actual)):
        return math.inf
    return err / scale if scale > 0 else err


def same_numbers(actual, expected, dtype: str, against: str) -> Check:
    """Every part of the output (e.g. Ω and ∇Ω) within the relative tolerance of the anchor's."""
    actual, expected = parts(actual), parts(expected)
    if len(actual) != len(expected):
        return Check(False, f"{len(actual)} outputs where {against} gives {len(expected)}")
    err = max(relative_error(a, e) for a, e in zip(actual, expected))
    tol = RTOL[dtype]
    return Check(err <= tol, f"rel. err {err:.1e} vs {against} (tol {tol:.0e})")


def same_estimate(mean: float, stderr: float, ref_mean: float, ref_stderr: float, against: str) -> Check:
    """Two independent estimates of one expectation agree within N_SIGMA standard errors."""
    sigma = math.hypot(stderr, ref_stderr)
    if not (math.isfinite(mean) and math.isfinite(sigma)):
        return Check(False, f"estimate {mean!r} ± {sigma!r} is not finite")
    z = abs(mean - ref_mean) / sigma if sigma > 0 else (0.0 if mean == ref_mean else math.inf)
    return Check(z <= N_SIGMA, f"estimate within {z:.1f}σ of {against} (tol {N_SIGMA:.0f}σ)")


def standard_normal_moments(sample) -> Check:
    """Mean 0, variance 1 and excess kurtosis 0 within N_SIGMA standard errors."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    n = x.size
    mean = float(x.mean())
    var = float(x.var())
    kurt = float(np.mean((x - mean) ** 4) / var**2 - 3.0)
    z = max(abs(mean) * math.sqrt(n), abs(var - 1) / math.sqrt(2 / n), abs(kurt) / math.sqrt(24 / n))
    return Check(z <= N_SIGMA and np.all(np.isfinite(x)),
                 f"moments of {n:,} draws within {z:.1f}σ of N(0,1) (tol {N_SIGMA:.0f}σ)")


def all_of(*checks: Check) -> Check:
    return Check(all(c.ok for c in checks), "; ".join(c.detail for c in checks))
