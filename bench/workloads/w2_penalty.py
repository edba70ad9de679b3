"""W2: the penalty Ω and its gradient ∇_θ Ω, timed together (weightnoise.penalty_and_grad: one fused pass)."""

from __future__ import annotations

import weightnoise

from .. import flops, weightnoise_rows
from ..contenders import Case, Contender
from ..peers import numpy_rank_one
from ..problems import architectures, make_problem
from .common import cached, exact_row, library_rows

WN = "weightnoise.penalty_and_grad"


def numpy_penalty(problem):
    layers, X = problem.layers(), problem.X
    return lambda: numpy_rank_one.penalty_and_grad(layers, X)


def contenders(problem, check_problem) -> list[Contender]:
    truth = cached(lambda: weightnoise_rows.penalty_and_grad(weightnoise, check_problem)())
    rows = [exact_row(WN, "weightnoise", lambda p: weightnoise_rows.penalty_and_grad(weightnoise, p), problem,
                      check_problem, lambda: weightnoise_rows.reference_penalty_and_grad(check_problem)(),
                      "weightnoise.reference"),
            exact_row(WN, "weightnoise", lambda p: weightnoise_rows.penalty_and_grad(weightnoise, p),
                      problem.astype("float32"), check_problem.astype("float32"), truth, "float64 weightnoise",
                      dtype="float32")]
    chunk = weightnoise_rows.reference_chunk(problem)
    rows.append(exact_row("NumPy reference (weightnoise.reference)", "numpy",
                          weightnoise_rows.reference_penalty_and_grad, problem, check_problem, truth, WN,
                          note=f"per-example HVPs formed, in chunks of {chunk:,} examples"))
    rows.append(exact_row("NumPy rank-one R-operator, hand-vectorized", "numpy", numpy_penalty, problem,
                          check_problem, truth, WN))

    def torch_rows():
        from ..peers import torch_rank_one
        return [exact_row("PyTorch rank-one, double backprop", "torch", torch_rank_one.double_backprop_penalty,
                          problem, check_problem, truth, WN)]

    def jax_rows():
        from ..peers import jax_peers
        return [exact_row("jax.jit(jax.grad(rank-one penalty))", "jax", jax_peers.penalty_value_and_grad, problem,
                          check_problem, truth, WN, note="value_and_grad: Ω and ∇Ω in one call")]

    rows += library_rows("torch", ["PyTorch rank-one, double backprop"], torch_rows)
    rows += library_rows("jax", ["jax.jit(jax.grad(rank-one penalty))"], jax_rows)
    return rows


def cases(sizes) -> list[Case]:
    out = []
    for name, arch, n in architectures(sizes):
        def rows(arch=arch, n=n):
            problem = make_problem(arch, n)
            return contenders(problem, problem.head(min(n, sizes.n_check)))
        out.append(Case("W2", name, f"layers {list(arch)}, N = {n:,}", "examples", n, min(n, 256),
                        flops.penalty_and_grad(arch, n), rows, has_targets=name == "Arch A"))
    return out
