"""save/load: round trip, atomic writes, clear errors for foreign or damaged files."""

from __future__ import annotations

import numpy as np
import pytest

import weightnoise as wn
import weightnoise.persistence


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_keeps_everything(tmp_path, dtype):
    model = wn.MLP((3, 7, 2, 1), "softplus", seed=4, dtype=dtype)
    path = tmp_path / "model.npz"
    wn.save(model, path)
    loaded = wn.load(path)
    assert loaded.layer_sizes == model.layer_sizes and loaded.activation == "softplus"
    assert loaded.dtype == dtype and np.array_equal(loaded.params, model.params)


def test_an_interrupted_save_leaves_the_earlier_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    first = wn.MLP((3, 4, 1), seed=1)
    wn.save(first, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        wn.save(wn.MLP((3, 4, 1), seed=2), path)
    monkeypatch.undo()
    assert np.array_equal(wn.load(path).params, first.params)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind


def test_truncated_foreign_and_future_files_raise_clearly(tmp_path):
    path = tmp_path / "model.npz"
    wn.save(wn.MLP((3, 4, 1)), path)
    data = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a weightnoise file or is truncated"):
        wn.load(tmp_path / "truncated.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a weightnoise file"):
        wn.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a weightnoise file"):
        wn.load(tmp_path / "other.npz")
    arrays = dict(np.load(path))
    np.savez(tmp_path / "future.npz", **dict(arrays, version=np.array(99)))
    with pytest.raises(ValueError, match="format version 99"):
        wn.load(tmp_path / "future.npz")
    np.savez(tmp_path / "mismatch.npz", **dict(arrays, params=np.zeros(5)))
    with pytest.raises(ValueError, match="params have shape"):
        wn.load(tmp_path / "mismatch.npz")
    with pytest.raises(FileNotFoundError):
        wn.load(tmp_path / "missing.npz")


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    wn.save(wn.MLP((3, 4, 1)), path)
    with pytest.raises(ValueError, match="holds a model, not a training checkpoint"):
        weightnoise.persistence.read_checkpoint(path)


def test_a_path_that_cannot_be_written_is_named_before_any_work(tmp_path):
    model = wn.MLP((3, 4, 1))
    with pytest.raises(IsADirectoryError, match="path is a folder, not a file name"):
        wn.save(model, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"path's folder .*missing does not exist: .*model\.npz"):
        wn.save(model, tmp_path / "missing" / "model.npz")
    with pytest.raises(TypeError, match="path must be a file name"):
        wn.save(model, 3)
    X, y = np.zeros((8, 3)), np.zeros(8)
    calls = []
    with pytest.raises(IsADirectoryError, match="checkpoint is a folder"):  # before the first epoch, not after it
        wn.fit(model, X, y, lr=0.1, epochs=1, batch_size=4, progress=False, checkpoint=tmp_path,
               callback=lambda info, m: calls.append(info))
    assert calls == [] and list(tmp_path.iterdir()) == []  # no epoch ran, no temporary file left behind
