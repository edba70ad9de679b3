"""Smoke test of an installed wheel: the loader picks the best variant this CPU
runs, every variant it may pick computes what the NumPy reference computes,
and WEIGHTNOISE_ARCH overrides the choice.

    python tools/wheel_smoke.py      # run from outside the source tree

Exits non-zero, saying why, on the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

KERNELS = ("predict", "loss", "loss_grad", "grad_norms_sq", "penalty", "penalty_grad", "hessian_trace")
CHECK = f"""
import numpy as np, weightnoise as wn, weightnoise.reference as ref
model = wn.MLP([5, 16, 16, 1], "tanh", seed=3)
rng = np.random.default_rng(0)
X, y = rng.standard_normal((300, 5)), rng.standard_normal(300)
for name in {KERNELS!r}:
    args = (model, X, y) if name.startswith("loss") else (model, X)
    got, want = np.asarray(getattr(wn, name)(*args)), np.asarray(getattr(ref, name)(*args))
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
    assert err <= 1e-10, f"{{name}}: relative error {{err:.2e}}"
eta = 1e-5  # the O(eta**2) remainder of the expansion is far below the Monte Carlo error
estimate = wn.perturbed_loss(model, X, y, eta, 64, "local")
predicted = wn.second_order(model, X, y, eta).total
assert abs(estimate.mean - predicted) < 5 * estimate.stderr + 1e-9, (estimate, predicted)
print(wn.show_config(print_out=False)["variant"])
"""


def run(arch: str | None) -> str:
    env = dict(os.environ)
    env.pop("WEIGHTNOISE_ARCH", None)
    if arch:
        env["WEIGHTNOISE_ARCH"] = arch
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"wheel smoke test failed (WEIGHTNOISE_ARCH={arch}):\n{result.stderr[-3000:]}")
    return result.stdout.split()[-1]


def main() -> None:
    import weightnoise as wn

    if os.path.exists(os.path.join(os.getcwd(), "python", "weightnoise")):
        sys.exit("run this from outside the source tree, so the installed wheel is what gets imported")
    config = wn.show_config()
    chosen = run(None)
    print(f"default choice: {chosen}")
    available = config["available_variants"]
    if config["cpu_level"] in available and chosen != config["cpu_level"]:
        sys.exit(f"the loader chose {chosen} on a {config['cpu_level']} CPU that has its own variant")
    levels = ("x86_64", "x86_64_v3", "x86_64_v4")
    runnable = [v for v in available
                if v not in levels or config["cpu_level"] not in levels
                or levels.index(v) <= levels.index(config["cpu_level"])]
    for variant in runnable:
        if variant in levels:  # a dispatching wheel: every variant this CPU runs must agree with the reference
            picked = run(variant)
            if picked != variant:
                sys.exit(f"WEIGHTNOISE_ARCH={variant} loaded {picked}")
            print(f"WEIGHTNOISE_ARCH={variant}: matches the reference")
    np.testing.assert_equal(wn.standard_normal(8, seed=1), wn.standard_normal(8, seed=1))
    print("wheel smoke test passed")


if __name__ == "__main__":
    main()
