"""scipy's eigsh contract on its standard symmetric test problems, reimplemented from their description.

scipy's ``test_arpack.py`` checks ``eigsh`` on a random symmetric positive definite matrix
(entries stored in single precision, then used in single and double precision), with
``k=2`` for every ``which``, with and without shift-invert (``sigma=0.5``, "normal" mode), three input kinds (sparse CSR, ``LinearOperator``, ndarray),
with and without a start vector ``v0`` and ``tol=0`` (machine precision).  A case passes when
the eigenvalues match ``eigh`` and ``A @ V`` matches ``V * w`` elementwise, both to
``rtol = atol = 2000 eps`` (double) or ``3000 eps_float32`` (single).  No ``M=``, buckling or
Cayley modes (generalised problems).  The cases are run at scipy's size (N=6, which eigsh
solves densely) and at N=60 and N=150 (Lanczos).
"""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.spectra import eigsh

sps = pytest.importorskip("scipy.sparse")
spla = pytest.importorskip("scipy.sparse.linalg")


def _spd(n: int, seed: int) -> np.ndarray:
    """Random symmetric positive definite matrix, stored in float32 then used in float64."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n))
    A = A + A.T
    w = np.linalg.eigvalsh(A)
    A = A + (abs(w[0]) + 1.0) * np.eye(n)  # shift: positive definite
    return A.astype(np.float32).astype(np.float64)


def _tolerance(typ: str) -> float:
    return 2000 * np.finfo(np.float64).eps if typ == "d" else 3000 * np.finfo(np.float32).eps


def _expected(w: np.ndarray, which: str, k: int, sigma: float | None = None) -> np.ndarray:
    if sigma is not None:  # shift-invert: which applies to 1 / (lambda - sigma)
        return np.sort(w[_select_nu(1.0 / (w - sigma), which, k)])
    order = {
        "LA": np.argsort(w)[::-1],
        "SA": np.argsort(w),
        "LM": np.argsort(-np.abs(w)),
        "SM": np.argsort(np.abs(w)),
    }
    if which == "BE":
        s = np.sort(w)
        return np.sort(np.r_[s[: k // 2], s[::-1][: k - k // 2]])
    return np.sort(w[order[which][:k]])


def _select_nu(nu: np.ndarray, which: str, k: int) -> np.ndarray:
    if which == "BE":
        o = np.argsort(nu)
        return np.r_[o[: k // 2], o[::-1][: k - k // 2]]
    key = {"LA": -nu, "SA": nu, "LM": -np.abs(nu), "SM": np.abs(nu)}[which]
    return np.argsort(key)[:k]


def _as(kind: str, A: np.ndarray) -> object:
    if kind == "csr":
        return sps.csr_matrix(A)
    if kind == "linop":
        return spla.aslinearoperator(A)
    return np.asarray(A)


CASES = [
    pytest.param(n, typ, which, kind, use_v0, sigma,
                 marks=[pytest.mark.slow] if n > 60 or (sigma is not None and which == "SM" and n > 6) else [])
    for n in (6, 60, 150)
    for typ in ("f", "d")
    for which in ("LM", "SM", "LA", "SA", "BE")
    for kind in ("csr", "linop", "array")
    for use_v0 in (False, True)
    for sigma in (None, 0.5)
]


@pytest.mark.parametrize(("n", "typ", "which", "kind", "use_v0", "sigma"), CASES)
def test_standard_symmetric_cases(n: int, typ: str, which: str, kind: str, use_v0: bool, sigma: float | None) -> None:
    A = _spd(n, 2300 + n)
    if typ == "f":
        A = A.astype(np.float32)
    tol = _tolerance(typ)
    Ad = A.astype(np.float64)
    w_exact = np.linalg.eigvalsh(Ad)
    v0 = np.random.default_rng(n).random(n) if use_v0 else None
    k = 2
    extra: dict[str, object] = {}
    if sigma is not None:
        extra["sigma"] = sigma
        if kind == "linop":  # a matrix-free A needs the user's (A - sigma I)^-1
            extra["OPinv"] = spla.aslinearoperator(np.linalg.inv(Ad - sigma * np.eye(n)))
    r = eigsh(_as(kind, A), k=k, which=which, tol=0, v0=v0, rng=1, **extra)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, _expected(w_exact, which, k, sigma), rtol=tol, atol=tol)
    V = r.eigenvectors
    np.testing.assert_allclose(Ad @ V, V * r.eigenvalues, rtol=tol, atol=tol)
    np.testing.assert_allclose(V.T @ V, np.eye(k), atol=1e-12)
