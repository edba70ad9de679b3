"""Shared fixtures: architectures, problems, implementations and tolerances."""

from __future__ import annotations

import signal

import numpy as np
import pytest

import weightnoise
import weightnoise.reference

IMPLEMENTATIONS = {"cpp": weightnoise, "reference": weightnoise.reference}

# Depth 1 to 5, widths 1 to 64 (odd widths: not multiples of any SIMD width).
# Widths below, at and above a SIMD packet (2, 4 or 8 doubles; 4, 8 or 16 floats), whole and partial, so that
# every path of the tiled products in cpp/weightnoise/gemm.hpp and their Eigen fallbacks is compared.
ARCHITECTURES = [(5, 1), (3, 1, 1), (4, 17, 1), (2, 3, 64, 1), (6, 8, 3, 5, 1), (3, 7, 5, 4, 3, 1), (3, 40, 24, 1),
                 (2, 32, 16, 1)]

# Normwise relative error allowed between the compiled kernels and the reference.
RTOL = {np.float64: 1e-10, np.float32: 2e-4}


def make_problem(sizes, activation="tanh", dtype=np.float64, n_examples=300, seed=0):
    """A model (parameters moved off initialization, biases nonzero) with data and targets."""
    rng = np.random.default_rng(seed)
    model = weightnoise.MLP(sizes, activation, seed=seed, dtype=dtype)
    model.params = model.params + 0.2 * rng.standard_normal(model.n_params)
    X = rng.standard_normal((n_examples, sizes[0])).astype(dtype)
    y = (np.sin(X.sum(axis=1)) + 0.1 * rng.standard_normal(n_examples)).astype(dtype)
    return model, X, y


def outputs(result) -> tuple:
    """A kernel's outputs as a tuple (penalty_and_grad returns two, most kernels one)."""
    return result if isinstance(result, tuple) else (result,)


def relative_error(actual, expected) -> float:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    return float(np.max(np.abs(actual - expected)) / scale) if scale > 0 else float(np.max(np.abs(actual)))


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def impl(request):
    """Each implementation of the public API: the compiled core and the NumPy reference."""
    return IMPLEMENTATIONS[request.param]


@pytest.fixture(autouse=True)
def _sigint_raises_keyboard_interrupt():
    """Ctrl-C tests send this process SIGINT and expect a KeyboardInterrupt. A run started in the
    background (`cmd &` in a script) inherits SIGINT ignored, and Python then installs no handler:
    give every test Python's default one, and put back what was there."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)

