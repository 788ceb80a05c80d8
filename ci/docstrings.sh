#!/usr/bin/env bash
# Every public parameter described: numpydoc's PR01/PR02/GL08 checks over the public API (ci/check_docstrings.py;
# numpydoc is installed here when missing).  Fails on findings outside the modules it lists as pending.
#
#   bash ci/docstrings.sh [WORKDIR]        # WORKDIR (passed by .ci/run) is not used
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
"$PY" -c "import numpydoc" >/dev/null 2>&1 || "$PY" -m pip install -q "numpydoc>=1.6"
"$PY" ci/check_docstrings.py
