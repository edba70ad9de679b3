"""The machine's own limit: the GEMM rate and the tanh rate at this process's thread count.

A workload that needs F floating-point operations and A activation
evaluations cannot run faster than F / (GEMM rate) + A / (tanh rate): its
matrix products can at best run at the speed of one large, well-shaped
matrix product, and its activations at the speed of the fastest large
vectorized tanh at hand (NumPy on n threads, PyTorch, or XLA under jit).
Elementwise work, memory traffic and random numbers are not counted, so
the limit is a lower bound on the time.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GEMM_SIZE = 2048
# 2 MiB of float64: large enough that call overhead is a few percent, small enough to stay in the
# last-level cache, so the rate is the tanh's own and not the memory's (the kernels apply tanh to
# cache-sized chunks of examples).
TANH_ELEMENTS = 1 << 18


# Seconds each tanh is timed for, at least: its runs are a fraction of a millisecond, and a library's
# background work after its first call (XLA finishing a compilation on the one pinned CPU) can slow a
# handful of them; the best run of a quarter second is the tanh's own rate.
TANH_SECONDS = 0.25


def _best_time(fn, repeats: int, min_seconds: float = 0.0) -> float:
    """The fastest of at least ``repeats`` runs after a warm-up, running on until ``min_seconds`` have passed."""
    fn()  # warm-up: page in buffers, start thread pools, compile
    best = float("inf")
    runs, began = 0, time.perf_counter()
    while runs < repeats or time.perf_counter() - began < min_seconds:
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        runs += 1
    return best


def gemm_rate(dtype, repeats: int = 3, size: int = GEMM_SIZE) -> float:
    """FLOP/s of one size×size matrix product (2·size³ FLOPs) in NumPy's BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty_like(a)
    return 2.0 * size**3 / _best_time(lambda: np.matmul(a, b, out=out), repeats)


def _numpy_tanh_rate(x: np.ndarray, out: np.ndarray, n_threads: int, repeats: int, seconds: float) -> float:
    # np.tanh is single-threaded but releases the GIL, so n threads on n slices run in parallel.
    slices = [slice(i * x.size // n_threads, (i + 1) * x.size // n_threads) for i in range(n_threads)]
    with ThreadPoolExecutor(n_threads) as pool:
        def run():
            list(pool.map(lambda s: np.tanh(x[s], out=out[s]), slices))
        return x.size / _best_time(run, repeats, seconds)


def _torch_tanh_rate(x: np.ndarray, out: np.ndarray, repeats: int, seconds: float) -> float:
    import torch  # uses its intra-op pool, already sized to this process's thread count
    tx, tout = torch.from_numpy(x), torch.from_numpy(out)
    return x.size / _best_time(lambda: torch.tanh(tx, out=tout), repeats, seconds)


def _jax_tanh_rate(x: np.ndarray, repeats: int, seconds: float) -> float:
    import jax  # XLA's tanh is a rational approximation, often the fastest of the three
    jax.config.update("jax_enable_x64", True)
    tanh = jax.jit(jax.numpy.tanh)
    jx = jax.device_put(x)
    return x.size / _best_time(lambda: tanh(jx).block_until_ready(), repeats, seconds)


def tanh_rate(dtype, n_threads: int, repeats: int = 5, elements: int = TANH_ELEMENTS,
              seconds: float = TANH_SECONDS) -> tuple[float, str]:
    """Elements/s of the fastest vectorized tanh at hand (NumPy threaded by hand, PyTorch, JAX), and which;
    each is timed for at least ``seconds``."""
    x = np.random.default_rng(1).uniform(-3, 3, elements).astype(dtype)
    out = np.empty_like(x)
    rates = {"numpy": _numpy_tanh_rate(x, out, n_threads, repeats, seconds)}
    candidates = {"torch": lambda: _torch_tanh_rate(x, out, repeats, seconds),
                  "jax": lambda: _jax_tanh_rate(x, repeats, seconds)}
    for name, rate in candidates.items():
        try:
            rates[name] = rate()
        except ImportError:
            pass
    best = max(rates, key=rates.get)
    return rates[best], best


def measure_limits(n_threads: int, dtypes=("float64", "float32"), repeats: int = 3, gemm_size: int = GEMM_SIZE,
                   tanh_elements: int = TANH_ELEMENTS, tanh_seconds: float = TANH_SECONDS) -> dict[str, dict]:
    """{dtype: {"gemm_flops_per_s", "tanh_per_s", "tanh_source"}} measured now, in this process."""
    limits = {}
    for dtype in dtypes:
        rate, source = tanh_rate(np.dtype(dtype), n_threads, repeats + 2, tanh_elements, tanh_seconds)
        limits[dtype] = {"gemm_flops_per_s": gemm_rate(np.dtype(dtype), repeats, gemm_size),
                         "tanh_per_s": rate, "tanh_source": source}
    return limits


def fastest(*measurements: dict[str, dict]) -> dict[str, dict]:
    """measure_limits results combined: per dtype, the highest GEMM and tanh rates of any of them.

    A limit is what the machine can do; on a shared host a measurement that
    fell into a busy phase reads low (one-thread GEMM 30 instead of 42 GFLOP/s),
    and a low limit would flatter every row's time ÷ limit.
    """
    combined: dict[str, dict] = {}
    for limits in measurements:
        for dtype, v in limits.items():
            best = combined.setdefault(dtype, dict(v))
            best["gemm_flops_per_s"] = max(best["gemm_flops_per_s"], v["gemm_flops_per_s"])
            if v["tanh_per_s"] > best["tanh_per_s"]:
                best["tanh_per_s"], best["tanh_source"] = v["tanh_per_s"], v["tanh_source"]
    return combined


def limit_seconds(flops: float, activations: float, limits: dict) -> float | None:
    """The workload's lower-bound time on this machine, or None when it has no FLOP/activation count."""
    if not flops and not activations:
        return None
    return flops / limits["gemm_flops_per_s"] + activations / limits["tanh_per_s"]
