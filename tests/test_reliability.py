"""Reliability: no leaks, thread safety and the GIL, Ctrl-C, memory bounds,
numerical robustness at extreme pre-activations, and regression tests for the
validation holes that fuzzing found (tests/test_fuzz.py holds the fuzzing).

docs/reliability.md tabulates what these tests try and what they found.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import weightnoise as wn
import weightnoise._checks as checks
import weightnoise.reference as ref

from conftest import make_problem, relative_error

LINUX = sys.platform.startswith("linux")


# --- helpers -------------------------------------------------------------------------------------------------


def _rss_bytes() -> int:
    """Resident set size of this process (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _scaled(make_call, n0: int, seconds: float, most: int = 1 << 40):
    """make_call(n) with n grown from n0 (up to most) so that the call takes about `seconds` here, and the
    time it should take. Two steps, so a fixed cost of small calls does not spoil the extrapolation."""
    _timed(make_call(n0))  # warm-up
    n, elapsed = n0, max(_timed(make_call(n0)), 1e-4)
    if elapsed < seconds / 8:
        n = min(most, max(n0, int(n0 * seconds / 8 / elapsed)))
        elapsed = max(_timed(make_call(n)), 1e-4)
    target = min(most, max(n, int(n * seconds / elapsed)))
    return make_call(target), elapsed * target / n


def _interrupt_latency(call, after: float = 0.4) -> float:
    """Seconds from a SIGINT (sent `after` s into call) to the KeyboardInterrupt that ends call.

    Returns inf if call finished without one; a KeyboardInterrupt never escapes (it would end pytest)."""
    timer = threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        call()
        finished = math.inf
    except KeyboardInterrupt:
        finished = time.perf_counter() - start - after
    finally:
        timer.cancel()
        timer.join()
    return finished


def _run_python(code: str, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (for tests whose failure mode is a crash)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


# --- validation holes found by fuzzing and probing (regression tests) ---------------------------------------


@pytest.fixture
def small():
    return make_problem((3, 5, 1), "tanh", n_examples=20)


def test_a_thread_count_beyond_what_a_process_can_start_is_refused_not_a_crash():
    # set_num_threads(100_000) used to kill the interpreter (SIGSEGV) at the next kernel.
    previous = wn.get_num_threads()
    try:
        for n in (1025, 100_000, 2**40, 2**70):
            with pytest.raises(ValueError, match=r"n must be an integer in \[0, 1024\]"):
                wn.set_num_threads(n)
        assert wn.get_num_threads() == previous
        wn.set_num_threads(1024)
        assert wn.get_num_threads() == 1024
    finally:
        wn.set_num_threads(None)
        wn.set_num_threads(previous)


@pytest.mark.parametrize("layers", [(l for l in [0]), iter([0]), np.array(0), np.array([[0]]), b"\x00", 1.5])
def test_layers_that_can_be_read_only_once_or_are_not_lists_raise_naming_layers(impl, small, layers):
    # A generator used to be consumed by the first look: fit recorded layers=[] and monitored η·Ω = 0.
    model, X, _ = small
    with pytest.raises(TypeError, match="layers must"):
        impl.penalty(model, X, layers=layers)


def test_sets_ranges_tuples_and_integer_arrays_are_lists_of_layers(impl, small):
    model, X, _ = small
    expected = impl.penalty(model, X, layers=[0])
    for layers in ({0}, range(1), (0,), np.array([0]), [np.int8(0)], [-2]):
        assert impl.penalty(model, X, layers=layers) == expected


def test_a_masked_array_with_masked_entries_is_refused_not_silently_unmasked(impl, small):
    model, X, y = small
    masked = np.ma.masked_array(X, mask=np.zeros(X.shape, bool))
    assert np.array_equal(impl.predict(model, masked), impl.predict(model, X))  # nothing masked: the data
    masked[2, 1] = np.ma.masked
    with pytest.raises(ValueError, match="X is a masked array with masked entries"):
        impl.predict(model, masked)
    with pytest.raises(ValueError, match="y is a masked array"):
        impl.loss(model, X, np.ma.masked_array(y, mask=y > 0))


def test_ragged_nested_lists_raise_a_type_error_naming_the_argument(impl, small):
    model, X, _ = small
    with pytest.raises(TypeError, match="X cannot be converted"):
        impl.predict(model, [[0.0, 1.0, 2.0], [1.0]])
    with pytest.raises(TypeError, match="y cannot be converted"):
        impl.loss(model, X, [[1.0]] * 19 + [[1.0, 2.0]])


def test_misaligned_views_reach_the_kernels_aligned_and_give_the_same_bits(impl, small):
    # A float64 view at an odd byte offset is C-contiguous but not aligned: the kernels get an aligned copy
    # (a misaligned double load is undefined behaviour, and a fault on some CPUs).
    model, X, y = small
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    odd = np.frombuffer(raw.data, dtype=np.float64, count=X.size, offset=1).reshape(X.shape)
    raw[1:] = np.frombuffer(X.tobytes(), dtype=np.uint8)
    assert not odd.flags.aligned and np.array_equal(odd, X)
    assert checks.as_inputs(model, odd).flags.aligned
    assert np.array_equal(impl.loss_grad(model, odd, y), impl.loss_grad(model, X, y))


@pytest.mark.parametrize("call, name", [
    (lambda impl, m, X, y: impl.perturbed_loss(m, X, y, 0.1, 2**32), "n_draws"),
    (lambda impl, m, X, y: impl.perturb(m, 0.1, draw=2**32), "draw"),
    (lambda impl, m, X, y: impl.hessian_trace(m, X, "hutchinson", n_probes=2**40), "n_probes"),
    (lambda impl, m, X, y: impl.objective_grad(m, X, y, objective="noise", eta=0.1, epoch=2**32 + 1), "epoch"),
    (lambda impl, m, X, y: impl.objective(m, X, y, objective="noise", eta=0.1, noise="shared", step=2**32), "step"),
])
def test_counters_beyond_the_32_bit_streams_raise_naming_the_argument(impl, small, call, name):
    # epoch = 2**32 + 1 used to alias epoch 1 in the compiled core (and overflow in the reference).
    model, X, y = small
    with pytest.raises(ValueError, match=f"{name} must be below 2\\*\\*32"):
        call(impl, model, X, y)


def test_eta_and_lr_that_overflow_float32_raise_naming_them():
    model, X, y = make_problem((3, 5, 1), "tanh", np.float32, n_examples=20)
    with pytest.raises(ValueError, match="eta = 1e\\+39 overflows the model's dtype float32"):
        wn.perturbed_loss(model, X, y, 1e39, 2)
    with pytest.raises(ValueError, match="eta = 1e\\+39 overflows"):
        wn.objective_grad(model, X, y, objective="noise", eta=1e39)
    with pytest.raises(ValueError, match="lr = 1e\\+300 overflows"):
        wn.fit(model, X, y, lr=1e300, epochs=1, batch_size=4, progress=False)


def test_a_broken_optimizer_state_raises_naming_the_state(small):
    model, X, y = small
    state = wn.OptimizerState.create("adam", model)
    for broken, words in [(wn.OptimizerState("adam", 2**40, state.moments), "state.step must be below"),
                          (wn.OptimizerState("adam", -1, state.moments), "state.step must be at least 0"),
                          (wn.OptimizerState("adam", 0, state.moments[:1]), r"state.moments must have shape \(2,"),
                          (wn.OptimizerState("adam", 0, state.moments * np.nan), "state.moments must be finite"),
                          (wn.OptimizerState("rmsprop", 0, state.moments), "unknown state.optimizer")]:
        with pytest.raises(ValueError, match=words):
            wn.train_step(model, X, y, broken, lr=0.1)


def test_hostile_layer_sizes_in_a_file_fail_before_any_allocation(tmp_path):
    # A corrupt or hostile file must fail on its own small contents: its layer sizes used to build the
    # model (and draw its initial weights) before the parameters' shape was compared, so a 3-number file
    # could ask for terabytes.
    path = tmp_path / "evil.npz"
    np.savez(path, format=np.array("weightnoise"), version=np.array(1), kind=np.array("model"),
             layer_sizes=np.array([2**31, 2**31, 1]), activation=np.array("tanh"), dtype=np.array("float64"),
             params=np.zeros(3))
    result = _run_python(f"""
        import resource, weightnoise as wn
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        try:
            wn.load({str(path)!r})
        except (ValueError, MemoryError) as exc:
            print("@@", type(exc).__name__, exc)
        """, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "@@ ValueError" in result.stdout and "params have shape (3,)" in result.stdout, result.stdout


# --- memory bounds -------------------------------------------------------------------------------------------


def test_the_memory_limit_is_configurable_and_its_format_checked(monkeypatch):
    monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, "1.5GiB")
    assert checks.memory_limit() == 3 * 2**29
    for text, expected in [("512M", 2**29), ("8g", 2**33), ("1000", 1000), ("2e9", 2 * 10**9), ("64 KiB", 2**16)]:
        monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, text)
        assert checks.memory_limit() == expected
    for bad in ("lots", "-1G", "0", "1Q", "0.5", "1e-3", "1e400", "1e400G"):
        monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, bad)
        with pytest.raises(ValueError, match="WEIGHTNOISE_MEMORY_LIMIT"):
            checks.memory_limit()
    monkeypatch.delenv(checks.MEMORY_LIMIT_VARIABLE)
    assert 0 < checks.memory_limit() <= 2**34


def test_per_example_grads_on_a_huge_n_by_p_raises_with_the_size_and_the_streaming_alternative(impl):
    # 4096 examples × 4.2 million parameters: 128 GiB, refused before anything is allocated.
    model = wn.MLP([2048, 2048, 1])
    X = np.ones((4096, 2048))
    with pytest.raises(MemoryError, match=r"per_example_grads would need (about )?128 GiB") as info:
        impl.per_example_grads(model, X)
    assert "pass X in slices" in str(info.value)
    if impl is wn:
        assert "vjp/jvp" in str(info.value) and "grad_norms_sq" in str(info.value)


@pytest.mark.parametrize("call, words", [
    (lambda m, X, y: wn.per_example_grads(m, X), "vjp/jvp"),
    (lambda m, X, y: wn.hessian_trace(m, X), "method='hutchinson'"),
    (lambda m, X, y: wn.hessian_trace(m, X, "hutchinson", n_probes=2), "fewer threads"),
    (lambda m, X, y: wn.perturbed_loss(m, X, y, 0.1, 4, "per_example"), "fewer draws per call"),
    (lambda m, X, y: wn.penalty_grad(m, X), "fewer threads"),
    (lambda m, X, y: wn.hvp(m, X, np.zeros(m.n_params)), "fewer threads"),
    (lambda m, X, y: wn.loss_grad(m, X, y), "fewer threads"),
    (lambda m, X, y: wn.predict(m, X), "fewer threads"),
    (lambda m, X, y: wn.objective_grad(m, X, y, objective="penalty", eta=0.1), "objective_grad would need"),
    (lambda m, X, y: wn.fit(m, X, y, lr=0.1, epochs=1, batch_size=8, progress=False), "fit would need"),
])
def test_every_kernel_refuses_working_memory_over_the_limit_with_a_way_out(monkeypatch, call, words):
    model, X, y = make_problem((6, 40, 40, 30, 1), "tanh", n_examples=600)
    monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, "64K")
    with pytest.raises(MemoryError, match=r"would need about .* of working memory, over the limit of 64 KiB") as info:
        call(model, X, y)
    assert words in str(info.value)
    monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, "1G")
    call(model, X, y)


def test_the_working_memory_grows_with_the_thread_count_and_the_guard_sees_it(monkeypatch):
    model, X, _ = make_problem((8, 300, 300, 300, 1), "tanh", n_examples=10)
    one = checks.kernel_memory(model, "hessian_trace_exact", 10, threads=1)
    assert checks.kernel_memory(model, "hessian_trace_exact", 10, threads=64) > 60 * one
    monkeypatch.setenv(checks.MEMORY_LIMIT_VARIABLE, str(8 * one))
    previous = wn.get_num_threads()
    try:
        wn.set_num_threads(1)
        wn.hessian_trace(model, X)
        wn.set_num_threads(64)
        with pytest.raises(MemoryError, match="fewer threads"):
            wn.hessian_trace(model, X)
    finally:
        wn.set_num_threads(previous)


def test_absurd_draw_counts_are_refused_before_allocating(impl, small):
    model, X, y = small
    if impl is ref:
        pytest.skip("the reference loops over draws in Python and allocates per draw")
    with pytest.raises(MemoryError, match=r"perturbed_loss would need about .* GiB"):
        impl.perturbed_loss(model, X, y, 0.1, 2**32 - 1)


def test_the_benchmark_workloads_stay_far_below_the_default_limit():
    for sizes, n in (([8, 64, 64, 1], 65536), ([32, 256, 256, 1], 16384)):
        model = wn.MLP(sizes)
        for kernel in ("predict", "loss_grad", "jvp", "hvp", "penalty_grad", "hessian_trace_exact",
                       "hessian_trace_hutchinson", "perturbed_loss", "train"):
            assert checks.kernel_memory(model, kernel, n, n_draws=64, threads=16) < 2**30, (sizes, kernel)


@pytest.mark.skipif(not LINUX, reason="reads the peak resident set from /proc")
def test_the_estimate_bounds_the_measured_peak_memory_of_the_heavy_kernels():
    # The estimate must not understate: the peak resident memory a kernel adds stays below it (plus slack
    # for the interpreter), so a call under the limit is not killed for exceeding it.
    result = _run_python("""
        import numpy as np, weightnoise as wn, weightnoise._checks as checks

        def peak():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))

        def reset():
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")

        rng = np.random.default_rng(0)
        cases = [("per_example_grads", wn.MLP([64, 128, 128, 1]), 1000, lambda m, X: wn.per_example_grads(m, X)),
                 ("hessian_trace_exact", wn.MLP([16, 300, 300, 300, 1]), 16, lambda m, X: wn.hessian_trace(m, X)),
                 ("hessian_trace_hutchinson", wn.MLP([16, 400, 400, 1]), 512,
                  lambda m, X: wn.hessian_trace(m, X, "hutchinson", n_probes=2)),
                 ("penalty_grad", wn.MLP([512, 512, 512, 1]), 4096, lambda m, X: wn.penalty_grad(m, X))]
        for kernel, model, n, call in cases:
            X = rng.standard_normal((n, model.layer_sizes[0]))
            call(model, X[:1])
            reset()
            before = peak()
            call(model, X)
            print("@@", kernel, peak() - before, checks.kernel_memory(model, kernel, n))
        """)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.split("\n") if line.startswith("@@")]
    assert len(lines) == 4, result.stdout
    for line in lines:
        _, _kernel, measured, estimate = line.split()
        assert int(measured) <= 1.2 * int(estimate) + (16 << 20), line


# --- leaks ---------------------------------------------------------------------------------------------------

LEAK_CALLS = 10_000
LEAK_BOUND = 1 << 20  # bytes of resident memory 10⁴ calls may add after a warm-up (measured: 0 to 44 KiB)


def _leak_problem():
    # Small, so 10⁴ calls are quick; a leaked result (≥ 300 bytes) or workspace would still add ≥ 3 MiB.
    model, X, y = make_problem((3, 5, 4, 1), "tanh", n_examples=32)
    return model, X, y, np.linspace(-1, 1, model.n_params)


LEAK_KERNELS = {
    "predict": lambda m, X, y, v: wn.predict(m, X),
    "loss": lambda m, X, y, v: wn.loss(m, X, y),
    "loss_grad": lambda m, X, y, v: wn.loss_grad(m, X, y),
    "vjp": lambda m, X, y, v: wn.vjp(m, X, y),
    "jvp": lambda m, X, y, v: wn.jvp(m, X, v),
    "per_example_grads": lambda m, X, y, v: wn.per_example_grads(m, X),
    "grad_norms_sq": lambda m, X, y, v: wn.grad_norms_sq(m, X, layers=[1]),
    "hvp": lambda m, X, y, v: wn.hvp(m, X, v, y),
    "penalty": lambda m, X, y, v: wn.penalty(m, X),
    "penalty_grad": lambda m, X, y, v: wn.penalty_grad(m, X),
    "hessian_trace exact": lambda m, X, y, v: wn.hessian_trace(m, X),
    "hessian_trace hutchinson": lambda m, X, y, v: wn.hessian_trace(m, X, "hutchinson", n_probes=2),
    "curvature": lambda m, X, y, v: wn.curvature(m, X, y),
    "perturb": lambda m, X, y, v: wn.perturb(m, 0.1, draw=3),
    "perturbed_loss shared": lambda m, X, y, v: wn.perturbed_loss(m, X, y, 0.1, 2, "shared"),
    "perturbed_loss per_example": lambda m, X, y, v: wn.perturbed_loss(m, X[:16], y[:16], 0.1, 1, "per_example"),
    "perturbed_loss local": lambda m, X, y, v: wn.perturbed_loss(m, X, y, 0.1, 2, "local"),
    "objective_grad": lambda m, X, y, v: wn.objective_grad(m, X, y, objective="noise", eta=0.1),
    "train_step": lambda m, X, y, v: wn.train_step(m, X, y, wn.OptimizerState.create("adam", m), lr=0.1,
                                                   objective="penalty", eta=0.1),
    "standard_normal": lambda m, X, y, v: wn.standard_normal(1000, seed=3),
    "validation errors": lambda m, X, y, v: _validation_error(m, X, y),
}


def _validation_error(m, X, y):
    with pytest.raises(ValueError):
        wn.loss(m, X, y[:-1])


@pytest.mark.skipif(not LINUX, reason="reads the resident set size from /proc")
@pytest.mark.parametrize("kernel", list(LEAK_KERNELS))
def test_ten_thousand_calls_keep_the_resident_memory_flat(kernel):
    model, X, y, v = _leak_problem()
    call = LEAK_KERNELS[kernel]
    with wn.num_threads(1):
        for _ in range(LEAK_CALLS // 10):  # warm-up: allocator pools, caches
            call(model, X, y, v)
        before = _rss_bytes()
        for _ in range(LEAK_CALLS):
            call(model, X, y, v)
        grown = _rss_bytes() - before
    assert grown < LEAK_BOUND, f"{kernel}: {grown / 2**20:.2f} MiB after {LEAK_CALLS} calls"


@pytest.mark.skipif(not LINUX, reason="reads the resident set size from /proc")
def test_repeated_fits_with_checkpoints_keep_the_resident_memory_flat(tmp_path):
    model, X, y = make_problem((3, 5, 4, 1), "tanh", n_examples=64)
    kw = dict(objective="noise", noise="local", eta=0.05, lr=0.05, epochs=2, batch_size=16, progress=False,
              checkpoint=tmp_path / "fit.ckpt", eval_draws=2)
    with wn.num_threads(1):
        for _ in range(30):
            wn.fit(model, X, y, **kw)
        before = _rss_bytes()
        for _ in range(300):
            wn.fit(model, X, y, **kw)
        grown = _rss_bytes() - before
    assert grown < LEAK_BOUND, f"{grown / 2**20:.2f} MiB after 300 fits"


# --- threads -------------------------------------------------------------------------------------------------

THREAD_CALLS = {
    "predict": lambda m, X, y, v: wn.predict(m, X),
    "loss_grad": lambda m, X, y, v: wn.loss_grad(m, X, y),
    "jvp": lambda m, X, y, v: wn.jvp(m, X, v),
    "hvp": lambda m, X, y, v: wn.hvp(m, X, v),
    "per_example_grads": lambda m, X, y, v: wn.per_example_grads(m, X),
    "penalty_grad": lambda m, X, y, v: wn.penalty_grad(m, X),
    "hessian_trace exact": lambda m, X, y, v: wn.hessian_trace(m, X),
    "hessian_trace hutchinson": lambda m, X, y, v: wn.hessian_trace(m, X, "hutchinson", n_probes=3),
    "perturbed_loss": lambda m, X, y, v: wn.perturbed_loss(m, X, y, 0.05, 3, "local").draws,
    "perturbed_loss per_example": lambda m, X, y, v: wn.perturbed_loss(m, X, y, 0.05, 1, "per_example").draws,
    "objective_grad": lambda m, X, y, v: wn.objective_grad(m, X, y, objective="noise", noise="per_example",
                                                           eta=0.05),
    "fit": lambda m, X, y, v: wn.fit(m, X, y, objective="penalty", eta=0.01, lr=0.05, epochs=1, batch_size=64,
                                     progress=False).model.params,
}


def _thread_problems():
    archs = [((3, 7, 1), "tanh", np.float64), ((5, 17, 4, 1), "softplus", np.float32),
             ((2, 6, 6, 6, 1), "sigmoid", np.float64), ((4, 9, 1), "relu", np.float32)]
    problems = []
    for k, (sizes, act, dtype) in enumerate(archs):
        model, X, y = make_problem(sizes, act, dtype, n_examples=700, seed=k)
        problems.append((model, X, y, np.linspace(-1, 1, model.n_params).astype(dtype)))
    return problems


def test_concurrent_calls_from_python_threads_equal_sequential_calls_bit_for_bit():
    problems = _thread_problems()
    expected = {(p, name): call(*problems[p]) for p in range(len(problems)) for name, call in THREAD_CALLS.items()}
    results, errors = {}, []

    def work(p: int):
        try:
            for _ in range(3):
                for name, call in THREAD_CALLS.items():
                    results.setdefault((p, name), []).append(call(*problems[p]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in range(len(problems))] * 1
    threads += [threading.Thread(target=work, args=(p,)) for p in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for key, values in results.items():
        assert len(values) == 6
        for value in values:
            assert np.array_equal(value, expected[key]), key


def test_changing_the_thread_count_while_other_threads_compute_neither_crashes_nor_changes_results():
    result = _run_python("""
        import threading, numpy as np, weightnoise as wn
        model = wn.MLP([8, 32, 32, 1]); X = np.random.default_rng(0).standard_normal((4096, 8))
        expected = wn.penalty_grad(model, X)
        stop = False
        def toggle():
            while not stop:
                wn.set_num_threads(1); wn.set_num_threads(8)
        toggler = threading.Thread(target=toggle); toggler.start()
        try:
            for _ in range(300):
                assert np.array_equal(wn.penalty_grad(model, X), expected)
        finally:
            stop = True; toggler.join()
        print("ok")
        """, timeout=600)
    assert result.returncode == 0 and result.stdout.split()[-1:] == ["ok"], (result.returncode, result.stderr[-2000:])


GIL_CALLS = {
    "predict": lambda m, X, y, v, n: wn.predict(m, X[:n]),
    "loss": lambda m, X, y, v, n: wn.loss(m, X[:n], y[:n]),
    "loss_grad": lambda m, X, y, v, n: wn.loss_grad(m, X[:n], y[:n]),
    "vjp": lambda m, X, y, v, n: wn.vjp(m, X[:n], y[:n]),
    "jvp": lambda m, X, y, v, n: wn.jvp(m, X[:n], v),
    "per_example_grads": lambda m, X, y, v, n: wn.per_example_grads(m, X[:min(n // 8, 2048)]),
    "grad_norms_sq": lambda m, X, y, v, n: wn.grad_norms_sq(m, X[:n]),
    "hvp": lambda m, X, y, v, n: wn.hvp(m, X[:n], v),
    "penalty": lambda m, X, y, v, n: wn.penalty(m, X[:n]),
    "penalty_grad": lambda m, X, y, v, n: wn.penalty_grad(m, X[:n]),
    "hessian_trace exact": lambda m, X, y, v, n: wn.hessian_trace(m, X[:n]),
    "hessian_trace hutchinson": lambda m, X, y, v, n: wn.hessian_trace(m, X[:n // 8], "hutchinson", n_probes=8),
    "perturbed_loss": lambda m, X, y, v, n: wn.perturbed_loss(m, X[:n], y[:n], 0.01, 4, "local"),
    "objective_grad": lambda m, X, y, v, n: wn.objective_grad(m, X[:n], y[:n], objective="penalty", eta=0.1),
    "fit": lambda m, X, y, v, n: wn.fit(m, X[:n], y[:n], lr=0.01, epochs=1, batch_size=n, progress=False,
                                        monitor=False),
    "standard_normal": lambda m, X, y, v, n: wn.standard_normal(100 * min(n, 1 << 17)),
}


@pytest.fixture(scope="module")
def gil_problem():
    rng = np.random.default_rng(0)
    model = wn.MLP((16, 128, 128, 1), "tanh")
    X = rng.standard_normal((1 << 17, 16))
    return model, X, rng.standard_normal(X.shape[0]), rng.standard_normal(model.n_params)


@pytest.mark.parametrize("kernel", list(GIL_CALLS))
def test_the_gil_is_released_so_another_python_thread_runs_during_a_kernel(gil_problem, kernel):
    call = GIL_CALLS[kernel]
    with wn.num_threads(1):
        run, expected = _scaled(lambda n: lambda: call(*gil_problem, n), 256, 0.6)
        if expected < 0.3:
            pytest.skip("could not make the kernel last long enough here")
        ticks, done = [], threading.Event()

        def kernel_thread():
            try:
                run()
            finally:
                done.set()

        worker = threading.Thread(target=kernel_thread)
        start = time.perf_counter()
        worker.start()
        while not done.is_set():
            ticks.append(time.perf_counter())
        worker.join()
    elapsed = time.perf_counter() - start
    gaps = np.diff([start, *ticks])
    # Held, the GIL would stall this loop for the whole kernel; released, only for switch intervals.
    assert gaps.max() < 0.5 * elapsed, f"{kernel}: the main thread stalled {gaps.max():.2f} s of {elapsed:.2f} s"


# --- interrupts ----------------------------------------------------------------------------------------------

INTERRUPT_BOUND = 1.0  # seconds from Ctrl-C to the KeyboardInterrupt


@pytest.fixture(scope="module")
def wide_problem():
    rng = np.random.default_rng(1)
    model = wn.MLP((32, 256, 256, 1), "tanh", seed=1)
    X = rng.standard_normal((1 << 18, 32))
    return model, X, np.sin(X[:, 0]), rng.standard_normal(model.n_params)


@pytest.mark.parametrize("noise", ["shared", "local", "per_example"])
def test_ctrl_c_stops_a_large_perturbed_loss_within_a_second(noise):
    # Arch A of the benchmarks ([8, 64, 64, 1], 4801 parameters) on 65536 examples, hundreds of draws.
    rng = np.random.default_rng(3)
    model, X = wn.MLP((8, 64, 64, 1), "tanh", seed=3), rng.standard_normal((1 << 16, 8))
    n = 2048 if noise == "per_example" else X.shape[0]
    run, _ = _scaled(lambda k: lambda: wn.perturbed_loss(model, X[:n], X[:n, 0], 1e-3, k, noise), 1, 30)
    latency = _interrupt_latency(run)
    assert latency < INTERRUPT_BOUND, f"{noise}: {latency:.2f} s"


def test_ctrl_c_stops_per_example_noise_on_a_wide_net_within_a_second(wide_problem):
    model, X, y, _ = wide_problem
    run, _ = _scaled(lambda k: lambda: wn.perturbed_loss(model, X[:512], y[:512], 1e-3, k, "per_example"), 1, 30)
    latency = _interrupt_latency(run)
    assert latency < INTERRUPT_BOUND, f"{latency:.2f} s"


def test_ctrl_c_in_a_fit_keeps_the_model_the_checkpoint_and_resumes_to_the_uninterrupted_run(tmp_path):
    model, X, y = make_problem((8, 64, 64, 1), "tanh", n_examples=4000)
    before = model.params.copy()
    path = tmp_path / "run.ckpt"
    kw = dict(objective="noise", noise="local", eta=0.01, lr=1e-3, batch_size=32, progress=False, monitor=False,
              checkpoint=path)
    n = len(X)

    def one_epoch():
        return wn.fit(model, X[:n], y[:n], epochs=1, **dict(kw, checkpoint=None))

    while _timed(one_epoch) < 0.4 and n < 64000:
        n *= 2
        X, y = np.tile(X, (2, 1)), np.tile(y, 2)
    fired, caught = [], {}

    def ctrl_c():
        fired.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.2, ctrl_c)

    def after_second_epoch(record, _):
        if record["epoch"] == 2:  # its checkpoint is written: Ctrl-C lands in the third epoch's kernel
            timer.start()

    try:
        wn.fit(model, X, y, epochs=1000, callback=after_second_epoch, **kw)
    except KeyboardInterrupt as exc:
        caught["exc"], caught["time"] = exc, time.perf_counter()
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()
    assert isinstance(caught.get("exc"), wn.FitInterrupted), caught
    assert caught["time"] - fired[0] < INTERRUPT_BOUND
    result = caught["exc"].result
    assert np.array_equal(model.params, before)
    finished = len(result.history)
    # Ctrl-C is aimed at the third epoch; on a loaded machine it may finish first, never before.
    assert finished >= 2 and result.interrupted
    saved = wn.load(path)
    assert np.array_equal(saved.params, result.model.params)
    resumed = wn.fit(model, X, y, epochs=finished + 1, resume=True, **kw)
    straight = wn.fit(model, X, y, epochs=finished + 1, **dict(kw, checkpoint=None))
    assert np.array_equal(resumed.model.params, straight.model.params)


def test_ctrl_c_during_the_monitoring_of_a_fit_still_returns_the_finished_epochs():
    model, X, y = make_problem((8, 64, 64, 1), "tanh", n_examples=4000)
    caught = {}

    def run():
        try:
            wn.fit(model, X, y, objective="plain", eta=1e-3, noise="shared", lr=1e-3, epochs=5, batch_size=4000,
                   progress=False, eval_draws=100_000)
        except KeyboardInterrupt as exc:
            caught["exc"] = exc

    _interrupt_latency(run, after=1.0)
    assert isinstance(caught.get("exc"), wn.FitInterrupted), type(caught.get("exc"))


def _deep_wide():
    rng = np.random.default_rng(2)
    model = wn.MLP((16, 192, 192, 192, 192, 1), "tanh", seed=2)
    return model, rng.standard_normal((1 << 14, 16))


# Long calls of every kind, each at a size that takes a few seconds here: Ctrl-C must stop each within
# INTERRUPT_BOUND. n counts examples (or probes).
SLOW_KERNELS = {
    "hessian_trace exact (deep, wide)": (_deep_wide, lambda m, X, n: wn.hessian_trace(m, X[:n]), 16),
    "hessian_trace hutchinson": (None, lambda m, X, n: wn.hessian_trace(m, X[:256], "hutchinson", n_probes=n), 2),
    "penalty_grad (large N)": (None, lambda m, X, n: wn.penalty_grad(m, X[:n]), 1024),
    "hvp (large N)": (None, lambda m, X, n: wn.hvp(m, X[:n], np.ones(m.n_params)), 1024),
    "fit with one full batch": (None, lambda m, X, n: wn.fit(m, X[:n], np.zeros(n), objective="penalty", eta=0.1,
                                                             lr=1e-3, epochs=1, batch_size=n, progress=False,
                                                             monitor=False), 1024),
}


@pytest.mark.parametrize("kernel", list(SLOW_KERNELS))
def test_ctrl_c_stops_every_long_kernel_within_a_second(wide_problem, kernel):
    make, call, n0 = SLOW_KERNELS[kernel]
    model, X = make() if make else wide_problem[:2]
    run, expected = _scaled(lambda n: lambda: call(model, X, n), n0, 2.5, most=X.shape[0])
    if expected < 2 * INTERRUPT_BOUND:
        pytest.skip(f"{kernel} takes only {expected:.2f} s here at the largest size tried")
    latency = _interrupt_latency(run, after=0.3)
    assert latency < INTERRUPT_BOUND, f"{kernel}: {latency:.2f} s"


# --- numerical robustness ------------------------------------------------------------------------------------


def _exact(activation: str, z: float):
    """σ, σ', σ'' at z by formulas that keep full relative accuracy in both tails."""
    e = math.exp(-abs(z))
    if activation == "tanh":
        e2 = math.exp(-2 * abs(z))
        d1 = 4 * e2 / (1 + e2) ** 2
        return math.tanh(z), d1, -2 * math.tanh(z) * d1
    if activation == "sigmoid":
        s = 1 / (1 + e) if z >= 0 else e / (1 + e)
        d1 = e / (1 + e) ** 2
        return s, d1, -d1 * math.tanh(z / 2)
    if activation == "softplus":
        return max(z, 0) + math.log1p(e), (1 / (1 + e) if z >= 0 else e / (1 + e)), e / (1 + e) ** 2
    if activation == "relu":
        return max(z, 0.0), float(z > 0), 0.0
    return z, 1.0, 0.0


def _unit(activation: str, z: float, dtype=np.float64):
    """ŷ(x) = σ(1·x + 0)·1 + 0 at x = z: every derivative of σ at z shows up in the kernels."""
    model = wn.MLP((1, 1, 1), activation, dtype=dtype)
    model.params = np.array([1.0, 0.0, 1.0, 0.0])
    return model, np.array([[z]], dtype=dtype)


Z_LARGE = [-1e300, -1e6, -745.0, -710.0, -100.0, -40.0, -19.0, -5.0, 5.0, 19.0, 40.0, 100.0, 710.0, 745.0, 1e6,
           1e300]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "identity"])
@np.errstate(over="ignore", invalid="ignore")  # the reference's NumPy warns where ‖x‖² overflows
def test_saturated_pre_activations_give_finite_correct_derivatives(impl, activation):
    for z in Z_LARGE:
        model, X = _unit(activation, z)
        sigma, d1, d2 = _exact(activation, z)
        g = impl.per_example_grads(model, X)[0]  # (σ'(z) z, σ'(z), σ(z), 1)
        values = [impl.predict(model, X)[0], g[1], g[2], impl.hessian_trace(model, X, layers=[0], biases=True)[0]]
        assert np.all(np.isfinite(values)) or abs(z) > 1e150, (activation, z, values)
        # σ and σ' within a few ulp of their size, or within 1e-16 absolutely where σ' underflows
        # (tanh's σ' = 1 − tanh² carries an absolute error of about 1e-16, see docs/reliability.md).
        assert values[0] == pytest.approx(sigma, rel=1e-14, abs=1e-300), (activation, z)
        assert values[1] == pytest.approx(d1, rel=1e-12, abs=2e-16), (activation, z)
        assert values[2] == pytest.approx(sigma, rel=1e-14, abs=1e-300), (activation, z)
        if abs(z) < 1e150:  # beyond, (z² + 1) overflows: see the next test
            assert values[3] == pytest.approx(d2 * (z * z + 1), rel=1e-12, abs=5e-16 * (z * z + 1)), (activation, z)


TANH_ULP_BOUND = 4.5  # weightnoise's float64 tanh (cpp/weightnoise/activation.hpp)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="needs an extended-precision long double")
def test_float64_tanh_within_its_documented_ulp_bound():
    """σ(x) through a unit network, ŷ = 1·tanh(1·x + 0) + 0, against tanh in long double."""
    rng = np.random.default_rng(11)
    x = np.concatenate([
        rng.uniform(0, 0.35, 100_000),  # n = 0: tanh = −rP/Q
        rng.uniform(0.35, 3, 100_000),
        rng.uniform(3, 21, 100_000),  # up to the clamp at 20
        10.0 ** rng.uniform(-300, 0, 100_000),
        ((np.arange(1, 60) + 0.5) * np.log(2) / 2 * (1 + 1e-9 * rng.standard_normal((1000, 59)))).ravel(),
    ])  # the last: either side of each switch of n = round(−2|x|/ln2)
    x = np.concatenate([x, -x, [0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300]])
    model, _ = _unit("tanh", 0.0)
    got = wn.predict(model, x[:, None])
    exact = np.tanh(x.astype(np.longdouble))
    ulps = np.abs(got.astype(np.longdouble) - exact) / np.spacing(np.abs(exact.astype(np.float64)))
    assert ulps.max() <= TANH_ULP_BOUND, (x[np.argmax(ulps)], ulps.max())
    assert np.array_equal(np.signbit(got[x != 0]), np.signbit(x[x != 0]))  # (the output bias turns −0 into +0)


def test_saturated_float32_units_stay_finite():
    for activation in ("tanh", "sigmoid", "softplus"):
        for z in (-3e38, -1e4, -100.0, -30.0, 30.0, 100.0, 1e4, 3e38):
            model, X = _unit(activation, z, np.float32)
            _, d1, _ = _exact(activation, float(np.float32(z)))
            g = wn.per_example_grads(model, X)[0]
            assert np.isfinite(g[1]) and g[1] == pytest.approx(d1, rel=1e-5, abs=1e-7), (activation, z)
            assert np.isfinite(wn.predict(model, X)[0])
            assert np.isfinite(wn.hessian_trace(model, X, layers=[0])[0]) or abs(z) > 1e19


@np.errstate(over="ignore", invalid="ignore")
def test_inputs_whose_squared_norm_overflows_give_inf_or_nan_in_both_implementations_alike():
    # Documented: ‖x‖² overflows for |x| ≳ 1.3e154 (float64), and Ω and tr H scale with ‖a_l‖² + 1.
    # The true values underflow to 0 here (σ' and σ'' are below 1e-300), but 0 · inf is NaN.
    model, X = _unit("tanh", 1e200)
    for impl in (wn, ref):
        assert impl.predict(model, X)[0] == 1.0
        assert np.isnan(impl.grad_norms_sq(model, X)[0])
        assert np.isnan(impl.hessian_trace(model, X)[0])


def test_relu_takes_the_zero_subgradient_at_its_kink():
    # Documented: σ'(0) = 0 and σ''(z) = 0 everywhere (PyTorch and JAX choose the same), in both implementations.
    for impl in (wn, ref):
        for z in (0.0, -0.0):
            model, X = _unit("relu", z)
            assert np.array_equal(impl.per_example_grads(model, X)[0], [0.0, 0.0, 0.0, 1.0])
            assert impl.hessian_trace(model, X)[0] == 0.0
        model, X = _unit("relu", 5e-324)  # the smallest positive input is past the kink
        assert np.array_equal(impl.per_example_grads(model, X)[0], [5e-324, 1.0, 5e-324, 1.0])


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu"])
@pytest.mark.parametrize("scale", [1e3, 1e8, 1e30])
def test_deep_nets_on_huge_inputs_match_the_reference_and_stay_finite(activation, scale):
    model, X, y = make_problem((4, 9, 7, 5, 1), activation, n_examples=64)
    X = X * scale
    v = np.linspace(-1, 1, model.n_params)
    for name, call in {"loss_grad": lambda i: i.loss_grad(model, X, y), "penalty_grad": lambda i: i.penalty_grad(
            model, X), "hessian_trace": lambda i: i.hessian_trace(model, X), "hvp": lambda i: i.hvp(model, X, v),
                       "grad_norms_sq": lambda i: i.grad_norms_sq(model, X)}.items():
        got, expected = call(wn), call(ref)
        assert np.all(np.isfinite(got)) == np.all(np.isfinite(expected)), name
        if np.all(np.isfinite(expected)):
            assert relative_error(got, expected) <= 1e-9, name
            if activation != "relu" or name != "grad_norms_sq":
                assert np.all(np.isfinite(got)), name
