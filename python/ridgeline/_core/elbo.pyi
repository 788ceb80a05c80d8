# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
Monte Carlo ELBO kernels
"""

from __future__ import annotations

from typing import Any, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

def norm_ppf(u: ArrayLike) -> NDArray[np.float64]:
    """
    standard normal quantile function (elementwise, flattened)
    """
def plan(row_ids: ArrayLike, pos_ptr: ArrayLike, pos: ArrayLike, key: _Int, scheme: _Int, mask: _Int, budget: _Int, t_min: _Float, nodes: ArrayLike, weights: ArrayLike, nthreads: _Int = 0) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """
    masked-diffusion plan: (t, coef, indptr, indices) for batch * budget evaluations
    """
def reduce_terms(indptr: ArrayLike, indices: ArrayLike, coef: ArrayLike, logp: ArrayLike) -> NDArray[np.float64]:
    """
    per-evaluation terms coef * sum of masked log-probabilities
    """
def sobol_directions(d: _Int) -> NDArray[np.uint32]:
    """
    Sobol direction numbers v[j, b] (32-bit) of the first d dimensions
    """
def sobol_normal(n: _Int, d: _Int, key: _Int) -> NDArray[np.float64]:
    """
    Owen-scrambled Sobol points mapped through the normal quantile function
    """
def sobol_uniform(n: _Int, d: _Int, key: _Int, scramble: bool = True) -> NDArray[np.float64]:
    """
    first n points of the d-dimensional Sobol sequence, Owen-scrambled with a Philox key
    """
def stratum_l(v: ArrayLike, k: ArrayLike, n: _Int, budget: _Int) -> NDArray[np.int64]:
    """
    number of masked tokens of stratum k at offset v (the mapping the l-schemes use)
    """
