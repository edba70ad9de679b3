"""The reference against 4th-order central finite differences in float64, and the
identities that tie the kernels together (checked on the compiled core too)."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn
import weightnoise.reference as ref

from conftest import make_problem, relative_error

# relu is left out: a finite-difference step can cross its kink.
SMOOTH = ["tanh", "sigmoid", "softplus", "identity"]
SIZES = [(3, 1), (3, 4, 1), (2, 5, 3, 1), (3, 4, 3, 2, 1)]
H = 1e-3
FD_RTOL = 1e-7


def fd_error(actual, expected) -> float:
    """Normwise error against a finite difference; the floor absorbs its ~1e-13 noise where
    the exact value is zero (a Hessian of a model linear in θ)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-3))


def derivative(f, h=H):
    """d/dt f(t) at t = 0 by the 4th-order central difference (error O(h⁴))."""
    return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)


def along(model, v):
    """t ↦ a copy of the model moved to θ + t v."""
    return lambda t: model.with_params(model.params + t * v)


@pytest.fixture(params=[(s, a) for s in SIZES for a in SMOOTH], ids=lambda p: f"{p[0]}-{p[1]}")
def problem(request):
    sizes, activation = request.param
    model, X, y = make_problem(sizes, activation, n_examples=13)
    rng = np.random.default_rng(5)
    return model, X, y, rng.standard_normal(model.n_params), rng.standard_normal(13)


def test_loss_grad(problem):
    model, X, y, v, _ = problem
    at = along(model, v)
    expected = derivative(lambda t: ref.loss(at(t), X, y))
    assert fd_error(ref.loss_grad(model, X, y) @ v, expected) < FD_RTOL


def test_jvp_per_example_grads_and_vjp(problem):
    model, X, _, v, u = problem
    at = along(model, v)
    expected = derivative(lambda t: ref.predict(at(t), X))
    assert fd_error(ref.jvp(model, X, v), expected) < FD_RTOL
    assert fd_error(ref.per_example_grads(model, X) @ v, expected) < FD_RTOL
    assert fd_error(ref.vjp(model, X, u) @ v, u @ expected) < FD_RTOL


def test_hvp(problem):
    model, X, _, v, u = problem
    at = along(model, v)
    expected = derivative(lambda t: ref.vjp(at(t), X, u))
    assert fd_error(ref.hvp(model, X, v, u), expected) < FD_RTOL


@pytest.mark.parametrize("subset", [dict(), dict(layers=[0], biases=False), dict(layers=[-1])], ids=str)
def test_penalty_grad(problem, subset):
    model, X, _, v, _ = problem
    at = along(model, v)
    expected = derivative(lambda t: ref.penalty(at(t), X, **subset))
    assert fd_error(ref.penalty_grad(model, X, **subset) @ v, expected) < FD_RTOL


def _fd_hessian(model, x):
    """The Hessian of ŷ(x) by central differences of the exact gradient, (n_params, n_params)."""
    basis = np.eye(model.n_params)

    def grad(t, e):
        return ref.per_example_grads(along(model, e)(t), x)[0]

    H = np.array([derivative(lambda t, e=e: grad(t, e)) for e in basis])
    return (H + H.T) / 2


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("activation", SMOOTH)
def test_hessian_trace_equals_trace_of_finite_difference_hessian(sizes, activation):
    model, X, _ = make_problem(sizes, activation, n_examples=3)
    for n in range(3):
        H_fd = _fd_hessian(model, X[n:n + 1])
        for subset in (dict(), dict(layers=[0], biases=False), dict(layers=[-1], biases=True)):
            mask = ref._subset_mask(model, subset.get("layers"), subset.get("biases", True))
            expected = np.sum(np.diag(H_fd) * mask)
            for impl in (wn, ref):
                trace = impl.hessian_trace(model, X[n:n + 1], **subset)[0]
                assert abs(trace - expected) < 1e-7 * max(1.0, np.abs(np.diag(H_fd)).sum()), (impl.__name__, subset)


@pytest.mark.parametrize("impl", [wn, ref], ids=["cpp", "reference"])
@pytest.mark.parametrize("subset", [dict(), dict(layers=[1], biases=False)], ids=str)
def test_penalty_grad_is_twice_the_mean_of_hvps_along_each_gradient(impl, subset):
    model, X, _ = make_problem((3, 6, 4, 1), "tanh", n_examples=9)
    mask = ref._subset_mask(model, subset.get("layers"), subset.get("biases", True))
    G = impl.per_example_grads(model, X) * mask
    expected = sum(2 * impl.hvp(model, X[n:n + 1], G[n], np.ones(1)) for n in range(9)) / 9
    assert relative_error(impl.penalty_grad(model, X, **subset), expected) < 1e-12


@pytest.mark.parametrize("impl", [wn, ref], ids=["cpp", "reference"])
def test_grad_norms_sq_are_row_norms_of_per_example_grads(impl):
    model, X, _ = make_problem((4, 9, 5, 1), "sigmoid", n_examples=20)
    for subset in (dict(), dict(layers=[0, 2], biases=False)):
        mask = ref._subset_mask(model, subset.get("layers"), subset.get("biases", True))
        expected = np.sum((impl.per_example_grads(model, X) * mask) ** 2, axis=1)
        assert relative_error(impl.grad_norms_sq(model, X, **subset), expected) < 1e-12
    assert relative_error(impl.penalty(model, X), np.mean(impl.grad_norms_sq(model, X))) < 1e-12


def test_hutchinson_is_unbiased_for_the_exact_trace():
    """Single-probe estimates from independent seeds: mean within 5 standard errors of the exact trace."""
    model, X, _ = make_problem((3, 8, 6, 1), "tanh", n_examples=4)
    exact = wn.hessian_trace(model, X)
    single = np.array([wn.hessian_trace(model, X, "hutchinson", n_probes=1, seed=s) for s in range(2000)])
    stderr = single.std(axis=0, ddof=1) / np.sqrt(len(single))
    assert np.all(np.abs(single.mean(axis=0) - exact) < 5 * stderr), (single.mean(axis=0), exact, stderr)
    # n_probes averages the first n_probes probes of one seed.
    assert relative_error(wn.hessian_trace(model, X, "hutchinson", n_probes=7, seed=3),
                          np.mean([ref._per_example_hvp(model, X, v) @ v
                                   for v in (ref._hutchinson_probe(model, np.ones(model.n_params), 3, k)
                                             for k in range(7))], axis=0)) < 1e-12


def test_model_linear_in_theta_has_zero_hessian_trace():
    model, X, y = make_problem((4, 1), "tanh", n_examples=10)
    assert np.all(wn.hessian_trace(model, X) == 0)
    assert wn.curvature(model, X, y) == 0
