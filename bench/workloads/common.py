"""Row builders shared by the workloads: exact-agreement rows, skipped rows, library look-ups."""

from __future__ import annotations

from typing import Any, Callable

from .. import peers
from ..checks import Check, same_numbers
from ..contenders import Contender


def exact_row(impl: str, library: str, make_run: Callable[[Any], Callable[[], Any]], problem, check_problem,
              truth: Callable[[], Any], against: str, dtype: str = "float64", note: str = "") -> Contender:
    """A deterministic contender: make_run(problem) → run; checked on check_problem against truth()."""
    def check() -> Check:
        return same_numbers(make_run(check_problem)(), truth(), dtype, against)
    return Contender(impl, library, build=lambda units: make_run(problem.head(units)), check=check, dtype=dtype,
                     note=note)


def skipped(impl: str, library: str, reason: str, dtype: str = "float64") -> Contender:
    return Contender(impl, library, skip=reason, dtype=dtype)


def library_rows(library: str, impls: list[str], make_rows: Callable[[], list[Contender]]) -> list[Contender]:
    """make_rows() when the library imports; otherwise one skipped row per implementation, with the reason."""
    ok, reason = peers.available(library)
    if not ok:
        return [skipped(impl, library, reason) for impl in impls]
    return make_rows()


def cached(fn: Callable[[], Any]) -> Callable[[], Any]:
    """fn() computed once (the anchor's result on the check problem, shared by every row)."""
    box = []

    def get():
        if not box:
            box.append(fn())
        return box[0]
    return get
