"""What a workload hands the runner: cases (one problem each) and their contenders (one row each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .checks import Check
from .flops import Work


@dataclass
class Contender:
    """One implementation of one case: a table row.

    build(units) prepares a run on the first ``units`` of the case's scalable
    axis and returns a zero-argument callable. ``check`` compares the
    implementation with the anchor on a small problem before any timing.
    """
    impl: str
    library: str
    build: Callable[[int], Callable[[], Any]] | None = None
    check: Callable[[], Check] | None = None
    dtype: str = "float64"
    note: str = ""
    skip: str = ""      # why it is not run (its library is not installed)
    baseline: bool | None = None  # the row others are divided by; default: weightnoise in float64


@dataclass
class Case:
    """One problem of a workload, e.g. W1 on Arch A."""
    workload: str
    name: str
    description: str
    unit: str           # the scalable axis: "examples", "draws", "normals", "minibatches"
    full_units: int
    min_units: int
    work: Work          # FLOPs and activations of the full case
    contenders: Callable[[], list[Contender]] = field(default=list)
    has_targets: bool = False


class Anchor:
    """The reference estimate of a Monte Carlo case: set by the first contender, compared by the rest."""

    def __init__(self):
        self.estimate: tuple[float, float] | None = None
        self.impl = ""

    def judge(self, impl: str, estimate, compare: Callable[..., Check]) -> Check:
        mean, stderr = estimate
        if self.estimate is None:
            self.estimate, self.impl = (mean, stderr), impl
            return Check(True, f"anchor: J̃ = {mean:.6g} ± {stderr:.2g}")
        return compare(mean, stderr, *self.estimate, self.impl)
