"""Argument validation shared by the compiled API and the NumPy reference.

Every public function checks its arguments here before any computation, so
bad input raises a ValueError or TypeError that names the argument.
"""

from __future__ import annotations

import collections.abc
import math
import numbers
import os
import re
from collections.abc import Collection
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from ._typing import Array
from .model import MLP

# Counters of the random streams (draw, epoch, step, probe) are 32-bit.
COUNT_LIMIT = 2**32


def check_model(model: object) -> MLP:
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a weightnoise.MLP, got {type(model).__name__}")
    if not np.all(np.isfinite(model.params)):
        raise ValueError("model parameters contain NaN or Inf")
    return model


def _as_float_array(model: MLP, value: object, name: str) -> Array:
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        raise ValueError(f"{name} is a masked array with masked entries; fill them (np.ma.filled) or drop "
                         "those examples")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects that refuse conversion
        raise TypeError(f"{name} cannot be converted to an array of dtype {model.dtype}: {exc}") from None
    if array.dtype != model.dtype:
        if array.dtype.kind == "f":
            raise TypeError(f"{name} has dtype {array.dtype} but the model computes in {model.dtype}: "
                            f"pass {name}.astype(np.{model.dtype.name}) or build the model with that dtype")
        raise TypeError(f"{name} must be a floating-point array of dtype {model.dtype}, got dtype {array.dtype}")
    return array


def _contiguous(array: Array) -> Array:
    """C-contiguous and aligned to the dtype (a view from an odd byte offset is copied)."""
    return np.require(array, requirements=("C_CONTIGUOUS", "ALIGNED"))


def _check_finite(array: Array, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf")


def as_inputs(model: MLP, value: object, name: str = "X") -> Array:
    """X as a C-contiguous (n_examples, n_in) array of the model's dtype."""
    X = _as_float_array(model, value, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_examples, n_in), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 examples)")
    if X.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"{name} has {X.shape[1]} features but the model takes {model.layer_sizes[0]} inputs")
    _check_finite(X, name)
    return _contiguous(X)


def as_example_vector(model: MLP, value: object, n_examples: int, name: str) -> Array:
    """A per-example vector (targets, cotangents) as a contiguous (n_examples,) array."""
    vector = _as_float_array(model, value, name)
    if vector.ndim == 2 and vector.shape[1] == 1:
        vector = vector[:, 0]
    if vector.shape != (n_examples,):
        raise ValueError(f"{name} must have shape ({n_examples},) to match X, got {vector.shape}")
    _check_finite(vector, name)
    return _contiguous(vector)


def as_param_vector(model: MLP, value: object, name: str) -> Array:
    """A parameter-space vector as a contiguous (n_params,) array."""
    vector = _as_float_array(model, value, name)
    if vector.shape != (model.n_params,):
        raise ValueError(f"{name} must have shape ({model.n_params},) = (n_params,), got {vector.shape}")
    _check_finite(vector, name)
    return _contiguous(vector)


def as_subset(model: MLP, layers: object, biases: object) -> tuple[list[bool], list[bool]]:
    """Per-layer (weights, biases) flags of the parameters that carry noise."""
    if not isinstance(biases, (bool, np.bool_)):
        raise TypeError(f"biases must be True or False, got {biases!r}")
    L = model.n_layers
    if layers is None:
        chosen = set(range(L))
    else:
        # A list, tuple, range, set or 1-D array; not an iterator, which a second look would find empty.
        if (isinstance(layers, (numbers.Integral, str, bytes)) or not isinstance(layers, collections.abc.Iterable)
                or isinstance(layers, collections.abc.Iterator)
                or (isinstance(layers, np.ndarray) and layers.ndim != 1)):
            raise TypeError(f"layers must be None or a list of layer indices, got {layers!r}")
        chosen = set()
        for l in layers:
            if isinstance(l, (bool, np.bool_)) or not isinstance(l, numbers.Integral):
                raise TypeError(f"layers must hold integer layer indices, got {l!r}")
            if not -L <= cast(int, l) < L:  # a numbers.Integral: compares like an int
                raise ValueError(f"layer index {l} out of range for a model with {L} layers")
            chosen.add(int(l) % L)
    weights = [l in chosen for l in range(L)]
    return weights, [w and bool(biases) for w in weights]


def as_count(value: object, name: str, minimum: int = 1) -> int:
    """An integer in [minimum, 2**32): draws, epochs, steps and probes index 32-bit stream counters."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = cast(int, value)  # a numbers.Integral: compares like an int
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if value >= COUNT_LIMIT:
        raise ValueError(f"{name} must be below 2**32, got {value}")
    return int(value)


def as_seed(value: object, name: str = "seed") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = cast(int, value)  # a numbers.Integral: compares like an int
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return int(value)


# --- memory bounds ---------------------------------------------------------------------------------------

MEMORY_LIMIT_VARIABLE = "WEIGHTNOISE_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = 2**34  # 16 GiB, or 3/4 of the physical memory if that is less
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def memory_limit() -> int:
    """The most working memory, in bytes, one call may ask for.

    ``WEIGHTNOISE_MEMORY_LIMIT`` sets it: bytes, or a number with a binary
    unit (``512M``, ``8G``, ``1.5GiB``). Unset, it is 16 GiB or three
    quarters of the physical memory, whichever is less.
    """
    text = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip()
    if not text:
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            physical = 0
        return min(DEFAULT_MEMORY_LIMIT, 3 * physical // 4) if physical > 0 else DEFAULT_MEMORY_LIMIT
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?", text)
    n_bytes = float(match.group(1)) * _UNITS[match.group(2).lower()] if match is not None else math.nan
    # At least one byte, and finite: 0.5 would be a limit of 0 bytes, 1e400 one of infinitely many.
    if not (1 <= n_bytes < math.inf):
        raise ValueError(f"{MEMORY_LIMIT_VARIABLE}={text!r} is not a memory size: give bytes (at least 1) or a "
                         "number with K, M, G or T (binary units), e.g. 8G")
    return int(n_bytes)


def _gib(n_bytes: float) -> str:
    """A size in bytes for people: 128 GiB, 17.3 MiB, 64 KiB."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_working_memory(n_bytes: float, what: str, alternative: str) -> None:
    """Refuse a call whose working memory would exceed :func:`memory_limit`, with the size and a way out,
    instead of letting the operating system kill the process."""
    limit = memory_limit()
    if n_bytes > limit:
        raise MemoryError(f"{what} would need about {_gib(n_bytes)} of working memory, over the limit of "
                          f"{_gib(limit)} ({MEMORY_LIMIT_VARIABLE}); {alternative}")


def check_memory(n_elements: int, itemsize: int, what: str, alternative: str, limit_bytes: float | None = None) -> None:
    """Refuse a result of n_elements items larger than the memory limit, with a hint."""
    size = n_elements * itemsize
    limit = memory_limit() if limit_bytes is None else limit_bytes
    if size > limit:
        raise MemoryError(f"{what} would need {_gib(size)} (limit {_gib(limit)}, {MEMORY_LIMIT_VARIABLE}); "
                          f"{alternative}")


# Sizes of the compiled kernels' buffers (cpp/weightnoise/parallel.hpp, train.hpp, chunk.hpp, roperator.hpp,
# noise_passes.hpp, hessian_trace.cpp): every thread holds buffers of CHUNK_ROWS rows per layer, and sums over
# examples keep a wave of per-chunk partial sums.
CHUNK_ROWS = 128
TRAIN_CHUNK_ROWS = 64
_WAVE_BYTES = 64 << 20

SLICES = "pass X in slices of fewer examples"
FEWER_THREADS = "use fewer threads (weightnoise.set_num_threads) or a narrower network"
ALTERNATIVES = {
    "per_example_grads": "use vjp/jvp for products with the gradients, grad_norms_sq for their norms, or pass X in "
                         "slices of fewer examples",
    "hessian_trace": "use method='hutchinson', which needs no (width × width) matrix per example, or "
                     + FEWER_THREADS,
    "perturbed_loss": "use fewer draws per call (the mean of several Estimates' means is the estimate over all "
                      "their draws) or " + FEWER_THREADS,
}
ALTERNATIVES["curvature"] = ALTERNATIVES["hessian_trace"]  # its exact method is the trace's


def _threads() -> int:
    from . import _core

    return max(1, _core.get_num_threads())


def _partials(n_rows: int, width: int, itemsize: int, rows: int = CHUNK_ROWS) -> int:
    """Bytes of the per-chunk partial sums of a sum over examples (sum_over_chunks)."""
    align = 64 // itemsize
    stride = -(-width // align) * align
    wave = min(max(_WAVE_BYTES // (stride * itemsize), 8), 64)
    return min(wave, -(-n_rows // rows)) * stride * itemsize


def kernel_memory(model: MLP, kernel: str, n_examples: int, *, n_draws: int = 1, noise: str = "shared",
                  antithetic: bool = True, threads: int | None = None) -> int:
    """Estimated working memory, in bytes, of one compiled kernel call on n_examples rows (inputs excluded)."""
    sizes, T = model.layer_sizes, model.dtype.itemsize
    fan_in, fan_out = sum(sizes[:-1]), sum(sizes[1:])
    D, L, P, N, B = max(sizes), model.n_layers, model.n_params, n_examples, CHUNK_ROWS
    t = _threads() if threads is None else threads
    chunk = B * (fan_in + 5 * fan_out + D + 1) * T          # ChunkState
    rstate = B * (fan_in + 2 * fan_out + D) * T             # RState
    noise_state = 2 * chunk + B * (fan_out + L) * T + (D * (D + 1) + D) * T  # NoiseState
    if kernel in ("predict", "loss", "grad_norms_sq", "penalty"):
        return t * (chunk + B * T) + N * T
    if kernel in ("loss_grad", "vjp"):
        return t * chunk + _partials(N, P + 1, T) + 2 * P * T
    if kernel == "jvp":
        return t * (chunk + rstate) + (N + P) * T
    if kernel == "hvp":
        return t * (chunk + rstate) + _partials(N, P, T) + 3 * P * T
    if kernel == "penalty_grad":
        return t * (chunk + rstate + 2 * L * B * T) + _partials(N, P + 1, T) + 2 * P * T
    if kernel == "per_example_grads":
        return N * P * T + t * chunk
    if kernel == "hessian_trace_exact":
        # Below four layers the trace needs no dense matrix; deeper, one (width × width) M_l per thread, thrice.
        hidden = max(sizes[1:-1], default=0) if L >= 4 else 0
        return t * (chunk + 2 * B * D * T + 3 * hidden * hidden * T + 2 * B * T) + N * T
    if kernel == "hessian_trace_hutchinson":
        return t * (chunk + P * T + 2 * B * fan_in * T + 2 * B * D * T) + N * T
    if kernel == "perturbed_loss":
        chunks = -(-N // B)
        state = t * noise_state + n_draws * (chunks + 1) * T
        if noise == "shared":
            most = max(1, _WAVE_BYTES // (2 * P * T))
            wave = max(1, min(256, (most - 1) * chunks + 1))
            state += min(n_draws, -(-wave // chunks) + 1) * P * T * (2 if antithetic else 1)
        return state
    if kernel == "train":  # objective_grad, train_step, train_epoch on N examples
        return (t * (noise_state + rstate + 2 * L * B * T) + _partials(N, P + 1, T, TRAIN_CHUNK_ROWS) + 6 * P * T
                + 16 * N)
    raise ValueError(f"unknown kernel {kernel!r}")


def check_kernel_memory(model: MLP, kernel: str, n_examples: int, what: str | None = None, **kwargs: Any) -> None:
    """Refuse a compiled kernel call whose working memory would exceed the limit."""
    what = what or kernel
    alternative = ALTERNATIVES.get(what.split("(")[0], FEWER_THREADS)
    check_working_memory(kernel_memory(model, kernel, n_examples, **kwargs), what, alternative)


def reference_memory(model: MLP, kernel: str, n_examples: int, *, n_draws: int = 1, noise: str = "shared") -> int:
    """Estimated working memory, in bytes, of a :mod:`weightnoise.reference` call: it forms per-example
    (n_examples, n_params) arrays and, for the exact trace, (n_examples, width, width) ones."""
    sizes, T, N, P = model.layer_sizes, model.dtype.itemsize, n_examples, model.n_params
    activations = 8 * N * sum(sizes) * T
    if kernel in ("per_example_grads", "hessian_trace_hutchinson"):
        return 2 * N * P * T + activations
    if kernel in ("hvp", "penalty_grad"):
        return 4 * N * P * T + activations
    if kernel == "hessian_trace_exact":
        width = max(sizes[1:-1], default=1)
        return 4 * N * width * width * T + activations
    if kernel == "perturbed_loss":
        return (3 * N * P * T if noise == "per_example" else 0) + 2 * activations
    if kernel == "train":
        return 4 * N * P * T + activations
    return activations


def as_eta(value: object, name: str = "eta", dtype: DTypeLike | None = None) -> float:
    """A noise variance: a finite real number ≥ 0 (and representable in ``dtype`` when given)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:  # a Fraction or Decimal is a numbers.Real that NumPy's isfinite does not take
        value = float(cast(float, value))
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{name} must be a finite real number, got {value!r}") from exc
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value}")
    if dtype is not None and float(value) > float(np.finfo(dtype).max):
        raise ValueError(f"{name} = {value} overflows the model's dtype {np.dtype(dtype)}")
    return float(value)


def as_flag(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_choice(value: object, name: str, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(choices)}")
    return value


def as_positive(value: object, name: str, dtype: DTypeLike | None = None) -> float:
    """A finite real number > 0 (and representable in ``dtype`` when given)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:  # a Fraction or Decimal is a numbers.Real that NumPy's isfinite does not take
        value = float(cast(float, value))
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{name} must be a finite real number, got {value!r}") from exc
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value}")
    if dtype is not None and float(value) > float(np.finfo(dtype).max):
        raise ValueError(f"{name} = {value} overflows the model's dtype {np.dtype(dtype)}")
    return float(value)


def as_fraction(value: object, name: str) -> float:
    """A real number in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = cast(float, value)  # a numbers.Real: compares like a float
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)
