"""Training: one step against the reference, the gradients of each objective,
the equivalence of noise and penalty training at small η, determinism, resume,
interrupts."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import weightnoise as wn
import weightnoise.reference as ref

from conftest import make_problem, relative_error

OBJECTIVES = [("plain", "local"), ("penalty", "local"), ("noise", "shared"), ("noise", "per_example"),
              ("noise", "local")]
IDS = np.array([5, 17, 3, 200, 150, 9, 77, 120, 64])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("objective, noise", OBJECTIVES)
def test_one_step_matches_the_reference(objective, noise, optimizer, dtype):
    model, X, y = make_problem((3, 6, 5, 1), "tanh", dtype, n_examples=300)
    state = wn.OptimizerState.create(optimizer, model)
    state.moments[:] = 0.01
    state.step = 3
    for subset in (dict(), dict(layers=[1], biases=False)):
        kw = dict(objective=objective, eta=0.05, noise=noise, lr=0.1, momentum=0.5, seed=2, epoch=1, **subset)
        m1, s1, loss1 = wn.train_step(model, X, y, state, IDS, **kw)
        m2, s2, loss2 = ref.train_step(model, X, y, state, IDS, **kw)
        tol = 1e-10 if dtype == np.float64 else 1e-5
        assert relative_error(m1.params, m2.params) <= tol
        assert relative_error(s1.moments, s2.moments) <= tol
        assert loss1 == pytest.approx(loss2, rel=tol) and s1.step == s2.step == 4
        assert m1.params.dtype == s1.moments.dtype == dtype
        assert type(loss1) is type(loss2) is dtype


@pytest.mark.parametrize("objective, noise", OBJECTIVES)
def test_objective_grad_over_several_chunks_matches_the_reference(objective, noise):
    """A batch of 8192 rows is 128 of the core's chunks, which it sums in pairs:
    the first of a pair writes its partial gradient, the second adds to it (and
    the penalty fuses its vjp into that sum)."""
    model, X, y = make_problem((3, 16, 9, 1), "tanh", np.float64, n_examples=8192)
    for subset in (dict(), dict(layers=[1, 2], biases=False)):
        kw = dict(objective=objective, eta=0.05, noise=noise, seed=4, epoch=1, step=2, **subset)
        assert relative_error(wn.objective_grad(model, X, y, **kw), ref.objective_grad(model, X, y, **kw)) <= 1e-10


@pytest.mark.parametrize("objective, noise", OBJECTIVES)
@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_objective_grad_is_the_derivative_of_the_objective(objective, noise, activation):
    """For one presentation (fixed noise), the gradient equals a 4th-order central
    difference of the objective value: this checks the backward pass through the
    noise, e.g. the dependence of the local noise scale on the activations."""
    model, X, y = make_problem((3, 5, 4, 1), activation, n_examples=40)
    v = np.random.default_rng(3).standard_normal(model.n_params)
    for subset in (dict(), dict(layers=[0, 1], biases=False)):
        kw = dict(objective=objective, eta=0.05, noise=noise, seed=1, epoch=2, step=5, **subset)

        def f(t, kw=kw):
            return wn.objective(model.with_params(model.params + t * v), X, y, **kw)

        h = 1e-3
        fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
        assert wn.objective_grad(model, X, y, **kw) @ v == pytest.approx(fd, rel=1e-7, abs=1e-9)
        assert wn.objective(model, X, y, **kw) == pytest.approx(ref.objective(model, X, y, **kw), rel=1e-12)


@pytest.mark.parametrize("noise", wn.NOISE_MODES)
def test_noise_gradients_are_unbiased_for_the_gradient_of_the_perturbed_loss(noise):
    """The mean of R presentation gradients, projected on random directions v, against
    a high-precision v·∇J̃_η: the central difference of a common-random-number estimate
    of J̃_η with K local-noise draws, whose per-draw differences give its standard error.
    Tolerance: 4 combined standard errors."""
    model, X, y = make_problem((3, 6, 1), "tanh", n_examples=30)
    eta, R, K, h = 0.05, 3000, 40000, 1e-3
    directions = np.random.default_rng(7).standard_normal((3, model.n_params))
    kw = dict(objective="noise", eta=eta, noise=noise, seed=11)
    grads = np.array([wn.objective_grad(model, X, y, epoch=r, step=r, **kw) for r in range(R)]) @ directions.T
    for j, v in enumerate(directions):
        plus = wn.perturbed_loss(model.with_params(model.params + h * v), X, y, eta, K, "local", seed=5).draws
        minus = wn.perturbed_loss(model.with_params(model.params - h * v), X, y, eta, K, "local", seed=5).draws
        per_draw = (plus - minus) / (2 * h)
        expected, se_expected = per_draw.mean(), per_draw.std(ddof=1) / np.sqrt(K)
        mean, se_mean = grads[:, j].mean(), grads[:, j].std(ddof=1) / np.sqrt(R)
        assert abs(mean - expected) < 4 * np.hypot(se_mean, se_expected), (j, mean, expected, se_mean, se_expected)


@pytest.mark.parametrize("n", [1, 2, 3, 31, 1000, 4097, 200_003])
def test_epoch_order_is_the_stable_argsort_of_the_epoch_uniforms(n):
    # The core buckets the keys by their leading bits before sorting inside buckets.
    for seed, epoch in [(0, 0), (3, 2), (2**64 - 1, 7)]:
        assert np.array_equal(wn._core.epoch_order(seed, epoch, n), ref.epoch_order(seed, epoch, n))


def test_every_objective_sees_the_same_minibatches_in_the_same_order():
    order = wn._core.epoch_order(3, 2, 1000)
    assert np.array_equal(np.sort(order), np.arange(1000))
    assert np.array_equal(order, ref.epoch_order(3, 2, 1000))
    assert not np.array_equal(order, wn._core.epoch_order(3, 1, 1000))
    # fit's epoch is the sequence of train_steps over that order, for every objective.
    model, X, y = make_problem((3, 5, 1), "tanh", n_examples=100)
    for objective, noise in OBJECTIVES:
        kw = dict(objective=objective, eta=0.01, noise=noise, lr=0.05, momentum=0.9, seed=3)
        result = wn.fit(model, X, y, epochs=1, batch_size=32, progress=False, monitor=False, **kw)
        stepped, state = model, wn.OptimizerState.create("sgd", model)
        order = wn._core.epoch_order(3, 0, 100)
        for begin in range(0, 100, 32):
            stepped, state, _ = wn.train_step(stepped, X, y, state, order[begin:begin + 32], epoch=0, **kw)
        assert np.array_equal(result.model.params, stepped.params), objective


def _train_two_phase(model, X, y, objective, eta, seed):
    """Full-batch SGD with momentum, then a tenth of the learning rate: the small
    second-phase steps shrink the fluctuation that injected noise leaves in the iterate."""
    kw = dict(objective=objective, eta=eta, noise="local", momentum=0.9, batch_size=len(y), progress=False,
              monitor=False)
    first = wn.fit(model, X, y, lr=0.05, epochs=800, seed=seed, **kw).model
    return wn.fit(first, X, y, lr=0.005, epochs=800, seed=seed + 100, **kw).model


def test_noise_and_penalty_training_agree_at_small_eta_and_separate_at_large_eta():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (200, 2))
    y = np.sin(2 * X[:, 0]) * np.cos(X[:, 1]) + 0.3 * rng.standard_normal(200)
    held_out = rng.uniform(-2, 2, (2000, 2))
    model = wn.MLP((2, 32, 32, 1), "tanh", seed=0)

    def distance(a, b):
        return float(np.sqrt(np.mean((wn.predict(a, held_out) - wn.predict(b, held_out)) ** 2)))

    trained = {}
    for eta in (1e-4, 1.0):
        trained[eta] = {objective: _train_two_phase(model, X, y, objective, eta, seed=0)
                        for objective in ("plain", "penalty", "noise")}
    small = trained[1e-4]
    d_np, d_n_plain, d_p_plain = (distance(small["noise"], small["penalty"]),
                                  distance(small["noise"], small["plain"]), distance(small["penalty"], small["plain"]))
    report = f"eta=1e-4: noise-penalty {d_np:.4f}, noise-plain {d_n_plain:.4f}, penalty-plain {d_p_plain:.4f}"
    assert d_np < min(d_n_plain, d_p_plain), report
    large = trained[1.0]
    d_np_large = distance(large["noise"], large["penalty"])
    report += f"; eta=1: noise-penalty {d_np_large:.4f}"
    # At η = 1 the O(η²) terms matter: the two solutions part by far more than the
    # small-η agreement between them.
    assert d_np_large > 10 * d_np, report


def test_penalty_training_lowers_the_penalty():
    model, X, y = make_problem((3, 16, 1), "tanh", n_examples=200)
    kw = dict(eta=0.01, lr=0.05, momentum=0.9, epochs=30, batch_size=32, progress=False, monitor=False)
    plain = wn.fit(model, X, y, objective="plain", **kw).model
    penalized = wn.fit(model, X, y, objective="penalty", **kw).model
    assert wn.penalty(penalized, X) < 0.8 * wn.penalty(plain, X)


@pytest.mark.parametrize("objective, noise", OBJECTIVES)
def test_training_is_deterministic_and_thread_count_independent(objective, noise):
    model, X, y = make_problem((4, 9, 6, 1), "tanh", n_examples=700)
    kw = dict(objective=objective, eta=0.01, noise=noise, optimizer="adam", lr=0.01, epochs=2, batch_size=128,
              progress=False)
    with wn.num_threads(1):
        one = wn.fit(model, X, y, **kw)
    with wn.num_threads(2):
        two = wn.fit(model, X, y, **kw)
    again = wn.fit(model, X, y, **kw)
    assert one.model.params.tobytes() == two.model.params.tobytes() == again.model.params.tobytes()
    assert [r["loss"] for r in one.history] == [r["loss"] for r in two.history]


def test_fit_history_has_every_term_and_the_input_model_is_untouched():
    model, X, y = make_problem((3, 8, 1), "tanh", n_examples=200)
    before = model.params.copy()
    calls = []
    result = wn.fit(model, X, y, objective="noise", eta=0.01, lr=0.05, epochs=3, batch_size=50, progress=False,
                    validation=(X[:50], y[:50]), callback=lambda record, m: calls.append(record["epoch"]))
    assert np.array_equal(model.params, before)
    assert calls == [1, 2, 3] and len(result.history) == 3
    record = result.history[-1]
    for key in ("epoch", "batch_loss", "time", "loss", "val_loss", "perturbed_loss", "perturbed_loss_stderr",
                "eta_penalty", "eta_curvature", "eval_time"):
        assert np.isfinite(record[key]), key
    assert record["loss"] == pytest.approx(wn.loss(result.model, X, y))
    assert record["eta_penalty"] == pytest.approx(0.01 * wn.penalty(result.model, X))
    assert result.curve("loss").shape == (3,)
    stopped = wn.fit(model, X, y, lr=0.05, epochs=5, batch_size=50, progress=False, callback=lambda r, m: True)
    assert len(stopped.history) == 1


def test_fit_monitors_every_so_many_epochs_and_the_last():
    model, X, y = make_problem((3, 8, 1), "tanh", n_examples=200)
    kw = dict(objective="penalty", eta=0.01, lr=0.05, epochs=7, batch_size=50, progress=False)
    every = wn.fit(model, X, y, **kw)
    some = wn.fit(model, X, y, monitor_every=3, **kw)
    assert [r["epoch"] for r in some.history if "loss" in r] == [3, 6, 7]
    assert some.model.params.tobytes() == every.model.params.tobytes()
    for record, full in zip(some.history, every.history):
        assert all(record[key] == full[key] for key in record if key not in ("time", "eval_time")), record
    assert np.isnan(some.curve("loss")[0]) and some.curve("loss")[2] == every.curve("loss")[2]


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path):
    model, X, y = make_problem((3, 8, 1), "tanh", n_examples=300)
    kw = dict(objective="noise", eta=0.02, noise="per_example", optimizer="adam", lr=0.01, batch_size=64,
              progress=False)
    full = wn.fit(model, X, y, epochs=4, **kw)
    path = tmp_path / "run.ckpt"
    wn.fit(model, X, y, epochs=2, checkpoint=path, **kw)
    resumed = wn.fit(model, X, y, epochs=4, checkpoint=path, resume=True, **kw)
    assert resumed.model.params.tobytes() == full.model.params.tobytes()
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    assert resumed.state.step == full.state.step
    with pytest.raises(ValueError, match="other settings"):
        wn.fit(model, X, y, epochs=5, checkpoint=path, resume=True, **dict(kw, lr=0.02))
    with pytest.raises(ValueError, match="other training data"):
        wn.fit(model, X[:-1], y[:-1], epochs=5, checkpoint=path, resume=True, **kw)
    with pytest.raises(ValueError, match="holds a MLP"):
        wn.fit(wn.MLP((3, 4, 1)), X, y, epochs=5, checkpoint=path, resume=True, **kw)


def _interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_a_long_fit_within_a_second_and_keeps_the_last_epoch(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20000, 8)), rng.standard_normal(20000)
    model = wn.MLP((8, 64, 64, 1), "tanh")
    path = tmp_path / "long.ckpt"
    finished = []
    timer = _interrupt_after(1.5)
    start = time.perf_counter()
    with pytest.raises(wn.FitInterrupted) as info:
        wn.fit(model, X, y, objective="noise", noise="per_example", eta=0.01, lr=1e-3, epochs=10_000, batch_size=32,
               progress=False, monitor=False, checkpoint=path, callback=lambda r, m: finished.append(m))
    elapsed = time.perf_counter() - start
    timer.join()
    assert isinstance(info.value, KeyboardInterrupt)
    assert elapsed < 1.5 + 1.0, elapsed
    result = info.value.result
    assert result.interrupted
    # Callbacks ran for every finished epoch but perhaps the last: Ctrl-C may land between an epoch's end
    # and its callback. The checkpoint holds the last finished epoch or, cut short while writing, the one before.
    assert len(result.history) - len(finished) in (0, 1)
    if len(finished) == len(result.history):
        expected = finished[-1].params if finished else model.params
        assert np.array_equal(result.model.params, expected)
    before = finished[-1].params if finished else None
    if path.exists():
        saved = wn.load(path).params
        assert np.array_equal(saved, result.model.params) or (before is not None and np.array_equal(saved, before))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(objective="dropout"), ValueError, "unknown objective"),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer"),
    (dict(lr=0.0), ValueError, "lr must be finite and positive"),
    (dict(lr=float("nan")), ValueError, "lr must be finite"),
    (dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
    (dict(batch_size=0), ValueError, "batch_size must be at least 1"),
    (dict(epochs=-1), ValueError, "epochs must be at least 0"),
    (dict(eta=-0.1), ValueError, "eta must be finite and non-negative"),
    (dict(validation=np.zeros((3, 3))), TypeError, "validation must be a pair"),
    (dict(callback=3), TypeError, "callback must be callable"),
    (dict(resume=True), ValueError, "needs a checkpoint"),
    (dict(monitor_every=0), ValueError, "monitor_every must be at least 1"),
    (dict(monitor_every=1.5), TypeError, "monitor_every must be an integer"),
])
def test_bad_fit_arguments_raise(kwargs, error, words):
    model, X, y = make_problem((3, 4, 1), n_examples=20)
    arguments = dict(lr=0.1, epochs=1, batch_size=8, progress=False)
    arguments.update(kwargs)
    with pytest.raises(error, match=words):
        wn.fit(model, X, y, **arguments)
