"""Checkpoints of fit: any path form, damaged files refused naming the file, resumes that would not continue the
saved run refused."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import weightnoise as wn
from weightnoise.training import FitDiverged

from conftest import make_problem

KW = dict(optimizer="adam", lr=0.01, batch_size=8, progress=False, monitor=False)


@pytest.fixture
def problem():
    return make_problem((3, 4, 1), n_examples=40)


def _checkpointed(problem, path, epochs=2):
    model, X, y = problem
    wn.fit(model, X, y, epochs=epochs, checkpoint=path, **KW)


def _damage(path, change):
    arrays = dict(np.load(path, allow_pickle=False))
    change(arrays)
    np.savez(path, **arrays)


def test_a_bytes_checkpoint_path_resumes_like_a_str_one(tmp_path, problem):
    model, X, y = problem
    path = tmp_path / "run.npz"
    _checkpointed(problem, path)
    resumed = wn.fit(model, X, y, epochs=3, checkpoint=os.fsencode(path), resume=True, **KW)
    full = wn.fit(model, X, y, epochs=3, **KW)
    assert resumed.model.params.tobytes() == full.model.params.tobytes()
    fresh = wn.fit(model, X, y, epochs=1, checkpoint=os.fsencode(tmp_path / "new.npz"), resume=True, **KW)
    assert len(fresh.history) == 1 and (tmp_path / "new.npz").exists()


def _set(name, value):
    return lambda arrays: arrays.__setitem__(name, value)


def _nan_moment(arrays):
    moments = arrays["optimizer_moments"].copy()
    moments[0, 0] = np.nan
    arrays["optimizer_moments"] = moments


@pytest.mark.parametrize("change, words", [
    (lambda arrays: arrays.pop("optimizer_moments"), "lacks the entry 'optimizer_moments'"),
    (lambda arrays: arrays.pop("start_fingerprint"), "lacks the entry 'start_fingerprint'"),
    (_set("epoch", np.array([1, 2])), "epoch must be an integer"),
    (_set("epoch", np.array(1)), "epoch is 1 but the history holds 2 epochs"),
    (_set("epoch", np.array(2.0)), "epoch must be an integer"),
    (_set("history", np.array("not json")), "history is not valid JSON"),
    (_set("history", np.array('{"a": 1}')), "history must be a JSON list"),
    (_set("settings", np.array("[1")), "settings is not valid JSON"),
    (_set("optimizer_step", np.array(-5)), "optimizer_step must be at least 0, got -5"),
    (_set("optimizer_step", np.array(2**40)), "optimizer_step must be below 2\\*\\*32"),
    (_nan_moment, "optimizer moments are not all finite"),
    (_set("optimizer", np.array("sgd")), "holds the state of optimizer 'sgd', but this fit uses 'adam'"),
    (_set("optimizer", np.array(3)), "optimizer must be a string"),
    (lambda arrays: arrays.__setitem__("optimizer_moments", arrays["optimizer_moments"][:1]),
     r"damaged: state.moments must have shape \(2, "),
], ids=["no moments", "no start fingerprint", "1-D epoch", "epoch vs history", "float epoch", "history not JSON",
        "history not a list", "settings not JSON", "negative step", "huge step", "NaN moment", "other optimizer",
        "optimizer not a string", "moments rows"])
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_the_fault(tmp_path, problem, change, words):
    model, X, y = problem
    path = tmp_path / "run.npz"
    _checkpointed(problem, path)
    _damage(path, change)
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        wn.fit(model, X, y, epochs=4, checkpoint=path, resume=True, **KW)
    assert re.search(words, str(info.value)), info.value
    assert not isinstance(info.value, FitDiverged)


@pytest.mark.parametrize("version", [-3, 0])
def test_a_model_file_with_a_version_below_one_is_refused(tmp_path, version):
    path = tmp_path / "model.npz"
    wn.save(wn.MLP((3, 4, 1)), path)
    _damage(path, _set("version", np.array(version)))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: the format version must be at least 1, got "
                                         f"{version}"):
        wn.load(path)


def test_resuming_with_fewer_epochs_than_the_checkpoint_holds_is_refused(tmp_path, problem):
    model, X, y = problem
    path = tmp_path / "run.npz"
    _checkpointed(problem, path, epochs=4)
    with pytest.raises(ValueError, match=r"run\.npz already holds 4 epochs, more than epochs=2"):
        wn.fit(model, X, y, epochs=2, checkpoint=path, resume=True, **KW)
    same = wn.fit(model, X, y, epochs=4, checkpoint=path, resume=True, **KW)  # as many: the saved run, unchanged
    assert len(same.history) == 4


@pytest.mark.parametrize("other", [
    lambda model: wn.MLP((3, 4, 1), seed=5),
    lambda model: model.with_params(np.nextafter(model.params, np.inf)),
], ids=["another seed", "one ulp apart"])
def test_resuming_from_another_starting_model_of_the_same_architecture_is_refused(tmp_path, problem, other):
    model, X, y = problem
    path = tmp_path / "run.npz"
    _checkpointed(problem, path)
    with pytest.raises(ValueError, match=r"run\.npz was started from another model"):
        wn.fit(other(model), X, y, epochs=4, checkpoint=path, resume=True, **KW)
    resumed = wn.fit(model.copy(), X, y, epochs=4, checkpoint=path, resume=True, **KW)  # an equal model is the same
    assert len(resumed.history) == 4

