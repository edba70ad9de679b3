"""W5: 10⁸ standard normals (weightnoise.standard_normal against the generators of NumPy, PyTorch, JAX).

Checked on 10⁶ draws: mean, variance and kurtosis of N(0, 1) within 5σ;
weightnoise also against the NumPy twin of its counter-based generator
(weightnoise._philox), to 1e-8. Rows with out= refill one buffer, which skips
the zeroing of a new array's pages. bench/bench_normals.py holds the
standalone generator benchmark; this module only times the calls.
"""

from __future__ import annotations

import numpy as np

import weightnoise

from .. import weightnoise_rows
from ..checks import all_of, same_numbers, standard_normal_moments
from ..contenders import Case, Contender
from ..flops import NO_WORK
from .common import library_rows

CHECK_DRAWS = 10**6


def _row(impl, library, make_run, dtype="float64", extra_check=None, note="", baseline=None):
    def check():
        moments = standard_normal_moments(make_run(CHECK_DRAWS)())
        return all_of(moments, extra_check()) if extra_check is not None and moments else moments
    return Contender(impl, library, build=make_run, check=check, dtype=dtype, note=note, baseline=baseline)


def _into_buffer(fill):
    """make_run(n) for fill(buffer) into one buffer of n doubles, allocated (and touched) before the timing."""
    def make_run(n):
        buffer = np.zeros(n)
        return lambda: fill(buffer)
    return make_run


def _same_stream_check():
    """weightnoise.standard_normal against the NumPy twin of its generator (weightnoise._philox)."""
    from weightnoise import _philox

    def check():
        twin = _philox.normal(0, _philox.Purpose.standard_normal, 0, 0, 0, 1000, dtype=np.float64)
        return same_numbers(weightnoise.standard_normal((1000,), seed=0, dtype=np.float64), twin, "float64",
                            "the NumPy Philox twin (weightnoise._philox.normal)")
    return check


def contenders() -> list[Contender]:
    rows = []
    same_stream = _same_stream_check()
    for dtype in ("float64", "float32"):
        rows.append(_row("weightnoise.standard_normal", "weightnoise",
                         lambda n, dtype=dtype: weightnoise_rows.standard_normal(weightnoise, n, dtype), dtype,
                         same_stream if dtype == "float64" else None))

    def numpy_normals(n):
        rng = np.random.default_rng(0)
        return lambda: rng.standard_normal(n)
    rows.append(_row("NumPy default_rng().standard_normal", "numpy", numpy_normals, note="single-threaded"))
    rows.append(_row("weightnoise.standard_normal(out=…), one buffer", "weightnoise",
                     _into_buffer(lambda b: weightnoise.standard_normal(seed=0, out=b)), baseline=False))
    rng = np.random.default_rng(0)
    rows.append(_row("NumPy default_rng().standard_normal(out=…), one buffer", "numpy",
                     _into_buffer(lambda b: rng.standard_normal(out=b)), note="single-threaded"))

    def torch_rows():
        import torch

        from ..peers.torch_common import generator

        def normals(n):
            g = generator(0)
            return lambda: torch.randn(n, generator=g, dtype=torch.float64)
        return [_row("torch.randn", "torch", normals)]

    def jax_rows():
        from ..peers import jax_peers
        return [_row("jax.random.normal under jit", "jax", lambda n: jax_peers.standard_normal(n, np.float64))]

    rows += library_rows("torch", ["torch.randn"], torch_rows)
    rows += library_rows("jax", ["jax.random.normal under jit"], jax_rows)
    return rows


def cases(sizes) -> list[Case]:
    n = sizes.n_normals
    return [Case("W5", "normals", f"{n:,} standard normals", "normals", n,
                 min(n, CHECK_DRAWS), NO_WORK, contenders, has_targets=True)]
