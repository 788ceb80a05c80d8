# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
Hessian spectra kernels
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, SupportsFloat, SupportsIndex, SupportsInt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

_Int: TypeAlias = SupportsInt | SupportsIndex
_Float: TypeAlias = SupportsFloat | SupportsIndex

class TridiagonalEigh:
    """
    eigenvalues and eigenvectors of a symmetric tridiagonal matrix (read-only)
    """
    _fields: ClassVar[tuple[str, ...]]
    def __getstate__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, arg0: tuple[Any, ...]) -> None: ...
    @property
    def eigenvalues(self) -> NDArray[np.float64]: ...
    @property
    def eigenvectors(self) -> NDArray[np.float64]: ...
class Operator:
    def matmat(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """
        A @ X for an (n, b) block (GIL released)
        """
    def matvec(self, x: ArrayLike) -> NDArray[np.float64]:
        ...
    @property
    def n(self) -> int:
        ...
class DenseOperator(Operator):
    def __init__(self, A: ArrayLike) -> None:
        ...
class CsrOperator(Operator):
    def __init__(self, data: ArrayLike, indices: ArrayLike, indptr: ArrayLike, n: _Int, n_threads: _Int = 1) -> None:
        ...
class Mlp:
    def __init__(self, layer_sizes: Sequence[_Int], activation: str, loss: str) -> None:
        ...
    @property
    def n_params(self) -> int:
        ...
class MlpState:
    def __init__(self, net: Mlp, params: ArrayLike, X: ArrayLike, y: NDArray[Any], isa: str = 'auto', dtype: str = 'float64') -> None:
        ...
    def product(self, V: NDArray[np.float64], gauss_newton: bool = False, n_threads: _Int = 1) -> NDArray[np.float64]:
        ...
    def product32(self, V: NDArray[np.float32], gauss_newton: bool = False, n_threads: _Int = 1) -> NDArray[np.float32]:
        """
        float32 products of an (n, b) float32 block (Fortran order; no conversion for a float32 state)
        """
    @property
    def dtype(self) -> str:
        ...
    @property
    def gradient(self) -> NDArray[np.float64]:
        ...
    @property
    def isa(self) -> str:
        ...
    @property
    def loss(self) -> float:
        ...
class MlpOperator(Operator):
    def __init__(self, state: MlpState, gauss_newton: bool, n_threads: _Int = 1) -> None:
        ...
class LanczosEigs:
    def __init__(self, n: _Int, k: _Int, which: str, tol: _Float, ncv: _Int, max_matvec: _Int, seed: _Int, v0: ArrayLike | None = None) -> None:
        ...
    def lock(self, Z: NDArray[np.float64]) -> None:
        """
        work on the orthogonal complement of Z's orthonormal columns (before the first product)
        """
    def ritz_vector(self, i: _Int) -> NDArray[np.float64]:
        ...
    @property
    def ritz_values(self) -> NDArray[np.float64]:
        ...
    @property
    def ritz_residuals(self) -> NDArray[np.float64]:
        ...
    @property
    def last_beta(self) -> float:
        ...
    def request(self) -> NDArray[np.float64]:
        """
        the (n, b) block whose product with the operator is needed next
        """
    def run(self, op: Operator) -> None:
        """
        drive the engine with a built-in operator (GIL released)
        """
    def supply(self, AX: NDArray[np.float64]) -> None:
        """
        hand back the product of the operator with request()
        """
    @property
    def converged(self) -> bool:
        ...
    @property
    def done(self) -> bool:
        ...
    @property
    def eigenvalues(self) -> NDArray[np.float64]:
        ...
    @property
    def eigenvectors(self) -> NDArray[np.float64]:
        ...
    @property
    def n_matvec(self) -> int:
        ...
    @property
    def n_restarts(self) -> int:
        ...
    @property
    def residuals(self) -> NDArray[np.float64]:
        ...
class LanczosEigs32:
    def __init__(self, n: _Int, k: _Int, which: str, tol: _Float, ncv: _Int, max_matvec: _Int, seed: _Int, v0: ArrayLike | None = None) -> None:
        ...
    def lock(self, Z: NDArray[np.float32]) -> None:
        """
        work on the orthogonal complement of Z's orthonormal columns (before the first product)
        """
    def ritz_vector(self, i: _Int) -> NDArray[np.float64]:
        ...
    @property
    def ritz_values(self) -> NDArray[np.float64]:
        ...
    @property
    def ritz_residuals(self) -> NDArray[np.float64]:
        ...
    @property
    def last_beta(self) -> float:
        ...
    def request(self) -> NDArray[np.float32]:
        """
        the (n, b) block whose product with the operator is needed next
        """
    def supply(self, AX: NDArray[np.float32]) -> None:
        """
        hand back the product of the operator with request()
        """
    @property
    def converged(self) -> bool:
        ...
    @property
    def done(self) -> bool:
        ...
    @property
    def eigenvalues(self) -> NDArray[np.float64]:
        ...
    @property
    def eigenvectors(self) -> NDArray[np.float64]:
        ...
    @property
    def n_matvec(self) -> int:
        ...
    @property
    def n_restarts(self) -> int:
        ...
    @property
    def residuals(self) -> NDArray[np.float64]:
        ...
class Slq:
    def __init__(self, n: _Int, n_probes: _Int, n_steps: _Int, seed: _Int, deflate: bool, deflate_tol: _Float) -> None:
        ...
    def alpha(self, probe: _Int) -> NDArray[np.float64]:
        ...
    def beta(self, probe: _Int) -> NDArray[np.float64]:
        ...
    def request(self) -> NDArray[np.float64]:
        """
        the (n, b) block whose product with the operator is needed next
        """
    def run(self, op: Operator) -> None:
        """
        drive the engine with a built-in operator (GIL released)
        """
    def supply(self, AX: NDArray[np.float64]) -> None:
        """
        hand back the product of the operator with request()
        """
    @property
    def done(self) -> bool:
        ...
    @property
    def n_deflated(self) -> int:
        ...
    @property
    def n_matvec(self) -> int:
        ...
    @property
    def nodes(self) -> NDArray[np.float64]:
        ...
    @property
    def weights(self) -> NDArray[np.float64]:
        ...
class TraceEstimator:
    def __init__(self, n: _Int, method: str, budget: _Int, seed: _Int) -> None:
        ...
    def request(self) -> NDArray[np.float64]:
        """
        the (n, b) block whose product with the operator is needed next
        """
    def run(self, op: Operator) -> None:
        """
        drive the engine with a built-in operator (GIL released)
        """
    def supply(self, AX: NDArray[np.float64]) -> None:
        """
        hand back the product of the operator with request()
        """
    @property
    def done(self) -> bool:
        ...
    @property
    def method(self) -> str:
        ...
    @property
    def n_matvec(self) -> int:
        ...
    @property
    def predicted_ratio(self) -> float:
        ...
    @property
    def samples(self) -> list[float]:
        ...
    @property
    def stderr(self) -> float:
        ...
    @property
    def value(self) -> float:
        ...
class KrylovTrace:
    def __init__(self, n: _Int, budget: _Int, seed: _Int, fallback: bool) -> None:
        ...
    def request(self) -> NDArray[np.float64]:
        """
        the (n, b) block whose product with the operator is needed next
        """
    def run(self, op: Operator) -> None:
        """
        drive the engine with a built-in operator (GIL released)
        """
    def supply(self, AX: NDArray[np.float64]) -> None:
        """
        hand back the product of the operator with request()
        """
    @property
    def done(self) -> bool:
        ...
    @property
    def krylov_stderr(self) -> float:
        ...
    @property
    def krylov_value(self) -> float:
        ...
    @property
    def method(self) -> str:
        ...
    @property
    def n_krylov(self) -> int:
        ...
    @property
    def n_matvec(self) -> int:
        ...
    @property
    def samples(self) -> list[float]:
        ...
    @property
    def stderr(self) -> float:
        ...
    @property
    def value(self) -> float:
        ...
def cpu_has_avx2_fma() -> bool:
    ...
def rademacher(seed: _Int, stream: _Int, n: _Int) -> NDArray[np.float64]:
    ...
def tridiagonal_eigh(alpha: ArrayLike, beta: ArrayLike) -> TridiagonalEigh:
    """
    eigenvalues (ascending) and eigenvectors of a symmetric tridiagonal matrix
    """
