#!/usr/bin/env bash
# Build the compiled core with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option WEIGHTNOISE_SANITIZE) in its own virtual environment and run a
# fast subset of the test suite under it. Exits non-zero on a failing test or
# on any sanitizer report, which it prints.
#
#   tools/sanitize.sh                  # venv .venv-asan, build dir build/asan
#   tools/sanitize.sh -x --lf          # extra arguments go to pytest
#   ASAN_SKIP_BUILD=1 HYPOTHESIS_PROFILE=ci tools/sanitize.sh -k fuzz
#                                      # all CI fuzz cases (a -k replaces the subset's)
#
# Environment:
#   ASAN_VENV       virtual environment to create or reuse (default .venv-asan)
#   ASAN_JOBS       parallel compile jobs (default 2)
#   ASAN_SKIP_BUILD 1: reuse the installed build as it is (no pip, no compile)
#   ASAN_BUILD_ONLY 1: build and install, run no tests
#   PYTHON          interpreter that creates the venv (default python3)
#   CXX             compiler (default g++); its libasan.so is preloaded
#   HYPOTHESIS_PROFILE  of tests/test_fuzz.py (default sanitize: 40 cases per test)
#
# The extension is instrumented but CPython is not, so the ASan runtime must be
# loaded first: LD_PRELOAD=$(g++ -print-file-name=libasan.so), and libstdc++
# with it (the python executable does not link libstdc++, so without it ASan
# finds no real __cxa_throw to forward to and aborts at the first C++
# exception: "CHECK failed: asan_interceptors.cpp ... real___cxa_throw").
# Leak detection is off (detect_leaks=0) because CPython deliberately never
# frees much of its startup state and interned objects, so LeakSanitizer would
# report thousands of by-design "leaks" from the interpreter;
# tests/test_reliability.py checks the extension's own leaks by resident
# memory instead. Huge allocations fail
# as they do without ASan (allocator_may_return_null=1: a MemoryError, not an
# abort), since the memory-guard tests are about exactly those requests.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${ASAN_VENV:-.venv-asan}
JOBS=${ASAN_JOBS:-2}
CXX=${CXX:-g++}
export CXX

if [ "${ASAN_SKIP_BUILD:-0}" != 1 ]; then
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -c "import tomllib" 2>/dev/null || "$VENV/bin/python" -m pip install --quiet tomli
  # pyproject.toml's build requirements and dependencies, and of its test extra what the chosen tests
  # import (pytest, hypothesis): the same pins as the rest of CI.
  mapfile -t requirements < <("$VENV/bin/python" -c '
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib
import re
with open("pyproject.toml", "rb") as f:
    pyproject = tomllib.load(f)
project = pyproject["project"]
tests = [r for r in project["optional-dependencies"]["test"] if re.match(r"(pytest|hypothesis)\b", r)]
print("\n".join(pyproject["build-system"]["requires"] + project["dependencies"] + tests))
')
  "$VENV/bin/python" -m pip install --quiet "${requirements[@]}"
  # RelWithDebInfo adds -g for symbolized stack traces; CMakeLists.txt builds sanitized kernels at -O1.
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS "$VENV/bin/python" -m pip install --quiet --no-build-isolation --no-deps \
    --force-reinstall -Ccmake.define.WEIGHTNOISE_SANITIZE=ON -Ccmake.build-type=RelWithDebInfo \
    -Cbuild-dir=build/asan .
fi

libasan=$("$CXX" -print-file-name=libasan.so)
libstdcxx=$("$CXX" -print-file-name=libstdc++.so)
for lib in "$libasan" "$libstdcxx"; do
  case "$lib" in
    /*) ;;
    *) echo "sanitize.sh: $CXX has no ${lib} (-print-file-name found no file)" >&2; exit 1 ;;
  esac
done

# The installed core must be the instrumented one (not a stale or editable build).
platlib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
shopt -s nullglob
cores=("$platlib"/weightnoise/_core*.so)
shopt -u nullglob
if [ ${#cores[@]} -eq 0 ]; then
  echo "sanitize.sh: no compiled core under $platlib/weightnoise" >&2; exit 1
fi
for core in "${cores[@]}"; do
  if ! ldd "$core" | grep libasan >/dev/null; then  # not -q: with pipefail, an early exit SIGPIPEs ldd
    echo "sanitize.sh: $core is not linked against libasan (not a WEIGHTNOISE_SANITIZE build)" >&2; exit 1
  fi
done

if [ "${ASAN_BUILD_ONLY:-0}" = 1 ]; then
  echo "sanitize.sh: built ${cores[*]}"; exit 0
fi

# Reports go to files (log_path), so one from a test's subprocess, or from a
# process that dies under pytest's output capture, is still seen.
reports=$(mktemp -d "${TMPDIR:-/tmp}/weightnoise-sanitize.XXXXXX")
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:symbolize=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1:log_path=$reports/ubsan"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-sanitize}
export PYTHONFAULTHANDLER=1

# Kernels against the reference, argument validation, the fuzzer (small
# profile) and the reliability tests, less those that time things or measure
# resident memory (ASan's shadow memory, quarantine and 2-3x slowdown make them
# meaningless) and the one that caps the address space with RLIMIT_AS (ASan
# reserves terabytes of virtual shadow memory at startup).
deselect="not memory_flat and not peak_memory and not gil_is_released and not ctrl_c and not within_a_second"
deselect="$deselect and not hostile_layer_sizes_in_a_file"

echo "sanitize.sh: $("$VENV/bin/python" --version), LD_PRELOAD $libasan $libstdcxx, reports in $reports"
status=0
LD_PRELOAD="$libasan $libstdcxx" "$VENV/bin/python" -m pytest -p no:cacheprovider -q \
  tests/test_kernels_vs_reference.py tests/test_validation.py tests/test_fuzz.py tests/test_reliability.py \
  -k "$deselect" "$@" || status=$?

shopt -s nullglob
found=("$reports"/*)
shopt -u nullglob
if [ ${#found[@]} -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "===== sanitizer report: $f" >&2
    cat "$f" >&2
  done
  echo "sanitize.sh: ${#found[@]} sanitizer report(s)" >&2
  exit 1
fi
rm -rf "$reports"
if [ "$status" -ne 0 ]; then
  echo "sanitize.sh: pytest failed (exit $status), no sanitizer report" >&2
  exit "$status"
fi
echo "sanitize.sh: tests passed, no sanitizer report"
