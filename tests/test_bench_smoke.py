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
