"""Benchmark weightnoise against NumPy, PyTorch (with BackPACK) and JAX on the workloads of DESIGN.md §5.

    python bench/run.py --quick --threads 1,2            # minutes; slow peers on a stated fraction
    python bench/run.py --full --threads 1,2             # the record
    python bench/run.py --smoke --out /tmp/bench.md      # seconds; tiny sizes (the test suite runs it)
    python bench/run.py --quick --workloads W1,W2

One worker process per thread count (bench/worker.py), with OMP/BLAS/XLA
threads and the CPU affinity set before any library loads; the workers'
JSON is merged into one report, printed and written to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pinning import thread_environment
from bench.workloads import WORKLOADS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    for name, text in (("smoke", "tiny sizes, one run each: seconds"),
                       ("quick", "full sizes, ~1.5 s per contender, slow ones scaled (default)"),
                       ("full", "full sizes, up to ~30 s per contender (about an hour per thread count)")):
        mode.add_argument(f"--{name}", dest="mode", action="store_const", const=name, help=text)
    parser.set_defaults(mode="quick")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--threads", default=None,
                        help=f"comma-separated thread counts (default: 1,{usable}; smoke: 1)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of W1…W6")
    parser.add_argument("--out", default=None, help="the Markdown report (default: BENCHMARKS.md; smoke: "
                                                    "scratch/bench/BENCHMARKS-smoke.md)")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    parser.add_argument("--no-affinity", action="store_true", help="do not restrict workers to n CPUs")
    parser.add_argument("--note", default="", help="a line for the report, e.g. how quiet the machine was")
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = "1" if args.mode == "smoke" else ",".join(dict.fromkeys(["1", str(usable)]))
    args.thread_counts = [int(t) for t in args.threads.split(",")]
    args.workload_list = [w.strip().upper() for w in args.workloads.split(",")]
    unknown = [w for w in args.workload_list if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    if args.out is None:
        args.out = str(ROOT / ("scratch/bench/BENCHMARKS-smoke.md" if args.mode == "smoke" else "BENCHMARKS.md"))
    return args


def run_worker(threads: int, args, json_path: str) -> dict:
    command = [sys.executable, "-m", "bench.worker", "--threads", str(threads), "--mode", args.mode,
               "--workloads", ",".join(args.workload_list), "--json", json_path]
    if args.no_affinity:
        command.append("--no-affinity")
    env = thread_environment(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if completed.returncode != 0 or not os.path.exists(json_path):
        print(f"worker for {threads} thread(s) failed (exit code {completed.returncode})", file=sys.stderr)
        return None
    with open(json_path) as f:
        return json.load(f)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Import once here, so an editable install rebuilds its extension now, not inside a timed worker.
    import weightnoise  # noqa: F401

    from bench.machine import describe_machine
    from bench.report import render

    machine = describe_machine()  # here, before any worker narrows its CPU affinity
    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="weightnoise-bench-") as tmp:
        for threads in args.thread_counts:
            result = run_worker(threads, args, os.path.join(tmp, f"threads-{threads}.json"))
            if result is None:
                failed.append(threads)
            else:
                results.append(result)
    if not results:
        return 1
    command = "python bench/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    report = render(results, machine, args.mode, command.strip(), failed, args.note)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "mode": args.mode, "command": command.strip(),
                                               "failed_threads": failed, "note": args.note, "results": results},
                                              indent=1))
    errors = [r for result in results for r in result["rows"] if r["status"] == "ERROR"]
    for row in errors:
        print(f"ERROR in {row['workload']} {row['case']} {row['impl']}: {row['note']}", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 1 if errors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
