"""Reproducible standard normals from the library's counter-based generator."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence
from typing import Any, SupportsIndex, cast

import numpy as np
from numpy.typing import DTypeLike

from . import _core
from ._typing import FloatArray

__all__ = ["standard_normal"]

_MAX_SIZE = 2**33  # normals in one stream: two per Philox block, 2**32 blocks


def _check_seed(seed: object) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


def _check_shape(shape: object) -> tuple[tuple[int, ...], int]:
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    elif isinstance(shape, list):
        shape = tuple(shape)
    elif not isinstance(shape, tuple):
        raise TypeError(f"shape must be an int or a tuple of ints, got {type(shape).__name__}")
    dims = []
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (numbers.Integral, np.integer)):
            raise TypeError(f"shape entries must be ints, got {type(d).__name__} in shape {shape!r}")
        d = operator.index(d)
        if d < 0:
            raise ValueError(f"shape entries must be non-negative, got shape {shape!r}")
        dims.append(d)
    size = 1
    for d in dims:
        size *= d
    if size >= _MAX_SIZE:
        raise ValueError(f"shape {tuple(dims)!r} has {size} elements; at most 2**33 - 1 are supported")
    return tuple(dims), size


def _check_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt}")
    return dt


def standard_normal(shape: SupportsIndex | Sequence[SupportsIndex] | None = None, seed: int = 0,
                    dtype: DTypeLike | None = None, *, out: FloatArray | None = None) -> FloatArray:
    """Standard normal samples that depend only on ``seed``.

    Element ``i`` of the flattened result is element ``i`` of the stream
    ``(seed, Purpose.standard_normal, draw=0, item=0)`` of the library's
    Philox4x32-10 generator, drawn by Box–Muller. The result is bitwise the
    same for any number of threads, and a larger request with the same seed
    extends a smaller one: ``standard_normal(n, s)`` is a prefix of
    ``standard_normal(m, s)`` for ``n <= m``. The filling runs in parallel
    over fixed pieces (see ``weightnoise._core.set_num_threads``).

    Parameters
    ----------
    shape : int or tuple of int, optional
        Shape of the result; its size must be below 2**33. Required unless
        ``out`` is given (then it must be ``out``'s shape, if given).
    seed : int, default 0
        In [0, 2**64).
    dtype : {numpy.float64, numpy.float32}, optional
        float32 samples are the float64 ones rounded to nearest. Default
        float64, or ``out``'s dtype (which it must then match).
    out : numpy.ndarray, optional
        A C-contiguous, writeable float64 or float32 array to fill in place
        and return, as NumPy's ``Generator.standard_normal(out=...)`` does.
        Refilling one buffer skips the zeroing of a new array's pages by the
        operating system, about a quarter of the time for large arrays.

    Returns
    -------
    numpy.ndarray of dtype, shape ``shape``
        Independent N(0, 1) samples (``out`` itself when given).

    Raises
    ------
    TypeError
        If neither ``shape`` nor ``out`` is given, ``seed`` or an entry of
        ``shape`` is not an int, ``dtype`` is not float32 or float64, ``out``
        is not a float32 or float64 ndarray, or ``dtype`` differs from
        ``out``'s.
    ValueError
        If ``seed`` is outside [0, 2**64), an entry of ``shape`` is negative,
        the size is 2**33 or more, ``shape`` differs from ``out``'s, or
        ``out`` is not C-contiguous or not writeable.

    Notes
    -----
    ``weightnoise._philox.normal(seed, 1, 0, 0, 0, size)`` computes the same
    numbers in NumPy with libm's log, cos and sin; the compiled version uses
    its own vectorized log and sincos and agrees with it to within
    ``weightnoise._philox.NORMAL_ULP_BOUND`` units in the last place.

    Examples
    --------
    >>> x = standard_normal((2, 3), seed=42)
    >>> x.shape
    (2, 3)
    >>> bool(np.array_equal(x.ravel(), standard_normal(6, seed=42)))
    True
    >>> buffer = np.empty((2, 3))
    >>> standard_normal(seed=42, out=buffer) is buffer and bool(np.array_equal(buffer, x))
    True
    """
    seed = _check_seed(seed)
    if out is not None:
        _check_out(out, shape, dtype)
        if out.dtype == np.float64:
            _core.standard_normal_into_float64(cast("np.ndarray[Any, np.dtype[np.float64]]", out), seed)
        else:
            _core.standard_normal_into_float32(cast("np.ndarray[Any, np.dtype[np.float32]]", out), seed)
        return out
    if shape is None:
        raise TypeError("standard_normal() needs a shape, or an array to fill as out")
    dims, size = _check_shape(shape)
    dt = _check_dtype(np.float64 if dtype is None else dtype)
    fill = _core.standard_normal_float64 if dt == np.float64 else _core.standard_normal_float32
    return fill(size, seed).reshape(dims)


def _check_out(out: object, shape: object, dtype: DTypeLike | None) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"out must have dtype float32 or float64, got {out.dtype}")
    if dtype is not None and _check_dtype(dtype) != out.dtype:
        raise TypeError(f"dtype {np.dtype(dtype)} does not match out's dtype {out.dtype}")
    if shape is not None and _check_shape(shape)[0] != out.shape:
        raise ValueError(f"shape {shape!r} does not match out's shape {out.shape}")
    if out.size >= _MAX_SIZE:
        raise ValueError(f"out has {out.size} elements; at most 2**33 - 1 are supported")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous (its elements are the stream's in C order)")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
