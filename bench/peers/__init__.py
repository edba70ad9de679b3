"""Peers: the same workloads written in NumPy, PyTorch (with BackPACK) and JAX.

Each module imports its library at the top; ``available`` says which can be
imported here, so a missing library is skipped with a note, never faked.
"""

from __future__ import annotations

import importlib


def available(library: str) -> tuple[bool, str]:
    """(importable, note) for "torch", "jax" or "backpack"."""
    module = {"torch": "torch", "jax": "jax", "backpack": "backpack"}[library]
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001  (a broken install is a skip with its reason, not a crash)
        hint = {"backpack": "pip install backpack-for-pytorch"}.get(library, f"pip install {library}")
        return False, f"{library} is not installed ({type(exc).__name__}: {exc}); {hint} to add its rows"
    return True, ""
