"""OpenMP scaling: weightnoise alone on W1–W6 (Arch A) at 1, 2, 4, … threads.

    python bench/scaling.py --threads 1,2,4,8,16 --out SCALING.md
    python bench/scaling.py --smoke --threads 1,2          # seconds (the test suite runs it)

bench/run.py sets weightnoise against its peers at one or two thread counts;
this script asks how far the core itself scales on a machine with more
cores: each workload at every thread count in one process (threads set with
weightnoise.num_threads), the minimum and median of the timed runs after a
warm-up, the speed-up over one thread and the parallel efficiency, and
whether the result is bitwise the one thread's (DESIGN.md: results never
depend on the number of threads).

W6 is one epoch of minibatch SGD with batch 256: four chunks of 64 rows per
step, so it cannot use more than four threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe_machine
from bench.problems import ETA, FULL_SIZES, LEARNING_RATE, SMOKE_SIZES, make_problem


def workloads(sizes):
    """(name, what it computes, function returning an array) for W1–W6 on Arch A."""
    import weightnoise as wn

    problem = make_problem(sizes.arch_a, sizes.n_a)
    model, X, y = problem.model(), problem.X, problem.y
    w4 = problem.head(sizes.n_w4)

    def penalty_and_grad():
        omega, grad = wn.penalty_and_grad(model, X)
        return np.append(grad, omega)

    def fit_plain():
        result = wn.fit(model.copy(), X, y, objective="plain", optimizer="sgd", lr=LEARNING_RATE, epochs=1,
                        batch_size=sizes.batch, seed=0, progress=False, monitor=False)
        return np.asarray(result.model.params)

    return [
        ("W1", f"grad_norms_sq, N = {sizes.n_a:,}", lambda: wn.grad_norms_sq(model, X)),
        ("W2", f"penalty_and_grad, N = {sizes.n_a:,}", penalty_and_grad),
        ("W3", f"perturbed_loss shared, K = {sizes.draws_w3}",
         lambda: np.asarray(wn.perturbed_loss(model, X, y, ETA, sizes.draws_w3, noise="shared", antithetic=False,
                                              seed=1).draws)),
        ("W4", f"perturbed_loss local, N = {sizes.n_w4:,}, K = {sizes.draws_w4}",
         lambda: np.asarray(wn.perturbed_loss(model, w4.X, w4.y, ETA, sizes.draws_w4, noise="local",
                                              antithetic=False, seed=1).draws)),
        ("W5", f"standard_normal, {sizes.n_normals:,}", lambda: wn.standard_normal(sizes.n_normals, seed=0)),
        ("W6", f"fit plain, one epoch, batch {sizes.batch}", fit_plain),
    ]


def measure(function, repeats: int) -> tuple[float, float, np.ndarray]:
    """(min, median) seconds of `repeats` timed runs after a warm-up, and the warm-up's result."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times)), result


def machine() -> str:
    m = describe_machine()
    return f"{m['cpu']}; {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable); Python {m['python']}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2,4,8,16", help="comma-separated thread counts, 1 first")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per workload and thread count")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one timed run")
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    if not threads or threads[0] != 1 or any(t < 1 for t in threads):
        parser.error("--threads must start with 1 and hold positive counts")
    sizes, repeats = (SMOKE_SIZES, 1) if args.smoke else (FULL_SIZES, args.repeats)

    import weightnoise as wn

    lines = ["# weightnoise OpenMP scaling", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; `python bench/scaling.py "
             f"--threads {args.threads}{' --smoke' if args.smoke else ''}`; {machine()}; "
             f"weightnoise {wn.__version__}, NumPy {np.__version__}; float64, Arch A {list(sizes.arch_a)}.", "",
             "| workload | threads | min | median | speed-up | efficiency | same bits as 1 thread |",
             "|---|---:|---:|---:|---:|---:|---|"]
    all_identical = True
    for name, what, function in workloads(sizes):
        base = reference = None
        for n in threads:
            with wn.num_threads(n):
                best, median, result = measure(function, repeats)
            if base is None:
                base, reference = median, result
            identical = bool(np.array_equal(result, reference))
            all_identical &= identical
            lines.append(f"| {name} {what} | {n} | {best * 1e3:.1f} ms | {median * 1e3:.1f} ms | "
                         f"{base / median:.2f}× | {base / median / n:.0%} | {'yes' if identical else '**NO**'} |")
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(report)
    print(report)
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
