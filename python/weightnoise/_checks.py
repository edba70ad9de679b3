"""Argument validation shared by the compiled API and the NumPy reference.

Every public function checks its arguments here before any computation, so
bad input raises a ValueError or TypeError that names the argument.
"""

from __future__ import annotations

import numbers

import numpy as np

from .model import MLP


def check_model(model) -> MLP:
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a weightnoise.MLP, got {type(model).__name__}")
    if not np.all(np.isfinite(model.params)):
        raise ValueError("model parameters contain NaN or Inf")
    return model


def _as_float_array(model: MLP, value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != model.dtype:
        if array.dtype.kind == "f":
            raise TypeError(f"{name} has dtype {array.dtype} but the model computes in {model.dtype}: "
                            f"pass {name}.astype(np.{model.dtype.name}) or build the model with that dtype")
        raise TypeError(f"{name} must be a floating-point array of dtype {model.dtype}, got dtype {array.dtype}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf")


def as_inputs(model: MLP, X, name: str = "X") -> np.ndarray:
    """X as a C-contiguous (n_examples, n_in) array of the model's dtype."""
    X = _as_float_array(model, X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_examples, n_in), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 examples)")
    if X.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"{name} has {X.shape[1]} features but the model takes {model.layer_sizes[0]} inputs")
    _check_finite(X, name)
    return np.ascontiguousarray(X)


def as_example_vector(model: MLP, value, n_examples: int, name: str) -> np.ndarray:
    """A per-example vector (targets, cotangents) as a contiguous (n_examples,) array."""
    value = _as_float_array(model, value, name)
    if value.ndim == 2 and value.shape[1] == 1:
        value = value[:, 0]
    if value.shape != (n_examples,):
        raise ValueError(f"{name} must have shape ({n_examples},) to match X, got {value.shape}")
    _check_finite(value, name)
    return np.ascontiguousarray(value)


def as_param_vector(model: MLP, value, name: str) -> np.ndarray:
    """A parameter-space vector as a contiguous (n_params,) array."""
    value = _as_float_array(model, value, name)
    if value.shape != (model.n_params,):
        raise ValueError(f"{name} must have shape ({model.n_params},) = (n_params,), got {value.shape}")
    _check_finite(value, name)
    return np.ascontiguousarray(value)


def as_subset(model: MLP, layers, biases) -> tuple[list[bool], list[bool]]:
    """Per-layer (weights, biases) flags of the parameters that carry noise."""
    if not isinstance(biases, (bool, np.bool_)):
        raise TypeError(f"biases must be True or False, got {biases!r}")
    L = model.n_layers
    if layers is None:
        chosen = set(range(L))
    else:
        if isinstance(layers, (numbers.Integral, str)):
            raise TypeError(f"layers must be None or a list of layer indices, got {layers!r}")
        chosen = set()
        for l in layers:
            if isinstance(l, (bool, np.bool_)) or not isinstance(l, numbers.Integral):
                raise TypeError(f"layers must hold integer layer indices, got {l!r}")
            if not -L <= l < L:
                raise ValueError(f"layer index {l} out of range for a model with {L} layers")
            chosen.add(int(l) % L)
    weights = [l in chosen for l in range(L)]
    return weights, [w and bool(biases) for w in weights]


def as_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def as_seed(value, name: str = "seed") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return int(value)


def check_memory(n_elements: int, itemsize: int, what: str, alternative: str, limit_bytes: float = 2**34) -> None:
    """Refuse a result larger than limit_bytes (16 GiB) with a hint instead of dying in the OS."""
    size = n_elements * itemsize
    if size > limit_bytes:
        raise MemoryError(f"{what} would need {size / 2**30:.1f} GiB (limit {limit_bytes / 2**30:.0f} GiB); "
                          f"{alternative}")


def as_eta(value, name: str = "eta") -> float:
    """A noise variance: a finite real number ≥ 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value}")
    return float(value)


def as_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(choices)}")
    return value


def as_positive(value, name: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value}")
    return float(value)


def as_fraction(value, name: str) -> float:
    """A real number in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)
