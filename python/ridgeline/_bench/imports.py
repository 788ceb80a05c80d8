"""``ridgeline bench imports``: import time of ridgeline against numpy alone.

Each round starts fresh interpreters (CPU time of the child) for ``import numpy`` and ``import ridgeline``
(which also imports numpy), interleaved; the medians and their difference are
reported.  The budget is 30 ms over numpy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Sequence

from ridgeline._bench import format_table


def _time_import(stmt: str) -> float:
    """CPU seconds (user + system) of a fresh interpreter running ``stmt``.

    CPU time rather than wall time: these machines are shared and noisy.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", stmt], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(repeats: int = 15) -> dict[str, float]:
    """Median CPU time (s) of a fresh interpreter importing each module."""
    stmts = {"python": "pass", "numpy": "import numpy", "numpy, ridgeline": "import numpy, ridgeline"}
    times: dict[str, list[float]] = {k: [] for k in stmts}
    for _ in range(repeats):
        for name, stmt in stmts.items():
            times[name].append(_time_import(stmt))
    return {k: statistics.median(v) for k, v in times.items()}


def self_reported(repeats: int = 15) -> float:
    """Median of ``-X importtime``'s cumulative time for ``ridgeline`` imported after numpy (s)."""
    vals = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import numpy, ridgeline"],
            capture_output=True, text=True, check=True,
        ).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "ridgeline":
                vals.append(int(parts[1]) * 1e-6)
    return statistics.median(vals)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print a table."""
    p = argparse.ArgumentParser(prog="ridgeline bench imports", description=__doc__)
    p.add_argument("--repeats", type=int, default=15, help="interleaved rounds (default 15)")
    args = p.parse_args(argv)
    med = measure(args.repeats)
    extra = med["numpy, ridgeline"] - med["numpy"]
    rows = [[k, f"{v * 1e3:.1f}"] for k, v in med.items()]
    print(format_table(["import (fresh interpreter)", "median CPU ms"], rows))
    own = self_reported(args.repeats)
    print(f"\n(import numpy, ridgeline) - (import numpy) = {extra * 1e3:.1f} ms CPU (median of {args.repeats} interleaved)")
    print(f"-X importtime cumulative for ridgeline after numpy: {own * 1e3:.1f} ms (median)")
    print(f"budget 30 ms: {'OK' if max(extra, own) <= 0.030 else 'OVER'}")
    return 0
