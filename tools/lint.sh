#!/usr/bin/env bash
# Static checks: ruff, mypy (strict, on the package; configured in pyproject.toml) and the
# compiled core's stub (python/weightnoise/_core.pyi) against the built extension.
# Runs every check and exits non-zero if any failed. Needs the `dev` extra and an
# installed weightnoise (the stub check imports it):
#     pip install ".[dev]" && tools/lint.sh
# PYTHON names the interpreter (default: python, e.g. the active virtual environment's).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
failed=()
check() {
  printf '\n--- %s\n' "$*"
  "$PYTHON" "$@" || failed+=("$*")
}
check -m ruff check python tests bench tools examples
check -m mypy
check tools/stubs.py --check
if ((${#failed[@]})); then
  printf '\nlint: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nlint: all checks passed\n'
