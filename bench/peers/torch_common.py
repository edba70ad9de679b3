"""PyTorch helpers shared by the torch peers: tensors from a Problem, the network, flat parameters."""

from __future__ import annotations

import numpy as np
import torch

from ..problems import split_layers


def tensors(problem, requires_grad: bool = False):
    """(layers [(W, b)], X, y) as torch tensors that own their memory."""
    layers = [(torch.tensor(W, requires_grad=requires_grad), torch.tensor(b, requires_grad=requires_grad))
              for W, b in problem.layers()]
    return layers, torch.from_numpy(np.ascontiguousarray(problem.X)), torch.from_numpy(np.ascontiguousarray(problem.y))


def forward(layers, X, keep_z: bool = False):
    """ŷ (N,); with keep_z also the inputs a_l of every layer and the hidden pre-activations z_l."""
    acts, zs = [X], []
    for W, b in layers[:-1]:
        z = torch.addmm(b, acts[-1], W.T)
        zs.append(z)
        acts.append(torch.tanh(z))
    W, b = layers[-1]
    out = torch.addmm(b, acts[-1], W.T)[:, 0]
    return (out, acts, zs) if keep_z else out


def flat(parts) -> np.ndarray:
    """Concatenate per-layer tensors (W, b order) into one NumPy vector."""
    return torch.cat([p.reshape(-1) for p in parts]).detach().numpy()


def split(sizes, vector: torch.Tensor):
    """[(W, b)] views into a flat torch vector (the DESIGN.md parameter order)."""
    return split_layers(sizes, vector)


def generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g
