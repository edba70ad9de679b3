"""One worker process: pins its thread count, measures the machine's limits, runs the workloads, writes JSON.

Started by run.py once per thread count, with the thread environment set
(pinning.thread_environment); never imports a numerical library before
its CPU affinity is set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

_STARTED = time.perf_counter()


def _log(message: str) -> None:
    print(f"{time.perf_counter() - _STARTED:7.1f}s {message}", file=sys.stderr, flush=True)


def run_case(case, budget, threads: int) -> list[dict]:
    """Check every contender, warm up those that pass, then time them (timing.interleave)."""
    from .timing import interleave, prepare

    base = {"workload": case.workload, "case": case.name, "description": case.description, "unit": case.unit,
            "full_units": case.full_units, "flops": case.work.flops, "activations": case.work.activations,
            "has_targets": case.has_targets, "threads": threads}
    try:
        contenders = case.contenders()
    except Exception as exc:  # noqa: BLE001  (a workload that cannot set up is reported; the run goes on)
        _log(traceback.format_exc())
        return [dict(base, impl="(setup)", library="-", dtype="-", status="ERROR", note=f"{type(exc).__name__}: {exc}")]
    rows, timers = [], {}
    for c in contenders:
        baseline = c.baseline if c.baseline is not None else (c.library == "weightnoise" and c.dtype == "float64")
        row = dict(base, impl=c.impl, library=c.library, dtype=c.dtype, note=c.note, check="", baseline=baseline)
        rows.append(row)
        label = _label(row)
        if c.skip:
            row.update(status="skipped", note=c.skip)
            _log(f"{label}: skipped: {c.skip}")
            continue
        try:
            check = c.check() if c.check is not None else None
            row["check"] = check.detail if check is not None else "not checked"
            if check is not None and not check.ok:
                row["status"] = "FAILED"
                _log(f"{label}: FAILED: {check.detail}")
            else:
                timers[len(rows) - 1] = prepare(c.build, case.full_units, case.min_units, budget, c.library)
        except Exception as exc:  # noqa: BLE001  (one crashing contender is an ERROR row, not a lost run)
            _error(row, exc)
    interleave(list(timers.values()), rounds=threads == 1)  # see interleave for why not with several threads
    for i, timer in timers.items():
        row = rows[i]
        if timer.error is not None:
            _error(row, timer.error)
            continue
        timing = timer.timing
        row.update(status="ok", units=timing.units, scale=timing.scale, times_s=timing.times_s,
                   median_s=timing.median_s, min_s=timing.min_s)
        scaled = f" (scaled ×{timing.scale:g})" if timing.scale != 1 else ""
        _log(f"{_label(row)}: median {timing.median_s:.4g} s{scaled}; {row['check']}")
    return rows


def _label(row: dict) -> str:
    return f"[{row['threads']} thr] {row['workload']} {row['case']}: {row['impl']} ({row['library']}, {row['dtype']})"


def _error(row: dict, exc: Exception) -> None:
    trace = "".join(traceback.format_exception(exc))
    _log(f"{_label(row)}: ERROR: {type(exc).__name__}: {exc}\n{trace}")
    row.update(status="ERROR", note=f"{type(exc).__name__}: {exc}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--mode", choices=("smoke", "quick", "full"), required=True)
    parser.add_argument("--workloads", required=True, help="comma-separated, e.g. W1,W2")
    parser.add_argument("--json", required=True, help="where to write the results")
    parser.add_argument("--no-affinity", action="store_true")
    args = parser.parse_args(argv)

    from .pinning import pin_affinity, pin_loaded_libraries
    affinity = "not pinned" if args.no_affinity else pin_affinity(args.threads)

    import warnings
    warnings.simplefilter("ignore", UserWarning)  # library chatter (BackPACK hooks, JAX) is not a result

    import weightnoise  # noqa: F401  (loaded before pinning so its thread count is set too)

    for library in ("torch", "jax"):  # loaded now so that their thread pools are pinned below
        try:
            __import__(library)
        except Exception as exc:  # noqa: BLE001  (its rows say why they are skipped)
            _log(f"{library} not loaded: {type(exc).__name__}: {exc}")
    pinned = pin_loaded_libraries(args.threads)

    from .limits import TANH_ELEMENTS, TANH_SECONDS, fastest, measure_limits
    from .machine import library_versions
    from .problems import MODES
    from .workloads import load

    mode = MODES[args.mode]
    started = time.perf_counter()
    small = args.mode == "smoke"

    def measure(when: str) -> dict:
        limits = measure_limits(args.threads, repeats=1 if small else 3, gemm_size=256 if small else 2048,
                                tanh_elements=1 << 16 if small else TANH_ELEMENTS,
                                tanh_seconds=0.0 if small else TANH_SECONDS)
        _log(f"[{args.threads} thr] limits {when}: " + ", ".join(
            f"{d}: GEMM {v['gemm_flops_per_s'] / 1e9:.1f} GFLOP/s, "
            f"tanh {v['tanh_per_s'] / 1e6:.0f} M/s ({v['tanh_source']})"
            for d, v in limits.items()))
        return limits

    before = measure("before the workloads")
    rows = []
    for name in args.workloads.split(","):
        for case in load(name).cases(mode.sizes):
            rows += run_case(case, mode.budget, args.threads)
    limits = fastest(before, measure("after the workloads"))
    result = {"threads": args.threads, "mode": args.mode, "affinity": affinity, "pinning": pinned, "limits": limits,
              "versions": library_versions(), "rows": rows,
              "seconds": time.perf_counter() - started}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
