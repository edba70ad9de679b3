"""FLOPs and activation evaluations of each workload, counted by formula.

Network d_0 → d_1 → … → d_L (d_L = 1). Per example:

    M     = Σ_l d_l·d_{l−1}      weights; one matrix product costs 2·M FLOPs
    M_in  = d_1·d_0              first-layer weights
    H     = Σ_{l<L} d_l          hidden units: one tanh each

Each pass is counted as the matrix products it needs (2 FLOPs per
multiply-add); bias additions, σ' = 1 − a², squared norms and the other
O(N·H) elementwise work are not counted, nor are random numbers:

    forward                      2·M            (a_l = σ(W_l a_{l−1} + b_l))
    backward of δ                2·(M − M_in)   (δ_l = σ'(z_l) ⊙ W_{l+1}ᵀ δ_{l+1}; none into the input)
    weight gradient Σ_n δ aᵀ     2·M
    R-forward along g_n          2·(M − M_in)   (R{z_l} = δ_l(‖a_{l−1}‖²+1) + W_l R{a_{l−1}}, R{a_0} = 0;
                                                 the rank-one V_l a_{l−1} is O(d))
    R-backward                   2·(M − M_in)   (W_{l+1}ᵀ R{δ_{l+1}}; V_{l+1}ᵀ δ_{l+1} is rank one)
    ∇Ω accumulation              2·M + 2·(M − M_in)   (Σ_n R{δ_l} a_{l−1}ᵀ + δ_l R{a_{l−1}}ᵀ)

The limit assumes one fused pass per workload (Ω comes with ∇Ω; the loss
gradient shares the forward pass with the penalty gradient), and counts the
per-example matrix–vector products of literal per-example noise at the GEMM
rate, which no implementation reaches: for those rows the limit is optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Work:
    flops: float
    activations: float


def _shape(sizes) -> tuple[int, int, int]:
    M = sum(d_out * d_in for d_in, d_out in zip(sizes[:-1], sizes[1:]))
    return M, sizes[1] * sizes[0], sum(sizes[1:-1])


def grad_norms(sizes, n_examples: int) -> Work:
    """W1: forward and backward of δ; ‖g_n‖² = Σ_l ‖δ_l‖²(‖a_{l−1}‖² + 1) is elementwise."""
    M, M_in, H = _shape(sizes)
    return Work(n_examples * (2 * M + 2 * (M - M_in)), n_examples * H)


def penalty_and_grad(sizes, n_examples: int) -> Work:
    """W2: forward, backward, R-forward, R-backward, ∇Ω accumulation."""
    M, M_in, H = _shape(sizes)
    inner = M - M_in
    return Work(n_examples * (2 * M + 2 * inner + 2 * inner + 2 * inner + 2 * M + 2 * inner), n_examples * H)


def perturbed_forwards(sizes, n_examples: int, n_draws: int) -> Work:
    """W3, W4: one forward pass per draw (the loss is elementwise)."""
    M, _, H = _shape(sizes)
    return Work(n_draws * n_examples * 2 * M, n_draws * n_examples * H)


def sgd_epoch(sizes, n_examples: int, objective: str) -> Work:
    """W6: per example, forward + backward + weight gradient; the penalty adds the R-passes."""
    M, M_in, H = _shape(sizes)
    inner = M - M_in
    if objective == "penalty":
        return penalty_and_grad(sizes, n_examples)
    return Work(n_examples * (2 * M + 2 * inner + 2 * M), n_examples * H)


NO_WORK = Work(0.0, 0.0)  # W5: random numbers only; no limit is defined
