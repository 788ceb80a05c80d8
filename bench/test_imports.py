"""Import-time benchmark: ``import ridgeline`` on top of numpy (budget: 30 ms).

Run: ``pytest bench/test_imports.py --benchmark-enable -o addopts=""`` or ``ridgeline bench imports``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.benchmark(group="import")
@pytest.mark.parametrize("stmt", ["import numpy", "import numpy, ridgeline"])
def test_import_time(benchmark, stmt: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(lambda: subprocess.run([sys.executable, "-c", stmt], check=True), rounds=7, iterations=1)
