"""Artificially expensive likelihoods (picklable by reference) for executor tests and benchmarks."""

from __future__ import annotations

import time

import numpy as np

from ridgeline.nested import problems

__all__ = ["ExpensiveLoglike"]


class ExpensiveLoglike:
    """A built-in problem's log-likelihood that burns ``cost`` CPU seconds per point.

    Parameters
    ----------
    name : str
        Built-in problem name ('gaussian', 'correlated', ...).
    ndim : int
        Dimension.
    cost : float, default=0.0
        Seconds of busy work per call (spent in this process or worker).
    """

    def __init__(self, name: str, ndim: int, cost: float = 0.0) -> None:
        self.name = name
        self.ndim = ndim
        self.cost = float(cost)
        self._fn = problems.get(name, ndim).loglike.batch

    def __getstate__(self) -> dict[str, object]:
        return {"name": self.name, "ndim": self.ndim, "cost": self.cost}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["name"], state["ndim"], state["cost"])  # type: ignore[misc]

    def _burn(self, n: int) -> None:
        if self.cost > 0:
            end = time.perf_counter() + self.cost * n
            while time.perf_counter() < end:
                pass

    def __call__(self, x: np.ndarray) -> float:
        self._burn(1)
        return float(self._fn(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])

    def batch(self, x: np.ndarray) -> np.ndarray:
        """Vectorised form (m, ndim) -> (m,)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self._burn(x.shape[0])
        return self._fn(x)
