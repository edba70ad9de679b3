"""The two experiments behind the ``weightnoise`` command, composed from the public API.

``equivalence_experiment``
    measured J̃_η against J + η·Ω and J + η·Ω + η·C over a grid of η, for a
    model at initialization (where η·C is visible) and after plain training
    (where C is small);
``training_experiment``
    plain, noise and penalty training from the same start on the same
    minibatches, compared by their final losses and by the distance between
    the functions they learn.

Both return plain dicts (JSON-ready apart from NaN) that the tables, the
figures and ``results.json`` are made from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

import weightnoise as wn

from ._expansion import log_log_slope
from ._typing import FloatArray

if TYPE_CHECKING:
    from .datasets import Dataset
    from .model import MLP

OBJECTIVES = ("plain", "noise", "penalty")

# A residual is resolved when it stands this many standard errors clear of zero.
RESOLVED_STDERRS = 3.0
# The expansion's own range: the measured remainder beyond first order is at most
# this fraction of the first-order correction η·(Ω + C).
EXPANSION_RANGE = 0.25
# Antithetic draws of J̃_η at each monitored epoch of a training curve.
MONITOR_DRAWS = 8


@dataclass(frozen=True)
class Schedule:
    """How a model is trained: a first phase, then a cooldown at a tenth of the learning rate.

    The cooldown's small steps shrink the fluctuation that injected noise
    leaves in the iterate, so noise-trained models can be compared with the
    others. ``batch_size=None`` means full batch.
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    epochs: int = 400
    cooldown_epochs: int = 200
    batch_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def monitor_terms(model: MLP, X: ArrayLike, y: ArrayLike, eta: float, *, noise: str, n_draws: int, seed: int,
                  validation: tuple[ArrayLike, ArrayLike] | None = None) -> dict[str, float]:
    """J, η·Ω, η·C and J̃_η (± its standard error) on (X, y), and J on ``validation``:
    the keys of :func:`weightnoise.fit`'s monitored history."""
    terms = wn.second_order(model, X, y, eta)
    estimate = wn.perturbed_loss(model, X, y, eta, n_draws, noise, True, seed)
    record = {"loss": terms.loss, "eta_penalty": terms.eta_penalty, "eta_curvature": terms.eta_curvature,
              "perturbed_loss": float(estimate.mean), "perturbed_loss_stderr": float(estimate.stderr)}
    if validation is not None:
        record["val_loss"] = float(wn.loss(model, *validation))
    return record


def train(model: MLP, X: FloatArray, y: FloatArray, *, objective: str, eta: float, noise: str, schedule: Schedule,
          seed: int, validation: tuple[ArrayLike, ArrayLike] | None = None, monitor_every: int = 0,
          monitor_draws: int = MONITOR_DRAWS, progress: bool = True) -> tuple[MLP, list[dict[str, Any]]]:
    """Train a copy of ``model`` with ``schedule``: both phases through :func:`weightnoise.fit`.

    Parameters
    ----------
    monitor_every : int
        Record :func:`monitor_terms` at the start, every this many epochs and at the
        end of each phase (0: never). Cheaper than ``fit``'s every-epoch monitoring.

    Returns
    -------
    model : MLP
    history : list of dict
        One record per epoch of both phases (``fit``'s ``batch_loss`` and ``time``,
        numbered on, with ``phase`` and ``lr``), the monitored terms where measured,
        and when monitoring an ``epoch`` 0 record of the starting model.
    """
    settings = {"objective": objective, "eta": eta, "noise": noise, "optimizer": schedule.optimizer,
                "momentum": schedule.momentum, "batch_size": schedule.batch_size or X.shape[0], "monitor": False,
                "progress": progress}

    def measure(trained: MLP) -> dict[str, float]:
        return monitor_terms(trained, X, y, eta, noise=noise, n_draws=monitor_draws, seed=seed, validation=validation)

    history: list[dict[str, Any]] = [{"epoch": 0, "phase": 0, **measure(model)}] if monitor_every else []
    phases = [(1, schedule.lr, schedule.epochs, seed), (2, schedule.lr / 10, schedule.cooldown_epochs, seed + 1)]
    for phase, lr, epochs, phase_seed in phases:
        if epochs > 0:
            done = sum(record["phase"] > 0 for record in history)
            model, records = _train_phase(model, X, y, settings, lr=lr, epochs=epochs, seed=phase_seed, done=done,
                                          monitor_every=monitor_every, measure=measure)
            history += [{**record, "phase": phase, "lr": lr} for record in records]
    return model, history


def _train_phase(model: MLP, X: FloatArray, y: FloatArray, settings: dict[str, Any], *, lr: float, epochs: int,
                 seed: int, done: int, monitor_every: int,
                 measure: Callable[[MLP], dict[str, float]]) -> tuple[MLP, list[dict[str, Any]]]:
    """One :func:`weightnoise.fit` call; its records numbered on from ``done``, monitored where due."""
    measured: dict[int, dict[str, float]] = {}  # this phase's epoch -> monitored terms

    def record_terms(record: dict[str, Any], trained: MLP) -> None:
        if monitor_every and ((done + record["epoch"]) % monitor_every == 0 or record["epoch"] == epochs):
            measured[record["epoch"]] = measure(trained)

    result = wn.fit(model, X, y, lr=lr, epochs=epochs, seed=seed, callback=record_terms, **settings)
    records = [{**record, "epoch": done + record["epoch"], **measured.get(record["epoch"], {})}
               for record in result.history]
    return result.model, records


def residual_slopes(etas: ArrayLike, residual: ArrayLike, stderr: ArrayLike,
                    in_range: NDArray[np.bool_]) -> dict[str, Any]:
    """The log-log slope of |residual| against η over the η where it is resolved and in range.

    Returns
    -------
    dict
        ``slope`` (NaN with fewer than two such η), ``n_points``, ``eta_min`` and
        ``eta_max`` (the fitted range), ``resolved`` (per η), and ``local`` (the
        slope between consecutive η, NaN unless both are resolved).
    """
    etas, residual, stderr = (np.asarray(a, dtype=float) for a in (etas, residual, stderr))
    resolved = np.abs(residual) > RESOLVED_STDERRS * stderr
    fitted = resolved & in_range
    slope = log_log_slope(etas[fitted], residual[fitted]) if fitted.sum() >= 2 else float("nan")
    both = resolved[1:] & resolved[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        local = np.diff(np.log(np.abs(residual))) / np.diff(np.log(etas))
    local[~both] = np.nan
    return {"slope": slope, "n_points": int(fitted.sum()),
            "eta_min": float(etas[fitted].min()) if fitted.any() else float("nan"),
            "eta_max": float(etas[fitted].max()) if fitted.any() else float("nan"),
            "resolved": resolved.tolist(), "fitted": fitted.tolist(), "local": local.tolist()}


def measure_equivalence(model: MLP, X: FloatArray, y: FloatArray, etas: Iterable[float], *, n_draws: int, noise: str,
                        seed: int, label: str, progress: bool = True) -> dict[str, Any]:
    """:func:`weightnoise.equivalence` one η at a time (for the progress bar), with honest slopes.

    Every η uses the same seed, so the draws are common random numbers and the
    whole grid equals one ``equivalence`` call.
    """
    start = time.perf_counter()
    results = [wn.equivalence(model, X, y, [eta], n_draws, noise=noise, antithetic=True, seed=seed)
               for eta in tqdm(etas, desc=f"J~_eta {label}", unit="eta", leave=False, disable=not progress)]
    table = np.concatenate([result.table for result in results])
    first = results[0]
    J, omega, C = first.loss, first.penalty, first.curvature
    etas = table["eta"]
    first_order = np.abs(etas * (omega + C))
    in_range = np.abs(table["residual_second_order"]) <= EXPANSION_RANGE * first_order
    columns = {name: table[name].tolist() for name in table.dtype.names or ()}
    return {"label": label, "loss": J, "penalty": omega, "curvature": C, "noise": noise, "n_draws": n_draws,
            "antithetic": True, "seed": seed, "n_examples": int(X.shape[0]), "table": columns,
            "in_expansion_range": in_range.tolist(),
            "slope_textbook": residual_slopes(etas, table["residual_textbook"], table["stderr"], in_range),
            "slope_second_order": residual_slopes(etas, table["residual_second_order"], table["stderr"], in_range),
            "seconds": time.perf_counter() - start}


def equivalence_experiment(dataset: Dataset, *, layer_sizes: Sequence[int], activation: str, etas: Iterable[float],
                           n_draws: int, noise: str, schedule: Schedule, seed: int,
                           progress: bool = True) -> dict[str, Any]:
    """The equivalence table on the training rows, at initialization and after plain training."""
    model = wn.MLP(layer_sizes, activation, seed=seed)
    X, y = dataset.X_train, dataset.y_train
    at_init = measure_equivalence(model, X, y, etas, n_draws=n_draws, noise=noise, seed=seed,
                                  label="at initialization", progress=progress)
    start = time.perf_counter()
    trained, history = train(model, X, y, objective="plain", eta=0.0, noise=noise, schedule=schedule, seed=seed,
                             progress=progress)
    training = {"schedule": schedule.to_dict(), "seconds": time.perf_counter() - start,
                "final_batch_loss": history[-1]["batch_loss"] if history else float("nan")}
    after = measure_equivalence(trained, X, y, etas, n_draws=n_draws, noise=noise, seed=seed,
                                label="after plain training", progress=progress)
    return {"at_initialization": at_init, "after_training": after, "plain_training": training}


def _rms_distance(a: MLP, b: MLP, X: ArrayLike) -> float:
    return float(np.sqrt(np.mean((wn.predict(a, X) - wn.predict(b, X)) ** 2)))


def _final_terms(model: MLP, dataset: Dataset, eta: float, *, n_draws: int, noise: str,
                 seed: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for split, X, y in (("train", dataset.X_train, dataset.y_train), ("test", dataset.X_test, dataset.y_test)):
        estimate = wn.perturbed_loss(model, X, y, eta, n_draws, noise, True, seed)
        out[f"{split}_loss"] = float(wn.loss(model, X, y))
        out[f"{split}_perturbed_loss"] = float(estimate.mean)
        out[f"{split}_perturbed_loss_stderr"] = float(estimate.stderr)
    terms = wn.second_order(model, dataset.X_train, dataset.y_train, eta)
    out.update(eta_penalty=terms.eta_penalty, eta_curvature=terms.eta_curvature)
    return out


def training_experiment(dataset: Dataset, *, layer_sizes: Sequence[int], activation: str, etas: Iterable[float],
                        noise: str, schedule: Schedule, seed: int, n_draws: int, monitor_every: int = 10,
                        progress: bool = True) -> dict[str, Any]:
    """Plain, noise and penalty training from one start, for each η.

    Every objective starts from the same initialization and sees the same
    minibatches (same seed). Per η: the three histories, the final train and
    test J and J̃_η, η·Ω and η·C, and the RMS distance between the learned
    functions on the test inputs.
    """
    start_model = wn.MLP(layer_sizes, activation, seed=seed)
    runs: list[dict[str, Any]] = []
    for eta in etas:
        start = time.perf_counter()
        models: dict[str, MLP] = {}
        histories: dict[str, list[dict[str, Any]]] = {}
        for objective in tqdm(OBJECTIVES, desc=f"train eta={eta:g}", unit="objective", leave=False,
                              disable=not progress):
            models[objective], histories[objective] = train(
                start_model, dataset.X_train, dataset.y_train, objective=objective, eta=eta, noise=noise,
                schedule=schedule, seed=seed, validation=(dataset.X_test, dataset.y_test), monitor_every=monitor_every,
                progress=progress)
        final = {objective: _final_terms(model, dataset, eta, n_draws=n_draws, noise=noise, seed=seed)
                 for objective, model in models.items()}
        X_test = dataset.X_test
        distances = {"noise_penalty": _rms_distance(models["noise"], models["penalty"], X_test),
                     "noise_plain": _rms_distance(models["noise"], models["plain"], X_test),
                     "penalty_plain": _rms_distance(models["penalty"], models["plain"], X_test)}
        runs.append({"eta": float(eta), "final": final, "distances": distances, "history": histories,
                     "seconds": time.perf_counter() - start})
    return {"schedule": schedule.to_dict(), "noise": noise, "n_draws": n_draws, "monitor_every": monitor_every,
            "monitor_draws": MONITOR_DRAWS, "runs": runs}
