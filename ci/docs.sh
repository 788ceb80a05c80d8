#!/usr/bin/env bash
# Build the documentation with warnings as errors; the gallery scripts (examples/plot_*.py) run during the build.
#
#   bash ci/docs.sh
#
# Run it in an environment where ridgeline is installed (as .ci/run does after `pip install .`).  It installs
# the packages of the `docs` extra without reinstalling ridgeline itself (`pip install ".[docs]"` would compile
# the extension again), then runs sphinx-build -W into docs/_build/html.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
t0=$SECONDS

"$PY" - <<'PYEOF' > "${TMPDIR:-/tmp}/ridgeline-docs-requirements.txt"
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["docs"]))
PYEOF
"$PY" -m pip install -q -r "${TMPDIR:-/tmp}/ridgeline-docs-requirements.txt"
t_install=$((SECONDS - t0))

# Document the installed package (run from the repository root, python/ is not on sys.path).
"$PY" -c "import ridgeline; print('documenting ridgeline', ridgeline.__version__, 'from', ridgeline.__file__)"
rm -rf docs/_build docs/auto_examples docs/sg_execution_times.rst
MPLBACKEND=agg "$PY" -m sphinx -W --keep-going -b html docs docs/_build/html
t_total=$((SECONDS - t0))
echo "docs.sh: install ${t_install}s, total ${t_total}s; open docs/_build/html/index.html"
