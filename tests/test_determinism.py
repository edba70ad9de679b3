"""Results do not depend on the number of threads: bitwise identical."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn

from conftest import make_problem, outputs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [(5, 16, 9, 1), (3, 6, 5, 4, 1)], ids=str)
def test_one_and_two_threads_give_identical_bits(sizes, dtype):
    model, X, y = make_problem(sizes, "tanh", dtype, n_examples=3001)  # 12 chunks, the last one partial
    rng = np.random.default_rng(2)
    v = rng.standard_normal(model.n_params).astype(dtype)
    u = rng.standard_normal(X.shape[0]).astype(dtype)
    calls = {
        "predict": lambda: wn.predict(model, X),
        "loss": lambda: wn.loss(model, X, y),
        "loss_grad": lambda: wn.loss_grad(model, X, y),
        "vjp": lambda: wn.vjp(model, X, u),
        "jvp": lambda: wn.jvp(model, X, v),
        "per_example_grads": lambda: wn.per_example_grads(model, X),
        "grad_norms_sq": lambda: wn.grad_norms_sq(model, X),
        "hvp": lambda: wn.hvp(model, X, v, u),
        "penalty": lambda: wn.penalty(model, X),
        "penalty_grad": lambda: wn.penalty_grad(model, X),
        "hessian_trace": lambda: wn.hessian_trace(model, X),
        "hutchinson": lambda: wn.hessian_trace(model, X, "hutchinson", n_probes=3),
        "curvature": lambda: wn.curvature(model, X, y),
        "second_order_terms": lambda: wn.second_order_terms(model, X, y),
    }
    for name, call in calls.items():
        with wn.num_threads(1):
            one = np.asarray(call())
        with wn.num_threads(2):
            two = np.asarray(call())
        assert one.tobytes() == two.tobytes(), name


def test_thread_count_is_settable_and_restorable():
    default = wn.get_num_threads()
    wn.set_num_threads(1)
    assert wn.get_num_threads() == 1
    with wn.num_threads(2):
        assert wn.get_num_threads() == 2
    assert wn.get_num_threads() == 1
    wn.set_num_threads(None)
    assert wn.get_num_threads() == default
    with pytest.raises(ValueError, match=r"n must be an integer in \[0, 1024\] or None"):
        wn.set_num_threads(-1)


def test_sums_whose_chunks_share_partials_give_identical_bits():
    """577 chunks: eight add into each partial sum (one thread, in order), whatever the thread count."""
    model, X, y = make_problem((3, 5, 4, 1), "tanh", np.float64, n_examples=576 * 128 + 77)
    v = np.random.default_rng(2).standard_normal(model.n_params)
    calls = {
        "loss_grad": lambda: wn.loss_grad(model, X, y),
        "hvp": lambda: wn.hvp(model, X, v),
        "penalty_and_grad": lambda: wn.penalty_and_grad(model, X),
        "second_order_terms": lambda: wn.second_order_terms(model, X, y),
    }
    for name, call in calls.items():
        with wn.num_threads(1):
            one = _bits(call())
        with wn.num_threads(2):
            two = _bits(call())
        assert one == two, name


def _bits(result) -> bytes:
    """The bytes of a kernel's outputs (a tuple of them, or one)."""
    return b"".join(np.asarray(part).tobytes() for part in outputs(result))
