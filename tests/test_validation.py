"""Bad input raises ValueError or TypeError naming the problem, before any computation,
in the compiled API and the reference alike."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn

from conftest import make_problem


@pytest.fixture
def problem():
    return make_problem((3, 5, 1), "tanh", n_examples=20)


def _calls(impl, model, X, y):
    """Every kernel as a function of (X, y)."""
    v = np.zeros(model.n_params, dtype=model.dtype)
    return {
        "predict": lambda X, y: impl.predict(model, X),
        "loss": lambda X, y: impl.loss(model, X, y),
        "loss_grad": lambda X, y: impl.loss_grad(model, X, y),
        "vjp": lambda X, y: impl.vjp(model, X, y),
        "jvp": lambda X, y: impl.jvp(model, X, v),
        "per_example_grads": lambda X, y: impl.per_example_grads(model, X),
        "grad_norms_sq": lambda X, y: impl.grad_norms_sq(model, X),
        "hvp": lambda X, y: impl.hvp(model, X, v, y),
        "penalty": lambda X, y: impl.penalty(model, X),
        "penalty_grad": lambda X, y: impl.penalty_grad(model, X),
        "hessian_trace": lambda X, y: impl.hessian_trace(model, X),
        "curvature": lambda X, y: impl.curvature(model, X, y),
    }


BAD_X = {
    "1-D": (lambda X: X[:, 0], ValueError, "2-D"),
    "3-D": (lambda X: X[None], ValueError, "2-D"),
    "empty": (lambda X: X[:0], ValueError, "empty"),
    "wrong width": (lambda X: X[:, :2], ValueError, "features"),
    "NaN": (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), ValueError, "NaN"),
    "Inf": (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, -np.inf, X), ValueError, "Inf"),
    "float32": (lambda X: X.astype(np.float32), TypeError, "float32"),
    "int": (lambda X: X.astype(np.int64), TypeError, "dtype"),
    "bool": (lambda X: X > 0, TypeError, "dtype"),
    "complex": (lambda X: X.astype(complex), TypeError, "dtype"),
    "object": (lambda X: X.astype(object), TypeError, "dtype"),
}


@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_raises_naming_X(impl, problem, case):
    model, X, y = problem
    make_bad, error, words = BAD_X[case]
    for name, call in _calls(impl, model, X, y).items():
        with pytest.raises(error, match=words) as info:
            call(make_bad(X), y)
        assert "X" in str(info.value), name


BAD_Y = {
    "wrong length": (lambda y: y[:-1], ValueError, "shape"),
    "2-D": (lambda y: np.stack([y, y], axis=1), ValueError, "shape"),
    "NaN": (lambda y: np.where(np.arange(y.size) == 3, np.nan, y), ValueError, "NaN"),
    "float32": (lambda y: y.astype(np.float32), TypeError, "float32"),
    "int": (lambda y: y.astype(int), TypeError, "dtype"),
}


@pytest.mark.parametrize("case", list(BAD_Y))
def test_bad_targets_and_cotangents_raise(impl, problem, case):
    model, X, y = problem
    make_bad, error, words = BAD_Y[case]
    for name in ("loss", "loss_grad", "curvature", "vjp", "hvp"):
        with pytest.raises(error, match=words):
            _calls(impl, model, X, y)[name](X, make_bad(y))


def test_column_targets_are_accepted(impl, problem):
    model, X, y = problem
    assert impl.loss(model, X, y[:, None]) == impl.loss(model, X, y)


def test_bad_parameter_vectors_raise(impl, problem):
    model, X, _ = problem
    with pytest.raises(ValueError, match=r"v must have shape \(26,\)"):
        impl.jvp(model, X, np.zeros(25))
    with pytest.raises(ValueError, match="v contains NaN"):
        impl.hvp(model, X, np.full(26, np.nan))
    with pytest.raises(TypeError, match="v must be a floating-point array"):
        impl.hvp(model, X, np.zeros(26, dtype=int))


def test_bad_subsets_and_methods_raise(impl, problem):
    model, X, y = problem
    with pytest.raises(ValueError, match="layer index 2 out of range"):
        impl.penalty(model, X, layers=[2])
    with pytest.raises(TypeError, match="layers must hold integer"):
        impl.penalty_grad(model, X, layers=[0.5])
    with pytest.raises(TypeError, match="layers must be None or a list"):
        impl.grad_norms_sq(model, X, layers=1)
    with pytest.raises(TypeError, match="biases must be True or False"):
        impl.hessian_trace(model, X, biases="no")
    with pytest.raises(ValueError, match="unknown method"):
        impl.hessian_trace(model, X, "lanczos")
    with pytest.raises(ValueError, match="unknown method array"):  # y passed where method goes
        impl.hessian_trace(model, X, y)
    with pytest.raises(ValueError, match="unknown method array"):
        impl.curvature(model, X, y, y)
    with pytest.raises(ValueError, match="n_probes must be at least 1"):
        impl.hessian_trace(model, X, "hutchinson", n_probes=0)
    with pytest.raises(ValueError, match="seed must be in"):
        impl.curvature(model, X, y, "hutchinson", seed=-1)


def test_model_must_be_an_mlp_with_finite_parameters(impl, problem):
    model, X, _ = problem
    with pytest.raises(TypeError, match=r"model must be a weightnoise\.MLP"):
        impl.predict("not a model", X)
    broken = model.copy()
    broken._params[0] = np.nan  # bypasses the setter's check on purpose
    with pytest.raises(ValueError, match="model parameters contain NaN"):
        impl.predict(broken, X)


def test_non_contiguous_fortran_and_read_only_inputs_give_the_same_result(impl, problem):
    model, X, y = problem
    expected = impl.loss_grad(model, X, y)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    strided = wide[:, ::2]
    readonly = X.copy()
    readonly.flags.writeable = False
    for variant in (np.asfortranarray(X), strided, readonly, X[::-1][::-1]):
        assert np.array_equal(impl.loss_grad(model, variant, y), expected)
    assert np.array_equal(impl.loss_grad(model, X, np.concatenate([y, y])[::2][: len(y)] * 0 + y), expected)


@pytest.mark.parametrize("sizes, error, words", [
    ((3,), ValueError, "input and an output"),
    ((3, 2), ValueError, "scalar"),
    ((3, 0, 1), ValueError, "positive"),
    ((3, 2.5, 1), TypeError, "integers"),
    (3, TypeError, "sequence"),
])
def test_bad_architectures_raise(sizes, error, words):
    with pytest.raises(error, match=words):
        wn.MLP(sizes)


def test_bad_activation_and_dtype_raise():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        wn.MLP((2, 1), "gelu")
    with pytest.raises(ValueError, match="unknown activation array"):
        wn.MLP((2, 1), np.array(["tanh", "relu"]))
    with pytest.raises(TypeError, match="float32 or float64"):
        wn.MLP((2, 1), dtype=np.float16)
    with pytest.raises(TypeError, match="float32 or float64"):
        wn.MLP((2, 1), dtype="complex128")
