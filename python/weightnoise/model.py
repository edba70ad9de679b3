"""The network: a fully connected MLP with a scalar, linear output."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._typing import Array, FloatArray

ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "identity")
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _resolve_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if resolved not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def _resolve_sizes(layer_sizes: Any) -> tuple[int, ...]:  # anything: checked here
    try:
        sizes = tuple(layer_sizes)
    except TypeError as exc:
        raise TypeError("layer_sizes must be a sequence of positive integers") from exc
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs an input and an output size, got {sizes}")
    for d in sizes:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"layer_sizes must hold integers, got {d!r} in {sizes}")
        if d < 1:
            raise ValueError(f"layer_sizes must be positive, got {sizes}")
    if sizes[-1] != 1:
        raise ValueError(f"the output must be scalar (last layer size 1), got layer_sizes={sizes}")
    return tuple(int(d) for d in sizes)


def _resolve_seed(seed: object) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


class MLP:
    """A multilayer perceptron ŷ(x) with a scalar, linear output.

    Layer ``l`` computes ``z_l = W_l a_l + b_l`` with ``W_l`` of shape
    ``(layer_sizes[l + 1], layer_sizes[l])``; hidden layers apply the
    activation, the last layer does not.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, hidden…, 1)``; the last size must be 1.
    activation : {"tanh", "relu", "sigmoid", "softplus", "identity"}
        Activation of the hidden layers.
    seed : int
        Seed of the initialization: weights ~ N(0, 1/fan_in), biases 0.
    dtype : float32 or float64
        Precision of the parameters and of every computation on the model.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        All parameters in the order W_0 (row-major), b_0, W_1, b_1, …
        (``torch.nn.Linear`` order). Writable: it is the model's storage.
    layers : list of (W, b)
        Views into ``params``, one pair per layer.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "tanh", *, seed: int = 0,
                 dtype: DTypeLike = np.float64) -> None:
        self._sizes = _resolve_sizes(layer_sizes)
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
        self._activation = str(activation)  # a NumPy str_ too: the model shows and saves a plain str
        self._dtype = _resolve_dtype(dtype)
        seed = _resolve_seed(seed)
        from . import _checks  # (imports this module)

        # The parameters and, while they are drawn, the largest weight matrix in float64.
        largest = max(d_in * d_out for d_in, d_out in zip(self._sizes[:-1], self._sizes[1:]))
        _checks.check_working_memory(self.n_params * self._dtype.itemsize + 8 * largest,
                                     f"a model with layer_sizes {list(self._sizes)}",
                                     "use fewer or narrower layers")
        self._params = np.zeros(self.n_params, dtype=self._dtype)
        rng = np.random.default_rng(seed)
        for W, _ in self.layers:
            W[...] = rng.standard_normal(W.shape) / np.sqrt(W.shape[1])

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self._sizes

    @property
    def activation(self) -> str:
        return self._activation

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def n_layers(self) -> int:
        return len(self._sizes) - 1

    @property
    def n_params(self) -> int:
        return sum(d_out * (d_in + 1) for d_in, d_out in zip(self._sizes[:-1], self._sizes[1:]))

    @property
    def params(self) -> FloatArray:
        return self._params

    @params.setter
    def params(self, value: ArrayLike) -> None:
        value = np.asarray(value)
        if value.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},), got {value.shape}")
        if value.dtype.kind != "f":
            raise TypeError(f"params must be floating point, got dtype {value.dtype}")
        if not np.all(np.isfinite(value)):
            raise ValueError("params contain NaN or Inf")
        with np.errstate(over="ignore", invalid="ignore"):
            stored = value.astype(self._params.dtype, copy=False)
        if stored is not value and not np.all(np.isfinite(stored)):  # only a cast to a narrower dtype overflows
            raise ValueError(f"params overflow {self._params.dtype}: their largest magnitude is "
                             f"{np.max(np.abs(value)):.3g}")
        self._params[...] = stored

    @property
    def layers(self) -> list[tuple[FloatArray, FloatArray]]:
        out: list[tuple[FloatArray, FloatArray]] = []
        offset = 0
        for d_in, d_out in zip(self._sizes[:-1], self._sizes[1:]):
            W = self._params[offset:offset + d_out * d_in].reshape(d_out, d_in)
            offset += d_out * d_in
            b = self._params[offset:offset + d_out]
            offset += d_out
            out.append((W, b))
        return out

    @layers.setter
    def layers(self, value: Iterable[tuple[ArrayLike, ArrayLike]]) -> None:
        value = list(value)
        if len(value) != self.n_layers:
            raise ValueError(f"expected {self.n_layers} (W, b) pairs, got {len(value)}")
        flat: list[Array] = []
        for l, ((W, b), (W_own, b_own)) in enumerate(zip(value, self.layers)):
            W, b = np.asarray(W), np.asarray(b)
            if W.shape != W_own.shape or b.shape != b_own.shape:
                raise ValueError(f"layer {l}: expected W {W_own.shape} and b {b_own.shape}, "
                                 f"got {W.shape} and {b.shape}")
            flat += [W.ravel(), b]
        self.params = np.concatenate(flat)

    def copy(self) -> MLP:
        """A deep copy: same architecture, its own parameter storage."""
        twin = object.__new__(MLP)
        twin.__dict__.update(self.__dict__)
        twin._params = self._params.copy()
        return twin

    def with_params(self, params: ArrayLike) -> MLP:
        """A new model of the same architecture holding ``params``."""
        twin = self.copy()
        twin.params = params
        return twin

    def __repr__(self) -> str:
        return (f"MLP(layer_sizes={list(self._sizes)}, activation={self._activation!r}, "
                f"dtype={self._dtype.name})")
