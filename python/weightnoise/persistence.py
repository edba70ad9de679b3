"""Saving and loading models and training checkpoints.

File format (version 1): a NumPy ``.npz`` archive (a zip of ``.npy`` arrays,
readable without pickle) holding

=================  ==========================================================
``format``         the string ``"weightnoise"``
``version``        the format version, an integer (files of a newer version are refused)
``kind``           ``"model"`` or ``"checkpoint"``
``layer_sizes``    int64 array, the architecture
``activation``     string
``dtype``          ``"float32"`` or ``"float64"``
``params``         the flat parameter vector, shape ``(n_params,)``
=================  ==========================================================

A checkpoint adds ``epoch`` (finished epochs, the length of the history),
``optimizer`` (name), ``optimizer_step``, ``optimizer_moments`` (``(1 or 2,
n_params)``, finite), ``settings`` and ``history`` (JSON strings),
``data_fingerprint`` and ``start_fingerprint`` (SHA-256 digests of the
training data and of the starting model's parameters).

Writes are atomic: the archive is written to a temporary file in the same
folder, flushed to disk and renamed over the target, so an interrupted save
never leaves a corrupt file or destroys an earlier one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import _checks
from ._typing import Array, FloatArray, StrPath
from .model import MLP

FORMAT = "weightnoise"
VERSION = 1


def _model_arrays(model: MLP) -> dict[str, Array]:
    return dict(format=np.array(FORMAT), version=np.array(VERSION), layer_sizes=np.array(model.layer_sizes),
                activation=np.array(model.activation), dtype=np.array(model.dtype.name), params=model.params)


def _atomic_savez(path: StrPath, arrays: dict[str, Any]) -> None:
    path = Path(os.fsdecode(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                   suffix=".tmp")
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_path(path: object, name: str = "path") -> str | bytes | os.PathLike[Any]:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a file name (str or os.PathLike), got {type(path).__name__}")
    return path


def check_writable(path: object, name: str = "path") -> None:
    """That ``path`` names a file that a save can create: not a folder, in a folder that exists.

    Checked before work whose result goes there (a training run's
    checkpoint), so that a wrong path fails at once, naming that path.
    """
    target = Path(os.fsdecode(_check_path(path, name)))
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{name} is a folder, not a file name", str(target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"{name}'s folder {folder} does not exist", str(target))


def _read(path: StrPath) -> dict[str, Array]:
    """All arrays of a weightnoise file, checked for format and version."""
    _check_path(path)
    with open(path, "rb") as f:  # our handle: np.load leaks its own when the zip is damaged
        try:
            with np.load(f, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
            raise ValueError(f"{path} is not a weightnoise file or is truncated ({exc})") from exc
    if str(arrays.get("format", "")) != FORMAT:
        raise ValueError(f"{path} is not a weightnoise file")
    version = arrays.get("version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(f"{path}: the format version must be an integer, got {version!r}")
    version = int(version)
    if version < 1:  # versions count from 1: a lower one is damage, not an old file
        raise ValueError(f"{path}: the format version must be at least 1, got {version}")
    if version > VERSION:
        raise ValueError(f"{path} has format version {version}; this weightnoise reads up to {VERSION}")
    return arrays


def _model_from(arrays: dict[str, Array], path: StrPath) -> MLP:
    try:
        layer_sizes, params = arrays["layer_sizes"], arrays["params"]
        activation, dtype = str(arrays["activation"]), str(arrays["dtype"])
    except KeyError as exc:
        raise ValueError(f"{path} lacks the entry {exc}") from exc
    if layer_sizes.ndim != 1 or layer_sizes.dtype.kind not in "iu":
        raise ValueError(f"{path}: layer_sizes must be a 1-D integer array, got {layer_sizes.dtype} of shape "
                         f"{layer_sizes.shape}")
    sizes = [int(d) for d in layer_sizes]
    # Check the parameters against the architecture before building the model: a damaged file must not
    # make the loader allocate whatever its layer sizes claim.
    n_params = sum(d_out * (d_in + 1) for d_in, d_out in zip(sizes[:-1], sizes[1:]))
    if params.shape != (n_params,):
        raise ValueError(f"{path}: params have shape {params.shape} but layer_sizes {sizes} need ({n_params},)")
    try:
        model = MLP(sizes, activation, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if params.dtype != model.dtype:
        raise ValueError(f"{path}: params are {params.dtype} but the file says {model.dtype}")
    try:
        model.params = params
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return model


def save(model: MLP, path: StrPath) -> None:
    """Write ``model`` to ``path`` (atomically); see the module docstring for the format.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    FileNotFoundError
        If the folder ``path`` names does not exist.
    """
    model = _checks.check_model(model)
    check_writable(path)
    _atomic_savez(path, dict(_model_arrays(model), kind=np.array("model")))


def load(path: StrPath) -> MLP:
    """Read a model written by :func:`save` (or the model of a training checkpoint).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a weightnoise file, is truncated, has a newer
        format version, or its parameters do not match its architecture.
    """
    return _model_from(_read(path), path)


def write_checkpoint(path: StrPath, model: MLP, *, epoch: int, optimizer: str, step: int, moments: FloatArray,
                     settings: dict[str, Any], history: list[dict[str, Any]], fingerprint: str,
                     start_fingerprint: str) -> None:
    """Write a training checkpoint atomically."""
    _atomic_savez(path, dict(_model_arrays(model), kind=np.array("checkpoint"), epoch=np.array(epoch),
                             optimizer=np.array(optimizer), optimizer_step=np.array(step),
                             optimizer_moments=moments, settings=np.array(json.dumps(settings, sort_keys=True)),
                             history=np.array(json.dumps(history)), data_fingerprint=np.array(fingerprint),
                             start_fingerprint=np.array(start_fingerprint)))


# Checks of a checkpoint's entries. Each names the file: a damaged checkpoint must not surface as a bare
# KeyError or JSONDecodeError, nor as a wrong result or a misleading error later in training.

def _entry(arrays: dict[str, Array], path: StrPath, name: str) -> Array:
    if name not in arrays:
        raise ValueError(f"{path} lacks the entry '{name}'")
    return arrays[name]


def _count(arrays: dict[str, Array], path: StrPath, name: str) -> int:
    value = _entry(arrays, path, name)
    if value.shape != () or value.dtype.kind not in "iu":
        raise ValueError(f"{path}: {name} must be an integer, got {value.dtype} of shape {value.shape}")
    try:
        return _checks.as_count(int(value), name, 0)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _text(arrays: dict[str, Array], path: StrPath, name: str) -> str:
    value = _entry(arrays, path, name)
    if value.shape != () or value.dtype.kind != "U":
        raise ValueError(f"{path}: {name} must be a string, got {value.dtype} of shape {value.shape}")
    return str(value)


def _json(arrays: dict[str, Array], path: StrPath, name: str) -> Any:
    try:
        return json.loads(_text(arrays, path, name))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: {name} is not valid JSON ({exc})") from None


def read_checkpoint(path: StrPath) -> dict[str, Any]:
    """A checkpoint's model and training state, checked.

    Raises
    ------
    ValueError
        Naming the file, if it is not a checkpoint or an entry is missing or damaged.
    """
    arrays = _read(path)
    if str(arrays.get("kind", "")) != "checkpoint":
        raise ValueError(f"{path} holds a model, not a training checkpoint")
    model = _model_from(arrays, path)
    moments = _entry(arrays, path, "optimizer_moments")
    if moments.ndim != 2 or moments.shape[1] != model.n_params or moments.dtype != model.dtype:
        raise ValueError(f"{path}: optimizer moments of shape {moments.shape} do not match the model")
    if not np.all(np.isfinite(moments)):  # else training diverges at once, seemingly for too large an lr
        raise ValueError(f"{path}: the optimizer moments are not all finite")
    epoch = _count(arrays, path, "epoch")
    settings, history = _json(arrays, path, "settings"), _json(arrays, path, "history")
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: settings must be a JSON object")
    if not isinstance(history, list) or not all(isinstance(record, dict) for record in history):
        raise ValueError(f"{path}: history must be a JSON list of records")
    if epoch != len(history):  # the loop resumes at len(history): the two must agree
        raise ValueError(f"{path}: epoch is {epoch} but the history holds {len(history)} epochs")
    return dict(model=model, epoch=epoch, optimizer=_text(arrays, path, "optimizer"),
                step=_count(arrays, path, "optimizer_step"), moments=moments, settings=settings, history=history,
                fingerprint=_text(arrays, path, "data_fingerprint"),
                start_fingerprint=_text(arrays, path, "start_fingerprint"))
