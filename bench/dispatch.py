"""A dispatching wheel against a native build: the same kernels, timed in two installations.

A wheel cannot be compiled for the CPU it will run on, so it carries the
kernels for several x86-64 levels and loads the best one at import. This
measures what that costs: each interpreter (one per installation) times the
same weightnoise calls on Arch A of the benchmarks, and the table gives
dispatched time / native time (the target is at most 1.10).

    python bench/dispatch.py --native .venv/bin/python --dispatched .venv-wheel/bin/python --threads 1,2

Both runs happen here, interleaved, on the same machine and data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

# name → the statement timed (model, X, y, v are defined in SETUP); smaller N than W1–W6 so a run takes ~a minute.
CALLS = {
    "W1 grad_norms_sq": "wn.grad_norms_sq(model, X)",
    "W2 penalty_grad": "wn.penalty_grad(model, X)",
    "W3 perturbed_loss shared": "wn.perturbed_loss(model, X, y, 1e-3, 8, 'shared')",
    "W4 perturbed_loss local": "wn.perturbed_loss(model, X, y, 1e-3, 8, 'local')",
    "W5 standard_normal 1e7": "wn.standard_normal(10_000_000, seed=1)",
    "W6 fit epoch noise": "wn.fit(model, X, y, objective='noise', eta=1e-3, lr=1e-3, epochs=1, batch_size=128, "
                          "progress=False, monitor=False)",
    "hvp": "wn.hvp(model, X, v)",
}

SETUP = """
import json, sys, time
import numpy as np
import weightnoise as wn
threads = int(sys.argv[1])
wn.set_num_threads(threads)
rng = np.random.default_rng(0)
model = wn.MLP([8, 64, 64, 1], "tanh", seed=0)
X = rng.standard_normal((16384, 8)); y = np.sin(X[:, 0]); v = rng.standard_normal(model.n_params)
calls = json.loads(sys.argv[2])
out = {"variant": wn.show_config(print_out=False)["variant"], "times": {}}
for name, statement in calls.items():
    code = compile(statement, name, "eval")
    eval(code)  # warm-up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter(); eval(code); best = min(best, time.perf_counter() - start)
    out["times"][name] = best
print(json.dumps(out))
"""


def measure(python: str, threads: int) -> dict:
    """Best-of-5 seconds per call in the installation of `python`, at `threads` threads."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run([os.path.abspath(python), "-c", textwrap.dedent(SETUP), str(threads), json.dumps(CALLS)],
                            capture_output=True, text=True, env=env, cwd="/", check=False)
    if result.returncode != 0:
        sys.exit(f"{python} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native", required=True, help="python of an installation built from source (-march=native)")
    parser.add_argument("--dispatched", required=True, help="python of an installation from the dispatching wheel")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two installations this often")
    args = parser.parse_args(argv)
    worst = 0.0
    for threads in [int(t) for t in args.threads.split(",")]:
        native, dispatched = {}, {}
        for _ in range(args.rounds):  # interleaved, so a noisy moment hits both
            for python, best in ((args.native, native), (args.dispatched, dispatched)):
                run = measure(python, threads)
                best["variant"] = run["variant"]
                for name, seconds in run["times"].items():
                    best[name] = min(best.get(name, float("inf")), seconds)
        print(f"\n{threads} thread(s): native ({native['variant']}) against dispatched ({dispatched['variant']})")
        print(f"{'call':<28}{'native ms':>12}{'dispatched ms':>15}{'ratio':>8}")
        for name in CALLS:
            ratio = dispatched[name] / native[name]
            worst = max(worst, ratio)
            print(f"{name:<28}{1e3 * native[name]:>12.2f}{1e3 * dispatched[name]:>15.2f}{ratio:>8.2f}")
    verdict = "within" if worst <= 1.10 else "NOT within"
    print(f"\nworst ratio {worst:.2f}: the dispatched wheel is {verdict} 10% of the native build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
