"""pytest-benchmark: the C++ Peng-Wei solver against the numpy reference (same algorithm)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.cluster import _reference as R


def _mixture(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    K, p = 4, 20
    dbar = np.sqrt(4 * (1 + np.sqrt(1 + K * p / (n * np.log(n)))) * np.log(n))
    mu = np.zeros((K, p))
    mu[np.arange(K), np.arange(K)] = 1.2 * dbar / np.sqrt(2)
    return mu[np.arange(n) * K // n] + rng.standard_normal((n, p))


@pytest.mark.benchmark(group="peng-wei n=400, 500 iterations")
@pytest.mark.parametrize("impl", ["core", "reference"])
def test_peng_wei(benchmark: object, impl: str) -> None:
    X = _mixture(400)
    if impl == "core":
        benchmark(lambda: _core.cluster.peng_wei(X, 4, 8, 1, max_iter=500))  # type: ignore[operator]
    else:
        benchmark(lambda: R.peng_wei(X, 4, seed=1, max_iter=500))  # type: ignore[operator]
