# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
SDP clustering kernels
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

class PengWeiSolution:
    """
    the Peng-Wei K-means SDP solved (read-only)
    """
    _fields: ClassVar[tuple[str, ...]]
    def __getstate__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, arg0: tuple[Any, ...]) -> None: ...
    @property
    def U(self) -> NDArray[np.float64]: ...
    @property
    def y(self) -> NDArray[np.float64]: ...
    @property
    def beta(self) -> float: ...
    @property
    def objective(self) -> float: ...
    @property
    def infeasibility(self) -> float: ...
    @property
    def stationarity(self) -> float: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def n_dual(self) -> int: ...
    @property
    def converged(self) -> bool: ...
    @property
    def scale2(self) -> float: ...
    @property
    def isa(self) -> str: ...
    @property
    def settled(self) -> bool: ...
    @property
    def stalled(self) -> bool: ...
    @property
    def best_rounding(self) -> NDArray[np.int64]: ...
    @property
    def best_cost(self) -> float: ...
    @property
    def best_iter(self) -> int: ...
class SdpSolution:
    """
    the likelihood-adjusted SDP solved (read-only)
    """
    _fields: ClassVar[tuple[str, ...]]
    def __getstate__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, arg0: tuple[Any, ...]) -> None: ...
    @property
    def U(self) -> NDArray[np.float64]: ...
    @property
    def y(self) -> NDArray[np.float64]: ...
    @property
    def beta(self) -> float: ...
    @property
    def objective(self) -> float: ...
    @property
    def infeasibility(self) -> float: ...
    @property
    def stationarity(self) -> float: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def n_dual(self) -> int: ...
    @property
    def converged(self) -> bool: ...
    @property
    def settled(self) -> bool: ...
class KMeansResult:
    """
    the best of n_init k-means runs (read-only)
    """
    _fields: ClassVar[tuple[str, ...]]
    def __getstate__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, arg0: tuple[Any, ...]) -> None: ...
    @property
    def labels(self) -> NDArray[np.int64]: ...
    @property
    def centers(self) -> NDArray[np.float64]: ...
    @property
    def inertia(self) -> float: ...
def cpu_has_avx2_fma() -> bool:
    """
    whether peng_wei(isa='auto') uses the AVX2 + FMA build on this CPU
    """
def kmeans(Y: ArrayLike, n_clusters: _Int, n_init: _Int = 10, max_iter: _Int = 300, seed: _Int = 0, n_threads: _Int = 1) -> KMeansResult:
    """
    k-means++ (Philox) then Lloyd, best of n_init; returns a KMeansResult
    """
def la_sdp(X: ArrayLike, covariances: ArrayLike, U0: ArrayLike, rank: _Int = 2, tol: _Float = 1e-06, max_iter: _Int = 20000, beta0: _Float = -1.0, n_threads: _Int = 1, progress: Callable[[int, float, float], object] | None = None, progress_interval: _Float = 0.1, settle_every: _Int = 0, settle_infeas: _Float = 0.01, isa: str = 'auto') -> SdpSolution:
    """
    likelihood-adjusted SDP on K factor blocks, warm-started at U0; returns an SdpSolution. settle_every > 0: stop early (result 'settled') once the block labels argmax_k (U_k U_k^T 1)_i, read every settle_every iterations below infeasibility settle_infeas, are the same three readings in a row. isa: as for peng_wei
    """
def peng_wei(X: ArrayLike, n_clusters: _Int, rank: _Int, seed: _Int, tol: _Float = 1e-06, max_iter: _Int = 20000, beta0: _Float = -1.0, n_threads: _Int = 1, dual_c: _Float = 1.0, dual_bb: _Float = 100.0, isa: str = 'auto', progress: Callable[[int, float, float], object] | None = None, progress_interval: _Float = 0.1, settle_n_init: _Int = 0, settle_seed: _Int = 0, settle_infeas: _Float = 0.01, init_labels: ArrayLike | None = None, init_weight: _Float = 0.5, stall_checks: _Int = 0, stall_rtol: _Float = 1e-09) -> PengWeiSolution:
    """
    Peng-Wei K-means SDP by the non-negative low-rank augmented Lagrangian; returns a PengWeiSolution. isa: 'auto' (AVX2 + FMA where the CPU has them), 'avx2' or 'baseline'; the two builds may differ in the last bits
    """
def lloyd(X: ArrayLike, centers: ArrayLike, max_iter: _Int = 300) -> tuple[NDArray[np.int64], NDArray[np.float64], float, int]:
    """
    Lloyd's iterations from centers until the labels repeat; returns (labels, centers, cost, n_iter) (an empty cluster takes the point farthest from its centre)
    """
def round_factor(U: ArrayLike, n_clusters: _Int) -> NDArray[np.float64]:
    """
    top n_clusters left singular vectors of U (n x K)
    """
