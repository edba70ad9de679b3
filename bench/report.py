"""BENCHMARKS.md: machine, limits, targets, then one table per workload case, from the workers' results."""

from __future__ import annotations

from .limits import limit_seconds
from .targets import judge

LIBRARY_ORDER = ("weightnoise", "numpy", "torch", "backpack", "jax")
DTYPE_ORDER = ("float64", "float32")
TITLES = {
    "W1": "W1 — per-example ‖g_n‖² for all n",
    "W2": "W2 — the penalty Ω and its gradient ∇_θ Ω (timed together)",
    "W3": "W3 — J̃_η with shared noise",
    "W4": "W4 — J̃_η with per-example noise: literal (per_example) and local",
    "W5": "W5 — standard normals",
    "W6": "W6 — one epoch of minibatch SGD",
}


INTRODUCTION = (
    "Times are wall-clock seconds per workload, median and minimum of the timed runs after a warm-up, "
    "on one thread the runs of a workload's rows interleaved (one run of each row per round). "
    "`÷ weightnoise` is this row's median over weightnoise's float64 median (same case, same threads): "
    "above 1, weightnoise is faster. `÷ limit` is the median over the machine's limit for the workload "
    "(FLOPs at the measured GEMM rate plus tanh evaluations at the measured tanh rate; bench/flops.py "
    "documents the counts). A row marked **scaled ×s** ran on a fraction of the workload (fewer examples, "
    "draws, normals or minibatches; every cost here is linear in that count) and its times were multiplied "
    "by s. Every row was checked against weightnoise (or against the NumPy definition, for noise) before "
    "it was timed; a row that disagreed is **FAILED** and was not timed."
)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _row_key(row):
    library = LIBRARY_ORDER.index(row["library"]) if row["library"] in LIBRARY_ORDER else len(LIBRARY_ORDER)
    dtype = DTYPE_ORDER.index(row["dtype"]) if row["dtype"] in DTYPE_ORDER else len(DTYPE_ORDER)
    return library, row["impl"], dtype, row["threads"]


def _weightnoise_time(rows, row) -> float | None:
    """The weightnoise float64 median of the same case and thread count (the ratio's denominator)."""
    for other in rows:
        if (other.get("baseline") and other["status"] == "ok"
                and (other["workload"], other["case"], other["threads"]) ==
                (row["workload"], row["case"], row["threads"])):
            return other["median_s"]
    return None


def _size_note(row) -> str:
    if row.get("scale", 1) == 1:
        return ""
    return f"**scaled ×{row['scale']:g}** from {row['units']:,} of {row['full_units']:,} {row['unit']}"


def case_table(rows: list[dict], limits: dict[int, dict]) -> list[str]:
    lines = [("| implementation | library | dtype | threads | median | min | runs | ÷ weightnoise | ÷ limit | check "
              "| note |"), "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in sorted(rows, key=_row_key):
        status = row["status"]
        if status == "ok":
            wn = _weightnoise_time(rows, row)
            limit = None
            if row["threads"] in limits and row["dtype"] in limits[row["threads"]]:
                limit = limit_seconds(row["flops"], row["activations"], limits[row["threads"]][row["dtype"]])
            ratio = f"{row['median_s'] / wn:.2f}" if wn else "—"
            to_limit = f"{row['median_s'] / limit:.2f}" if limit else "—"
            cells = [seconds(row["median_s"]), seconds(row["min_s"]), str(len(row["times_s"])), ratio, to_limit]
        else:
            cells = [f"**{status}**", "", "", "", ""]
        note = "; ".join(n for n in (_size_note(row), row.get("note", "")) if n)
        lines.append("| " + " | ".join([row["impl"], row["library"], row["dtype"], str(row["threads"]), *cells,
                                          row.get("check", "") or "", note]) + " |")
    return lines


def render(results: list[dict], machine: dict, mode: str, command: str, failed_threads=(), note: str = "") -> str:
    versions = results[0]["versions"]
    limits = {r["threads"]: r["limits"] for r in results}
    rows = [row for r in results for row in r["rows"]]
    out = ["# weightnoise benchmarks", "",
           f"Mode `{mode}`, {machine['date']}; command `{command}`.", "",
           *([f"**Note:** {note}", ""] if note else []),
           INTRODUCTION, "",
           "## Machine", "",
           f"- CPU: {machine['cpu']}; {machine['logical_cpus']} logical CPUs ({machine['usable_cpus']} usable)",
           f"- SIMD: {', '.join(machine['simd']) or 'none detected'}",
           f"- {machine['platform']}, Python {machine['python']}",
           "- Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    for threads in failed_threads:
        out.append(f"- {threads} thread(s): **the worker failed**; no results")
    for r in results:
        out.append(f"- {r['threads']} thread(s): affinity {r['affinity']}; " + "; ".join(r["pinning"]))
    out += ["", "## Machine limits (measured in this run)", "",
            "The higher rate of two measurements, before and after the workloads.", "",
            "| threads | dtype | GEMM (2048², NumPy BLAS) | tanh (fastest of NumPy, PyTorch, XLA) |",
            "|---:|---|---:|---:|"]
    for threads, by_dtype in sorted(limits.items()):
        for dtype, v in by_dtype.items():
            out.append(f"| {threads} | {dtype} | {v['gemm_flops_per_s'] / 1e9:.1f} GFLOP/s | "
                       f"{v['tanh_per_s'] / 1e6:.0f} M/s ({v['tanh_source']}) |")
    out += ["", "## Targets", "", "Arch A, float64, ratios of medians measured side by side in this run.", "",
            "| target | threads | measured | status | note |", "|---|---|---:|---|---|"]
    for v in judge(rows, limits):
        status = {"met": "met", "NOT met": "**NOT met**"}.get(v.status, v.status)
        out.append(f"| {v.target.text} | {v.threads} | {v.measured} | {status} | {v.note} |")
    for workload in sorted({row["workload"] for row in rows}):
        out += ["", f"## {TITLES.get(workload, workload)}"]
        w_rows = [row for row in rows if row["workload"] == workload]
        for case in dict.fromkeys(row["case"] for row in w_rows):
            c_rows = [row for row in w_rows if row["case"] == case]
            targets = "" if c_rows[0]["has_targets"] else " (no targets)"
            out += ["", f"### {workload} {case}: {c_rows[0]['description']}{targets}", ""]
            out += case_table(c_rows, limits)
    skips = sorted({row["note"] for row in rows if row["status"] == "skipped"})
    if skips:
        out += ["", "## Not run", ""] + [f"- {s}" for s in skips]
    return "\n".join(out) + "\n"
