"""W3: J̃_η with shared noise, K = 64 draws, η = 1e-3: one ε_k for all examples, K forward passes.

The scalable axis is the number of draws. Cores checked: the K losses at
θ + √η ε_k for given ε against weightnoise.loss at those parameters.
"""

from __future__ import annotations

import math

import numpy as np

import weightnoise

from .. import flops, weightnoise_rows
from ..checks import same_numbers
from ..contenders import Anchor, Case, Contender
from ..peers import numpy_noise
from ..problems import ETA, architectures, make_problem
from ..weightnoise_rows import reference
from .common import cached, library_rows
from .monte_carlo import mc_row

CHECK_DRAWS = 16
MIN_DRAWS = 4


def contenders(problem, check_problem) -> list[Contender]:
    anchor = Anchor()
    eps = np.random.default_rng(7).standard_normal((3, problem.n_params))
    model = check_problem.model()
    core_truth = cached(lambda: np.array([weightnoise.loss(model.with_params(model.params + math.sqrt(ETA) * e),
                                                           check_problem.X, check_problem.y) for e in eps]))

    def core(losses_given):
        return lambda: same_numbers(losses_given(check_problem, ETA, eps), core_truth(), "float64",
                                    "weightnoise.loss at θ + √η ε_k")

    def numpy_losses(p, eta, e):
        return numpy_noise.shared_losses(p.sizes, p.params, p.X, p.y, eta, e)

    rows = [mc_row("NumPy: draws up front, loop of forwards", "numpy",
                   lambda k: lambda: numpy_noise.shared_estimate(problem, k, ETA),
                   lambda: numpy_noise.shared_estimate(check_problem, CHECK_DRAWS, ETA, seed=1), anchor,
                   core(numpy_losses))]

    for module, impl, library in ((weightnoise, "weightnoise.perturbed_loss(shared)", "weightnoise"),
                                  (reference, "NumPy reference (weightnoise.reference)", "numpy")):
        dtypes = ("float64", "float32") if module is weightnoise else ("float64",)
        stream_check = weightnoise_rows.same_stream(check_problem, 3, "shared", ETA)
        for dtype in dtypes:
            p, c = problem.astype(dtype), check_problem.astype(dtype)
            rows.append(mc_row(impl, library,
                               lambda k, m=module, p=p: weightnoise_rows.perturbed_loss(m, p, k, "shared", ETA),
                               lambda m=module, c=c: weightnoise_rows.perturbed_loss(m, c, CHECK_DRAWS, "shared",
                                                                                     ETA, seed=1)(),
                               anchor, dtype=dtype,
                               core_check=stream_check if module is weightnoise and dtype == "float64" else None))

    def torch_rows():
        from ..peers import torch_noise
        return [mc_row("PyTorch: torch.randn up front, loop of forwards", "torch",
                       lambda k: torch_noise.shared_estimator(problem, k, ETA),
                       lambda: torch_noise.shared_estimator(check_problem, CHECK_DRAWS, ETA, seed=1)(), anchor,
                       core(torch_noise.shared_losses_given))]

    def jax_rows():
        from ..peers import jax_peers
        return [mc_row("JAX: noise up front, lax.map over forwards, jit", "jax",
                       lambda k: jax_peers.shared_estimator(problem, k, ETA),
                       lambda: tuple(map(float, jax_peers.shared_estimator(check_problem, CHECK_DRAWS, ETA, 1)())),
                       anchor, core(jax_peers.shared_losses_given))]

    rows += library_rows("torch", ["PyTorch: torch.randn up front, loop of forwards"], torch_rows)
    rows += library_rows("jax", ["JAX: noise up front, lax.map over forwards, jit"], jax_rows)
    return rows


def cases(sizes) -> list[Case]:
    out = []
    K = sizes.draws_w3
    for name, arch, n in architectures(sizes):
        def rows(arch=arch, n=n):
            problem = make_problem(arch, n)
            return contenders(problem, problem.head(min(n, sizes.n_check)))
        # At least MIN_DRAWS draws per timed run: a run of one draw, scaled ×64, once made JAX's jitted
        # lax.map three times slower per draw than its runs of two or more.
        out.append(Case("W3", name, f"layers {list(arch)}, N = {n:,}, K = {K} draws, η = {ETA:g}", "draws", K,
                        min(K, MIN_DRAWS), flops.perturbed_forwards(arch, n, K), rows, has_targets=name == "Arch A"))
    return out
