# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
nested sampling kernels
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

class Sampler:
    """
    nested sampler state and run loop (private; use ridgeline.nested)
    """
    def __init__(self, ndim: _Int, nlive: _Int, seed: _Int, bound: str = 'multi', enlarge: _Float = 1.25, update_interval: _Int = 50, first_update_eff: _Float = 0.5, batch_min: _Int = 1, batch_max: _Int = 1) -> None:
        ...
    def bound(self) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float]]:
        ...
    def delta_logz(self) -> float:
        ...
    def draw_above(self, lstar: _Float, m: _Int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        ...
    def dump_state(self) -> bytes:
        ...
    def evaluate(self, u: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        ...
    def load_state(self, data: bytes) -> None:
        ...
    def niter(self) -> int:
        ...
    def run(self, dlogz: _Float, maxiter: _Int = -1, maxcall: _Int = -1, progress: Any = None, progress_every: _Int = 0) -> str:
        ...
    def run_until(self, logl_stop: _Float, dlogz: _Float, maxcall: _Int = -1) -> str:
        ...
    def set_live(self, u: ArrayLike, x: ArrayLike, logl: ArrayLike, birth: ArrayLike, logvol: _Float) -> None:
        ...
    def set_loglike_builtin(self, name: str) -> None:
        ...
    def set_loglike_cfunc(self, address: _Int, data: _Int = 0) -> None:
        ...
    def set_loglike_python(self, fn: Any, vectorized: bool) -> None:
        ...
    def set_sample(self, kind: str, slice_steps: _Int = 0, chord_scale: _Float = 1.5, slice_dim: _Int = 21, slice_start: str = 'auto') -> None:
        ...
    def set_threads(self, nthreads: _Int) -> None:
        ...
    def set_transform_affine(self, lo: Sequence[_Float], hi: Sequence[_Float]) -> None:
        ...
    def set_transform_builtin(self) -> None:
        ...
    def set_transform_python(self, fn: Any, vectorized: bool) -> None:
        ...
    def state(self) -> dict[str, Any]:
        ...
def builtin_loglike(name: str, x: ArrayLike) -> NDArray[np.float64]:
    """
    log-likelihood of a built-in problem at the rows of x
    """
def deterministic_weights(logl: ArrayLike, nlive: ArrayLike, nfinal: _Int, logvol_end: _Float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """
    expected log volumes and log weights of a run
    """
def fit_bound(points: ArrayLike, logpointvol: _Float, multi: bool = True, enlarge: _Float = 1.25, folds: int = 0) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float]]:
    """
    the (multi-)ellipsoid bound of a set of points: [(center, shape, logvol), ...]
    """
def simulate_logz(logl: ArrayLike, nlive: ArrayLike, nfinal: _Int, logvol_end: _Float, nsim: _Int, seed: _Int, block: _Int = 16) -> NDArray[np.float64]:
    """
    log Z of nsim runs with redrawn shrinkage factors
    """
