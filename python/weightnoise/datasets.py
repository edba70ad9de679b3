"""Regression data for the command line: a synthetic default, scikit-learn's
diabetes data, or the user's CSV file; standardized and split by seed.

Every loader returns a :class:`Dataset` whose inputs and target are
standardized with the mean and standard deviation of the training rows, so
that one grid of noise variances η suits any data set.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _checks
from ._typing import StrPath

SYNTHETIC_FEATURES = ("x0", "x1", "x2", "x3", "x4")
MIN_EXAMPLES = 10


class DataError(ValueError):
    """Data that cannot be used: a missing file or column, a non-numeric value, too few rows."""


@dataclass
class Dataset:
    """A standardized regression problem split into training and test rows.

    Attributes
    ----------
    name : str
        ``"synthetic"``, ``"diabetes"`` or the CSV file's path.
    description : str
        One line saying where the data come from.
    feature_names : list of str
    target_name : str
    X_train : ndarray of shape (n_train, n_features)
    y_train : ndarray of shape (n_train,)
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
    target_mean, target_std : float
        The target's training mean and standard deviation (the standardization undone by
        ``y * target_std + target_mean``).
    """

    name: str
    description: str
    feature_names: list[str]
    target_name: str
    X_train: NDArray[np.float64]
    y_train: NDArray[np.float64]
    X_test: NDArray[np.float64]
    y_test: NDArray[np.float64]
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def describe(self) -> dict[str, Any]:
        """Plain Python types, for JSON."""
        return {"name": self.name, "description": self.description, "n_train": int(self.X_train.shape[0]),
                "n_test": int(self.X_test.shape[0]), "n_features": self.n_features,
                "feature_names": list(self.feature_names), "target": self.target_name,
                "standardized": "inputs and target, with the training rows' mean and standard deviation",
                "target_mean": float(self.target_mean), "target_std": float(self.target_std)}


def synthetic(n_examples: int = 800, noise: float = 0.3,
              seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A deterministic regression problem with five standard-normal inputs.

    y = sin(2·x0) + x1·x2 / 2 + 0.3·tanh(x3) + noise·N(0, 1); x4 is irrelevant.

    Returns
    -------
    X : ndarray of shape (n_examples, 5)
    y : ndarray of shape (n_examples,)
    """
    # X, y and the standardized copies of the split: about twice X and y.
    _checks.check_memory(2 * n_examples * (len(SYNTHETIC_FEATURES) + 1), 8, f"synthetic data of {n_examples} rows",
                         "ask for fewer rows")
    rng = np.random.default_rng([seed, 20240601])  # its own stream: the split and the model use ``seed`` too
    X = rng.standard_normal((n_examples, len(SYNTHETIC_FEATURES)))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.3 * np.tanh(X[:, 3]) + noise * rng.standard_normal(n_examples)
    return X, y


def diabetes() -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """scikit-learn's diabetes data (442 patients, 10 inputs), which ships inside scikit-learn."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise DataError("--data diabetes needs scikit-learn: pip install 'weightnoise[data]' "
                        "(or pip install scikit-learn)") from None
    bunch = load_diabetes()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64), \
        list(bunch.feature_names)


def read_csv(path: StrPath, target: str) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """Numeric columns of a CSV file with a header row: every column but ``target`` is an input.

    Raises
    ------
    DataError
        For a missing or unreadable file, a missing target column, a row of the wrong
        length, an empty or non-numeric value, or fewer than 10 rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}" if not path.exists() else f"not a file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise DataError(f"{path} is empty; it needs a header row naming the columns")
    header = [name.strip() for name in rows[0]]
    if target not in header:
        raise DataError(f"{path} has no column {target!r}; its columns are {', '.join(map(repr, header))}")
    if len(header) < 2:
        raise DataError(f"{path} has only the target column {target!r}; it needs at least one input column")
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:]):
        line = i + 2  # 1-based, after the header
        if len(row) != len(header):
            raise DataError(f"{path} line {line} has {len(row)} fields but the header has {len(header)}")
        for j, cell in enumerate(row):
            values[i, j] = _number(cell, path, line, header[j])
    if values.shape[0] < MIN_EXAMPLES:
        raise DataError(f"{path} has {values.shape[0]} data rows; at least {MIN_EXAMPLES} are needed")
    column = header.index(target)
    features = [name for j, name in enumerate(header) if j != column]
    return np.delete(values, column, axis=1), values[:, column], features


def _number(cell: str, path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{path} line {line}, column {column!r}: empty value (missing values are not supported)")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path} line {line}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{path} line {line}, column {column!r}: {text!r} is not a finite number")
    return value


def split_and_standardize(X: NDArray[np.float64], y: NDArray[np.float64], *, test_fraction: float,
                          seed: int) -> dict[str, Any]:
    """A random train/test split by ``seed``, standardized with the training rows' statistics.

    Inputs with no spread in the training rows are centred but not scaled.

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``target_mean``, ``target_std``.
    """
    n = X.shape[0]
    n_test = round(test_fraction * n)
    if n_test < 1 or n - n_test < 2:
        raise DataError(f"a test fraction of {test_fraction} leaves {n - n_test} training and {n_test} test rows "
                        f"of {n}; choose one that leaves at least 2 and 1")
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[n_test:], order[:n_test]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0] = 1.0
    target_mean, target_std = float(y[train].mean()), float(y[train].std())
    if target_std == 0:
        raise DataError("the target is constant on the training rows; there is nothing to fit")
    def standardize(rows: NDArray[np.intp]) -> NDArray[np.float64]:
        return np.ascontiguousarray((X[rows] - mean) / std)

    return {"X_train": standardize(train), "y_train": (y[train] - target_mean) / target_std,
            "X_test": standardize(test), "y_test": (y[test] - target_mean) / target_std,
            "target_mean": target_mean, "target_std": target_std}


def load(data: str = "synthetic", *, csv_path: StrPath | None = None, target: str | None = None,
         n_examples: int = 800, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """The data set the command line asks for, standardized and split.

    Parameters
    ----------
    data : {"synthetic", "diabetes"}
        Ignored when ``csv_path`` is given.
    csv_path : path, optional
        A CSV file with a header row; ``target`` names the column to predict.
    target : str, optional
    n_examples : int
        Rows of the synthetic data set.
    test_fraction : float
        Share of the rows held out for testing.
    seed : int
        Seed of the synthetic data and of the split.
    """
    if csv_path is not None:
        if target is None:
            raise DataError("--csv needs --target COLUMN, the column to predict")
        X, y, features = read_csv(csv_path, target)
        name, description, target_name = str(csv_path), f"CSV file {csv_path}, target column {target!r}", target
    elif target is not None:
        raise DataError("--target only applies to --csv data")
    elif data == "diabetes":
        X, y, features = diabetes()
        name, description, target_name = "diabetes", "scikit-learn's diabetes data (442 patients)", "progression"
    elif data == "synthetic":
        X, y = synthetic(n_examples, seed=seed)
        features, name, target_name = list(SYNTHETIC_FEATURES), "synthetic", "y"
        description = (f"synthetic: {n_examples} rows, x ~ N(0, I_5), "
                       "y = sin(2 x0) + x1 x2 / 2 + 0.3 tanh(x3) + 0.3 N(0, 1)")
    else:
        raise DataError(f"unknown data set {data!r}; choose synthetic or diabetes, or give --csv PATH")
    parts = split_and_standardize(X, y, test_fraction=test_fraction, seed=seed)
    return Dataset(name, description, features, target_name, **parts)
