"""weightnoise itself, and its NumPy reference module, as contenders."""

from __future__ import annotations

import numpy as np

import weightnoise
from weightnoise import reference

REFERENCE_CHUNK_ELEMENTS = 1 << 21  # the reference forms (examples × n_params) arrays: 16 MiB per chunk


def estimate_of(result) -> tuple[float, float]:
    """(mean, standard error) of a perturbed_loss Estimate."""
    return float(result.mean), float(result.stderr)


def same_stream(problem, n_draws: int, noise: str, eta: float):
    """weightnoise.perturbed_loss against weightnoise.reference.perturbed_loss: one seed, the same streams."""
    from .checks import same_numbers

    def check():
        model = problem.model()
        args = (model, problem.X, problem.y, eta, n_draws)
        options = {"noise": noise, "antithetic": False, "seed": 1}
        return same_numbers([weightnoise.perturbed_loss(*args, **options).draws],
                            [reference.perturbed_loss(*args, **options).draws], problem.dtype,
                            "weightnoise.reference.perturbed_loss, same seed")
    return check


def grad_norms(module, problem):
    model, X = problem.model(), problem.X
    return lambda: module.grad_norms_sq(model, X)


def penalty_and_grad(module, problem):
    """Ω and ∇Ω, timed together."""
    model, X = problem.model(), problem.X
    return lambda: module.penalty_and_grad(model, X)


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
    W6 times the training itself, so it turns that off.
    """
    model, X, y = problem.model(), problem.X, problem.y
    kind, _, noise = objective.partition(" ")
    options = {"eta": eta, "noise": noise} if kind == "noise" else {"eta": eta} if kind == "penalty" else {}

    def run():
        result = module.fit(model.copy(), X, y, objective=kind, optimizer="sgd", lr=lr, epochs=1,
                            batch_size=batch, seed=0, progress=False, monitor=monitor, **options)
        return np.asarray(result.model.params)
    return run
