"""The benchmark suite runs end to end: bench/run.py --smoke in a subprocess (tiny sizes, one run each).

No timing is asserted; peers whose library is not installed are skipped by the suite itself.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_exits_cleanly_and_writes_its_report(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    raw = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--threads", "1", "--out", str(out),
         "--json", str(raw)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = out.read_text()
    assert report.startswith("# weightnoise benchmarks")
    for workload in ("W1", "W2", "W3", "W4", "W5", "W6"):
        assert f"## {workload} " in report
    assert "## Targets" in report
    assert raw.exists()


def test_scaling_smoke_run_finds_the_same_bits_at_every_thread_count(tmp_path):
    out = tmp_path / "scaling.md"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scaling.py"), "--smoke", "--threads", "1,2", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    report = out.read_text()
    assert report.startswith("# weightnoise OpenMP scaling")
    rows = [line for line in report.splitlines() if line.startswith("| W")]
    assert len(rows) == 12 and all(row.endswith("| yes |") for row in rows)


def _bench(module: str):
    """bench.<module>, imported from the checkout."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"bench.{module}")
    finally:
        sys.path.remove(str(ROOT))


def _timers(repeats: dict[str, int], keys: dict[str, str], calls: list[str], fail_on_call: int = 0):
    """Timers that log their runs into `calls`; timer "a" raises on its call number `fail_on_call`."""
    timing = _bench("timing")

    def run_of(name):
        def run():
            calls.append(name)
            if name == "a" and calls.count(name) == fail_on_call:
                raise RuntimeError("boom")
        return run

    return [timing.Timer(run_of(name), timing.Timing(units=1, full_units=4),
                         timing.Budget(seconds=1.0, min_repeats=n, max_repeats=n, min_total_s=0.0), key=keys[name])
            for name, n in repeats.items()]


def test_interleave_runs_each_unfinished_timer_once_per_round_grouped_by_library():
    calls: list[str] = []
    timers = _timers({"a": 3, "b": 1, "c": 2}, {"a": "numpy", "b": "numpy", "c": "jax"}, calls)
    _bench("timing").interleave(timers)
    # jax before numpy, the rows of one library together; a re-warm run wherever the library changes
    assert calls == ["c", "c", "a", "a", "b", "c", "c", "a", "a", "a"]
    assert [len(t.timing.times_s) for t in timers] == [3, 1, 2]


def test_interleave_stops_a_timer_whose_run_raises_and_goes_on_with_the_rest():
    calls: list[str] = []
    timers = _timers({"a": 3, "b": 3}, {"a": "numpy", "b": "jax"}, calls, fail_on_call=3)
    _bench("timing").interleave(timers)
    assert calls == ["b", "b", "a", "a", "b", "b", "a", "b", "b"]
    assert isinstance(timers[0].error, RuntimeError) and len(timers[0].timing.times_s) == 1
    assert timers[1].error is None and len(timers[1].timing.times_s) == 3


def test_interleave_without_rounds_runs_each_timer_to_the_end_in_turn():
    calls: list[str] = []
    timers = _timers({"a": 2, "b": 1, "c": 2}, {"a": "numpy", "b": "numpy", "c": "jax"}, calls)
    _bench("timing").interleave(timers, rounds=False)
    assert calls == ["c", "c", "c", "a", "a", "a", "b"]


def test_limits_keep_the_highest_rate_of_each_measurement():
    before = {"float64": {"gemm_flops_per_s": 30e9, "tanh_per_s": 7e8, "tanh_source": "jax"}}
    after = {"float64": {"gemm_flops_per_s": 42e9, "tanh_per_s": 6e8, "tanh_source": "numpy"}}
    assert _bench("limits").fastest(before, after) == {
        "float64": {"gemm_flops_per_s": 42e9, "tanh_per_s": 7e8, "tanh_source": "jax"}}
    assert before["float64"]["gemm_flops_per_s"] == 30e9  # the inputs are left alone
