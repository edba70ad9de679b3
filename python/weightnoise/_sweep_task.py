"""One point of a sweep, as it runs on a Dask worker: train, measure, return one row.

Each objective of the point trains from the same initialization on the same
minibatches (:func:`weightnoise.experiments.train`), so the RMS distances
between the learned functions compare like with like, exactly as in
``weightnoise train``. A point that raises returns a row with its error
instead of failing the task: the sweep records it and goes on.
"""

from __future__ import annotations

import datetime
import math
import time
from typing import TYPE_CHECKING, Any, Union

import weightnoise as wn

from . import experiments
from ._sweep_grid import DEFAULTS

if TYPE_CHECKING:
    from .datasets import Dataset
    from .model import MLP

# Per objective: what _final_terms measures on the trained model.
FINAL_TERMS = ("train_loss", "test_loss", "train_perturbed_loss", "train_perturbed_loss_stderr",
               "test_perturbed_loss", "test_perturbed_loss_stderr", "eta_penalty", "eta_curvature")
PAIRS = (("noise", "penalty"), ("noise", "plain"), ("penalty", "plain"))
METRICS = tuple(f"{objective}_{term}" for objective in experiments.OBJECTIVES for term in FINAL_TERMS) + \
    tuple(f"{a}_{b}_distance" for a, b in PAIRS)
RUN_INFO = ("error", "worker", "seconds", "finished", "version")
# The columns of a results table, in order. "key" first: it indexes the table.
COLUMNS = ("key", *DEFAULTS, *METRICS, *RUN_INFO)
TEXT_COLUMNS = frozenset({"key", "dataset", "hidden", "activation", "objectives", "noise", "optimizer", "error",
                          "worker", "finished", "version"})
INTEGER_COLUMNS = frozenset({"seed", "epochs", "cooldown_epochs", "batch_size", "eval_draws"})

Threads = Union[int, dict[str, int]]  # OpenMP threads per task: a number, or per worker host with a "default"


def run_point(key: str, config: dict[str, Any], columns: dict[str, Any], dataset: Dataset,
              threads: Threads) -> dict[str, Any]:
    """Train and measure one point; never raises for a failure of the point itself.

    Parameters
    ----------
    key : str
        The point's key.
    config : dict
        The point's normalized settings.
    columns : dict
        The same settings as table columns (see :func:`weightnoise._sweep_grid.columns`).
    dataset : Dataset
    threads : int or dict
        OpenMP threads for the kernels; a dict maps worker hosts to threads.

    Returns
    -------
    dict
        One value per :data:`COLUMNS`: NaN for what was not measured, ``error``
        empty unless the point raised (then ``"ExceptionType: message"``).
    """
    started = time.perf_counter()
    row = blank_row(key, columns)
    try:
        with wn.num_threads(_threads_here(threads)):
            row.update(measure(config, dataset))
    except Exception as exc:  # noqa: BLE001 - the point failed, not the sweep: record it and go on
        row["error"] = describe(exc)
    row.update(worker=_worker_address(), seconds=time.perf_counter() - started, finished=_now())
    return row


def blank_row(key: str, columns: dict[str, Any], error: str = "") -> dict[str, Any]:
    """A row with the point's settings, nothing measured, and when and by which version it was written."""
    row: dict[str, Any] = {name: math.nan for name in METRICS}
    row.update(key=key, **columns, error=error, worker="", seconds=math.nan, finished=_now(),
               version=wn.__version__)
    return row


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def describe(exc: BaseException) -> str:
    """``"ExceptionType: first line of the message"``."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def measure(config: dict[str, Any], dataset: Dataset) -> dict[str, float]:
    """Train each objective of ``config`` from one start; their final terms and pairwise distances."""
    layer_sizes = (dataset.n_features, *config["hidden"], 1)
    start = wn.MLP(layer_sizes, config["activation"], seed=config["seed"])
    schedule = experiments.Schedule(config["optimizer"], config["lr"], config["momentum"], config["epochs"],
                                     config["cooldown_epochs"], config["batch_size"])
    eta, noise, seed = config["eta"], config["noise"], config["seed"]
    models: dict[str, MLP] = {}
    metrics: dict[str, float] = {}
    for objective in config["objectives"]:
        models[objective], _ = experiments.train(start, dataset.X_train, dataset.y_train, objective=objective,
                                                 eta=eta, noise=noise, schedule=schedule, seed=seed, progress=False)
        final = experiments._final_terms(models[objective], dataset, eta, n_draws=config["eval_draws"],
                                         noise=noise, seed=seed)
        metrics.update({f"{objective}_{term}": float(final[term]) for term in FINAL_TERMS})
    for a, b in PAIRS:
        if a in models and b in models:
            metrics[f"{a}_{b}_distance"] = experiments._rms_distance(models[a], models[b], dataset.X_test)
    return metrics


def _threads_here(threads: Threads) -> int:
    if isinstance(threads, int):
        return threads
    from distributed.comm import get_address_host

    address = _worker_address()
    host = get_address_host(address) if address else ""
    return threads.get(host, threads.get("default", 1))


def _worker_address() -> str:
    """The Dask worker running this task, or "" outside a worker."""
    try:
        from distributed import get_worker

        address: str = get_worker().address
        return address
    except (ImportError, ValueError):
        return ""
