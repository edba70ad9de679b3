"""Philox4x32-10 and the library's random streams in plain NumPy.

The reference for ``cpp/weightnoise/random.hpp``: the same counter-based
generator and the same element schedule, so the NumPy reference
implementation draws the very numbers the compiled kernels draw.

A stream is ``(seed, purpose, draw, item)``. Its block ``b`` (a uint32) is
Philox4x32-10 of the counter ``(b, item, draw, purpose)`` under the key
``(seed & 0xFFFFFFFF, seed >> 32)``. From the four 32-bit words of a block:

* uniform ``e``: the 53 high bits of words ``(2 (e % 2), 2 (e % 2) + 1)`` of
  block ``e // 2``, divided by 2**53, in [0, 1); bitwise equal to C++.
* normal ``e``: block ``e // 2`` by Box–Muller, ``u1 = (x1 + 1) / 2**53`` in
  (0, 1] from words (0, 1), ``u2 = x2 / 2**53`` in [0, 1) from words (2, 3),
  ``r = sqrt(-2 log u1)``, element ``2b = r cos(2 pi u2)``, ``2b + 1 = r sin(2 pi u2)``.
  C++ evaluates log and sincos with its own vectorized code, so the two agree
  to within :data:`NORMAL_ULP_BOUND` units in the last place, not bitwise.
* Rademacher ``e``: bit ``e % 32`` of word ``(e % 128) // 32`` of block
  ``e // 128``; a set bit gives +1, a clear bit -1. Bitwise equal to C++.

Block indices wrap modulo 2**32, as in C++.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._typing import Array, FloatArray

__all__ = [
    "NORMAL_ULP_BOUND",
    "Purpose",
    "box_muller",
    "normal",
    "philox4x32_10",
    "rademacher",
    "stream_blocks",
    "uniform",
]

#: Largest difference, in float64 units in the last place, allowed between a
#: C++ normal and :func:`normal` (libm's log, cos and sin) for the same
#: element. The compiled log, sin and cos are each within 1 ulp of glibc's;
#: a scan of 10**8 elements found at most 3 ulp between the normals, none at
#: the extremes (u1 = 2**-53, u1 = 1, angles next to multiples of pi/2).
#: float32 normals, being those float64 values rounded, differ by at most
#: 1 float32 ulp.
NORMAL_ULP_BOUND = 4

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_TWO_PI = 2.0 * np.pi  # the double nearest 2 pi, as in C++


class Purpose(enum.IntEnum):
    """What a stream is for (the ``Purpose`` enum of ``random.hpp``)."""

    standard_normal = 1  #: weightnoise.standard_normal
    shared_noise = 2  #: eps_k shared by all examples (item = 0)
    example_noise = 3  #: eps_{k,n} for example n (item = n)
    local_noise = 4  #: xi_{k,n} of the local reparameterization
    hutchinson = 5  #: Rademacher probes (draw = probe)
    minibatch = 6  #: minibatch order of training epochs
    train_shared_noise = 7  #: training: eps per minibatch (draw = step)
    train_example_noise = 8  #: training: eps per presentation (draw = epoch, item = example)
    train_local_noise = 9  #: training: xi per presentation (draw = epoch, item = example)


def philox4x32_10(counters: ArrayLike, k0: int, k1: int) -> NDArray[np.uint32]:
    """Philox4x32-10 of many counters under one key.

    Parameters
    ----------
    counters : array_like of uint32, shape (n, 4)
        The counters, word 0 first.
    k0, k1 : int
        The two 32-bit key words.

    Returns
    -------
    numpy.ndarray of uint32, shape (n, 4)
        The output blocks.
    """
    c = np.asarray(counters, dtype=np.uint32).reshape(-1, 4).astype(np.uint64)
    c0, c1, c2, c3 = (c[:, j].copy() for j in range(4))
    k0 = int(k0) & 0xFFFFFFFF
    k1 = int(k1) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c0  # 32 x 32 -> 64 bits, exact in uint64
        p1 = _M1 * c2
        c0 = (p1 >> _SHIFT32) ^ c1 ^ np.uint64(k0)
        c1 = p1 & _MASK32
        c2 = (p0 >> _SHIFT32) ^ c3 ^ np.uint64(k1)
        c3 = p0 & _MASK32
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def stream_blocks(seed: int, purpose: int, draw: int, item: int, blocks: ArrayLike) -> NDArray[np.uint32]:
    """Blocks of the stream ``(seed, purpose, draw, item)``.

    Parameters
    ----------
    seed : int
        In [0, 2**64).
    purpose : int or Purpose
        The purpose code (counter word 3).
    draw, item : int
        Counter words 2 and 1, each in [0, 2**32).
    blocks : array_like of int, shape (n,)
        Block indices (counter word 0), taken modulo 2**32.

    Returns
    -------
    numpy.ndarray of uint32, shape (n, 4)
        Block ``blocks[i]`` in row ``i``.
    """
    b = np.asarray(blocks, dtype=np.uint64).reshape(-1) & _MASK32
    counters = np.empty((b.size, 4), dtype=np.uint32)
    counters[:, 0] = b
    counters[:, 1] = int(item)
    counters[:, 2] = int(draw)
    counters[:, 3] = int(purpose)
    seed = int(seed)
    return philox4x32_10(counters, seed & 0xFFFFFFFF, seed >> 32)


def _elements(first: int, count: int) -> NDArray[np.uint64]:
    return np.uint64(first) + np.arange(count, dtype=np.uint64)


def _element_blocks(seed: int, purpose: int, draw: int, item: int, e: NDArray[np.uint64],
                    shift: int) -> NDArray[np.uint32]:
    # Row i = block e[i] >> shift; each block is computed once for the range.
    if e.size == 0:
        return np.empty((0, 4), dtype=np.uint32)
    shift64 = np.uint64(shift)
    b_first = e[0] >> shift64
    b = e >> shift64
    blocks = stream_blocks(seed, purpose, draw, item, np.arange(b_first, b[-1] + np.uint64(1), dtype=np.uint64))
    rows: NDArray[np.uint32] = blocks[(b - b_first).astype(np.intp)]
    return rows


def _high53(hi: NDArray[np.uint32], lo: NDArray[np.uint32]) -> NDArray[np.float64]:
    # The 53 high bits of the 64-bit word hi:lo, as an exact float64 integer.
    x = (hi.astype(np.uint64) << _SHIFT32 | lo.astype(np.uint64)) >> np.uint64(11)
    return x.astype(np.float64)


def uniform(seed: int, purpose: int, draw: int, item: int, first: int, count: int) -> NDArray[np.float64]:
    """Uniforms on [0, 1), 53 random bits each, of one stream.

    Parameters
    ----------
    seed, purpose, draw, item : int
        The stream (see :func:`stream_blocks`).
    first : int
        Index of the first element.
    count : int
        Number of elements.

    Returns
    -------
    numpy.ndarray of float64, shape (count,)
        Elements ``first, ..., first + count - 1``.
    """
    e = _elements(first, count)
    w = _element_blocks(seed, purpose, draw, item, e, 1)
    j = (2 * (e & np.uint64(1))).astype(np.intp)
    rows = np.arange(e.size)
    return _high53(w[rows, j], w[rows, j + 1]) * 2.0**-53


def normal(seed: int, purpose: int, draw: int, item: int, first: int, count: int,
           dtype: DTypeLike = np.float64) -> FloatArray:
    """Standard normals of one stream, by Box–Muller on pairs of uniforms.

    Parameters
    ----------
    seed, purpose, draw, item : int
        The stream (see :func:`stream_blocks`).
    first : int
        Index of the first element.
    count : int
        Number of elements.
    dtype : {numpy.float64, numpy.float32}
        float32 values are the float64 ones rounded.

    Returns
    -------
    numpy.ndarray of dtype, shape (count,)
        Elements ``first, ..., first + count - 1``.
    """
    first, count = int(first), int(count)
    if count == 0:
        return np.empty(0, dtype=dtype)
    blocks = np.arange(first >> 1, ((first + count - 1) >> 1) + 1, dtype=np.uint64)
    pairs = box_muller(stream_blocks(seed, purpose, draw, item, blocks))  # elements 2 (first >> 1), ...
    start = first & 1
    return pairs[start : start + count].astype(dtype)


def box_muller(blocks: ArrayLike) -> NDArray[np.float64]:
    """The two normals of each Philox block, by Box–Muller with libm.

    Parameters
    ----------
    blocks : array_like of uint32, shape (n, 4)
        Output words of Philox4x32-10.

    Returns
    -------
    numpy.ndarray of float64, shape (2 n,)
        ``r cos(2 pi u2), r sin(2 pi u2)`` of block 0, then of block 1, ...,
        where ``u1 = (x1 + 1) / 2**53`` and ``u2 = x2 / 2**53`` with ``x1``,
        ``x2`` the 53 high bits of words (0, 1) and (2, 3), and
        ``r = sqrt(-2 log u1)``.
    """
    w = np.asarray(blocks, dtype=np.uint32).reshape(-1, 4)
    u1 = (_high53(w[:, 0], w[:, 1]) + 1.0) * 2.0**-53  # (0, 1]
    u2 = _high53(w[:, 2], w[:, 3]) * 2.0**-53  # [0, 1)
    r = np.sqrt(-2.0 * np.log(u1))
    angle = _TWO_PI * u2
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).reshape(-1)


def rademacher(seed: int, purpose: int, draw: int, item: int, first: int, count: int,
               dtype: DTypeLike = np.float64) -> Array:
    """Rademacher signs (+1 or -1 with equal probability) of one stream.

    Parameters
    ----------
    seed, purpose, draw, item : int
        The stream (see :func:`stream_blocks`).
    first : int
        Index of the first element.
    count : int
        Number of elements.
    dtype : numpy dtype
        Of the result.

    Returns
    -------
    numpy.ndarray of dtype, shape (count,)
        Elements ``first, ..., first + count - 1``.
    """
    e = _elements(first, count)
    w = _element_blocks(seed, purpose, draw, item, e, 7)
    word = ((e & np.uint64(127)) >> np.uint64(5)).astype(np.intp)
    bits = (w[np.arange(e.size), word].astype(np.uint64) >> (e & np.uint64(31))) & np.uint64(1)
    return np.where(bits == 1, 1, -1).astype(dtype)
