"""Timing: each contender is warmed up (prepare), then the contenders' runs are timed together (interleave);
slow contenders run on a stated fraction of the workload.

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
    gc.disable()  # no collector pauses inside a timed run (prepare() collects once, before timing)
    try:
        start = time.perf_counter()
        out = block(run())
        return time.perf_counter() - start, out
    finally:
        gc.enable()


def choose_units(seconds_per_unit: float, full_units: int, min_units: int, budget: Budget) -> int:
    """The full workload if its runs fit the budget, else the largest full/2^k that does.

    The runs: the warm-up, the timed runs and, at most, an untimed run before each (see interleave).
    """
    runs = 2 * budget.min_repeats + 1
    units = full_units
    while units > min_units and seconds_per_unit * units * runs > budget.seconds:
        units = max(min_units, units // 2)
    return units


@dataclass
class Timer:
    """A contender ready to time: its run on ``timing.units`` units, warmed up."""
    run: Callable[[], Any]
    timing: Timing
    budget: Budget
    key: Any = None                  # the library: interleave re-warms where it changes
    error: Exception | None = None   # what a run raised; the timer is then done

    @property
    def done(self) -> bool:
        if self.error is not None:
            return True
        n = len(self.timing.times_s)
        measured_s = sum(self.timing.times_s) / self.timing.scale
        return n >= self.budget.min_repeats and (measured_s >= self.budget.min_total_s
                                                 or n >= self.budget.max_repeats)

    def _seconds(self) -> float | None:
        """One run's seconds, or None once a run has raised (kept in ``error``)."""
        if self.error is not None:
            return None
        try:
            return _clock(self.run)[0]
        except Exception as exc:  # noqa: BLE001  (reported on the contender's row; the others go on)
            self.error = exc
            return None

    def rewarm(self) -> None:
        """An untimed run."""
        self._seconds()

    def time_once(self) -> None:
        seconds = self._seconds()
        if seconds is not None:
            self.timing.times_s.append(seconds * self.timing.scale)


def prepare(build: Callable[[int], Callable[[], Any]], full_units: int, min_units: int, budget: Budget,
            key: Any = None) -> Timer:
    """Build and warm up ``build(units)``; ``build`` prepares a run on the first ``units`` of the workload.

    A probe on a small fraction (run twice: the first run compiles, allocates
    and warms caches) predicts the full cost and picks ``units``.
    """
    gc.collect()
    probe_units = min(full_units, max(min_units, full_units // 64))
    probe = build(probe_units)
    _clock(probe)
    probe_s, _ = _clock(probe)
    units = choose_units(probe_s / probe_units, full_units, min_units, budget)
    if units == probe_units:
        run = probe
    else:
        del probe  # free the probe's buffers before building the larger run
        run = build(units)
        _clock(run)
    return Timer(run, Timing(units=units, full_units=full_units), budget, key)


def interleave(timers: list[Timer], rounds: bool = True) -> None:
    """Time every timer in rounds, one run of each still-unfinished timer per round.

    Side by side in time, so that a slow phase of a shared host (other
    tenants, frequency changes) falls on every contender alike instead of on
    whichever ran then: the targets compare ratios of medians. Where the key
    (the library) changes, an untimed run goes first: the previous library's
    worker threads spin on for a while (XLA's slowed the next library's run
    by 11%, even on one CPU), and its buffers have left the caches. Rows of one
    library run one after another in a round, so they share that run.

    With ``rounds`` false, each timer's runs go back to back instead (after
    such an untimed run): with several threads, idle pools spin on the cores
    the next library needs for longer than one run (OpenBLAS's for up to
    0.1 s: weightnoise's 2-thread W2 took 124 instead of 86 ms after a NumPy
    run and an untimed one), and rounds would charge that to every run.
    """
    timers = sorted(timers, key=lambda t: str(t.key))  # stable: the rows of a library together
    previous = None
    while not all(t.done for t in timers):
        for t in timers:
            if t.done:
                continue
            if len(timers) > 1 and t.key != previous:
                t.rewarm()
            previous = t.key
            t.time_once()
            while not rounds and not t.done:
                t.time_once()

