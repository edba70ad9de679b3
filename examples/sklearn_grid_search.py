"""Choosing between weight noise and the gradient penalty by cross-validation, with scikit-learn.

weightnoise.sklearn.WeightNoiseRegressor is a scikit-learn regressor, so it
goes into a Pipeline (here: standardize the inputs, and the target through
TransformedTargetRegressor) and GridSearchCV chooses the objective and the
noise variance η by 3-fold cross-validation on scikit-learn's diabetes data
(bundled with scikit-learn, nothing is downloaded).

Run: python examples/sklearn_grid_search.py   (a few seconds; needs scikit-learn)
"""
# requires: sklearn

from __future__ import annotations

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from weightnoise.sklearn import WeightNoiseRegressor


def main() -> None:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

    network = WeightNoiseRegressor(hidden_layer_sizes=(32,), learning_rate=3e-3, epochs=60, batch_size=32,
                                   random_state=0)
    pipeline = make_pipeline(StandardScaler(), TransformedTargetRegressor(network, transformer=StandardScaler()))
    key = "transformedtargetregressor__regressor__"
    grid = [{key + "objective": ["plain"]},
            {key + "objective": ["penalty", "noise"], key + "eta": [1e-3, 1e-2, 1e-1]}]
    search = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)

    print("3-fold cross-validated R² on the diabetes training rows:")
    results = search.cv_results_
    for rank, params, mean, std in sorted(zip(results["rank_test_score"], results["params"],
                                              results["mean_test_score"], results["std_test_score"]),
                                          key=lambda row: row[0]):
        settings = ", ".join(f"{name.removeprefix(key)}={value}" for name, value in params.items())
        print(f"  {rank}. {settings:<28} R² = {mean:.3f} ± {std:.3f}")
    best = search.best_estimator_
    chosen = {name.removeprefix(key): value for name, value in search.best_params_.items()}
    print(f"Chosen: {chosen}; R² on the held-out test rows {best.score(X_test, y_test):.3f}")
    fitted = best[-1].regressor_
    print(f"The fitted network: {fitted.model_}, {fitted.n_iter_} epochs")


if __name__ == "__main__":
    main()
