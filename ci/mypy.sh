#!/usr/bin/env bash
# Static typing: `mypy --strict` ([tool.mypy] in pyproject.toml) and mypy.stubtest of the _core stubs
# (python/ridgeline/_core/*.pyi) against the compiled module.
#
#   bash ci/mypy.sh            # the whole package (every public module and what it imports); fails on any error
#   bash ci/mypy.sh shared     # only the shared modules (ridgeline, _validation, _io, _progress, _exceptions,
#                              # _random, cli) and the _core stubs; errors inside the engines are not reported
#
# Either way it prints the error count per module.  Run it where ridgeline is installed (stubtest imports
# ridgeline._core) or from a development checkout with the extension built.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
MODE="${1:-all}"
"$PY" -m mypy --version >/dev/null 2>&1 || "$PY" -m pip install -q "mypy>=1.11"

SHARED=(python/ridgeline/__init__.py python/ridgeline/__main__.py python/ridgeline/_validation.py
  python/ridgeline/_io.py python/ridgeline/_progress.py python/ridgeline/_exceptions.py
  python/ridgeline/_random.py python/ridgeline/cli.py python/ridgeline/_core)
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
case "$MODE" in
  shared) "$PY" -m mypy --strict --follow-imports=silent "${SHARED[@]}" >"$out" 2>&1 || status=$? ;;
  all) "$PY" -m mypy --strict >"$out" 2>&1 || status=$? ;;   # files = python/ridgeline (pyproject)
  *) echo "usage: ci/mypy.sh [all|shared]" >&2; exit 2 ;;
esac
cat "$out"
echo "mypy --strict errors per module:"
grep -E "^python/ridgeline/.*: error:" "$out" \
  | sed -E 's#^python/ridgeline/([^/:]+)(/[^:]*)?:.*#\1#' | sort | uniq -c | sort -rn || echo "      0 (none)"

# The stubs must match the compiled module (names, signatures, properties).
"$PY" -m mypy.stubtest ridgeline._core --mypy-config-file pyproject.toml --allowlist ci/stubtest-allowlist.txt || status=1
exit "$status"
