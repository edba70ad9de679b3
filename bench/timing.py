"""Timing: a warm-up, then repeated runs; slow contenders run on a stated fraction of the workload.

Every workload has a scalable axis (examples, draws, normals or minibatches)
along which its cost is linear. A contender whose full workload would not fit
its time budget runs on the first ``units`` of that axis, and its times are
multiplied by ``full_units / units``; the report says so on that row.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Budget:
    """How long one contender may take, and how many timed runs it gets."""
    seconds: float          # for the warm-up plus all timed runs
    min_repeats: int        # timed runs after the warm-up
    max_repeats: int
    min_total_s: float      # keep repeating short runs up to this much timed time


@dataclass
class Timing:
    units: int
    full_units: int
    times_s: list[float] = field(default_factory=list)   # scaled to the full workload
    warmup_output: Any = None

    @property
    def scale(self) -> float:
        return self.full_units / self.units

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)


def block(value):
    """Wait for asynchronous results (JAX) so the clock measures the computation."""
    if hasattr(value, "block_until_ready"):
        value.block_until_ready()
    elif isinstance(value, (tuple, list)):
        for item in value:
            block(item)
    return value


def _clock(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.disable()  # no collector pauses inside a timed run (measure() collects once, before timing)
    try:
        start = time.perf_counter()
        out = block(run())
        return time.perf_counter() - start, out
    finally:
        gc.enable()


def choose_units(seconds_per_unit: float, full_units: int, min_units: int, budget: Budget) -> int:
    """The full workload if its runs fit the budget, else the largest full/2^k that does."""
    runs = budget.min_repeats + 1
    units = full_units
    while units > min_units and seconds_per_unit * units * runs > budget.seconds:
        units = max(min_units, units // 2)
    return units


def measure(build: Callable[[int], Callable[[], Any]], full_units: int, min_units: int, budget: Budget) -> Timing:
    """Time ``build(units)()``; ``build`` prepares a run on the first ``units`` of the workload.

    A probe on a small fraction (run twice: the first run compiles, allocates
    and warms caches) predicts the full cost and picks ``units``.
    """
    gc.collect()
    probe_units = min(full_units, max(min_units, full_units // 64))
    probe = build(probe_units)
    _clock(probe)
    probe_s, probe_out = _clock(probe)
    units = choose_units(probe_s / probe_units, full_units, min_units, budget)
    timing = Timing(units=units, full_units=full_units)
    if units == probe_units:
        run, timing.warmup_output = probe, probe_out
    else:
        del probe, probe_out  # free the probe's buffers before building the larger run
        run = build(units)
        _, timing.warmup_output = _clock(run)
    scale = full_units / units
    measured = []
    while len(measured) < budget.min_repeats or (sum(measured) < budget.min_total_s
                                                  and len(measured) < budget.max_repeats):
        seconds, _ = _clock(run)
        measured.append(seconds)
    timing.times_s = [s * scale for s in measured]
    return timing
