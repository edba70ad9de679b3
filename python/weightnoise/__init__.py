"""weightnoise: Gaussian weight-noise regularization of MLPs, with C++ kernels.

Training a least-squares MLP while perturbing its weights by ε ~ N(0, ηI)
minimizes J̃_η = J + η·Ω + η·C + O(η²), with the penalty Ω = mean ‖∇_θ ŷ‖²
and the curvature term C = mean (ŷ − y) tr ∇²_θ ŷ. This package computes
every term fast; :mod:`weightnoise.reference` holds the NumPy twin of each
kernel.
"""

from typing import TYPE_CHECKING

from .config import show_config
from .curvature import curvature, hessian_trace, second_order_terms
from .derivatives import grad_norms_sq, hvp, jvp, loss, loss_grad, per_example_grads, predict, vjp
from .estimate import Estimate
from .expansion import Equivalence, SecondOrder, equivalence, second_order
from .model import ACTIVATIONS, MLP
from .noise import NOISE_MODES, perturb, perturbed_loss
from .penalty import penalty, penalty_and_grad, penalty_grad
from .persistence import load, save
from .random import standard_normal
from .sweep import sweep  # imports Dask and pandas only when a sweep runs
from .threads import get_num_threads, num_threads, set_num_threads
from .training import FitInterrupted, FitResult, OptimizerState, fit, objective, objective_grad, train_step

if TYPE_CHECKING:  # what the lazy exports below resolve to, for type checkers and editors
    from .torch_interop import from_torch, to_torch

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "NOISE_MODES",
    "Equivalence",
    "Estimate",
    "FitInterrupted",
    "FitResult",
    "OptimizerState",
    "SecondOrder",
    "curvature",
    "equivalence",
    "fit",
    "from_torch",
    "get_num_threads",
    "grad_norms_sq",
    "hessian_trace",
    "hvp",
    "jvp",
    "load",
    "loss",
    "loss_grad",
    "num_threads",
    "objective",
    "objective_grad",
    "penalty",
    "penalty_and_grad",
    "penalty_grad",
    "per_example_grads",
    "perturb",
    "perturbed_loss",
    "predict",
    "save",
    "second_order",
    "second_order_terms",
    "set_num_threads",
    "show_config",
    "standard_normal",
    "sweep",
    "to_torch",
    "train_step",
    "vjp",
]

# Optional features, imported on first use so that `import weightnoise` needs
# none of their dependencies (from_torch and to_torch import PyTorch when called).
_LAZY = {"from_torch": ".torch_interop", "to_torch": ".torch_interop"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
