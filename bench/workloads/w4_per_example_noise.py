"""W4: J̃_η with per-example noise, Arch A, N = 8,192, K = 4: literal sampling and local reparameterization.

The scalable axis is the number of examples. Cores checked for a given
noise: the literal per-example losses against weightnoise.predict at each
example's own θ + √η ε_n; the local losses of every peer against NumPy's
(the definition). Every estimate of both cases is checked against one
anchor: both samplers have the same distribution, so the same J̃_η.
"""

from __future__ import annotations

import math

import numpy as np

import weightnoise

from .. import flops, weightnoise_rows
from ..checks import same_numbers
from ..contenders import Anchor, Case, Contender
from ..peers import numpy_noise
from ..problems import ETA, make_problem
from ..weightnoise_rows import reference
from .common import cached, library_rows
from .monte_carlo import mc_row

CASES = ("per_example", "local")


def _weightnoise_rows(mode, problem, check_problem, n_draws, anchor) -> list[Contender]:
    rows = []
    for module, impl, library in ((weightnoise, f"weightnoise.perturbed_loss({mode})", "weightnoise"),
                                  (reference, "NumPy reference (weightnoise.reference)", "numpy")):
        dtypes = ("float64", "float32") if module is weightnoise else ("float64",)
        stream_check = weightnoise_rows.same_stream(check_problem, 3, mode, ETA)
        for dtype in dtypes:
            p, c = problem.astype(dtype), check_problem.astype(dtype)
            rows.append(mc_row(impl, library,
                               lambda units, m=module, p=p: weightnoise_rows.perturbed_loss(m, p.head(units), n_draws,
                                                                                            mode, ETA),
                               lambda m=module, c=c: weightnoise_rows.perturbed_loss(m, c, n_draws, mode, ETA,
                                                                                     seed=1)(),
                               anchor, dtype=dtype,
                               core_check=stream_check if module is weightnoise and dtype == "float64" else None))
    return rows


def contenders(mode, problem, check_problem, n_draws, anchor) -> list[Contender]:
    rng = np.random.default_rng(7)
    c = check_problem
    if mode == "per_example":
        eps = rng.standard_normal((c.n_examples, c.n_params))
        model = c.model()
        truth = cached(lambda: np.array([
            (weightnoise.predict(model.with_params(model.params + math.sqrt(ETA) * eps[n]), c.X[n:n + 1])[0]
             - c.y[n]) ** 2 for n in range(c.n_examples)]))
        against = "weightnoise.predict at θ + √η ε_n, example by example"

        def numpy_core(p, eta, e):
            return numpy_noise.literal_sq_residuals(p.sizes, p.params, p.X, p.y, eta, e)
        numpy_impl = "NumPy literal: K·N·P normals, batched matmul"
        numpy_estimate = numpy_noise.literal_estimate
    else:
        eps = [rng.standard_normal((c.n_examples, d)) for d in c.sizes[1:]]

        def numpy_core(p, eta, xi):
            return numpy_noise.local_sq_residuals(p.sizes, p.params, p.X, p.y, eta, xi)
        truth = cached(lambda: numpy_core(c, ETA, eps))
        against = "NumPy local reparameterization (the definition)"
        numpy_impl = "NumPy local reparameterization"
        numpy_estimate = numpy_noise.local_estimate

    def core(sq_given):
        return lambda: same_numbers(sq_given(c, ETA, eps), truth(), "float64", against)

    rows = [mc_row(numpy_impl, "numpy", lambda units: lambda: numpy_estimate(problem.head(units), n_draws, ETA),
                   lambda: numpy_estimate(c, n_draws, ETA, seed=1), anchor, core(numpy_core))]
    rows += _weightnoise_rows(mode, problem, c, n_draws, anchor)

    def torch_rows():
        from ..peers import torch_noise
        if mode == "per_example":
            return [mc_row("PyTorch literal: per-example weights, bmm", "torch",
                           lambda units: torch_noise.literal_estimator(problem.head(units), n_draws, ETA),
                           lambda: torch_noise.literal_estimator(c, n_draws, ETA, seed=1)(), anchor,
                           core(torch_noise.literal_sq_given))]
        return [mc_row("PyTorch local reparameterization", "torch",
                       lambda units: torch_noise.local_estimator(problem.head(units), n_draws, ETA),
                       lambda: torch_noise.local_estimator(c, n_draws, ETA, seed=1)(), anchor,
                       core(torch_noise.local_sq_given))]

    torch_impl = "PyTorch literal: per-example weights, bmm" if mode == "per_example" else \
        "PyTorch local reparameterization"
    return rows + library_rows("torch", [torch_impl], torch_rows)


def cases(sizes) -> list[Case]:
    n, K, arch = sizes.n_w4, sizes.draws_w4, sizes.arch_a
    anchor = Anchor()  # one for both cases: literal and local noise estimate the same J̃_η
    shared = {}

    def rows(mode):
        if not shared:
            shared["problem"] = make_problem(arch, n)
        problem = shared["problem"]
        return contenders(mode, problem, problem.head(min(n, sizes.n_check)), K, anchor)
    return [Case("W4", mode, f"layers {list(arch)}, N = {n:,}, K = {K} draws, η = {ETA:g}", "examples", n,
                 min(n, 256), flops.perturbed_forwards(arch, n, K), lambda mode=mode: rows(mode), has_targets=True)
            for mode in CASES]
