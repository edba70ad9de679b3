"""Rows for Monte Carlo estimates of J̃_η, whose random numbers differ from library to library.

Two checks, both on a small problem before any timing: the deterministic
core (the perturbed losses for a given ε or ξ) against weightnoise or the
NumPy definition, to 1e-8; then the estimate against the anchor's estimate
(the first row that passes), within N_SIGMA standard errors.
"""

from __future__ import annotations

from typing import Any, Callable

from ..checks import Check, all_of, same_estimate
from ..contenders import Anchor, Contender


def mc_row(impl: str, library: str, build: Callable[[int], Callable[[], Any]],
           estimate_on_check: Callable[[], tuple[float, float]], anchor: Anchor,
           core_check: Callable[[], Check] | None = None, dtype: str = "float64", note: str = "") -> Contender:
    def check() -> Check:
        checks = []
        if core_check is not None:
            core = core_check()
            if not core:
                return core
            checks.append(core)
        checks.append(anchor.judge(f"{impl} ({library})", estimate_on_check(), same_estimate))
        return all_of(*checks)
    return Contender(impl, library, build=build, check=check, dtype=dtype, note=note)
