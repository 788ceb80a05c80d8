# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
counter-based random numbers (Philox4x32-10)
"""

from __future__ import annotations

from typing import Any, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

def integers(seed: _Int, stream: _Int, bound: _Int, n: _Int) -> NDArray[np.uint64]:
    """
    n unbiased integers in [0, bound)
    """
def mix_seed(seed: _Int, salt: _Int) -> int:
    ...
def normal(seed: _Int, stream: _Int, n: _Int) -> NDArray[np.float64]:
    """
    n standard normals from a stream (Box-Muller)
    """
def uniform(seed: _Int, stream: _Int, n: _Int) -> NDArray[np.float64]:
    """
    n uniforms in (0, 1) from a stream
    """
def words(seed: _Int, stream: _Int, start: _Int, n: _Int) -> NDArray[np.uint64]:
    """
    64-bit words start..start+n-1 of a Philox stream
    """
def ziggurat_normal(seed: _Int, stream: _Int, n: _Int) -> NDArray[np.float64]:
    """
    n standard normals from a stream (ziggurat)
    """
