"""BackPACK (backpack-for-pytorch): per-example squared gradient norms with the BatchL2Grad extension."""

from __future__ import annotations

import warnings

import torch
from backpack import backpack, extend
from backpack.extensions import BatchL2Grad

from .torch_common import tensors


def batch_l2_grad_norms(problem):
    """Σ over parameters of BackPACK's batch_l2 (‖∂ŷ_n/∂θ_p‖² per example) after backward of Σ_n ŷ_n."""
    layers, X, _ = tensors(problem)
    modules = []
    for l, (W, b) in enumerate(layers):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(b)
        modules.append(linear)
        if l < len(layers) - 1:
            modules.append(torch.nn.Tanh())
    net = extend(torch.nn.Sequential(*modules))

    def run():
        net.zero_grad()
        with warnings.catch_warnings():
            # BackPACK's hooks fire on module outputs only, since X needs no gradient: expected here.
            warnings.simplefilter("ignore", UserWarning)
            with backpack(BatchL2Grad()):
                net(X).sum().backward()
        return sum(p.batch_l2 for p in net.parameters()).numpy()
    return run
