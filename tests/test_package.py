"""Package-level behaviour: cheap import, lazy engines, the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ridgeline
from ridgeline import cli


def test_import_is_cheap() -> None:
    code = (
        "import sys, ridgeline; "
        "heavy = [m for m in ('scipy', 'matplotlib', 'torch', 'dask', 'sklearn', 'numba') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engines_are_lazy_attributes() -> None:
    assert set(ridgeline._ENGINES) <= set(dir(ridgeline))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ridgeline.nope  # noqa: B018


def test_cli_usage_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    assert "bench" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert cli.main(["bench", "nope"]) == 2
    assert cli.main(["--version"]) == 0
    assert ridgeline.__version__ in capsys.readouterr().out
