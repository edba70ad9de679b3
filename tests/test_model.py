"""The MLP: initialization, parameter layout and access."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn


def test_initialization_is_reproducible_from_the_seed():
    a, b, c = wn.MLP((4, 8, 1), seed=3), wn.MLP((4, 8, 1), seed=3), wn.MLP((4, 8, 1), seed=4)
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_weights_are_normal_with_variance_one_over_fan_in_and_biases_zero():
    model = wn.MLP((400, 300, 1), seed=0)
    (W, b), (W2, b2) = model.layers
    n = W.size
    # The sample variance of n normals has standard error σ²·√(2/n).
    assert abs(W.var() - 1 / 400) < 5 * (1 / 400) * np.sqrt(2 / n)
    assert abs(W.mean()) < 5 * np.sqrt(1 / 400 / n)
    assert np.all(b == 0) and np.all(b2 == 0)
    assert W2.shape == (1, 300)


def test_flat_order_is_w0_b0_w1_b1_row_major():
    model = wn.MLP((2, 3, 1))
    model.params = np.arange(model.n_params, dtype=float)
    (W0, b0), (W1, b1) = model.layers
    assert np.array_equal(W0, [[0, 1], [2, 3], [4, 5]])
    assert np.array_equal(b0, [6, 7, 8])
    assert np.array_equal(W1, [[9, 10, 11]])
    assert np.array_equal(b1, [12])
    assert model.n_params == 13


def test_layers_are_views_and_settable():
    model = wn.MLP((2, 3, 1))
    W0, _ = model.layers[0]
    W0[0, 0] = 42.0
    assert model.params[0] == 42.0
    new = [(np.ones((3, 2)), np.zeros(3)), (np.full((1, 3), 2.0), np.ones(1))]
    model.layers = new
    assert np.array_equal(model.params, np.concatenate([np.ones(6), np.zeros(3), np.full(3, 2.0), np.ones(1)]))
    with pytest.raises(ValueError, match="layer 0"):
        model.layers = [(np.ones((2, 3)), np.zeros(3)), new[1]]
    with pytest.raises(ValueError, match="expected 2"):
        model.layers = new[:1]


def test_params_setter_checks_shape_dtype_and_values():
    model = wn.MLP((2, 3, 1))
    with pytest.raises(ValueError, match=r"shape \(13,\)"):
        model.params = np.zeros(12)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.params = np.full(13, np.inf)
    with pytest.raises(TypeError, match="floating point"):
        model.params = np.zeros(13, dtype=int)
    small = wn.MLP((2, 3, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="params overflow float32: their largest magnitude is 1e"):
        small.params = np.full(13, 1e300)
    assert np.all(np.isfinite(small.params))


def test_a_numpy_string_activation_is_kept_as_a_plain_str():
    model = wn.MLP((2, 3, 1), np.str_("relu"))
    assert type(model.activation) is str and "activation='relu'" in repr(model)


def test_copy_is_independent_and_float32_models_compute_in_float32():
    model = wn.MLP((2, 3, 1), "relu", dtype=np.float32)
    twin = model.copy()
    twin.params[:] = 0
    assert np.any(model.params != 0)
    assert model.params.dtype == np.float32
    assert wn.predict(model, np.ones((4, 2), np.float32)).dtype == np.float32
    assert wn.loss(model, np.ones((4, 2), np.float32), np.ones(4, np.float32)).dtype == np.float32
    assert repr(model) == "MLP(layer_sizes=[2, 3, 1], activation='relu', dtype=float32)"
