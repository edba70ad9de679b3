"""Sweeps: grids of η, seeds, architectures, objectives and data sets, trained on a Dask cluster.

Every point of the grid is one Dask task that trains its objectives from
one initialization on the same minibatches and measures J, J̃_η, η·Ω, η·C
and test J of each, and the RMS distances between the learned functions.
Finished points are written to a results file one row at a time, so a
crash loses nothing finished and a rerun runs only what is missing.

This module imports neither Dask nor pandas until a sweep runs, so that
``import weightnoise`` stays fast and works without them.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ._typing import StrPath
from .threads import MAX_THREADS

if TYPE_CHECKING:
    import distributed
    import pandas as pd

    from ._sweep_data import SweepData
    from ._sweep_grid import Grid, Point
    from ._sweep_store import MemoryStore
    from .datasets import Dataset

DEFAULT_OUT = "weightnoise-sweep.csv"


def sweep(grid: Grid, data: SweepData, *, client: distributed.Client | None = None, scheduler: str | None = None,
          out: StrPath | None = DEFAULT_OUT, n_workers: int | None = None, threads: int | None = None,
          retry_errors: bool = True, progress: bool = True, timeout: float | None = None) -> pd.DataFrame:
    """Train and measure every point of ``grid`` as a Dask task; a table with one row per point.

    Parameters
    ----------
    grid : dict of lists, or list of dicts
        The settings to sweep. A dict means the Cartesian product of its
        lists, e.g. ``{"eta": [1e-3, 1e-2], "seed": [0, 1, 2]}``; a list holds
        one dict per point. Settings (defaults in parentheses): ``eta``
        (required), ``seed`` (0), ``hidden`` (``[32, 32]``; also ``"32x32"``),
        ``activation`` ("tanh"), ``objectives`` (all of "plain", "noise",
        "penalty"; ``objective`` names one), ``noise`` ("local"),
        ``optimizer`` ("sgd"), ``lr`` (0.05), ``momentum`` (0.9), ``epochs``
        (400), ``cooldown_epochs`` (half of ``epochs``, at a tenth of ``lr``),
        ``batch_size`` (None: full batch), ``eval_draws`` (100, antithetic
        draws of the final J̃_η), ``dataset`` (a name in ``data``; a dict grid
        without it runs on every data set).
    data : Dataset, tuple (X_train, y_train, X_test, y_test), or dict of names to either
        float64 arrays. Sent to the workers once, not with every task.
    client : distributed.Client, optional
        Run on this client's cluster (it is left open).
    scheduler : str, optional
        Connect to this scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    out : path or None
        The results file, written one row per finished point: CSV, or with a
        ``.parquet`` suffix a folder of Parquet files (needs pyarrow). Points
        already finished there are not run again. None: keep rows in memory.
    n_workers : int, optional
        Worker processes of the local cluster started when neither ``client``
        nor ``scheduler`` is given (default: one per core).
    threads : int, optional
        OpenMP threads of each task's kernels (default: the cores of the
        worker's host over its task slots, so cores are not oversubscribed).
    retry_errors : bool
        Run points again whose last row holds an error.
    progress : bool
        Print where the sweep runs, the Dask dashboard's address and a progress bar (to stderr).
    timeout : float, optional
        Seconds to wait for the sweep; then unfinished points are cancelled
        (finished rows are kept) and TimeoutError is raised.

    Returns
    -------
    pandas.DataFrame
        One row per point of ``grid``, in grid order: ``key``, the settings,
        per objective ``{objective}_{train_loss, test_loss, train_perturbed_loss,
        train_perturbed_loss_stderr, test_perturbed_loss,
        test_perturbed_loss_stderr, eta_penalty, eta_curvature}`` (NaN for an
        objective not trained), ``noise_penalty_distance``,
        ``noise_plain_distance``, ``penalty_plain_distance`` (RMS on the test
        inputs), ``error`` (empty unless the point failed), ``worker``,
        ``seconds``, ``finished``, ``version``. ``attrs["path"]`` is ``out``.

    Raises
    ------
    TypeError, ValueError
        For a bad grid, data or option, before anything runs.
    ImportError
        Without dask[distributed] and pandas (``pip install 'weightnoise[sweep]'``).
    """
    from . import _sweep_data, _sweep_grid, _sweep_store
    from ._sweep_cluster import import_distributed

    datasets = _sweep_data.as_datasets(data)
    points = _sweep_grid.expand(grid, {name: _sweep_data.fingerprint(d) for name, d in datasets.items()})
    n_workers, threads = _check_options(client=client, scheduler=scheduler, n_workers=n_workers, threads=threads,
                                        timeout=timeout, retry_errors=retry_errors, progress=progress)
    _import_pandas()
    store = _sweep_store.open_store(out)
    done = store.finished(retry_errors)
    pending = [point for point in points if point.key not in done]
    if pending:
        import_distributed()
    say = _stderr if progress else _quiet
    where = f" in {store.path}" if store.path is not None else ""
    say(f"weightnoise sweep: {len(points)} points, {len(points) - len(pending)} finished already{where}, "
        f"{len(pending)} to run")
    if pending:
        _run(pending, datasets, store, client=client, scheduler=scheduler, n_workers=n_workers, threads=threads,
             total=len(points), progress=progress, timeout=timeout, say=say)
    frame = _in_grid_order(store.frame(), points)
    frame.attrs["path"] = None if store.path is None else str(store.path)
    return frame


def _run(pending: list[Point], datasets: dict[str, Dataset], store: MemoryStore, *, client: distributed.Client | None,
         scheduler: str | None, n_workers: int | None, threads: int | None, total: int, progress: bool,
         timeout: float | None, say: Callable[[str], None]) -> None:
    """Submit the pending points, write each row as it finishes, cancel what is left on the way out."""
    import asyncio
    import uuid

    from distributed import as_completed
    from tqdm.auto import tqdm

    from ._sweep_cluster import connect, dashboard_line
    from ._sweep_grid import columns
    from ._sweep_submit import Submitter
    from ._sweep_task import blank_row, describe

    with connect(client, scheduler, n_workers, threads) as cluster:
        say(f"running on {cluster.description}")
        say(dashboard_line(cluster.client))
        submitter = Submitter(cluster.client, datasets, cluster.threads, uuid.uuid4().hex[:8])
        futures = submitter.submit(pending)
        bar = tqdm(total=total, initial=total - len(pending), desc="sweep", unit="point", disable=not progress)
        errors = 0
        try:
            finished = as_completed(futures, timeout=timeout)
            for future in finished:
                again = submitter.resubmit(future)
                if again is not None:  # the cluster lost the point's data, not the point
                    finished.add(again)
                    continue
                point = submitter.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker: it took down workers too often
                    row = blank_row(point.key, columns(point.config), describe(exc))
                store.append(row)
                errors += bool(row["error"])
                bar.update(1)
                if errors:
                    bar.set_postfix(errors=errors)
        except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11
            left = len(submitter.points)
            raise TimeoutError(f"the sweep ran past its timeout of {timeout:g} s with {left} point{'s' * (left > 1)} "
                               "unfinished; finished rows are written, and a rerun runs the rest") from None
        finally:
            bar.close()
            submitter.cancel()
        if errors:
            say(f"{errors} point{'s' * (errors > 1)} failed; their rows hold the error (column 'error')")


def _in_grid_order(frame: pd.DataFrame, points: list[Point]) -> pd.DataFrame:
    order = {point.key: i for i, point in enumerate(points)}
    frame = frame[frame["key"].isin(order)]
    return frame.iloc[frame["key"].map(order).argsort()].reset_index(drop=True)


def load_results(path: StrPath) -> pd.DataFrame:
    """A results file (CSV, or a ``.parquet`` folder) of :func:`sweep` as a DataFrame, one row per point."""
    from pathlib import Path

    from ._sweep_store import open_store

    _import_pandas()
    if not Path(path).exists():
        raise FileNotFoundError(f"no sweep results at {path}")
    return open_store(path).frame()


def grid_points(grid: Grid, data: SweepData) -> list[dict[str, Any]]:
    """The points ``grid`` expands to, as :func:`sweep` would run them: each config with its ``key``."""
    from . import _sweep_data, _sweep_grid

    datasets = _sweep_data.as_datasets(data)
    expanded = _sweep_grid.expand(grid, {name: _sweep_data.fingerprint(d) for name, d in datasets.items()})
    return [{"key": point.key, **point.config} for point in expanded]


def _check_options(*, client: object, scheduler: object, n_workers: object, threads: object, timeout: object,
                   retry_errors: object, progress: object) -> tuple[int | None, int | None]:
    """Raise for a bad option; n_workers and threads as Python ints (or None)."""
    if client is not None and scheduler is not None:
        raise ValueError("give client or scheduler, not both")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address such as 'tcp://host:8786', got {scheduler!r}")
    for name, value, most in (("n_workers", n_workers, None), ("threads", threads, MAX_THREADS)):
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
                or not 1 <= int(value) <= (most or math.inf):
            bound = "a positive integer" if most is None else f"an integer in [1, {most}]"
            raise ValueError(f"{name} must be {bound} or None, got {value!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    for name, value in (("retry_errors", retry_errors), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    return (None if n_workers is None else int(cast(int, n_workers)),
            None if threads is None else int(cast(int, threads)))


def _import_pandas() -> Any:  # the pandas module (untyped)
    try:
        import pandas
    except ImportError:
        from ._sweep_cluster import DASK_HINT

        raise ImportError(f"weightnoise.sweep needs pandas: {DASK_HINT}") from None
    return pandas


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _quiet(text: str) -> None:
    pass
