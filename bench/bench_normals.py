"""W5: time 10**8 standard normals, NumPy against weightnoise.

Prints nanoseconds per number (best of ``--repeat`` runs, each allocating
its result like a user's call would) for

* NumPy: ``np.random.default_rng().standard_normal(n)`` (single-threaded), and
* weightnoise: ``weightnoise.random.standard_normal(n, seed)`` at 1 thread and
  at all threads,

for float64 and, with ``--float32``, float32 too. Run from the repository
root after building: ``python bench/bench_normals.py [--n 100000000]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from weightnoise import _core
from weightnoise.random import standard_normal


def best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
        del out
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10**8, help="numbers per call (default 10**8)")
    parser.add_argument("--repeat", type=int, default=3, help="calls per measurement; the best is kept (default 3)")
    parser.add_argument("--float32", action="store_true", help="also time float32")
    args = parser.parse_args()
    n = args.n

    default_threads = _core.get_num_threads()
    print(f"n = {n:,}, best of {args.repeat}; {os.cpu_count()} CPUs, weightnoise default threads {default_threads}")
    dtypes = [np.float64, np.float32] if args.float32 else [np.float64]
    rows = []
    for dtype in dtypes:
        name = np.dtype(dtype).name
        rng = np.random.default_rng(12345)
        t_numpy = best_time(lambda rng=rng, dtype=dtype: rng.standard_normal(n, dtype=dtype), args.repeat)
        rows.append((f"numpy default_rng().standard_normal ({name})", t_numpy, t_numpy))
        for threads in sorted({1, default_threads}):
            _core.set_num_threads(threads)
            t = best_time(lambda dtype=dtype: standard_normal(n, seed=12345, dtype=dtype), args.repeat)
            rows.append((f"weightnoise standard_normal ({name}, {threads} thread{'s' * (threads > 1)})", t, t_numpy))
        _core.set_num_threads(0)

    width = max(len(label) for label, _, _ in rows)
    print(f"{'':{width}}  {'ns/number':>10}  {'speedup vs numpy':>16}")
    for label, t, t_ref in rows:
        print(f"{label:{width}}  {t / n * 1e9:10.3f}  {t_ref / t:15.2f}x")


if __name__ == "__main__":
    main()
