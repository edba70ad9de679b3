"""weightnoise.sklearn.WeightNoiseRegressor: scikit-learn's estimator checks and its use in pipelines."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import weightnoise as wn
from weightnoise.sklearn import EXPECTED_FAILED_CHECKS, WeightNoiseRegressor

# Small and quick, yet enough to reach R² > 0.5 on check_regressors_train's data.
FAST = {"hidden_layer_sizes": (8,), "epochs": 20, "learning_rate": 1e-2, "batch_size": 50}


def fast(**overrides) -> WeightNoiseRegressor:
    return WeightNoiseRegressor(**{**FAST, "random_state": 0, **overrides})


# scikit-learn >= 1.6 takes the expected failures here; older versions read them from _more_tags.
EXPECTED = ({"expected_failed_checks": lambda estimator: EXPECTED_FAILED_CHECKS}
            if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters else {})


@parametrize_with_checks(
    [WeightNoiseRegressor(**FAST),
     WeightNoiseRegressor(**FAST, objective="penalty", noise="shared", dtype=np.float32),
     WeightNoiseRegressor(**FAST, objective="plain", optimizer="sgd", momentum=0.9)],
    **EXPECTED,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, 0.0, -2.0]
    y = np.sin(X[:, 0]) + 0.05 * (X[:, 1] - 50.0) + 0.1 * rng.standard_normal(240)
    return X, y


def test_predictions_equal_wn_predict_on_model(data):
    X, y = data
    reg = fast().fit(X, y)
    assert isinstance(reg.model_, wn.MLP)
    assert reg.model_.layer_sizes == (4, 8, 1)
    np.testing.assert_array_equal(reg.predict(X), wn.predict(reg.model_, X))
    assert reg.n_features_in_ == 4 and reg.n_iter_ == len(reg.history_) == FAST["epochs"]


def test_int_random_state_is_both_seeds_of_wn_fit(data):
    X, y = data
    reg = fast(random_state=3).fit(X, y)
    expected = wn.fit(wn.MLP([4, 8, 1], "tanh", seed=3), X, y, objective="noise", eta=1e-3, noise="local",
                      optimizer="adam", lr=1e-2, epochs=20, batch_size=50, seed=3, progress=False,
                      monitor=False).model
    np.testing.assert_array_equal(reg.model_.params, expected.params)


def test_random_state_reproduces_and_varies(data):
    X, y = data
    first, again = fast(random_state=1).fit(X, y), fast(random_state=1).fit(X, y)
    np.testing.assert_array_equal(first.model_.params, again.model_.params)
    other = fast(random_state=2).fit(X, y)
    assert not np.array_equal(first.model_.params, other.model_.params)
    from_instances = [fast(random_state=np.random.RandomState(5)).fit(X, y) for _ in range(2)]
    np.testing.assert_array_equal(from_instances[0].model_.params, from_instances[1].model_.params)


def test_pipeline_with_standard_scaler(data):
    X, y = data
    pipeline = make_pipeline(StandardScaler(), fast(epochs=60)).fit(X, y)
    assert pipeline.score(X, y) > 0.8
    assert pipeline.predict(X[:5]).shape == (5,)


def test_grid_search_over_eta(data):
    X, y = data
    search = GridSearchCV(fast(), {"eta": [0.0, 1e-3, 1e-1]}, cv=3).fit(X, y)
    assert search.best_params_["eta"] in (0.0, 1e-3, 1e-1)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.best_estimator_.eta == search.best_params_["eta"]


def test_multi_target_rejected_clearly(data):
    X, y = data
    with pytest.raises(ValueError, match=r"single target.*MultiOutputRegressor"):
        fast().fit(X, np.column_stack([y, y]))


def test_column_target_is_raveled_with_sklearns_warning(data):
    X, y = data
    with pytest.warns(DataConversionWarning):
        column = fast().fit(X, y[:, None])
    np.testing.assert_array_equal(column.model_.params, fast().fit(X, y).model_.params)


def test_float64_by_default_and_float32_on_request(data):
    X, y = data
    assert fast().fit(X.astype(np.float32), y).predict(X).dtype == np.float64
    single = fast(dtype=np.float32).fit(X, y)
    assert single.model_.dtype == np.float32 and single.predict(X).dtype == np.float32


def test_params_round_trip_and_clone():
    reg = WeightNoiseRegressor(hidden_layer_sizes=(3, 2), objective="penalty", eta=0.01)
    assert reg.get_params()["eta"] == 0.01
    reg.set_params(eta=0.02, epochs=5)
    twin = clone(reg)
    assert twin.get_params() == reg.get_params() and twin is not reg


def test_unfitted_predict_raises():
    with pytest.raises(NotFittedError):
        WeightNoiseRegressor().predict(np.zeros((2, 3)))


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
    ({"dtype": np.int64}, "dtype"),
    ({"random_state": -1}, "random_state"),
    ({"random_state": 2**64}, "random_state"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": 1e300, "dtype": np.float32}, "learning_rate"),
    ({"objective": "dropout"}, "objective"),
    ({"eta": -1.0}, "eta"),
    ({"activation": "gelu"}, "activation"),
])
def test_invalid_parameters_raise_in_fit_not_init(data, params, match):
    X, y = data
    reg = fast(**params)  # constructing never validates (scikit-learn convention)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)


def test_monitored_history_has_the_expansion_terms(data):
    X, y = data
    history = fast(epochs=2, monitor=True).fit(X, y).history_
    assert {"batch_loss", "loss", "eta_penalty", "eta_curvature", "perturbed_loss"} <= set(history[-1])


def test_linear_model_without_hidden_layers(data):
    X, y = data
    assert fast(hidden_layer_sizes=()).fit(X, y).model_.layer_sizes == (4, 1)
