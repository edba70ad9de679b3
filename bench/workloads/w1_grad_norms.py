"""W1: per-example squared gradient norms ‖g_n‖² for all n (weightnoise.grad_norms_sq).

Checked against weightnoise (itself checked against weightnoise.reference) on
the first n_check examples, to 1e-8 relative in float64.
"""

from __future__ import annotations

import weightnoise

from .. import flops, weightnoise_rows
from ..contenders import Case, Contender
from ..peers import numpy_rank_one
from ..problems import architectures, make_problem
from ..weightnoise_rows import reference
from .common import cached, exact_row, library_rows

WN = "weightnoise.grad_norms_sq"


def numpy_grad_norms(problem):
    layers, X = problem.layers(), problem.X
    return lambda: numpy_rank_one.grad_norms_sq(layers, X)


def contenders(problem, check_problem) -> list[Contender]:
    truth = cached(lambda: weightnoise.grad_norms_sq(check_problem.model(), check_problem.X))
    rows = [exact_row(WN, "weightnoise", lambda p: weightnoise_rows.grad_norms(weightnoise, p), problem,
                      check_problem, lambda: reference.grad_norms_sq(check_problem.model(), check_problem.X),
                      "weightnoise.reference")]
    rows.append(exact_row(WN, "weightnoise", lambda p: weightnoise_rows.grad_norms(weightnoise, p),
                          problem.astype("float32"), check_problem.astype("float32"), truth, "float64 weightnoise",
                          dtype="float32"))
    rows.append(exact_row("NumPy reference (weightnoise.reference)", "numpy",
                          lambda p: weightnoise_rows.grad_norms(reference, p), problem, check_problem, truth, WN))

    rows.append(exact_row("NumPy rank-one, hand-vectorized", "numpy", numpy_grad_norms, problem, check_problem,
                          truth, WN))

    def torch_rows():
        from ..peers import torch_rank_one
        return [exact_row("torch.func vmap(grad)", "torch", torch_rank_one.vmap_grad_norms, problem, check_problem,
                          truth, WN, note="per-example gradients in chunks of ≤128 MiB"),
                exact_row("PyTorch rank-one (autograd δ)", "torch", torch_rank_one.rank_one_grad_norms, problem,
                          check_problem, truth, WN)]

    def backpack_rows():
        from ..peers import backpack_peer
        return [exact_row("BackPACK BatchL2Grad", "backpack", backpack_peer.batch_l2_grad_norms, problem,
                          check_problem, truth, WN)]

    def jax_rows():
        from ..peers import jax_peers
        return [exact_row("jax.jit(vmap(grad))", "jax", jax_peers.vmap_grad_norms, problem, check_problem, truth, WN,
                          note="per-example gradients in chunks of ≤128 MiB"),
                exact_row("JAX rank-one under jax.jit", "jax", jax_peers.rank_one_grad_norms, problem, check_problem,
                          truth, WN)]

    rows += library_rows("torch", ["torch.func vmap(grad)", "PyTorch rank-one (autograd δ)"], torch_rows)
    rows += library_rows("backpack", ["BackPACK BatchL2Grad"], backpack_rows)
    rows += library_rows("jax", ["jax.jit(vmap(grad))", "JAX rank-one under jax.jit"], jax_rows)
    return rows


def cases(sizes) -> list[Case]:
    out = []
    for name, arch, n in architectures(sizes):
        def rows(arch=arch, n=n):
            problem = make_problem(arch, n)
            return contenders(problem, problem.head(min(n, sizes.n_check)))
        out.append(Case("W1", name, f"layers {list(arch)}, N = {n:,}", "examples", n, min(n, 256),
                        flops.grad_norms(arch, n), rows, has_targets=name == "Arch A"))
    return out
