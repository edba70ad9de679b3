"""The number of OpenMP threads the kernels use."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

from . import _core

MAX_THREADS: int = _core.max_threads


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads in every kernel; ``None`` or 0 restores OpenMP's default.

    Results do not depend on the thread count: work is split into fixed-size
    chunks of examples and partial sums are combined in chunk order.
    """
    if n is None:
        n = 0
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= MAX_THREADS:
        raise ValueError(f"n must be an integer in [0, {MAX_THREADS}] or None, got {n!r}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the next kernel will use."""
    return _core.get_num_threads()


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Context manager: ``with weightnoise.num_threads(1): ...``."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
