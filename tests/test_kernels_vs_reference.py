"""Every compiled kernel equals the NumPy reference, for both dtypes and many architectures."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn
import weightnoise.reference as ref

from conftest import ARCHITECTURES, RTOL, make_problem, outputs, relative_error

SUBSETS = [dict(), dict(layers=[0], biases=False), dict(layers=[-1, 0], biases=True)]


def _kernels(model, X, y, v, u):
    """(name, call) for every kernel; call(impl) returns its result."""
    return [
        ("predict", lambda m: m.predict(model, X)),
        ("loss", lambda m: m.loss(model, X, y)),
        ("loss_grad", lambda m: m.loss_grad(model, X, y)),
        ("vjp", lambda m: m.vjp(model, X, u)),
        ("jvp", lambda m: m.jvp(model, X, v)),
        ("per_example_grads", lambda m: m.per_example_grads(model, X)),
        ("hvp", lambda m: m.hvp(model, X, v, u)),
        ("hvp_default_u", lambda m: m.hvp(model, X, v)),
    ] + [
        (f"{name}{kw}", lambda m, name=name, kw=kw: getattr(m, name)(model, X, **kw))
        for name in ("grad_norms_sq", "penalty", "penalty_grad", "penalty_and_grad", "hessian_trace")
        for kw in SUBSETS
    ] + [
        (f"{name}{kw}", lambda m, name=name, kw=kw: getattr(m, name)(model, X, y, **kw))
        for name in ("curvature", "second_order_terms") for kw in SUBSETS
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", wn.ACTIVATIONS)
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=str)
def test_every_kernel_matches_the_reference(sizes, activation, dtype):
    model, X, y = make_problem(sizes, activation, dtype, n_examples=517)  # 517: three chunks, one partial
    rng = np.random.default_rng(1)
    v = rng.standard_normal(model.n_params).astype(dtype)
    u = rng.standard_normal(X.shape[0]).astype(dtype)
    # float32 kernels are held against the float64 reference on the same values.
    model64 = wn.MLP(sizes, activation, dtype=np.float64)
    model64.params = model.params.astype(np.float64)
    args64 = [a.astype(np.float64) for a in (X, y, v, u)]
    failures = []
    for (name, compiled), (_, reference) in zip(_kernels(model, X, y, v, u), _kernels(model64, *args64)):
        for result, expected in zip(outputs(compiled(wn)), outputs(reference(ref))):
            assert np.asarray(result).dtype == dtype, f"{name} returned {np.asarray(result).dtype}"
            err = relative_error(result, expected)
            if not err <= RTOL[dtype]:
                failures.append(f"{name}: relative error {err:.2e}")
    assert not failures, "; ".join(failures)


@pytest.mark.parametrize("sizes", [(3, 6, 1), (2, 5, 4, 1), (3, 4, 5, 3, 1)], ids=str)
def test_hutchinson_probes_and_estimates_match_the_reference(sizes):
    model, X, _ = make_problem(sizes, "softplus", n_examples=40)
    for kw in SUBSETS:
        compiled = wn.hessian_trace(model, X, "hutchinson", n_probes=5, seed=11, **kw)
        expected = ref.hessian_trace(model, X, "hutchinson", n_probes=5, seed=11, **kw)
        assert relative_error(compiled, expected) <= 1e-10, kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sums_over_many_chunks_match_the_reference(dtype):
    """577 chunks of 128 rows: eight chunks add into each partial sum, in two waves, the last group short."""
    sizes = (3, 5, 4, 1)
    model, X, y = make_problem(sizes, "tanh", dtype, n_examples=576 * 128 + 77)
    rng = np.random.default_rng(1)
    v = rng.standard_normal(model.n_params).astype(dtype)
    u = rng.standard_normal(X.shape[0]).astype(dtype)
    model64 = wn.MLP(sizes, "tanh", dtype=np.float64)
    model64.params = model.params.astype(np.float64)
    args64 = [a.astype(np.float64) for a in (X, y, v, u)]
    sums = {"loss", "loss_grad", "vjp", "hvp", "penalty{}", "penalty_grad{}", "curvature{}", "second_order_terms{}"}
    for (name, compiled), (_, reference) in zip(_kernels(model, X, y, v, u), _kernels(model64, *args64)):
        if name in sums:
            for result, expected in zip(outputs(compiled(wn)), outputs(reference(ref))):
                assert relative_error(result, expected) <= RTOL[dtype], name


def _tile_mismatches(sizes, n_examples, dtype):
    """The first-order and penalty kernels against the reference for one shape: a line per mismatch."""
    model, X, y = make_problem(sizes, "tanh", dtype, n_examples=n_examples)
    model64 = wn.MLP(sizes, "tanh", dtype=np.float64)
    model64.params = model.params.astype(np.float64)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    failures = []
    for name, with_y in [("predict", False), ("loss_grad", True), ("grad_norms_sq", False),
                         ("penalty_and_grad", False)]:
        compiled = getattr(wn, name)(model, X, *([y] if with_y else []))
        expected = getattr(ref, name)(model64, X64, *([y64] if with_y else []))
        for result, truth in zip(outputs(compiled), outputs(expected)):
            err = relative_error(result, truth)
            if not err <= RTOL[dtype]:
                failures.append(f"{sizes}, N = {n_examples}, {name}: relative error {err:.2e}")
    return failures


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_of_every_tile_height_match_the_reference(dtype):
    """gemm.hpp tiles the rows of a product (examples; a weight gradient's output units) in tiles of kTileRows
    and kTileRows − 1 (6 and 5, or 8 and 7), and fewer rows in shorter tiles of every height: widths and
    example counts 1 … 17 reach each."""
    failures = []
    for h in range(1, 18):
        # the products into and out of the middle layer have h rows or h inner terms
        failures += _tile_mismatches((16, h, 16, 1), h, dtype)
    assert not failures, "; ".join(failures)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_row_products_in_wide_tiles_match_the_reference(dtype):
    """A product with one row of C (the scalar output's weight gradient; a forward pass of one example) runs
    in one-row tiles kWidePackets wide: these widths end in whole and partial wide tiles for either dtype."""
    failures = []
    for width in (29, 31, 32, 33, 62, 64, 65, 126, 130):
        for n_examples in (1, 7):
            failures += _tile_mismatches((3, width, 1), n_examples, dtype)
    assert not failures, "; ".join(failures)
