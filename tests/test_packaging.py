"""The install paths a newcomer uses agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_test_requirements_file_matches_the_test_extra_and_group():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = sorted(_norm(r) for r in meta["project"]["optional-dependencies"]["test"])
    group = sorted(_norm(r) for r in meta["dependency-groups"]["test"])
    lines = (ROOT / "requirements-test.txt").read_text().splitlines()
    listed = sorted(_norm(x) for x in lines if x.strip() and not x.lstrip().startswith("#"))
    assert listed == extra == group


def test_readme_test_command_installs_no_project():
    # `pip install .` builds the extension once; the test command must not build it again.
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements-test.txt && pytest" in readme
    assert 'pip install ".[test]" && pytest' not in readme
