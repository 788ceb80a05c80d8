#!/usr/bin/env bash
# Static typing: `mypy --strict` ([tool.mypy] in pyproject.toml) and mypy.stubtest of the _core stubs
# (python/ridgeline/_core/*.pyi) against the compiled module.
#
#   bash ci/mypy.sh [WORKDIR]        # WORKDIR (passed by .ci/run) is not used
#
# 1. mypy --strict on the whole package, with the error count per module (printed always);
# 2. mypy --strict on the shared modules (ridgeline, _validation, _io, _progress, _exceptions, _random, cli), the
#    _core stubs and the engines listed in PASSING (all four), errors in any other module not reported;
# 3. stubtest: the stubs match the compiled module (names, signatures, properties).
# It fails on errors in 1, 2 and 3 (MYPY_FAIL_ON=shared: only on 2 and 3, for a new module that does not pass yet).  Run it where ridgeline is installed (stubtest imports ridgeline._core) or from a
# development checkout with the extension built.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
FAIL_ON="${MYPY_FAIL_ON:-all}"
"$PY" -m mypy --version >/dev/null 2>&1 || "$PY" -m pip install -q "mypy>=1.11"

SHARED=(python/ridgeline/__init__.py python/ridgeline/__main__.py python/ridgeline/_validation.py
  python/ridgeline/_io.py python/ridgeline/_progress.py python/ridgeline/_exceptions.py
  python/ridgeline/_random.py python/ridgeline/cli.py python/ridgeline/_core)
# Engines whose modules pass mypy --strict: checked (and failing) in step 2 as well.
PASSING=(python/ridgeline/nested python/ridgeline/cluster python/ridgeline/elbo python/ridgeline/spectra)
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0

echo "== mypy --strict, whole package"
all_status=0
"$PY" -m mypy --strict >"$out" 2>&1 || all_status=$?
cat "$out"
echo "mypy --strict errors per module:"
grep -E "^python/ridgeline/.*: error:" "$out" \
  | sed -E 's#^python/ridgeline/([^/:]+)(/[^:]*)?:.*#\1#' | sort | uniq -c | sort -rn || echo "      0 (none)"
if [[ "$FAIL_ON" == "all" && "$all_status" != 0 ]]; then status=1; fi

echo "== mypy --strict, shared modules, _core stubs and the passing engines (${PASSING[*]})"
"$PY" -m mypy --strict --follow-imports=silent "${SHARED[@]}" "${PASSING[@]}" || status=1

echo "== stubtest ridgeline._core"
"$PY" -m mypy.stubtest ridgeline._core --mypy-config-file pyproject.toml --allowlist ci/stubtest-allowlist.txt || status=1
exit "$status"
