"""weightnoise.sweep: grids, keys, results files, the worker task, the figure, the command, and sweeps on a
two-worker Dask cluster on loopback, including a worker killed mid-task."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import weightnoise as wn
from weightnoise import (
    _sweep_cluster,
    _sweep_grid,
    _sweep_store,
    _sweep_submit,
    _sweep_task,
    cli,
    datasets,
    experiments,
    plots,
)
from weightnoise.sweep import _check_options, grid_points, load_results

distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

# Tiny problems: a point trains in well under a second.
TINY = {"hidden": [[4]], "epochs": [12], "eval_draws": [8]}
# Too big for any worker: a point that fails inside its task (MemoryError), not before the sweep starts.
HUGE = [200_000, 200_000]
# A point that trains for a few seconds: long enough to kill its worker mid-task.
LONG = {"hidden": [16, 16], "epochs": 2000, "eval_draws": 8}
WAIT = 180  # seconds before a test gives up on a sweep instead of hanging


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_examples=120, seed=0)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, shared by the module's cluster tests."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    with cluster, distributed.Client(cluster) as client:
        yield client


def run_in_thread(function, *args, **kwargs):
    """``function`` in a thread, so that a test can act during it and bound its wait."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(function, *args, **kwargs)
    pool.shutdown(wait=False)
    return future


def csv_rows(path) -> list[str]:
    return path.read_text().splitlines()[1:]


# --- import ---------------------------------------------------------------------------------------------------


def test_import_weightnoise_imports_neither_dask_nor_pandas():
    code = ("import sys, weightnoise; import weightnoise.sweep; "
            "print(sorted(m for m in ('dask', 'distributed', 'pandas', 'pyarrow') if m in sys.modules)); "
            "print(callable(weightnoise.sweep))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split()[-2:] == ["[]", "True"]  # an editable install may print its rebuild first


# --- grids and keys --------------------------------------------------------------------------------------------


def test_a_dict_grid_is_the_product_of_its_lists_in_order_with_defaults_filled_in(data):
    points = grid_points({"eta": [0.01, 0.1], "seed": [0, 1, 2]}, data)
    assert [(p["eta"], p["seed"]) for p in points] == [(0.01, 0), (0.01, 1), (0.01, 2), (0.1, 0), (0.1, 1), (0.1, 2)]
    first = points[0]
    assert first["dataset"] == "synthetic" and first["hidden"] == [32, 32] and first["epochs"] == 400
    assert first["cooldown_epochs"] == 200 and first["objectives"] == ["plain", "noise", "penalty"]
    assert len({p["key"] for p in points}) == 6


def test_equal_training_runs_get_one_key_however_they_are_spelled(data):
    plain = grid_points([{"eta": 0.01, "hidden": [32, 32], "objectives": ["plain", "noise", "penalty"],
                          "epochs": 100, "cooldown_epochs": 50, "seed": 0, "batch_size": None}], data)
    spelled = grid_points([{"eta": 0.01, "hidden": "32x32", "objectives": ("penalty", "noise", "plain"),
                            "epochs": 100}], data)
    assert plain[0]["key"] == spelled[0]["key"]
    one = grid_points({"eta": [0.01], "objective": ["noise"]}, data)[0]
    assert one["objectives"] == ["noise"] and one["key"] != plain[0]["key"]


def test_the_key_changes_with_the_data_and_with_any_setting(data):
    key = grid_points([{"eta": 0.01}], data)[0]["key"]
    other = datasets.load("synthetic", n_examples=120, seed=1)
    assert grid_points([{"eta": 0.01}], other)[0]["key"] != key
    for change in ({"eta": 0.02}, {"seed": 1}, {"lr": 0.1}, {"noise": "shared"}, {"hidden": [32]}):
        assert grid_points([{"eta": 0.01, **change}], data)[0]["key"] != key, change


def test_a_dict_grid_without_dataset_runs_on_every_data_set(data):
    other = datasets.load("synthetic", n_examples=60, seed=1)
    points = grid_points({"eta": [0.01]}, {"a": data, "b": other})
    assert [p["dataset"] for p in points] == ["a", "b"]
    with pytest.raises(ValueError, match=r"grid\[0\] has no 'dataset'.*a, b"):
        grid_points([{"eta": 0.01}], {"a": data, "b": other})


@pytest.mark.parametrize("grid, error, match", [
    ({}, ValueError, "has no 'eta'"),
    ([], ValueError, "grid is empty"),
    ({"eta": []}, ValueError, r"grid\['eta'\] is empty"),
    ({"eta": 0.01}, TypeError, r"grid\['eta'\] must be a list.*\[0.01\]"),
    ({"eta": [0.01], "lrr": [0.1]}, ValueError, "unknown setting 'lrr'.*did you mean 'lr'"),
    ([{"eta": 0.01, "epoch": 3}], ValueError, "unknown setting 'epoch' in grid\\[0\\].*did you mean 'epochs'"),
    ({"eta": [-1.0]}, ValueError, "eta must be finite and non-negative"),
    ({"eta": [0.01], "lr": [0.0]}, ValueError, "lr must be finite and positive"),
    ({"eta": [0.01], "objectives": [["noise", "sgd"]]}, ValueError, "objectives must be one of plain, noise, penalty"),
    ({"eta": [0.01], "noise": ["gaussian"]}, ValueError, "noise must be one of"),
    ({"eta": [0.01], "hidden": ["3xa"]}, ValueError, "hidden must be widths"),
    ({"eta": [0.01], "hidden": [[0]]}, ValueError, "hidden width must be at least 1"),
    ({"eta": [0.01], "epochs": [0], "cooldown_epochs": [0]}, ValueError, "trains for no epochs"),
    ({"eta": [0.01, 0.01]}, ValueError, "repeats the training run of grid point 0"),
    ({"eta": [0.01], "seed": [2**63]}, ValueError, r"seed must be below 2\*\*63 in a sweep"),
    ([{"eta": 0.01, "dataset": "other"}], ValueError, "unknown dataset 'other'"),
    ([{"eta": 0.01, "objective": "noise", "objectives": ["plain"]}], ValueError, "both 'objective' and 'objectives'"),
    ([0.01], TypeError, r"grid\[0\] must be a dict"),
    ("eta", TypeError, "grid must be a dict of lists or a list of dicts"),
])
def test_a_bad_grid_is_refused_before_anything_runs_with_a_message_naming_it(data, grid, error, match):
    with pytest.raises(error, match=match):
        wn.sweep(grid, data, out=None, progress=False)


@pytest.mark.parametrize("make, error, match", [
    (lambda d: d.X_train.astype(np.float32), TypeError, r"data\.X_train must hold float64"),
    (lambda d: np.where(d.X_train > 2, np.nan, d.X_train), ValueError, "NaN or infinite"),
    (lambda d: d.X_train[:-1], ValueError, "X_train must be"),
])
def test_bad_data_are_refused_naming_the_array(data, make, error, match):
    bad = (make(data), data.y_train, data.X_test, data.y_test)
    with pytest.raises(error, match=match):
        wn.sweep({"eta": [0.01]}, bad, out=None, progress=False)


@pytest.mark.parametrize("options, error, match", [
    ({"n_workers": 0}, ValueError, "n_workers must be a positive integer"),
    ({"threads": 1.5}, ValueError, r"threads must be an integer in \[1, 1024\]"),
    ({"threads": 5000}, ValueError, r"threads must be an integer in \[1, 1024\] or None, got 5000"),
    ({"threads": 2**70}, ValueError, r"threads must be an integer in \[1, 1024\]"),
    ({"timeout": -1}, ValueError, "timeout must be a positive number"),
    ({"retry_errors": "yes"}, TypeError, "retry_errors must be True or False"),
])
def test_bad_options_are_refused(data, options, error, match):
    with pytest.raises(error, match=match):
        wn.sweep({"eta": [0.01]}, data, out=None, progress=False, **options)


def test_numpy_integers_are_options_like_python_ints():
    assert _check_options(client=None, scheduler=None, n_workers=np.int64(2), threads=np.uint8(1),
                          timeout=None, retry_errors=True, progress=False) == (2, 1)


def test_client_and_scheduler_together_are_refused(data, client):
    with pytest.raises(ValueError, match="client or scheduler, not both"):
        wn.sweep({"eta": [0.01], **TINY}, data, client=client, scheduler=client.scheduler.address, out=None,
                 progress=False)


def test_each_task_gets_its_hosts_cores_over_the_task_slots_on_that_host(client):
    plan = _sweep_cluster.host_threads(client)
    assert plan == {"127.0.0.1": max(1, _sweep_cluster.machine_cores() // 2),
                    "default": max(1, _sweep_cluster.machine_cores() // 2)}
    assert _sweep_task._threads_here(3) == 3 and _sweep_task._threads_here({"default": 2}) == 2  # not on a worker


# --- results files -----------------------------------------------------------------------------------------------


def make_row(key: str, **values) -> dict:
    config = _sweep_grid.normalize({"eta": 0.01}, {"synthetic": "f"})
    row = _sweep_task.blank_row(key, _sweep_grid.columns(config))
    row.update(values)
    return row


@pytest.mark.parametrize("name", ["results.csv", "results.parquet"])
def test_a_store_reads_back_its_rows_with_one_dtype_per_column_and_the_last_row_of_a_key(tmp_path, name):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    store = _sweep_store.open_store(tmp_path / name)
    store.append(make_row("a", error="MemoryError: too big"))
    store.append(make_row("b", noise_test_loss=0.25, seconds=1.5, worker="tcp://w"))
    store.append(make_row("a", noise_test_loss=0.5))  # the retried point replaces its error row
    frame = _sweep_store.open_store(tmp_path / name).frame()
    assert sorted(frame["key"]) == ["a", "b"] and list(frame.columns) == list(_sweep_task.COLUMNS)
    rows = frame.set_index("key")
    assert rows.loc["a", "error"] == "" and rows.loc["a", "noise_test_loss"] == 0.5
    assert rows.loc["b", "noise_test_loss"] == 0.25 and rows.loc["b", "worker"] == "tcp://w"
    assert rows.loc["b", "hidden"] == "32x32" and rows.loc["b", "seed"] == 0 and pd.isna(rows.loc["b", "batch_size"])
    assert frame["seed"].dtype == "Int64" and frame["eta"].dtype == np.float64
    assert _sweep_store.open_store(tmp_path / name).finished(retry_errors=True) == {"a", "b"}


def test_a_csv_row_torn_by_a_crash_is_cut_off_and_an_error_row_is_retried(tmp_path):
    path = tmp_path / "results.csv"
    store = _sweep_store.open_store(path)
    store.append(make_row("a"))
    store.append(make_row("b", error="KilledWorker: died"))
    with open(path, "a") as handle:
        handle.write("c,synthetic,0.01,0")  # the process died while writing row c
    reopened = _sweep_store.open_store(path)
    assert path.read_text().endswith("\n") and len(csv_rows(path)) == 2
    assert reopened.finished(retry_errors=True) == {"a"}
    assert reopened.finished(retry_errors=False) == {"a", "b"}
    reopened.append(make_row("c"))
    assert sorted(reopened.frame()["key"]) == ["a", "b", "c"]


def test_a_file_that_is_not_a_sweeps_results_file_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="not a results file"):
        _sweep_store.open_store(path)


# --- the task ---------------------------------------------------------------------------------------------------


def test_a_point_measures_what_weightnoise_train_measures(data):
    config = _sweep_grid.normalize({"eta": 0.02, "hidden": [4], "epochs": 12, "eval_draws": 8, "seed": 3},
                                   {"synthetic": "f"})
    row = _sweep_task.run_point("k", config, _sweep_grid.columns(config), data, 1)
    assert row["error"] == "" and set(row) == set(_sweep_task.COLUMNS)
    schedule = experiments.Schedule("sgd", 0.05, 0.9, 12, 6, None)
    expected = experiments.training_experiment(data, layer_sizes=(5, 4, 1), activation="tanh", etas=[0.02],
                                               noise="local", schedule=schedule, seed=3, n_draws=8, monitor_every=0,
                                               progress=False)["runs"][0]
    for objective, final in expected["final"].items():
        for term, value in final.items():
            assert row[f"{objective}_{term}"] == pytest.approx(value, rel=1e-12), (objective, term)
    assert row["noise_penalty_distance"] == pytest.approx(expected["distances"]["noise_penalty"], rel=1e-12)
    assert row["penalty_plain_distance"] == pytest.approx(expected["distances"]["penalty_plain"], rel=1e-12)


def test_a_point_with_some_objectives_leaves_the_others_and_their_distances_empty(data):
    config = _sweep_grid.normalize({"eta": 0.02, "hidden": [4], "epochs": 5, "eval_draws": 4,
                                    "objectives": ["noise", "penalty"]}, {"synthetic": "f"})
    row = _sweep_task.run_point("k", config, _sweep_grid.columns(config), data, 1)
    assert math.isfinite(row["noise_test_loss"]) and math.isfinite(row["noise_penalty_distance"])
    assert math.isnan(row["plain_test_loss"]) and math.isnan(row["noise_plain_distance"])


def test_a_point_that_raises_returns_its_error_instead(data):
    config = _sweep_grid.normalize({"eta": 0.01, "hidden": HUGE, "epochs": 1}, {"synthetic": "f"})
    row = _sweep_task.run_point("k", config, _sweep_grid.columns(config), data, 1)
    assert row["error"].startswith("MemoryError") and math.isnan(row["noise_test_loss"])


# --- submissions ---------------------------------------------------------------------------------------------------


class CancelledFuture:
    status = "cancelled"


class FakeClient:
    """Counts a Submitter's scatters (which fail after the first ``workers_for``) and records its submissions; every
    future it returns reads as cancelled."""

    def __init__(self, workers_for=math.inf):
        self.scattered, self.submitted, self.workers_for = 0, [], workers_for

    def scatter(self, values, **_):
        self.scattered += 1
        if self.scattered > self.workers_for:
            raise TimeoutError("No valid workers found")  # what Dask raises when no worker comes in time
        return [object() for _ in values]

    def submit(self, *_, key, **__):
        self.submitted.append(key)
        return CancelledFuture()


def test_a_point_the_cluster_cancels_is_submitted_again_with_its_data_shipped_once_more_a_few_times_at_most(data):
    points = _sweep_grid.expand([{"eta": 0.01, "seed": seed} for seed in (0, 1)], {"data": "fingerprint"})
    fake = FakeClient()
    submitter = _sweep_submit.Submitter(fake, {"data": data}, 1, "run")
    first, second = submitter.submit(points)
    assert fake.scattered == 1
    again = submitter.resubmit(first)
    assert fake.scattered == 2  # the lost copy is replaced ...
    submitter.resubmit(second)
    assert fake.scattered == 2  # ... once: the second point takes the new copy
    for _ in range(_sweep_submit.MAX_SUBMISSIONS - 2):
        again = submitter.resubmit(again)
    assert submitter.resubmit(again) is None  # then the cancellation is the point's result
    assert submitter.pop(again) == points[0]
    assert len(set(fake.submitted)) == len(fake.submitted) == _sweep_submit.MAX_SUBMISSIONS + 2


def test_when_no_worker_takes_the_lost_data_again_the_cancellations_are_the_points_results(data):
    points = _sweep_grid.expand([{"eta": 0.01, "seed": seed} for seed in (0, 1)], {"data": "fingerprint"})
    fake = FakeClient(workers_for=1)
    submitter = _sweep_submit.Submitter(fake, {"data": data}, 1, "run")
    first, second = submitter.submit(points)
    assert submitter.resubmit(first) is None
    assert submitter.resubmit(second) is None and fake.scattered == 2  # not tried again for the second point
    assert [submitter.pop(first), submitter.pop(second)] == points


# --- sweeps on the cluster -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_sweep(client, data, tmp_path_factory):
    """Four small points and one that fails, on the shared cluster; the results file."""
    path = tmp_path_factory.mktemp("sweep") / "results.csv"
    grid = [{"eta": eta, "seed": seed, "hidden": [4], "epochs": 12, "eval_draws": 8}
            for eta in (0.01, 0.03) for seed in (0, 1)]
    grid.append({"eta": 0.01, "hidden": HUGE, "epochs": 1})
    results = run_in_thread(wn.sweep, grid, data, client=client, out=path, progress=False).result(WAIT)
    return grid, path, results


def test_a_sweep_returns_and_writes_one_row_per_point_in_grid_order(finished_sweep, data):
    grid, path, results = finished_sweep
    keys = [point["key"] for point in grid_points(grid, data)]
    assert list(results["key"]) == keys and results.attrs["path"] == str(path)
    assert sorted(load_results(path)["key"]) == sorted(keys) and len(csv_rows(path)) == 5
    good = results[results["error"] == ""]
    assert len(good) == 4 and good["worker"].str.startswith("tcp://127.0.0.1:").all()
    assert np.isfinite(good[["noise_test_loss", "penalty_eta_penalty", "noise_penalty_distance"]].to_numpy()).all()


def test_a_point_that_raises_is_recorded_with_its_error_and_the_sweep_goes_on(finished_sweep):
    _, _, results = finished_sweep
    failed = results[results["error"] != ""]
    assert list(failed["hidden"]) == ["200000x200000"]
    assert failed["error"].iloc[0].startswith("MemoryError")


def test_rows_from_the_cluster_equal_a_point_run_here(finished_sweep, data):
    grid, _, results = finished_sweep
    config = _sweep_grid.normalize(grid[3], {"synthetic": "f"})
    here = _sweep_task.run_point("k", config, _sweep_grid.columns(config), data, 2)
    for column in _sweep_task.METRICS:
        assert results.loc[3, column] == pytest.approx(here[column], rel=1e-12), column


def test_a_rerun_runs_only_what_is_missing_and_retries_errors(finished_sweep, client, data):
    grid, path, _ = finished_sweep
    again = wn.sweep(grid, data, client=client, out=path, progress=False, retry_errors=False)
    assert len(csv_rows(path)) == 5 and len(again) == 5  # nothing ran
    bigger = [*grid[:2], {"eta": 0.1, "hidden": [4], "epochs": 12, "eval_draws": 8}]
    results = run_in_thread(wn.sweep, bigger, data, client=client, out=path, progress=False).result(WAIT)
    assert len(csv_rows(path)) == 6 and len(results) == 3 and (results["error"] == "").all()
    run_in_thread(wn.sweep, grid, data, client=client, out=path, progress=False).result(WAIT)
    assert len(csv_rows(path)) == 7  # the failed point, retried (and failed again)


def test_a_sweep_writes_parquet_and_prints_its_progress(client, data, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = tmp_path / "results.parquet"
    results = run_in_thread(wn.sweep, {"eta": [0.01], "seed": [0, 1], **TINY}, data, client=client, out=path,
                            progress=True).result(WAIT)
    assert len(list(path.glob("*.parquet"))) == 2
    assert sorted(pd.read_parquet(path)["key"]) == sorted(results["key"])
    err = capsys.readouterr().err
    assert "Dask dashboard: http" in err and "2 to run" in err


def executing(dask_worker) -> list[str]:
    """The keys of the tasks a worker is running now (for ``client.run``)."""
    return [str(task.key) for task in dask_worker.state.executing]


def kill_a_busy_worker(client, until) -> tuple[str, str]:
    """SIGKILL the process of a worker that is running a task; its address and that task's key."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not until():
        busy = {worker: keys for worker, keys in client.run(executing).items() if keys}
        if busy:
            victim, keys = next(iter(busy.items()))
            os.kill(pids[victim], signal.SIGKILL)
            return victim, keys[0]
        time.sleep(0.05)
    raise AssertionError("no task ran within a minute")


needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


@needs_sigkill
def test_a_worker_killed_mid_task_is_retried_and_every_point_ends_with_a_result(client, data, tmp_path):
    grid = [{"eta": 0.01, "seed": seed, **LONG} for seed in (0, 1)]
    running = run_in_thread(wn.sweep, grid, data, client=client, out=tmp_path / "results.csv", progress=False)
    victim, killed_key = kill_a_busy_worker(client, until=running.done)
    results = running.result(WAIT)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the worker for the tests after this one
    assert (results["error"] == "").all(), results["error"].tolist()
    assert np.isfinite(results[["noise_test_loss", "noise_penalty_distance"]].to_numpy()).all()
    rerun = results[results["key"].map(lambda key: key in killed_key)]
    assert len(rerun) == 1 and rerun["worker"].iloc[0] != victim


@needs_sigkill
def test_when_every_copy_of_the_data_is_lost_it_is_shipped_again_and_every_point_ends_with_a_result(
        client, data, tmp_path):
    grid = [{"eta": 0.01, "seed": seed, **LONG} for seed in (2, 3)]
    running = run_in_thread(wn.sweep, grid, data, client=client, out=tmp_path / "results.csv", progress=False)
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while len([keys for keys in client.run(executing).values() if keys]) < len(pids):
        assert time.monotonic() < deadline and not running.done(), "the points did not both start within a minute"
        time.sleep(0.05)
    for pid in pids.values():  # the scheduler forgets the scattered data and cancels the points that need it
        os.kill(pid, signal.SIGKILL)
    results = running.result(WAIT)
    client.wait_for_workers(2, timeout=60)
    assert (results["error"] == "").all(), results["error"].tolist()
    assert np.isfinite(results[["noise_test_loss", "noise_penalty_distance"]].to_numpy()).all()


@needs_sigkill
def test_a_sweep_past_its_timeout_keeps_finished_rows_and_says_what_is_left(client, data, tmp_path):
    endless = {"eta": 0.02, "hidden": [16, 16], "epochs": 10**6, "eval_draws": 8}  # hours
    grid = [{"eta": 0.01, "hidden": [4], "epochs": 12, "eval_draws": 8}, endless]
    path = tmp_path / "results.csv"
    with pytest.raises(TimeoutError, match="with 1 point unfinished"):
        run_in_thread(wn.sweep, grid, data, client=client, out=path, progress=False, timeout=5).result(WAIT)
    assert len(csv_rows(path)) == 1
    # Dask cannot stop a running task: free its worker for the tests after this one.
    kill_a_busy_worker(client, until=lambda: False)
    client.wait_for_workers(2, timeout=60)


def test_without_a_client_a_sweep_starts_and_closes_its_own_local_cluster(data, tmp_path):
    results = run_in_thread(wn.sweep, {"eta": [0.01], **TINY}, data, out=tmp_path / "r.csv", n_workers=1,
                            progress=False).result(WAIT)
    assert len(results) == 1 and results["error"].iloc[0] == ""


# --- the figure -------------------------------------------------------------------------------------------------


def test_the_sweep_figure_is_a_png(finished_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    _, _, results = finished_sweep
    path = plots.sweep_figure(results, tmp_path / "sweep.png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_sweep_figure_says_what_is_missing(finished_sweep, tmp_path, monkeypatch):
    _, _, results = finished_sweep
    with pytest.raises(ValueError, match="no finished point"):
        plots.sweep_figure(results[results["error"] != ""], tmp_path / "none.png")
    monkeypatch.setattr(plots, "available", lambda: False)
    with pytest.raises(ImportError, match="pip install"):
        plots.sweep_figure(results, tmp_path / "sweep.png")


# --- the command -----------------------------------------------------------------------------------------------


def test_the_sweep_command_runs_on_a_scheduler_address_and_writes_results_and_figure(client, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"eta": [0.01, 0.03], "seed": [0, 1], "hidden": ["4"], "epochs": [12],
                                "eval_draws": [8]}))
    argv = ["sweep", "--grid", str(grid), "--n-examples", "120", "--scheduler", client.scheduler.address,
            "--out", str(tmp_path / "out"), "--no-progress"]
    status = run_in_thread(cli.main, argv).result(WAIT)
    out = capsys.readouterr().out
    assert status == 0
    assert "Means over seeds" in out and "noise–penalty distance" in out and "4 points" in out
    assert len(load_results(tmp_path / "out" / "results.csv")) == 4
    assert (tmp_path / "out" / "sweep.png").exists()


@pytest.mark.parametrize("argv, match", [
    (["--grid", "g.json", "--etas", "0.1"], "--grid replaces the grid options; drop --etas"),
    (["--csv", "x.csv"], "--csv PATH and --target COLUMN go together"),
    (["--hidden", "3xa"], "--hidden must be widths"),
    (["--etas", "-1"], "must be a finite non-negative number"),
    (["--grid", "missing.json"], "cannot read --grid"),
])
def test_bad_sweep_arguments_give_one_line_and_exit_status_2(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.json").write_text("{}")
    assert cli.main(["sweep", *argv]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("weightnoise: error:") and err.count("\n") == 1 and match in err


def test_the_sweep_command_grid_options_make_a_product(data):
    args = cli.parse(["sweep", "--etas", "0.01", "0", "--seeds", "4", "--hidden", "8x8", "16", "--lr", "0.1",
                      "--objectives", "noise", "penalty"])
    points = grid_points(args.grid, data)
    assert [(p["eta"], p["hidden"]) for p in points] == [(0.01, [8, 8]), (0.01, [16]), (0.0, [8, 8]), (0.0, [16])]
    assert {p["seed"] for p in points} == {4} and {p["lr"] for p in points} == {0.1}
    assert points[0]["objectives"] == ["noise", "penalty"]
