"""The six workloads of DESIGN.md §5, one module each, imported on demand (they load weightnoise and peers)."""

from __future__ import annotations

import importlib

WORKLOADS = {
    "W1": "w1_grad_norms",
    "W2": "w2_penalty",
    "W3": "w3_shared_noise",
    "W4": "w4_per_example_noise",
    "W5": "w5_normals",
    "W6": "w6_sgd_epoch",
}


def load(name: str):
    """The module of workload ``name`` ("W1" … "W6"); it has ``cases(sizes) -> list[Case]``."""
    return importlib.import_module(f"{__name__}.{WORKLOADS[name]}")
