"""The second-order account J̃_η = J + ηΩ + ηC + O(η²) against measurements."""

from __future__ import annotations

import json

import numpy as np
import pytest

import weightnoise as wn
import weightnoise.reference as ref

from conftest import make_problem, relative_error


def test_second_order_is_the_sum_of_its_terms_in_both_implementations():
    model, X, y = make_problem((3, 5, 4, 1), "softplus", n_examples=100)
    for subset in (dict(), dict(layers=[0], biases=False)):
        compiled = wn.second_order(model, X, y, 0.01, **subset)
        expected = ref.second_order(model, X, y, 0.01, **subset)
        assert compiled.loss == pytest.approx(wn.loss(model, X, y), rel=1e-15)
        assert compiled.eta_penalty == pytest.approx(0.01 * wn.penalty(model, X, **subset), rel=1e-15)
        assert compiled.eta_curvature == pytest.approx(0.01 * wn.curvature(model, X, y, **subset), rel=1e-15)
        assert compiled.total == pytest.approx(compiled.loss + compiled.eta_penalty + compiled.eta_curvature)
        assert compiled.textbook == pytest.approx(compiled.loss + compiled.eta_penalty)
        for a, b in zip(vars(compiled).values(), vars(expected).values()):
            assert a == pytest.approx(b, rel=1e-10)


def test_equivalence_tables_match_the_reference():
    model, X, y = make_problem((3, 5, 1), "tanh", n_examples=60)
    compiled = wn.equivalence(model, X, y, [1e-3, 1e-2], 4, noise="shared", seed=2)
    expected = ref.equivalence(model, X, y, [1e-3, 1e-2], 4, noise="shared", seed=2)
    for name in compiled.table.dtype.names:
        assert relative_error(compiled.table[name], expected.table[name]) < 1e-10, name
    assert set(compiled.to_dict()) >= {"eta", "measured", "stderr", "slope_textbook", "slope_second_order"}
    assert "log-log slope" in str(compiled)


def test_equivalence_options_given_as_numpy_scalars_come_back_as_json():
    model, X, y = make_problem((3, 5, 1), "tanh", n_examples=20)
    given = wn.equivalence(model, X, y, [1e-3, 1e-2], np.int64(2), noise=np.str_("local"), antithetic=np.True_,
                           seed=np.uint64(3))
    assert json.loads(json.dumps(given.to_dict()))["seed"] == 3


def test_full_residual_decays_like_eta_squared_and_textbook_residual_like_eta():
    """On a tanh network away from the optimum (C ≠ 0).

    With common random numbers across η and antithetic pairs, the measured excess is
    η·q̄_K + η²·m̄_K, where q̄_K averages K draws of a quadratic form with mean Ω + C and
    per-draw spread σ_q. The full residual is then η(q̄_K − Ω − C) + η²·c: its Monte
    Carlo part, of size η·σ_q/√K, must stay well under c·η² down to the smallest η,
    which needs K ≥ (σ_q / (0.1·|c|·η_min))² draws (10% error at η_min, less above).
    σ_q and c come from a pilot run; the derived K is then used.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    model = wn.MLP((3, 8, 1), "tanh", seed=1)
    etas = np.logspace(-2, -1.4, 4)
    pilot = wn.equivalence(model, X, y, etas[[0, -1]], 100, noise="local", seed=1)
    sigma_q = pilot.table["stderr"][0] * np.sqrt(100) / etas[0]
    c = pilot.table["residual_second_order"][1] / etas[-1] ** 2
    n_draws = int(np.ceil((sigma_q / (0.1 * abs(c) * etas[0])) ** 2))
    assert 100 <= n_draws <= 2000, (sigma_q, c, n_draws)
    result = wn.equivalence(model, X, y, etas, n_draws, noise="local", seed=2)
    assert abs(result.curvature) > 0.5 * result.penalty  # C is far from zero here
    assert abs(result.slope_second_order - 2) < 0.3, str(result)
    assert abs(result.slope_textbook - 1) < 0.3, str(result)


def test_bad_eta_grids_raise():
    model, X, y = make_problem((3, 5, 1), n_examples=20)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        wn.equivalence(model, X, y, [], 2)
    with pytest.raises(ValueError, match="every eta must be finite and non-negative"):
        wn.equivalence(model, X, y, [1e-3, -1e-2], 2)
    with pytest.raises(ValueError, match="eta must be finite"):
        wn.second_order(model, X, y, float("inf"))
