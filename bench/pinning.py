"""Thread pinning: one worker process per thread count, pinned before any library loads.

NumPy's BLAS, XLA and OpenMP size their thread pools when they are first
imported, so the reliable way to run a library on n threads is a fresh
process whose environment (and CPU affinity) already says n.
"""

from __future__ import annotations

import os


def thread_environment(n_threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker that must use ``n_threads`` threads."""
    env = dict(os.environ if base is None else base)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = str(n_threads)
    if n_threads == 1:
        # XLA's CPU backend otherwise runs Eigen contractions on a pool of all cores. (XLA has no flag
        # for n > 1 threads: its pools size themselves from the CPU affinity, which the worker narrows.)
        flags = env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = flags.strip()
    env["BENCH_THREADS"] = str(n_threads)
    return env


def pin_affinity(n_threads: int) -> str:
    """Restrict this process to the first n CPUs it may run on (pools that count CPUs then see n)."""
    if not hasattr(os, "sched_setaffinity"):
        return "affinity not supported on this platform"
    allowed = sorted(os.sched_getaffinity(0))
    if n_threads >= len(allowed):
        return f"all {len(allowed)} CPUs"
    os.sched_setaffinity(0, allowed[:n_threads])
    return f"CPUs {allowed[:n_threads]}"


def pin_loaded_libraries(n_threads: int) -> list[str]:
    """Set the thread count of every library this process has; returns what was done."""
    done = []
    try:
        from threadpoolctl import threadpool_limits
        # Kept alive for the whole process: the limit lasts as long as the object.
        pin_loaded_libraries._blas_limit = threadpool_limits(limits=n_threads)
        done.append(f"threadpoolctl: BLAS/OpenMP pools limited to {n_threads}")
    except ImportError:
        done.append("threadpoolctl not installed: BLAS pinned by environment variables only")
    try:
        import weightnoise
        weightnoise.set_num_threads(n_threads)
        done.append(f"weightnoise.set_num_threads({n_threads})")
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(n_threads)
        done.append(f"torch.set_num_threads({n_threads})")
    except ImportError:
        pass
    return done
