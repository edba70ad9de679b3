"""Weight perturbation and the Monte Carlo estimators of the perturbed loss."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import weightnoise as wn
import weightnoise.reference as ref

from conftest import make_problem, relative_error

SUBSETS = [dict(), dict(layers=[1], biases=False), dict(layers=[0], biases=True)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("noise", wn.NOISE_MODES)
@pytest.mark.parametrize("antithetic", [True, False])
def test_estimators_match_the_reference_on_the_same_streams(noise, antithetic, dtype):
    model, X, y = make_problem((3, 6, 5, 1), "tanh", dtype, n_examples=300)
    for subset in SUBSETS:
        compiled = wn.perturbed_loss(model, X, y, 0.02, 3, noise, antithetic, seed=7, **subset)
        expected = ref.perturbed_loss(model, X, y, 0.02, 3, noise, antithetic, seed=7, **subset)
        assert compiled.draws.dtype == dtype
        assert relative_error(compiled.draws, expected.draws) <= (1e-10 if dtype == np.float64 else 1e-5)
        assert compiled.n_evaluations == expected.n_evaluations == 3 * 300 * (2 if antithetic else 1)


def test_perturb_matches_the_reference_and_is_the_shared_draw():
    model, X, y = make_problem((3, 6, 1), "sigmoid", n_examples=50)
    for subset in SUBSETS:
        moved = wn.perturb(model, 0.3, seed=4, draw=2, **subset)
        assert relative_error(moved.params, ref.perturb(model, 0.3, seed=4, draw=2, **subset).params) <= 1e-15
        untouched = ref._subset_mask(model, subset.get("layers"), subset.get("biases", True)) == 0
        assert np.array_equal(moved.params[untouched], model.params[untouched])
    # Draw 2 of shared noise without antithetic pairs is exactly the loss of perturb(draw=2).
    draws = wn.perturbed_loss(model, X, y, 0.3, 3, "shared", antithetic=False, seed=4).draws
    assert draws[2] == wn.loss(wn.perturb(model, 0.3, seed=4, draw=2), X, y)


def _linear_problem(seed=0, n_examples=200):
    rng = np.random.default_rng(seed)
    model = wn.MLP((4, 1), "identity", seed=seed)
    X = rng.standard_normal((n_examples, 4)) * [1.0, 2.0, 0.5, 1.5]
    y = X @ [1.0, -1.0, 0.5, 0.0] + rng.standard_normal(n_examples)
    return model, X, y


@pytest.mark.parametrize("noise", wn.NOISE_MODES)
@pytest.mark.parametrize("antithetic", [True, False])
@pytest.mark.parametrize("biases", [True, False])
def test_linear_model_estimates_agree_with_the_exact_perturbed_loss(noise, antithetic, biases):
    """ŷ = wᵀx + b is linear in θ: J̃_η = J + η·mean(‖x_n‖² + [b]) exactly."""
    model, X, y = _linear_problem()
    eta = 0.05
    exact = wn.loss(model, X, y) + eta * np.mean(np.sum(X**2, axis=1) + biases)
    assert exact == pytest.approx(wn.second_order(model, X, y, eta, biases=biases).total, rel=1e-12)
    for seed in range(5):
        estimate = wn.perturbed_loss(model, X, y, eta, 40, noise, antithetic, seed, biases=biases)
        assert abs(estimate.mean - exact) < 4 * estimate.stderr, (seed, estimate, exact)


@pytest.mark.parametrize("noise", wn.NOISE_MODES)
def test_standard_errors_match_the_spread_of_repeated_estimates(noise):
    """Over R independent repetitions, the reported standard error (root mean square)
    equals the standard deviation of the estimates. The ratio of two variance estimates
    from R = 300 repetitions of K = 10 draws has relative standard error about
    √(1/(2R) + 1/(2R(K−1))) ≈ 4.3%; the bounds are ±20%, beyond 4 standard errors."""
    model, X, y = _linear_problem(seed=1, n_examples=50)
    estimates = [wn.perturbed_loss(model, X, y, 0.05, 10, noise, False, seed) for seed in range(300)]
    means = np.array([e.mean for e in estimates])
    rms_stderr = np.sqrt(np.mean([e.stderr**2 for e in estimates]))
    assert 0.8 < rms_stderr / means.std(ddof=1) < 1.2


@pytest.mark.parametrize("example", [0, 1, 2])
def test_local_and_per_example_noise_have_the_same_distribution(example):
    """Single-evaluation losses of one example on a tanh network: equal means (z-test),
    equal variances (z-test with fourth-moment standard errors), and a two-sample KS test."""
    model, X, y = make_problem((3, 7, 5, 1), "tanh", n_examples=3)
    x, t = X[example:example + 1], y[example:example + 1]
    K = 20000
    local = wn.perturbed_loss(model, x, t, 0.05, K, "local", False, seed=1).draws
    literal = wn.perturbed_loss(model, x, t, 0.05, K, "per_example", False, seed=2).draws
    se_mean = np.sqrt(local.var() / K + literal.var() / K)
    assert abs(local.mean() - literal.mean()) < 4 * se_mean

    def var_se(s):
        return np.sqrt((np.mean((s - s.mean()) ** 4) - s.var() ** 2) / len(s))

    assert abs(local.var() - literal.var()) < 4 * np.hypot(var_se(local), var_se(literal))
    assert stats.ks_2samp(local, literal).pvalue > 1e-4


@pytest.mark.parametrize("noise", wn.NOISE_MODES)
def test_antithetic_pairs_keep_the_standard_error_of_the_excess_bounded(noise):
    """stderr / η estimates the spread of (J̃ − J)/η: bounded as η → 0 with antithetic pairs
    (the first-order term cancels), growing like 1/√η without them."""
    model, X, y = make_problem((3, 6, 1), "tanh", n_examples=100)
    etas = [1e-2, 1e-4, 1e-6]
    paired = [wn.perturbed_loss(model, X, y, eta, 50, noise, True, seed=3).stderr / eta for eta in etas]
    plain = [wn.perturbed_loss(model, X, y, eta, 50, noise, False, seed=3).stderr / eta for eta in etas]
    assert max(paired) < 2 * min(paired), paired
    # 1/√η grows 100× from 1e-2 to 1e-6; the first-order term already dominates at 1e-2.
    assert plain[2] > 30 * plain[0], plain
    assert plain[2] > 100 * paired[2]


def test_zero_noise_gives_the_loss_exactly():
    model, X, y = make_problem((3, 6, 1), "relu", n_examples=40)
    for noise in wn.NOISE_MODES:
        estimate = wn.perturbed_loss(model, X, y, 0.0, 4, noise)
        assert np.all(estimate.draws == wn.loss(model, X, y)) and estimate.stderr == 0


def test_one_and_two_threads_give_identical_estimates():
    model, X, y = make_problem((4, 9, 6, 1), "tanh", n_examples=1100)
    for noise in wn.NOISE_MODES:
        with wn.num_threads(1):
            one = wn.perturbed_loss(model, X, y, 0.01, 3, noise, seed=9).draws
        with wn.num_threads(2):
            two = wn.perturbed_loss(model, X, y, 0.01, 3, noise, seed=9).draws
        assert one.tobytes() == two.tobytes(), noise


@pytest.mark.parametrize("impl", [wn, ref], ids=["cpp", "reference"])
def test_bad_noise_arguments_raise(impl):
    model, X, y = make_problem((3, 4, 1), n_examples=10)
    with pytest.raises(ValueError, match="eta must be finite and non-negative"):
        impl.perturbed_loss(model, X, y, -1e-3, 2)
    with pytest.raises(ValueError, match="eta must be finite"):
        impl.perturbed_loss(model, X, y, float("nan"), 2)
    with pytest.raises(TypeError, match="eta must be a real number"):
        impl.perturb(model, "0.1")
    with pytest.raises(ValueError, match="n_draws must be at least 1"):
        impl.perturbed_loss(model, X, y, 1e-3, 0)
    with pytest.raises(TypeError, match="n_draws must be an integer"):
        impl.perturbed_loss(model, X, y, 1e-3, 2.0)
    with pytest.raises(ValueError, match="unknown noise 'gaussian'"):
        impl.perturbed_loss(model, X, y, 1e-3, 2, noise="gaussian")
    with pytest.raises(TypeError, match="antithetic must be True or False"):
        impl.perturbed_loss(model, X, y, 1e-3, 2, antithetic=1)
    with pytest.raises(ValueError, match="layer index 5 out of range"):
        impl.perturbed_loss(model, X, y, 1e-3, 2, layers=[5])
    with pytest.raises(ValueError, match="y must have shape"):
        impl.perturbed_loss(model, X, y[:3], 1e-3, 2)
