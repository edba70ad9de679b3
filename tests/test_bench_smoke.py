"""The benchmark suite runs end to end: bench/run.py --smoke in a subprocess (tiny sizes, one run each).

No timing is asserted; peers whose library is not installed are skipped by the suite itself.
"""

from __future__ import annotations

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
