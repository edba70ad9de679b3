"""The data of a sweep: named, checked train/test splits and fingerprints of their contents."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .datasets import Dataset

ARRAYS = ("X_train", "y_train", "X_test", "y_test")

# One data set: a Dataset, or the arrays (X_train, y_train, X_test, y_test).
OneData = Union[Dataset, tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]]
# The data of a sweep: one data set, or data sets by name.
SweepData = Union[OneData, Mapping[str, OneData]]


def as_datasets(data: SweepData) -> dict[str, Dataset]:
    """``data`` as named, checked data sets.

    Parameters
    ----------
    data : Dataset, tuple (X_train, y_train, X_test, y_test), or mapping of names to either
        A single data set takes its ``name`` (a tuple is named ``"data"``).

    Raises
    ------
    TypeError, ValueError
        For anything else, arrays that are not float64, not finite, of
        mismatched shapes, or empty.
    """
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("data is an empty mapping; give at least one data set")
        named: dict[str, Dataset] = {}
        for name, value in data.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"data set names must be non-empty strings, got {name!r}")
            named[name] = _as_dataset(value, name, f"data[{name!r}]")
        return named
    dataset = _as_dataset(data, None, "data")
    return {dataset.name: dataset}


def _as_dataset(value: object, name: str | None, where: str) -> Dataset:
    if isinstance(value, Dataset):
        arrays = [getattr(value, array) for array in ARRAYS]
        base = value
    elif isinstance(value, tuple) and len(value) == 4:
        arrays, base = list(value), None
    else:
        raise TypeError(f"{where} must be a weightnoise.datasets.Dataset or a tuple (X_train, y_train, X_test, "
                        f"y_test), got {type(value).__name__}")
    X_train, y_train, X_test, y_test = (_as_array(array, f"{where}.{label}")
                                        for array, label in zip(arrays, ARRAYS))
    for X, y, split in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"{where}: X_{split} must be (n, n_features) and y_{split} (n,) with n ≥ 1, got "
                             f"{X.shape} and {y.shape}")
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"{where}: X_train has {X_train.shape[1]} columns but X_test {X_test.shape[1]}")
    if base is not None:
        name = name or base.name
        return Dataset(name, base.description, list(base.feature_names), base.target_name, X_train, y_train,
                       X_test, y_test, base.target_mean, base.target_std)
    name = name or "data"
    features = [f"x{j}" for j in range(X_train.shape[1])]
    return Dataset(name, f"arrays {name!r}", features, "y", X_train, y_train, X_test, y_test)


def _as_array(value: object, where: str) -> NDArray[np.float64]:
    array = np.asarray(value)
    if array.dtype != np.float64:
        raise TypeError(f"{where} must hold float64 numbers (the models compute in float64), got {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where} holds NaN or infinite values")
    return np.ascontiguousarray(array)


def fingerprint(dataset: Dataset) -> str:
    """SHA-256 of the four arrays' shapes and bytes: a point's key changes when its data do."""
    digest = hashlib.sha256()
    for label in ARRAYS:
        array = getattr(dataset, label)
        digest.update(f"{label}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
