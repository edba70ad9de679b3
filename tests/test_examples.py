"""Every script in examples/ runs to completion.

A script that needs an optional package says so on a line ``# requires: NAME``
(an importable module name); it is skipped where that package is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIMEOUT_S = 120  # each script is meant to finish in well under 20 s; the margin is for loaded machines


def requirements(script: Path) -> list[str]:
    return re.findall(r"^# requires: *(\S+) *$", script.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_there_are_examples():
    assert len(SCRIPTS) >= 3


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_example_runs(script, tmp_path):
    for module in requirements(script):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{script.name} needs {module}")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "error"}
    completed = subprocess.run([sys.executable, str(script)], check=False, cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, f"{script.name} failed:\n{completed.stdout}\n{completed.stderr}"
    assert completed.stdout.strip(), f"{script.name} printed nothing"
