"""The project's speed targets (issue 6), judged on the rows of one run: met, NOT met, or not measured.

All on Arch A (W4: N = 8,192), float64, at 1 and 2 threads, as ratios of
times measured side by side in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .limits import limit_seconds

WN = {"W1": "weightnoise.grad_norms_sq", "W2": "weightnoise.penalty_and_grad",
      "W3": "weightnoise.perturbed_loss(shared)", "W5": "weightnoise.standard_normal", "W6": "weightnoise.fit"}


@dataclass(frozen=True)
class Target:
    text: str
    kind: str                     # "faster": peer / ours ≥ bound; "limit": ours / limit ≤ bound;
                                  # "speedup": ours at 1 thread / ours at 2 threads ≥ bound
    workload: str
    case: str
    impl: str
    bound: float
    peer_case: str = ""
    peer_impls: tuple[str, ...] = ()   # the first one measured is used
    threads: tuple[int, ...] = (1, 2)


def _faster(w, case, impl, peer_case, peers, bound, text, threads=(1, 2)):
    return Target(text, "faster", w, case, impl, bound, peer_case, tuple(peers), threads)


TARGETS = [
    _faster("W1", "Arch A", WN["W1"], "Arch A", ["JAX rank-one under jax.jit"], 1.5,
            "W1 ≥1.5× faster than rank-one under jax.jit"),
    _faster("W1", "Arch A", WN["W1"], "Arch A", ["BackPACK BatchL2Grad", "PyTorch rank-one (autograd δ)"], 10,
            "W1 ≥10× faster than BackPACK (PyTorch rank-one where BackPACK is missing)"),
    _faster("W1", "Arch A", WN["W1"], "Arch A", ["torch.func vmap(grad)"], 100,
            "W1 ≥100× faster than torch.func vmap(grad)"),
    _faster("W2", "Arch A", WN["W2"], "Arch A", ["jax.jit(jax.grad(rank-one penalty))"], 3,
            "W2 ≥3× faster than jax.jit(jax.grad(rank-one penalty))"),
    _faster("W2", "Arch A", WN["W2"], "Arch A", ["PyTorch rank-one, double backprop"], 3,
            "W2 ≥3× faster than PyTorch double backprop"),
    _faster("W3", "Arch A", WN["W3"], "Arch A", ["JAX: noise up front, lax.map over forwards, jit"], 2,
            "W3 ≥2× faster than JAX with noise drawn up front"),
    _faster("W4", "local", "weightnoise.perturbed_loss(local)", "local", ["NumPy local reparameterization"], 3,
            "W4 local ≥3× faster than local reparameterization in NumPy"),
    _faster("W4", "local", "weightnoise.perturbed_loss(local)", "per_example",
            ["NumPy literal: K·N·P normals, batched matmul"], 25,
            "W4 local ≥25× faster than literal per-example sampling in NumPy"),
    _faster("W4", "local", "weightnoise.perturbed_loss(local)", "per_example",
            ["PyTorch literal: per-example weights, bmm"], 25,
            "W4 local ≥25× faster than literal per-example sampling in PyTorch"),
    _faster("W4", "per_example", "weightnoise.perturbed_loss(per_example)", "per_example",
            ["NumPy literal: K·N·P normals, batched matmul"], 3,
            "W4 per_example (literal) ≥3× faster than NumPy's literal version"),
    _faster("W5", "normals", WN["W5"], "normals", ["NumPy default_rng().standard_normal"], 5,
            "W5 ≥5× NumPy default_rng().standard_normal on 1 thread", threads=(1,)),
    Target("W5 ≥1.8× more normals/s on 2 threads than on 1", "speedup", "W5", "normals", WN["W5"], 1.8),
    _faster("W6", "plain", WN["W6"], "plain", ["PyTorch loop (autograd)"], 5,
            "W6 plain ≥5× faster than the PyTorch loop"),
    _faster("W6", "penalty", WN["W6"], "penalty", ["PyTorch loop, double backprop"], 5,
            "W6 penalty ≥5× faster than the PyTorch loop"),
    _faster("W6", "noise local", WN["W6"], "noise per_example", ["PyTorch loop, literal noise (bmm)"], 40,
            "W6 noise (local) ≥40× faster than PyTorch's literal per-example noise"),
] + [
    Target(f"{w} within 1.5× of the machine limit on 1 thread", "limit", w, "Arch A", WN[w], 1.5, threads=(1,))
    for w in ("W1", "W2", "W3")
] + [
    Target(f"{w} 2-thread speed-up ≥1.7×", "speedup", w, "Arch A", WN[w], 1.7) for w in ("W1", "W2", "W3")
]


@dataclass(frozen=True)
class Verdict:
    target: Target
    threads: str
    measured: str
    status: str      # "met", "NOT met", "not measured"
    note: str = ""


def _find(rows, workload, case, impl, threads):
    for row in rows:
        if (row["workload"], row["case"], row["impl"], row["dtype"], row["threads"]) == \
                (workload, case, impl, "float64", threads):
            return row
    return None


def _why_missing(row, label) -> str:
    if row is None:
        return f"{label}: no row"
    if row["status"] != "ok":
        return f"{label}: {row['status']}" + (f" ({row['note']})" if row.get("note") else "")
    return ""


def _scaled(row) -> str:
    return f"{row['impl']} scaled ×{row['scale']:g}" if row.get("scale", 1) != 1 else ""


def judge(rows: list[dict], limits: dict[int, dict]) -> list[Verdict]:
    """Every target at every thread count it names, against the rows of this run."""
    verdicts = []
    measured_threads = {row["threads"] for row in rows}
    for t in TARGETS:
        if t.kind == "speedup":
            if not {1, 2} <= measured_threads:
                verdicts.append(Verdict(t, "1 → 2", "—", "not measured", "needs --threads 1,2"))
                continue
            one, two = _find(rows, t.workload, t.case, t.impl, 1), _find(rows, t.workload, t.case, t.impl, 2)
            missing = _why_missing(one, "1 thread") or _why_missing(two, "2 threads")
            if missing:
                verdicts.append(Verdict(t, "1 → 2", "—", "not measured", missing))
                continue
            ratio = one["median_s"] / two["median_s"]
            verdicts.append(Verdict(t, "1 → 2", f"{ratio:.2f}×", "met" if ratio >= t.bound else "NOT met"))
            continue
        for threads in (n for n in t.threads if n in measured_threads):
            ours = _find(rows, t.workload, t.case, t.impl, threads)
            missing = _why_missing(ours, t.impl)
            if t.kind == "limit":
                if missing or threads not in limits:
                    verdicts.append(Verdict(t, str(threads), "—", "not measured", missing or "no limits"))
                    continue
                limit = limit_seconds(ours["flops"], ours["activations"], limits[threads]["float64"])
                ratio = ours["median_s"] / limit
                verdicts.append(Verdict(t, str(threads), f"{ratio:.2f}× limit",
                                        "met" if ratio <= t.bound else "NOT met", _scaled(ours)))
                continue
            peer = next((r for r in (_find(rows, t.workload, t.peer_case, p, threads) for p in t.peer_impls)
                         if r is not None and r["status"] == "ok"), None)
            if missing or peer is None:
                peer_missing = _why_missing(_find(rows, t.workload, t.peer_case, t.peer_impls[0], threads),
                                            t.peer_impls[0])
                verdicts.append(Verdict(t, str(threads), "—", "not measured", missing or peer_missing))
                continue
            ratio = peer["median_s"] / ours["median_s"]
            notes = [n for n in (_scaled(ours), _scaled(peer)) if n]
            if peer["impl"] != t.peer_impls[0]:
                notes.insert(0, f"against {peer['impl']}")
            verdicts.append(Verdict(t, str(threads), f"{ratio:.1f}×", "met" if ratio >= t.bound else "NOT met",
                                    "; ".join(notes)))
    return verdicts
