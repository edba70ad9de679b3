"""PyTorch: per-example gradient norms (torch.func, rank-one by autograd) and the penalty by double backprop."""

from __future__ import annotations

import torch
from torch.func import grad, vmap

from .torch_common import flat, forward, tensors

VMAP_CHUNK_BYTES = 1 << 27  # per-example gradients of one chunk: at most 128 MiB


def vmap_grad_norms(problem):
    """torch.func.vmap(grad) per-example gradients, squared and summed; in chunks that fit VMAP_CHUNK_BYTES."""
    layers, X, _ = tensors(problem)
    params = [p for pair in layers for p in pair]
    chunk = max(1, 1 << int((VMAP_CHUNK_BYTES // (problem.n_params * X.element_size())).bit_length() - 1))

    def output(ps, x):
        return forward(list(zip(ps[0::2], ps[1::2])), x[None])[0]

    per_example = vmap(grad(output), in_dims=(None, 0))

    def run():
        parts = []
        for start in range(0, X.shape[0], chunk):
            grads = per_example(params, X[start:start + chunk])
            parts.append(sum(g.pow(2).flatten(1).sum(1) for g in grads))
        return torch.cat(parts).numpy()
    return run


def rank_one_grad_norms(problem):
    """‖g_n‖² = Σ_l ‖δ_l‖² (‖a_l‖² + 1), with δ_l = ∂(Σ_n ŷ_n)/∂z_l from one autograd backward."""
    layers, X, _ = tensors(problem, requires_grad=True)  # so that the z_l carry a graph

    def run():
        out, acts, zs = forward(layers, X, keep_z=True)
        deltas = torch.autograd.grad(out.sum(), zs)
        norms = acts[-1].pow(2).sum(1) + 1  # output layer: δ = 1
        for delta, a in zip(deltas, acts[:-1]):
            norms = norms + delta.pow(2).sum(1) * (a.pow(2).sum(1) + 1)
        return norms.detach().numpy()
    return run


def double_backprop_penalty(problem):
    """Ω = mean Σ_l ‖δ_l‖² (‖a_l‖² + 1) with δ_l from autograd (create_graph), then Ω.backward() for ∇Ω."""
    layers, X, _ = tensors(problem, requires_grad=True)
    params = [p for pair in layers for p in pair]

    def run():
        out, acts, zs = forward(layers, X, keep_z=True)
        deltas = torch.autograd.grad(out.sum(), zs, create_graph=True)
        per_example = acts[-1].pow(2).sum(1) + 1
        for delta, a in zip(deltas, acts[:-1]):
            per_example = per_example + delta.pow(2).sum(1) * (a.pow(2).sum(1) + 1)
        omega = per_example.mean()
        # The output bias does not enter Ω: its gradient is zero, not missing.
        grads = torch.autograd.grad(omega, params, allow_unused=True, materialize_grads=True)
        return float(omega), flat(grads)
    return run
