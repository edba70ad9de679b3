"""W6: one epoch of minibatch SGD, batch 256, Arch A, for each objective (weightnoise.fit against loops).

The scalable axis is the number of minibatches: a run on u minibatches is
an epoch over the first u·B examples. Checks, on n_check examples:
  NumPy loop     its update (θ₀ − θ₁)/lr on one full batch against weightnoise (loss_grad, penalty_grad,
                 loss_grad at θ + √η ε, per example for literal noise) or, for local noise, against a
                 central difference of its own loss along a random direction;
  PyTorch loop   its displacement after several steps, with the same fixed noise, against the NumPy loop's;
  weightnoise    its one full-batch step against the NumPy update (plain, penalty); for noise, with
                 η = 1e-12, against the plain step (this checks the wiring, not the noise itself).
"""

from __future__ import annotations

import math

import numpy as np

import weightnoise

from .. import flops, weightnoise_rows
from ..checks import Check, relative_error, same_numbers
from ..contenders import Case, Contender
from ..peers import numpy_noise, numpy_sgd
from ..problems import ETA, LEARNING_RATE, make_problem
from .common import library_rows

CHECK_STEPS = 4


def _fixed_noise(objective, sizes, batch, n_steps, seed=11):
    source = numpy_sgd.noise_source(objective, sizes, batch, np.float64, seed)
    if source is None:
        return None
    noises = [source(step) for step in range(n_steps)]
    noises = [n.copy() if isinstance(n, np.ndarray) else n for n in noises]  # the per-example source reuses a buffer
    return noises


def _numpy_gradient_truth(objective, c, noise):
    """The full-batch gradient of the objective on the check problem, from weightnoise where it has a twin."""
    model = c.model()
    kind = objective.split()[-1]
    if objective == "plain":
        return weightnoise.loss_grad(model, c.X, c.y), "weightnoise.loss_grad"
    if objective == "penalty":
        return (weightnoise.loss_grad(model, c.X, c.y) + ETA * weightnoise.penalty_grad(model, c.X),
                "weightnoise.loss_grad + η penalty_grad")
    if kind == "shared":
        return (weightnoise.loss_grad(model.with_params(c.params + math.sqrt(ETA) * noise), c.X, c.y),
                "weightnoise.loss_grad at θ + √η ε")
    if kind == "per_example":
        grads = [weightnoise.loss_grad(model.with_params(c.params + math.sqrt(ETA) * noise[n]), c.X[n:n + 1],
                                       c.y[n:n + 1]) for n in range(c.n_examples)]
        return np.mean(grads, axis=0), "weightnoise.loss_grad at θ + √η ε_n, example by example"
    return None, "central difference of the NumPy local-noise loss"


def _check_numpy(objective, c) -> Check:
    noise = _fixed_noise(objective, c.sizes, c.n_examples, 1)
    step = numpy_sgd.sgd_epoch(c, objective, ETA, LEARNING_RATE, c.n_examples, 1, np.arange(c.n_examples),
                               None if noise is None else (lambda s: noise[s]))
    update = (c.params - step) / LEARNING_RATE
    truth, against = _numpy_gradient_truth(objective, c, None if noise is None else noise[0])
    if truth is not None:
        return same_numbers(update, truth, "float64", against)
    direction = np.random.default_rng(5).standard_normal(c.n_params)
    h = 1e-5

    def loss(theta):
        return float(np.mean(numpy_noise.local_sq_residuals(c.sizes, theta, c.X, c.y, ETA, noise[0])))
    slope = (loss(c.params + h * direction) - loss(c.params - h * direction)) / (2 * h)
    err = abs(update @ direction - slope) / abs(slope)
    return Check(err <= 1e-6, f"rel. err {err:.1e} vs {against} (tol 1e-06)")


def _displacement(theta, c):
    return theta - c.params


def contenders(objective, problem, check_problem, batch) -> list[Contender]:
    c = check_problem

    def numpy_run(units):
        p = problem.head(units * batch)
        order = numpy_sgd.batch_order(p.n_examples)
        return lambda: numpy_sgd.sgd_epoch(p, objective, ETA, LEARNING_RATE, batch, units, order,
                                           numpy_sgd.noise_source(objective, p.sizes, batch, p.params.dtype))
    rows = [Contender("NumPy loop, hand-written gradients", "numpy", build=numpy_run,
                      check=lambda: _check_numpy(objective, c))]

    def check_fit() -> Check:
        if objective in ("plain", "penalty"):
            theta = weightnoise_rows.fit(weightnoise, c, objective, ETA, LEARNING_RATE, c.n_examples)()
            expected = numpy_sgd.sgd_epoch(c, objective, ETA, LEARNING_RATE, c.n_examples, 1,
                                           np.arange(c.n_examples))
            return same_numbers(_displacement(theta, c), _displacement(expected, c), "float64",
                                "one full-batch NumPy step")
        tiny = 1e-12
        theta = weightnoise_rows.fit(weightnoise, c, objective, tiny, LEARNING_RATE, c.n_examples)()
        expected = numpy_sgd.sgd_epoch(c, "plain", 0.0, LEARNING_RATE, c.n_examples, 1, np.arange(c.n_examples))
        err = relative_error(_displacement(theta, c), _displacement(expected, c))
        return Check(err <= 1e-4, f"rel. err {err:.1e} vs the plain step at η = {tiny:g} (tol 1e-04)")

    rows.append(Contender("weightnoise.fit", "weightnoise", check=check_fit, note="monitor=False",
                          build=lambda units: weightnoise_rows.fit(weightnoise, problem.head(units * batch),
                                                                   objective, ETA, LEARNING_RATE, batch)))
    if objective == "plain":
        # What a user gets by default: the end-of-epoch evaluation of J, η·Ω, η·C and J̃_η included.
        rows.append(Contender("weightnoise.fit, monitor=True (default)", "weightnoise", check=check_fit,
                              baseline=False,
                              build=lambda units: weightnoise_rows.fit(weightnoise, problem.head(units * batch),
                                                                       objective, ETA, LEARNING_RATE, batch,
                                                                       monitor=True)))

    impl = {"noise per_example": "PyTorch loop, literal noise (bmm)", "noise local": "PyTorch loop, local noise",
            "noise shared": "PyTorch loop, shared noise"}.get(objective, "PyTorch loop (autograd)")
    if objective == "penalty":
        impl = "PyTorch loop, double backprop"

    def torch_rows():
        from ..peers import torch_sgd
        check_batch = max(1, c.n_examples // CHECK_STEPS)

        def check() -> Check:
            noise = _fixed_noise(objective, c.sizes, check_batch, CHECK_STEPS)
            order = numpy_sgd.batch_order(c.n_examples, seed=3)
            expected = numpy_sgd.sgd_epoch(c, objective, ETA, LEARNING_RATE, check_batch, CHECK_STEPS, order,
                                           None if noise is None else (lambda s: noise[s]))
            theta = torch_sgd.sgd_epoch(c, objective, ETA, LEARNING_RATE, check_batch, CHECK_STEPS, order,
                                        None if noise is None else torch_sgd.fixed_noise_source(noise))()
            return same_numbers(_displacement(theta, c), _displacement(expected, c), "float64",
                                f"the NumPy loop, {CHECK_STEPS} steps with the same noise")

        def build(units):
            p = problem.head(units * batch)
            import torch
            order = numpy_sgd.batch_order(p.n_examples)
            source = torch_sgd.torch_noise_source(objective, p.sizes, batch, torch.float64)
            return torch_sgd.sgd_epoch(p, objective, ETA, LEARNING_RATE, batch, units, order, source)
        return [Contender(impl, "torch", build=build, check=check, note="torch.optim.SGD")]

    return rows + library_rows("torch", [impl], torch_rows)


def cases(sizes) -> list[Case]:
    n, B, arch = sizes.n_a, sizes.batch, sizes.arch_a
    n_batches = n // B
    shared = {}

    def rows(objective):
        if not shared:
            shared["problem"] = make_problem(arch, n)
        problem = shared["problem"]
        return contenders(objective, problem, problem.head(min(n, sizes.n_check)), B)
    objective_work = {"penalty": "penalty"}
    return [Case("W6", objective, f"layers {list(arch)}, N = {n:,}, batch {B}, η = {ETA:g}, lr = {LEARNING_RATE:g}",
                 "minibatches", n_batches, min(n_batches, 2),
                 flops.sgd_epoch(arch, n_batches * B, objective_work.get(objective, "plain")),
                 lambda objective=objective: rows(objective), has_targets=True)
            for objective in numpy_sgd.OBJECTIVES]
