"""weightnoise itself, and its NumPy reference module, as contenders.

Functions still being written (perturbed_loss, standard_normal, fit) are
looked up when a row is built: a missing one makes the row a skip that says
"weightnoise.<name> not available yet".
"""

from __future__ import annotations

import inspect
import math

import numpy as np

import weightnoise

try:
    from weightnoise import reference
    REFERENCE_ERROR = ""
except Exception as exc:  # noqa: BLE001  (a broken reference is reported, not fatal)
    reference, REFERENCE_ERROR = None, f"weightnoise.reference cannot be imported ({type(exc).__name__}: {exc})"

REFERENCE_CHUNK_ELEMENTS = 1 << 21  # the reference forms (examples × n_params) arrays: 16 MiB per chunk


def missing(name: str, module=weightnoise) -> str:
    """Why a row cannot run, or "" if ``module.name`` exists."""
    if module is None:
        return REFERENCE_ERROR
    if not hasattr(module, name):
        return f"{module.__name__}.{name} not available yet"
    return ""


def estimate_of(result) -> tuple[float, float]:
    """(mean, standard error) from a perturbed_loss result, whatever its exact shape."""
    if isinstance(result, (tuple, list)):
        return float(result[0]), float(result[1]) if len(result) > 1 else math.nan
    if isinstance(result, dict):
        result = type("Result", (), result)
    mean = next(getattr(result, n) for n in ("mean", "value", "estimate", "loss") if hasattr(result, n))
    stderr = next((getattr(result, n) for n in ("stderr", "std_error", "standard_error", "se", "sem")
                   if hasattr(result, n)), math.nan)
    return float(mean), float(stderr)


def estimate_parts(result) -> list[np.ndarray]:
    """What two runs of the same generator must reproduce: the per-draw losses if exposed, else mean and SE."""
    draws = getattr(result, "draws", None)
    if draws is not None:
        return [np.asarray(draws, dtype=np.float64)]
    return [np.asarray(estimate_of(result), dtype=np.float64)]


def same_stream(problem, n_draws: int, noise: str, eta: float):
    """weightnoise.perturbed_loss against weightnoise.reference.perturbed_loss: one seed, the same streams."""
    from .checks import same_numbers

    def check():
        model = problem.model()
        args = (model, problem.X, problem.y, eta, n_draws)
        options = {"noise": noise, "antithetic": False, "seed": 1}
        return same_numbers(estimate_parts(weightnoise.perturbed_loss(*args, **options)),
                            estimate_parts(reference.perturbed_loss(*args, **options)), problem.dtype,
                            "weightnoise.reference.perturbed_loss, same seed")
    return check


def grad_norms(module, problem):
    model, X = problem.model(), problem.X
    return lambda: module.grad_norms_sq(model, X)


def penalty_and_grad(module, problem):
    """Ω and ∇Ω, timed together (one fused pass where the module has it)."""
    model, X = problem.model(), problem.X
    if hasattr(module, "penalty_and_grad"):
        return lambda: module.penalty_and_grad(model, X)
    return lambda: (module.penalty(model, X), module.penalty_grad(model, X))


def reference_chunk(problem) -> int:
    return max(1, min(problem.n_examples, REFERENCE_CHUNK_ELEMENTS // problem.n_params))


def reference_penalty_and_grad(problem):
    """The reference's penalty_grad forms per-example gradients and HVPs, so it runs in chunks of examples."""
    model, X = problem.model(), problem.X
    chunk = reference_chunk(problem)

    def run():
        omega, grad = 0.0, np.zeros(model.n_params, dtype=model.dtype)
        for start in range(0, X.shape[0], chunk):
            part = X[start:start + chunk]
            weight = part.shape[0] / X.shape[0]
            omega += weight * reference.penalty(model, part)
            grad += weight * reference.penalty_grad(model, part)
        return omega, grad
    return run


def perturbed_loss(module, problem, n_draws: int, noise: str, eta: float, seed: int = 0):
    model, X, y = problem.model(), problem.X, problem.y
    return lambda: estimate_of(module.perturbed_loss(model, X, y, eta, n_draws, noise=noise, antithetic=False,
                                                     seed=seed))


def standard_normal(module, n: int, dtype: str):
    return lambda: module.standard_normal((n,), seed=0, dtype=np.dtype(dtype))


def fit(module, problem, objective: str, eta: float, lr: float, batch: int, monitor: bool = False):
    """One epoch of wn.fit with SGD; returns the trained parameters.

    fit evaluates J, η·Ω, η·C and J̃_η after every epoch unless monitor=False;
    W6 times the training itself, so it turns that off where fit has the option.
    """
    model, X, y = problem.model(), problem.X, problem.y
    kind, _, noise = objective.partition(" ")
    options = {"eta": eta, "noise": noise} if kind == "noise" else {"eta": eta} if kind == "penalty" else {}
    if "monitor" in inspect.signature(module.fit).parameters:
        options["monitor"] = monitor

    def run():
        result = module.fit(model.copy(), X, y, objective=kind, optimizer="sgd", lr=lr, epochs=1,
                            batch_size=batch, seed=0, progress=False, **options)
        return np.asarray(result.model.params)
    return run
