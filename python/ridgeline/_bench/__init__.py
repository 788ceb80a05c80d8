"""Benchmark suites behind ``ridgeline bench <suite>`` (shipped with the package).

Shared helpers: CPU-time measurement, interleaved medians and ratio tables.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def cpu_time(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (process CPU seconds, its result)."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def interleaved_medians(
    contenders: dict[str, Callable[[], Any]], repeats: int = 5, clock: Callable[[], float] = time.process_time
) -> dict[str, float]:
    """Median time of each contender over ``repeats`` rounds, run interleaved (A B C A B C ...)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = clock()
            fn()
            times[name].append(clock() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text (markdown-compatible) table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join([line, sep, *body])


def have(module: str) -> bool:
    """Whether an optional peer package can be imported."""
    import importlib.util

    return importlib.util.find_spec(module) is not None
