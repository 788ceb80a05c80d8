# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
SDP clustering kernels
"""

from __future__ import annotations

from typing import Any, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

def cpu_has_avx2_fma() -> bool:
    """
    whether peng_wei(isa='auto') uses the AVX2 + FMA build on this CPU
    """
def kmeans(Y: ArrayLike, n_clusters: _Int, n_init: _Int = 10, max_iter: _Int = 300, seed: _Int = 0, threads: _Int = 1) -> tuple[NDArray[np.int64], NDArray[np.float64], float]:
    """
    k-means++ (Philox) then Lloyd, best of n_init; returns (labels, centers, inertia)
    """
def la_sdp(X: ArrayLike, covariances: ArrayLike, U0: ArrayLike, rank: _Int = 2, tol: _Float = 1e-06, max_iter: _Int = 20000, beta0: _Float = -1.0, threads: _Int = 1) -> dict[str, Any]:
    """
    likelihood-adjusted SDP on K factor blocks, warm-started at U0; returns a dict
    """
def peng_wei(X: ArrayLike, n_clusters: _Int, rank: _Int, seed: _Int, tol: _Float = 1e-06, max_iter: _Int = 20000, beta0: _Float = -1.0, threads: _Int = 1, dual_c: _Float = 1.0, dual_bb: _Float = 100.0, isa: str = 'auto', progress: Any = None, progress_interval: _Float = 0.1, settle_n_init: _Int = 0, settle_seed: _Int = 0, settle_infeas: _Float = 0.01, init_labels: ArrayLike | None = None, init_weight: _Float = 0.5) -> dict[str, Any]:
    """
    Peng-Wei K-means SDP by the non-negative low-rank augmented Lagrangian; returns a dict. isa: 'auto' (AVX2 + FMA where the CPU has them), 'avx2' or 'baseline'; the two builds may differ in the last bits
    """
def round_factor(U: ArrayLike, n_clusters: _Int) -> NDArray[np.float64]:
    """
    top n_clusters left singular vectors of U (n x K)
    """
