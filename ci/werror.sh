#!/usr/bin/env bash
# A warnings-as-errors build of the extension (a compile check; the installed package is what gets tested).
# Usage: bash ci/werror.sh WORKDIR   (inside the CI venv)
set -euxo pipefail
WORK="${1:-$(mktemp -d)}"
pip install pybind11 cmeel-eigen ninja
cmake -S . -B "$WORK/werror" -G Ninja -DRIDGELINE_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$(command -v python)" -Dpybind11_DIR="$(python -m pybind11 --cmakedir)"
cmake --build "$WORK/werror" -j2
