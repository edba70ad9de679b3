"""One epoch of minibatch SGD in PyTorch (autograd, torch.optim.SGD), for every W6 objective.

The loop follows numpy_sgd: the same example order; noise from torch.randn,
or, for the checks, fixed NumPy noise per step.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import torch_noise
from .torch_common import flat, forward, generator, split


def _penalty(layers, X):
    """Ω on the batch by the rank-one formula, δ_l from autograd with create_graph (double backprop)."""
    out, acts, zs = forward(layers, X, keep_z=True)
    deltas = torch.autograd.grad(out.sum(), zs, create_graph=True)
    per_example = acts[-1].pow(2).sum(1) + 1
    for delta, a in zip(deltas, acts[:-1]):
        per_example = per_example + delta.pow(2).sum(1) * (a.pow(2).sum(1) + 1)
    return out, per_example.mean()


def _batch_loss(objective: str, sizes, layers, X, y, eta: float, noise):
    if objective == "plain":
        return (forward(layers, X) - y).pow(2).mean()
    if objective == "penalty":
        out, omega = _penalty(layers, X)
        return (out - y).pow(2).mean() + eta * omega
    mode = objective.split()[1]
    if mode == "shared":
        perturbed = [(W + math.sqrt(eta) * E, b + math.sqrt(eta) * e)
                     for (W, b), (E, e) in zip(layers, split(sizes, noise))]
        return (forward(perturbed, X) - y).pow(2).mean()
    if mode == "per_example":
        pred = torch_noise.literal_forward(layers, split(sizes, noise), X, math.sqrt(eta))
        return (pred - y).pow(2).mean()
    return (torch_noise.local_forward(layers, X, math.sqrt(eta), noise) - y).pow(2).mean()


def torch_noise_source(objective: str, sizes, batch: int, dtype, seed: int = 0):
    """Fresh torch.randn noise at every step, in the form the objective takes; None for plain/penalty."""
    if not objective.startswith("noise"):
        return None
    g = generator(seed)
    n_params = sum(d_out * (d_in + 1) for d_in, d_out in zip(sizes[:-1], sizes[1:]))
    mode = objective.split()[1]
    if mode == "shared":
        return lambda step: torch.randn(n_params, generator=g, dtype=dtype)
    if mode == "per_example":
        buffer = torch.empty(batch, n_params, dtype=dtype)
        return lambda step: buffer.normal_(generator=g)
    return lambda step: [torch.randn(batch, d, generator=g, dtype=dtype) for d in sizes[1:]]


def fixed_noise_source(noises):
    """Step → the given NumPy noise, as tensors (for the checks)."""
    def source(step):
        noise = noises[step]
        if isinstance(noise, list):
            return [torch.from_numpy(x) for x in noise]
        return torch.from_numpy(noise)
    return source


def sgd_epoch(problem, objective: str, eta: float, lr: float, batch: int, n_batches: int, order: np.ndarray,
              noise=None):
    """A run() that makes n_batches steps of torch.optim.SGD from the problem's parameters; returns θ (NumPy)."""
    X, y = torch.from_numpy(np.ascontiguousarray(problem.X)), torch.from_numpy(np.ascontiguousarray(problem.y))
    index = torch.from_numpy(order)

    def run():
        # One leaf tensor per weight matrix and bias, as torch.nn.Linear holds them.
        layers = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
                  for W, b in problem.layers()]
        optimizer = torch.optim.SGD([p for pair in layers for p in pair], lr=lr)
        for step in range(n_batches):
            idx = index[step * batch:(step + 1) * batch]
            draw = noise(step) if noise is not None else None
            loss = _batch_loss(objective, problem.sizes, layers, X.index_select(0, idx), y.index_select(0, idx),
                               eta, draw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return flat(p for pair in layers for p in pair)
    return run
