"""Training with weight-noise injection, with the explicit penalty, or plainly,
on the same minibatches, in C++.

Objectives:

``plain``
    the loss J;
``penalty``
    J + η·Ω, with the exact gradient ∇J + η·∇Ω (:func:`weightnoise.penalty_grad`);
``noise``
    J̃_η: every presentation perturbs the weights afresh (per minibatch for
    ``noise="shared"``, per example for ``"per_example"`` and ``"local"``),
    and the step follows the exact gradient of the perturbed loss.

Every objective at the same seed sees the same minibatches in the same order.
Random numbers are counter-based, keyed by (seed, epoch, example) or (seed,
step), so a run resumed from a checkpoint repeats the uninterrupted run exactly.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, _core, persistence
from ._typing import Array, FloatArray, StrPath
from .curvature import second_order_terms
from .derivatives import _spec, loss
from .model import MLP
from .noise import NOISE_MODES, perturbed_loss
from .penalty import penalty

OBJECTIVES = ("plain", "penalty", "noise")
OPTIMIZERS = ("sgd", "adam")
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


@dataclass
class OptimizerState:
    """The state of an optimizer between steps.

    Attributes
    ----------
    optimizer : {"sgd", "adam"}
    step : int
        Steps taken so far.
    moments : ndarray of shape (1, n_params) or (2, n_params)
        SGD's velocity, or Adam's first and second moments.
    """

    optimizer: str
    step: int
    moments: FloatArray

    @classmethod
    def create(cls, optimizer: str, model: MLP) -> OptimizerState:
        optimizer = _checks.as_choice(optimizer, "optimizer", OPTIMIZERS)
        model = _checks.check_model(model)
        rows = 1 if optimizer == "sgd" else 2
        return cls(optimizer, 0, np.zeros((rows, model.n_params), dtype=model.dtype))


def _settings(model: MLP, *, objective: str, eta: float, noise: str, optimizer: str, lr: float, momentum: float,
              batch_size: int, seed: int, layers: Collection[int] | None,
              biases: bool) -> tuple[_core.TrainSettings, dict[str, Any]]:
    """Validated settings, as the compiled core's TrainSettings and as a plain dict."""
    objective = _checks.as_choice(objective, "objective", OBJECTIVES)
    noise = _checks.as_choice(noise, "noise", NOISE_MODES)
    optimizer = _checks.as_choice(optimizer, "optimizer", OPTIMIZERS)
    eta = _checks.as_eta(eta, dtype=model.dtype)
    lr = _checks.as_positive(lr, "lr", dtype=model.dtype)
    momentum = _checks.as_fraction(momentum, "momentum")
    batch_size = _checks.as_count(batch_size, "batch_size")
    seed = _checks.as_seed(seed)
    weights, bias_flags = _checks.as_subset(model, layers, biases)
    core = _core.TrainSettings()
    core.objective, core.noise, core.optimizer = (OBJECTIVES.index(objective), NOISE_MODES.index(noise),
                                                  OPTIMIZERS.index(optimizer))
    core.eta, core.lr, core.momentum = eta, lr, momentum
    core.beta1, core.beta2, core.epsilon = ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPSILON
    core.batch_size, core.seed, core.weights, core.biases = batch_size, seed, weights, bias_flags
    plain = dict(objective=objective, eta=eta, noise=noise, optimizer=optimizer, lr=lr, momentum=momentum,
                 batch_size=batch_size, seed=seed, layers=None if layers is None else sorted(
                     {int(l) % model.n_layers for l in layers}), biases=bool(biases))
    return core, plain


def _batch(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None) -> tuple[Array, Array, NDArray[np.int64]]:
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    if ids is None:
        ids = np.arange(X.shape[0])
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise ValueError("ids must be a non-empty 1-D array of row indices")
    if ids.min() < 0 or ids.max() >= X.shape[0]:
        raise ValueError(f"ids must index rows of X (0 … {X.shape[0] - 1})")
    return X, y, np.ascontiguousarray(ids, dtype=np.int64)


def objective_grad(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None = None, *, objective: str = "plain",
                   eta: float = 0.0, noise: str = "local", seed: int = 0, epoch: int = 0, step: int = 0,
                   layers: Collection[int] | None = None, biases: bool = True) -> FloatArray:
    """Gradient of one minibatch's training objective (the mean over the batch).

    Parameters
    ----------
    model : MLP
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)
    ids : ndarray of int, optional
        The batch: rows of X (default all). They also name the examples'
        noise streams: per-example noise of a presentation is keyed by
        (seed, epoch, id); shared noise of a minibatch by (seed, step).
    objective, eta, noise, seed, layers, biases
        As in :func:`fit`.
    epoch, step : int
        The presentation's epoch and the optimizer step.

    Returns
    -------
    ndarray of shape (n_params,)
    """
    return _value_and_grad(model, X, y, ids, objective=objective, eta=eta, noise=noise, seed=seed, epoch=epoch,
                           step=step, layers=layers, biases=biases)[1]


def objective(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None = None, *, objective: str = "plain",
              eta: float = 0.0, noise: str = "local", seed: int = 0, epoch: int = 0, step: int = 0,
              layers: Collection[int] | None = None, biases: bool = True) -> np.floating[Any]:
    """The minibatch objective that :func:`objective_grad` differentiates: J, J + η·Ω,
    or the loss under this presentation's noise."""
    return _value_and_grad(model, X, y, ids, objective=objective, eta=eta, noise=noise, seed=seed, epoch=epoch,
                           step=step, layers=layers, biases=biases)[0]


def _value_and_grad(model: MLP, X: ArrayLike, y: ArrayLike, ids: ArrayLike | None, *, objective: str, eta: float,
                    noise: str, seed: int, epoch: int, step: int, layers: Collection[int] | None,
                    biases: bool) -> tuple[np.floating[Any], FloatArray]:
    model = _checks.check_model(model)
    X, y, ids = _batch(model, X, y, ids)
    core, plain = _settings(model, objective=objective, eta=eta, noise=noise, optimizer="sgd", lr=1.0,
                            momentum=0.0, batch_size=1, seed=seed, layers=layers, biases=biases)
    epoch, step = _checks.as_count(epoch, "epoch", 0), _checks.as_count(step, "step", 0)
    _checks.check_kernel_memory(model, "train", ids.size, "objective_grad")
    grad, loss_sum = _core.objective_grad(*_spec(model), X, y, ids, core, epoch, step)
    value = loss_sum / ids.size
    if plain["objective"] == "penalty":
        value += plain["eta"] * penalty(model, X[ids], layers=layers, biases=biases)
    return model.dtype.type(value), grad


def train_step(model: MLP, X: ArrayLike, y: ArrayLike, state: OptimizerState, ids: ArrayLike | None = None, *,
               objective: str = "plain", eta: float = 0.0, noise: str = "local", lr: float, momentum: float = 0.0,
               seed: int = 0, epoch: int = 0, layers: Collection[int] | None = None,
               biases: bool = True) -> tuple[MLP, OptimizerState, np.floating[Any]]:
    """One optimizer step on the minibatch ``ids``.

    Returns
    -------
    model : MLP
        A new model with the updated parameters.
    state : OptimizerState
        The optimizer's state after the step (``step`` advanced by one; shared
        noise of this step is keyed by the old ``state.step``).
    batch_loss : NumPy scalar of the model's dtype
        Mean squared residual of the batch (perturbed, under noise).

    Raises
    ------
    FitDiverged
        A ValueError, when the update overflows (lr too large for the data).
    """
    model = _checks.check_model(model)
    X, y, ids = _batch(model, X, y, ids)
    if not isinstance(state, OptimizerState):
        raise TypeError("state must be an OptimizerState (OptimizerState.create(optimizer, model))")
    _check_state(model, state)
    core, _ = _settings(model, objective=objective, eta=eta, noise=noise, optimizer=state.optimizer, lr=lr,
                        momentum=momentum, batch_size=1, seed=seed, layers=layers, biases=biases)
    epoch = _checks.as_count(epoch, "epoch", 0)
    _checks.check_kernel_memory(model, "train", ids.size, "train_step")
    params, moments, step, loss_sum = _core.train_step(*_spec(model), X, y, ids, core, epoch, state.step,
                                                       np.ascontiguousarray(state.moments, dtype=model.dtype))
    _check_diverged(model, params, lr)
    # The batch loss as a scalar of the model's dtype, as the reference's NumPy sum gives it.
    return model.with_params(params), OptimizerState(state.optimizer, step, moments), \
        model.dtype.type(loss_sum / ids.size)


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : MLP
        The trained model (a new object; the model passed in is not changed).
    history : list of dict
        One record per finished epoch: ``epoch`` (1-based), ``batch_loss``
        (mean squared residual over the epoch's presentations, perturbed under
        noise), ``time`` (seconds of training), and when monitoring ``loss``
        (train J), ``eta_penalty`` (η·Ω), ``eta_curvature`` (η·C),
        ``perturbed_loss`` and ``perturbed_loss_stderr`` (an estimate of J̃_η),
        ``val_loss``, ``eval_time``.
    state : OptimizerState
    settings : dict
    interrupted : bool
        True when Ctrl-C stopped training (the model is that of the last finished epoch).
    """

    model: MLP
    history: list[dict[str, Any]] = field(default_factory=list)
    state: OptimizerState | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    def curve(self, key: str) -> NDArray[np.float64]:
        """One history entry across epochs, e.g. ``result.curve("loss")`` (NaN where missing)."""
        return np.array([record.get(key, np.nan) for record in self.history], dtype=float)


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`; ``.result`` holds the model of the last finished epoch."""

    def __init__(self, result: FitResult) -> None:
        super().__init__(f"training interrupted after {len(result.history)} finished epochs; "
                         "the exception's .result holds that model and its history")
        self.result = result


class FitDiverged(ValueError):
    """Training overflowed: an update left the parameters NaN or infinite.

    Raised by :func:`train_step` and :func:`fit`; from ``fit``, ``.result``
    holds the epochs finished before the one that diverged.
    """

    result: FitResult | None = None


def _check_diverged(model: MLP, params: FloatArray, lr: float) -> None:
    if not np.all(np.isfinite(params)):
        raise FitDiverged(f"training diverged: an update overflowed {model.dtype} (NaN or Inf parameters); "
                          f"lower lr (now {lr:g}) or scale X and y")


def _check_state(model: MLP, state: OptimizerState) -> None:
    _checks.as_choice(state.optimizer, "state.optimizer", OPTIMIZERS)
    _checks.as_count(state.step, "state.step", 0)
    moments = np.asarray(state.moments)
    rows = 1 if state.optimizer == "sgd" else 2
    if moments.shape != (rows, model.n_params):
        raise ValueError(f"state.moments must have shape ({rows}, {model.n_params}) for {state.optimizer}, "
                         f"got {moments.shape}")
    if moments.dtype.kind != "f" or not np.all(np.isfinite(moments)):
        raise ValueError("state.moments must be finite floating-point numbers")


def _check_fit_memory(model: MLP, n_examples: int, settings: dict[str, Any], monitor: bool, eval_draws: int) -> None:
    """The largest working memory of one fit: a minibatch step, or the monitored J, η·Ω, η·C and J̃_η."""
    _checks.check_kernel_memory(model, "train", min(settings["batch_size"], n_examples), "fit")
    if monitor:
        _checks.check_kernel_memory(model, "hessian_trace_exact", n_examples, "fit (monitoring η·C)")
        if settings["eta"] > 0 and eval_draws > 0:
            _checks.check_kernel_memory(model, "perturbed_loss", n_examples, "fit (monitoring J̃_η)",
                                        n_draws=eval_draws, noise=settings["noise"])


def _fingerprint(*arrays: Array) -> str:
    """A SHA-256 of the arrays' shapes and bytes (C order): the identity of a checkpoint's data or starting model."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _monitor(model: MLP, X: Array, y: Array, validation: tuple[Array, Array] | None, eta: float, noise: str,
             eval_draws: int, seed: int, layers: Collection[int] | None, biases: bool) -> dict[str, float]:
    start = time.perf_counter()
    J, omega, C = (float(term) for term in second_order_terms(model, X, y, layers=layers, biases=biases))
    record = dict(loss=J, eta_penalty=eta * omega, eta_curvature=eta * C)
    if eta > 0 and eval_draws > 0:
        estimate = perturbed_loss(model, X, y, eta, eval_draws, noise, True, seed, layers=layers, biases=biases)
        record.update(perturbed_loss=float(estimate.mean), perturbed_loss_stderr=float(estimate.stderr))
    else:
        record.update(perturbed_loss=J, perturbed_loss_stderr=0.0)
    if validation is not None:
        record["val_loss"] = float(loss(model, *validation))
    record["eval_time"] = time.perf_counter() - start
    return record


def fit(model: MLP, X: ArrayLike, y: ArrayLike, *, objective: str = "plain", eta: float = 0.0, noise: str = "local",
        optimizer: str = "sgd", lr: float, momentum: float = 0.0, epochs: int, batch_size: int, seed: int = 0,
        validation: tuple[ArrayLike, ArrayLike] | None = None,
        callback: Callable[[dict[str, Any], MLP], bool | None] | None = None, progress: bool = True,
        monitor: bool = True, monitor_every: int = 1, eval_draws: int = 8, checkpoint: StrPath | None = None,
        resume: bool = False, layers: Collection[int] | None = None, biases: bool = True) -> FitResult:
    """Train a copy of ``model`` by minibatch SGD or Adam on one objective.

    Parameters
    ----------
    model : MLP
        The starting point (not modified).
    X : ndarray of shape (n_examples, n_in)
    y : ndarray of shape (n_examples,)
    objective : {"plain", "penalty", "noise"}
    eta : float
        Noise variance η: of the injected noise, of the penalty's weight, and
        of the monitored J̃_η, η·Ω and η·C (also for ``plain``).
    noise : {"local", "per_example", "shared"}
        How the ``noise`` objective perturbs (and how J̃_η is monitored).
    optimizer : {"sgd", "adam"}
    lr : float
        Learning rate.
    momentum : float
        SGD momentum in [0, 1).
    epochs : int
        Total epochs (a resumed run continues up to this count; fewer than the
        checkpoint already holds raise a ValueError).
    batch_size : int
    seed : int
        Seed of the minibatch order and of the noise.
    validation : (X_val, y_val), optional
        Monitored held-out data.
    callback : callable, optional
        ``callback(record, model)`` after every epoch; returning True stops
        training. A Ctrl-C between the end of an epoch and its callback
        leaves that epoch finished (in the result and the checkpoint) without
        its callback.
    progress : bool
        Show a progress bar over epochs.
    monitor : bool
        Evaluate J, η·Ω, η·C, J̃_η (and the validation loss) after epochs. Each
        evaluation passes over all of ``X`` (with η > 0, also ``eval_draws``
        antithetic pairs for J̃_η) and may cost more than the epoch itself.
    monitor_every : int
        Monitor after every epoch whose number (from 1, counting the epochs
        before a resume) is a multiple of this, and after the last; the other
        records lack the monitored keys (``FitResult.curve`` gives NaN there).
    eval_draws : int
        Draws of the monitored J̃_η estimate (antithetic; 0 skips it).
    checkpoint : path, optional
        Write a checkpoint (atomically) after every epoch; a str, bytes or path
        object. A folder, or a file in a folder that does not exist, raises
        before the first epoch.
    resume : bool
        Continue from ``checkpoint`` if it exists; the run then equals the
        uninterrupted one exactly. The checkpoint's architecture, settings
        (the optimizer included), data and starting model (its parameters,
        by a SHA-256 fingerprint) must be this call's, and ``epochs`` at least
        its finished epochs. Otherwise, or if the file is damaged, a ValueError
        names the file and what is wrong; so does a checkpoint from before
        weightnoise stored the starting model's fingerprint.
    layers, biases
        The parameters that carry noise (and that Ω and C range over).

    Returns
    -------
    FitResult

    Raises
    ------
    FitInterrupted
        On Ctrl-C (a KeyboardInterrupt); ``.result`` holds the model of the
        last finished epoch, and the checkpoint (if any) is intact.
    FitDiverged
        A ValueError, when an epoch's updates overflow (lr too large for the
        data); ``.result`` holds the epochs finished before it.
    """
    model = _checks.check_model(model)
    X = _checks.as_inputs(model, X)
    y = _checks.as_example_vector(model, y, X.shape[0], "y")
    core, settings = _settings(model, objective=objective, eta=eta, noise=noise, optimizer=optimizer, lr=lr,
                               momentum=momentum, batch_size=batch_size, seed=seed, layers=layers, biases=biases)
    epochs = _checks.as_count(epochs, "epochs", 0)
    eval_draws = _checks.as_count(eval_draws, "eval_draws", 0)
    monitor_every = _checks.as_count(monitor_every, "monitor_every")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (X_val, y_val)")
        X_val = _checks.as_inputs(model, validation[0], "X_val")
        validation = (X_val, _checks.as_example_vector(model, validation[1], X_val.shape[0], "y_val"))
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path")
    if checkpoint is not None:
        persistence.check_writable(checkpoint, "checkpoint")
        checkpoint = Path(os.fsdecode(checkpoint))  # one form for bytes, str and path objects
    _check_fit_memory(model, X.shape[0], settings, monitor, eval_draws)
    fingerprint = _fingerprint(X, y) if checkpoint is not None else ""
    # A resume from another starting model would silently continue a different run (its dtype is checked apart).
    start_fingerprint = _fingerprint(model.params) if checkpoint is not None else ""

    result = FitResult(model.copy(), [], OptimizerState.create(settings["optimizer"], model), settings)
    if resume and checkpoint is not None and checkpoint.exists():
        _restore(result, checkpoint, fingerprint, start_fingerprint, epochs)

    bar = _progress_bar(progress, epochs, len(result.history), settings["objective"])
    try:
        for epoch in range(len(result.history), epochs):
            start = time.perf_counter()
            assert result.state is not None  # a new state, or the checkpoint's
            params, moments, step, batch_loss = _core.train_epoch(
                *_spec(result.model), X, y, core, epoch, result.state.step, result.state.moments)
            try:
                _check_diverged(result.model, params, settings["lr"])
            except FitDiverged as exc:
                exc.result = result
                raise
            trained, state = result.model.with_params(params), OptimizerState(settings["optimizer"], step, moments)
            record = dict(epoch=epoch + 1, batch_loss=batch_loss, time=time.perf_counter() - start)
            if monitor and ((epoch + 1) % monitor_every == 0 or epoch + 1 == epochs):
                record.update(_monitor(trained, X, y, validation, settings["eta"], settings["noise"],
                                       eval_draws, settings["seed"], layers, biases))
            # The epoch is finished only now: a Ctrl-C before this line leaves result at the previous epoch.
            result.model, result.state = trained, state
            result.history.append(record)
            if checkpoint is not None:  # atomic: a Ctrl-C here leaves the previous checkpoint intact
                persistence.write_checkpoint(checkpoint, result.model, epoch=epoch + 1,
                                             optimizer=result.state.optimizer, step=result.state.step,
                                             moments=result.state.moments, settings=settings,
                                             history=result.history, fingerprint=fingerprint,
                                             start_fingerprint=start_fingerprint)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{record.get('loss', batch_loss):.4g}")
            if callback is not None and callback(record, result.model):
                break
    except KeyboardInterrupt:
        result.interrupted = True
        raise FitInterrupted(result) from None
    finally:
        if bar is not None:
            bar.close()
    return result


def _restore(result: FitResult, checkpoint: Path, fingerprint: str, start_fingerprint: str, epochs: int) -> None:
    saved = persistence.read_checkpoint(checkpoint)
    model = saved["model"]
    if (model.layer_sizes, model.activation, model.dtype) != (result.model.layer_sizes, result.model.activation,
                                                               result.model.dtype):
        raise ValueError(f"checkpoint {checkpoint} holds a {model}, not a {result.model}")
    if saved["settings"] != result.settings:
        changed = {k: (saved["settings"].get(k), v) for k, v in result.settings.items()
                   if saved["settings"].get(k) != v}
        raise ValueError(f"checkpoint {checkpoint} was written with other settings (saved, now): {changed}")
    if saved["optimizer"] != result.settings["optimizer"]:
        raise ValueError(f"checkpoint {checkpoint} holds the state of optimizer {saved['optimizer']!r}, "
                         f"but this fit uses {result.settings['optimizer']!r}")
    state = OptimizerState(saved["optimizer"], saved["step"], saved["moments"])
    try:
        _check_state(model, state)
    except ValueError as exc:
        raise ValueError(f"checkpoint {checkpoint} is damaged: {exc}") from None
    if saved["fingerprint"] != fingerprint:
        raise ValueError(f"checkpoint {checkpoint} was written for other training data")
    if saved["start_fingerprint"] != start_fingerprint:
        raise ValueError(f"checkpoint {checkpoint} was started from another model (same architecture, other "
                         "parameters); pass the run's starting model, or resume=False to start afresh")
    if saved["epoch"] > epochs:  # epochs is the total: a shorter run than the saved one is not a resume
        raise ValueError(f"checkpoint {checkpoint} already holds {saved['epoch']} epochs, more than "
                         f"epochs={epochs}")
    result.model, result.state, result.history = model, state, saved["history"]


def _progress_bar(progress: bool, epochs: int, done: int, objective: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, initial=done, desc=f"fit {objective}", unit="epoch", leave=False)
