"""Spectral algorithms on symmetric operators: eigsh, trace, density, outliers."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ridgeline import _core
from ridgeline._exceptions import ConvergenceWarning
from ridgeline._io import read_result, save_result, short_repr
from ridgeline._progress import Progress
from ridgeline._validation import check_array, check_bool, check_choice, check_float, check_int, check_rng
from ridgeline.spectra._operators import LinearOperator, OperatorLike, aslinearoperator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ConvergenceWarning",
    "EigshResult",
    "OutlierResult",
    "SpectralDensity",
    "TraceResult",
    "density",
    "eigsh",
    "outliers",
    "trace",
]

_WHICH = ("LA", "SA", "LM", "SM", "BE")
_TRACE_METHODS = ("auto", "krylov", "hutchinson", "hutch++", "exact")
_EPS = float(np.finfo(np.float64).eps)
_EPS23 = _EPS ** (2.0 / 3.0)
# Up to this dimension eigsh diagonalises the n x n matrix (n products) instead of iterating.
_DENSE_N = 24
# Exponent range left unscaled: beyond it products are rescaled by an exact power of two.
_SCALE_EXP = 100
_SYMMETRY_RTOL = 1e-5


def _spectra_seed(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


@dataclass
class _Prepared:
    """An operator ready for the kernels: products scaled by ``2**-exp`` (exact)."""

    op: LinearOperator
    core: Any  # a compiled operator of the scaled matrix, or None
    exp: int
    n_matvec: int  # products spent probing
    norm: float  # lower estimate of ||A|| / 2**exp (0 when unknown)

    def apply(self, X: np.ndarray) -> np.ndarray:
        if self.core is not None:
            return np.asarray(self.core.matmat(np.ascontiguousarray(X)))
        Y = self.op.matmat(X)
        return np.ldexp(Y, -self.exp) if self.exp else Y

    def unscale(self, x: Any) -> Any:
        return np.ldexp(x, self.exp) if self.exp else x


def _prepare(op: LinearOperator, seed: int, *, probe: bool) -> _Prepared:
    """Scale matrices with extreme entries exactly; probe matrix-free operators for symmetry."""
    src = op._source
    if src is not None:
        data = src[1]
        m = float(np.max(np.abs(data))) if data.size else 0.0
        e = int(np.frexp(m)[1]) if m > 0 else 0
        if abs(e) <= _SCALE_EXP:
            return _Prepared(op, op._core, 0, 0, m)
        core: _core.spectra.Operator
        if src[0] == "dense":
            core = _core.spectra.DenseOperator(np.ldexp(data, -e))
        else:
            core = _core.spectra.CsrOperator(np.ldexp(data, -e), src[2], src[3], op.n, src[4])
        return _Prepared(op, core, e, 0, float(np.ldexp(m, -e)))
    if op._core is not None or not (probe and op._probe_symmetry):
        return _Prepared(op, op._core, 0, 0, 0.0)
    X = _spectra_seed(seed, 2**31 - 1).standard_normal((op.n, 2))
    X /= np.linalg.norm(X, axis=0)  # unit vectors, as the kernels use
    Y = op.matmat(X)
    if not np.all(np.isfinite(Y)):
        msg = "A: the operator returned NaN or inf on a random probe vector"
        raise ValueError(msg)
    big = float(np.max(np.abs(Y)))
    e0 = int(np.frexp(big)[1]) if big > 0 else 0
    norms = np.linalg.norm(np.ldexp(Y, -e0), axis=0) / np.linalg.norm(X, axis=0)
    m = float(norms.max())
    e = int(np.frexp(m)[1]) + e0 if m > 0 else 0
    e = e if abs(e) > _SCALE_EXP else 0
    m = float(np.ldexp(m, e0 - e))
    Ys = np.ldexp(Y, -e)
    d = abs(float(X[:, 0] @ Ys[:, 1]) - float(X[:, 1] @ Ys[:, 0]))
    s = float(np.linalg.norm(X[:, 0]) * np.linalg.norm(Ys[:, 1]) + np.linalg.norm(X[:, 1]) * np.linalg.norm(Ys[:, 0]))
    if d > _SYMMETRY_RTOL * s:
        msg = (
            f"A must be symmetric: a random probe gives |x^T A y - y^T A x| = {d * 2.0**e:.3g}, "
            f"{d / s:.2g} of |x||Ay| + |y||Ax| (pass check_symmetric=False to aslinearoperator to skip this check)"
        )
        raise ValueError(msg)
    op._probe_symmetry = False
    return _Prepared(op, None, e, 2, m)


def _select(values: np.ndarray, which: str, k: int) -> np.ndarray:
    """Indices of the ``k`` most wanted ``values`` (any order)."""
    v = np.asarray(values)
    if which == "LA":
        return np.argsort(-v, kind="stable")[:k]
    if which == "SA":
        return np.argsort(v, kind="stable")[:k]
    if which == "LM":
        return np.argsort(-np.abs(v), kind="stable")[:k]
    if which == "SM":
        return np.argsort(np.abs(v), kind="stable")[:k]
    lo = k // 2
    order = np.argsort(v, kind="stable")
    out: np.ndarray = np.r_[order[:lo], order[::-1][: k - lo]].astype(np.int64)
    return out


def _enters(mu: float, pool: np.ndarray, which: str, k: int, delta: float) -> bool:
    """Whether ``mu`` would displace a member of the wanted set of ``pool`` by more than ``delta``."""
    w = pool[_select(pool, which, k)]
    if which == "LA":
        return bool(mu > w.min() + delta)
    if which == "SA":
        return bool(mu < w.max() - delta)
    if which == "LM":
        return bool(abs(mu) > np.abs(w).min() + delta)
    lo = k // 2
    s = np.sort(pool)
    hi_part = s[::-1][: k - lo]
    if mu > hi_part.min() + delta:
        return True
    return lo > 0 and mu < s[:lo].max() - delta


def _gate(values: np.ndarray, tol: float, anorm: float) -> np.ndarray:
    """Residual norms accepted as converged: ARPACK's test, floored at rounding level."""
    out: np.ndarray = np.maximum(tol * np.maximum(np.abs(values), _EPS23 * anorm), 1e3 * _EPS * anorm)
    return out


def _settled(
    theta: np.ndarray, r: np.ndarray, ends: list[int], which: str, pool: np.ndarray, k: int, delta: float, tol: float,
    anorm: float,
) -> bool:
    """Whether the wanted-end Ritz pairs of a complement run are converged at ``tol``.

    Either the residual test of the main run (``r <= tol * |theta|``, the pair may then enter
    the wanted set), or ``tol`` as the relative accuracy of the eigenvalue when the pair cannot
    enter: the interval ``theta +- r``, which holds an eigenvalue, lies outside the wanted set
    of ``pool`` by more than ``delta``, and the quadratic bound ``r**2 / gap`` (gap to the
    nearest other Ritz value of the run) is ``<= tol * |theta|``.
    """
    for i in ends:
        scale = tol * max(abs(float(theta[i])), _EPS23 * anorm)
        if r[i] <= scale:
            continue
        if len(theta) < 2:
            return False
        others = np.delete(theta, i)
        gap = float(np.min(np.abs(others - theta[i])))
        out = float(theta[i]) + (float(r[i]) if i == len(theta) - 1 or (i != 0 and theta[i] > 0) else -float(r[i]))
        if not (r[i] ** 2 <= scale * gap) or _enters(out, pool, which, k, delta):
            return False
    return True


def _complement_lanczos(
    apply: Callable[[np.ndarray], np.ndarray], v: np.ndarray, steps: int, which: str, pool: np.ndarray, k: int,
    delta: float, tol: float, anorm: float, dim: int, p_fail: float = 1e-6, Z: np.ndarray | None = None,
) -> tuple[str, list[tuple[float, np.ndarray]], int]:
    """Lanczos (full reorthogonalisation, no restart) on the deflated operator from the random unit ``v``.

    Stops with ``("none", [], used)`` when the randomized bound of Kuczynski and Wozniakowski
    (1992) shows that no eigenvalue of the complement (dimension ``dim``) enters the wanted
    set of ``pool``: for a uniformly random start, ``P[theta_max < (1 - eps) lambda_max] <=
    1.648 sqrt(dim) exp(-sqrt(eps) (2j - 1))`` for a positive semi-definite operator, applied
    to the operator shifted below its spectrum (``theta_min`` minus the Ritz range, each end
    mirrored), with failure probability ``p_fail``.  Stops with ``("converged", pairs, used)``
    when the Ritz pair(s) at the wanted end(s) meet the tolerance (the caller compares them
    with the pool), and ``("open", pairs, used)`` (the wanted-end Ritz pairs, a start for a restarted run)
    when ``steps`` were not enough.
    """
    n = v.size
    steps = max(1, min(steps, dim - 1))
    V = np.empty((n, steps + 1), dtype=v.dtype, order="F")  # contiguous columns, the operator's precision
    V[:, 0] = v
    alpha: list[float] = []
    beta: list[float] = []
    w_sel = pool[_select(pool, which, k)]
    lo = k // 2
    pool_sorted = np.sort(pool)
    log_c = math.log(1.648 * math.sqrt(dim) / p_fail)
    for j in range(steps):
        w = apply(V[:, j : j + 1])[:, 0]
        if Z is not None:  # stay in the complement (rounding would otherwise grow there)
            w -= Z @ (Z.T @ w)
        # three-term recurrence, then one full reorthogonalisation pass, and a second one only
        # when the first removed a noticeable part (DGKS): about half the memory traffic of CGS2
        a = float(V[:, j] @ w)
        w -= w.dtype.type(a) * V[:, j]
        if j > 0:
            w -= w.dtype.type(beta[-1]) * V[:, j - 1]
        for _ in range(2):
            before = float(np.linalg.norm(w))
            c = V[:, : j + 1].T @ w
            w -= V[:, : j + 1] @ c
            a += float(c[j])
            if float(np.linalg.norm(w)) > 0.7071 * before:
                break
        alpha.append(a)
        b = float(np.linalg.norm(w))
        try:
            eig = _core.spectra.tridiagonal_eigh(np.asarray(alpha), np.asarray(beta))
            theta, S = eig.eigenvalues, eig.eigenvectors
        except RuntimeError:  # Eigen's implicit QL did not converge: LAPACK instead
            theta, S = np.linalg.eigh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
        r = b * np.abs(S[-1, :])
        if _no_wanted_copy(float(theta[-1]), float(theta[0]), j, log_c, which, w_sel, pool_sorted, k, lo, delta):
            return "none", [], j + 1
        ends = {"LA": [-1], "SA": [0], "LM": [int(np.argmax(np.abs(theta)))], "BE": [-1, 0] if lo else [-1]}[which]
        conv = _settled(theta, r, ends, which, pool, k, delta, tol, anorm)
        breakdown = b <= 1e-12 * max(float(np.max(np.abs(theta))), 1e-300)
        if (conv and not breakdown) or breakdown or j + 1 == steps:
            pairs = [(float(theta[i]), V[:, : j + 1] @ S[:, i]) for i in ends]
            if conv and not breakdown:
                return "converged", pairs, j + 1
            # no conclusion: the wanted-end Ritz vectors are a better start for a restarted run
            return "open", pairs, j + 1
        beta.append(b)
        V[:, j + 1] = w / w.dtype.type(b)
    return "open", [], steps


def _no_wanted_copy(
    top: float, bot: float, j: int, log_c: float, which: str, w_sel: np.ndarray, pool_sorted: np.ndarray, k: int,
    lo: int, delta: float,
) -> bool:
    """True when, with probability >= 1 - p_fail (``log_c``), no eigenvalue of the complement can enter the
    wanted set: the extreme Ritz values ``top``/``bot`` after ``j + 1`` steps from a random start bound
    lambda_max and lambda_min of the complement (Kuczynski-Wozniakowski), beyond ``delta`` of the wanted ones."""
    width = max(top - bot, 1e-300)
    eps = (log_c / (2 * j + 1)) ** 2
    if eps >= 1.0:
        return False
    upper = (bot - width) + (top - (bot - width)) / (1.0 - eps)  # bound on lambda_max
    lower = (top + width) - ((top + width) - bot) / (1.0 - eps)  # bound on lambda_min
    if which == "LA":
        return bool(upper < w_sel.min() - delta)
    if which == "SA":
        return bool(lower > w_sel.max() + delta)
    if which == "LM":
        return bool(max(abs(upper), abs(lower)) < np.abs(w_sel).min() - delta)
    none = bool(upper < pool_sorted[::-1][: k - lo].min() - delta)
    return none and (lo == 0 or bool(lower > pool_sorted[:lo].max() + delta))


def _complement_engine(
    step: Callable[[np.ndarray], np.ndarray], Z: np.ndarray, v: np.ndarray, steps: int, which: str, pool: np.ndarray,
    k: int, delta: float, tol: float, anorm: float, dim: int, seed: int, p_fail: float = 1e-6,
) -> tuple[str, list[tuple[float, np.ndarray]], int]:
    """:func:`_complement_lanczos` for a float32 operator, run by the compiled float32 engine
    (basis and locked vectors ``Z`` in float32, two sweeps per step); same stopping rules."""
    n = v.size
    steps = max(1, min(steps, dim - 1))
    lo = k // 2
    k_e = 2 if (which == "BE" and lo) else 1
    eng = _core.spectra.LanczosEigs32(n, k_e, which, max(tol, 1e-7), steps + 1, steps + 1, seed, v)
    eng.lock(np.asfortranarray(Z, dtype=np.float32))
    w_sel = pool[_select(pool, which, k)]
    pool_sorted = np.sort(pool)
    log_c = math.log(1.648 * math.sqrt(dim) / p_fail)
    for j in range(steps):
        eng.supply(step(eng.request()))
        theta = np.asarray(eng.ritz_values)
        r = np.asarray(eng.ritz_residuals)
        b = float(eng.last_beta)
        if _no_wanted_copy(float(theta[-1]), float(theta[0]), j, log_c, which, w_sel, pool_sorted, k, lo, delta):
            return "none", [], j + 1
        ends = {"LA": [len(theta) - 1], "SA": [0], "LM": [int(np.argmax(np.abs(theta)))],
                "BE": [len(theta) - 1, 0] if lo else [len(theta) - 1]}[which]
        conv = _settled(theta, r, ends, which, pool, k, delta, tol, anorm)
        breakdown = b <= 1e-12 * max(float(np.max(np.abs(theta))), 1e-300)
        if conv or breakdown or j + 1 == steps or eng.done:
            pairs = [(float(theta[i]), np.asarray(eng.ritz_vector(i))) for i in ends]
            if conv and not breakdown:
                return "converged", pairs, j + 1
            return "open", pairs, j + 1
    return "open", [], steps


def _budget(ncv: int, k: int, maxiter: int) -> int:
    kept = min(ncv - 1, k + (ncv - k) // 2)
    return ncv + maxiter * max(ncv - kept, 1)


@dataclass(frozen=True, repr=False)
class EigshResult:
    """Result of :func:`eigsh`; unpacks as ``eigenvalues, eigenvectors``.

    Attributes
    ----------
    eigenvalues : ndarray of shape (k,)
        Ascending.
    eigenvectors : ndarray of shape (n, k) or None
        Orthonormal Ritz vectors, column i for eigenvalue i (None when
        ``return_eigenvectors=False``).
    residuals : ndarray of shape (k,)
        True residual norms ``||A x_i - lambda_i x_i||``.
    n_matvec : int
        Operator products used (a block of b vectors counts b).
    n_restarts : int
        Thick restarts performed (all Lanczos runs).
    converged : bool
        True only when every pair met the tolerance and the certification
        found no missed eigenvalue (see :func:`eigsh`).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    residuals: np.ndarray
    n_matvec: int
    n_restarts: int
    converged: bool

    def __iter__(self) -> Iterator[Any]:
        yield self.eigenvalues
        yield self.eigenvectors

    def __repr__(self) -> str:
        return short_repr(
            "EigshResult",
            eigenvalues=self.eigenvalues if self.eigenvalues.size > 4 else self.eigenvalues.tolist(),
            max_residual=float(self.residuals.max()) if self.residuals.size else 0.0,
            n_matvec=self.n_matvec,
            converged=self.converged,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in ridgeline's ``.npz`` result format (:mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        arrays = {"eigenvalues": self.eigenvalues, "residuals": self.residuals}
        if self.eigenvectors is not None:
            arrays["eigenvectors"] = self.eigenvectors
        save_result(path, "spectra.EigshResult", arrays,
                    {"n_matvec": self.n_matvec, "n_restarts": self.n_restarts, "converged": self.converged})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EigshResult:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = read_result(path, "spectra.EigshResult")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> EigshResult:
        return cls(arrays["eigenvalues"], arrays.get("eigenvectors"), arrays["residuals"],
                   int(scalars["n_matvec"]), int(scalars["n_restarts"]), bool(scalars["converged"]))


def eigsh(
    A: OperatorLike,
    k: int = 6,
    which: str = "LA",
    tol: float = 1e-10,
    rng: int | np.random.Generator | None = None,
    *,
    v0: ArrayLike | None = None,
    ncv: int | None = None,
    maxiter: int | None = None,
    return_eigenvectors: bool = True,
    sigma: float | None = None,
    OPinv: OperatorLike | None = None,
    progress: bool = False,
    **deprecated: Any,
) -> EigshResult:
    """k eigenpairs of a symmetric operator by thick-restart Lanczos, certified against missed copies.

    The argument names follow :func:`scipy.sparse.linalg.eigsh` (``k``,
    ``which``, ``v0``, ``ncv``, ``maxiter``, ``tol``, ``return_eigenvectors``).

    A single Krylov sequence sees one copy of each repeated eigenvalue, so a
    converged run is *certified*: the Ritz vectors found are locked, and
    Lanczos restarts from a fresh random vector on the orthogonal complement
    (the operator deflated by them) to look for a wanted eigenvalue that was
    missed, e.g. the second copy of a double eigenvalue.  That run stops when
    the randomized bound of Kuczynski and Wozniakowski (failure probability
    1e-6) excludes every wanted value from the complement, or when its
    extreme Ritz pair converges (the residual test below, or, for a pair
    whose interval ``theta +- residual`` lies outside the wanted set,
    ``tol`` as the relative accuracy of its eigenvalue by the quadratic
    residual bound); anything found that belongs to the wanted
    set is locked in turn and the check repeated, and the wanted set of all
    locked pairs is refined by Rayleigh-Ritz.  ``converged=True`` means every
    pair met the tolerance and the last check found nothing.

    Parameters
    ----------
    A : array-like, sparse matrix, LinearOperator or callable
        A real symmetric operator: anything :func:`aslinearoperator` accepts.
        Matrices with extreme entries (1e-300 .. 1e300) are rescaled exactly
        by a power of two; matrix-free operators are probed once for symmetry.
    k : int, default=6
        Number of eigenpairs, ``1 <= k <= n``.
    which : {"LA", "SA", "LM", "SM", "BE"}, default="LA"
        Largest algebraic, smallest algebraic, largest magnitude, smallest
        magnitude (Lanczos on ``A^2``, two products per step, then
        Rayleigh-Ritz on ``A``), or both ends (k // 2 from the low end, the
        rest from the high end).
    tol : float, default=1e-10
        Relative accuracy: a pair is converged when its residual norm is
        ``<= tol * max(|lambda|, eps**(2/3) ||A||)`` (ARPACK's test); 0 means
        machine precision, as in scipy.
    rng : int, Generator or None
        Seeds the random start and certification vectors.
    v0 : array-like of shape (n,), optional
        Start vector of the first run (the certification runs use ``rng``).
    ncv : int, optional
        Largest basis kept before a thick restart, ``k < ncv <= n``
        (default ``min(n, max(2k + 1, 20))``).
    maxiter : int, optional
        Restart cycles allowed per Lanczos run (default ``10 n``, as scipy).
    return_eigenvectors : bool, default=True
        Return the eigenvectors (else ``eigenvectors`` is None).
    sigma : float, optional
        Shift-invert mode, as scipy's "normal" mode: Lanczos runs on
        ``(A - sigma I)^-1`` and ``which`` applies to ``1 / (lambda - sigma)``
        (``which="LM"``: the eigenvalues nearest ``sigma``); the pairs are then
        refined on ``A`` itself.  Dense and sparse ``A`` are factorised (LU;
        scipy's ``splu`` for sparse); a matrix-free ``A`` needs ``OPinv``.
    OPinv : array-like, LinearOperator or callable, optional
        ``x -> (A - sigma I)^-1 x`` for ``sigma`` (anything
        :func:`aslinearoperator` accepts; a plain callable takes ``n`` from ``A``).
    progress : bool, default=False
        Show a progress line on a terminal; messages always go to the logger
        ``ridgeline.spectra``.
    **deprecated
        ``max_matvec`` (deprecated, use ``maxiter``): a total product budget.

    Returns
    -------
    EigshResult
        Ascending eigenvalues, eigenvectors, true residual norms and the
        product count.  ``n <= 24`` or ``k >= n - 1``: the matrix is formed
        (n products) and diagonalised.  Without convergence, ``converged`` is
        False and a :class:`ConvergenceWarning` is emitted.

    Raises
    ------
    ValueError
        Bad arguments, a non-symmetric operator, a product with NaN or inf.
    TypeError
        Arguments of the wrong kind, complex operators or products.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.spectra import eigsh
    >>> A = np.diag(np.arange(1.0, 41.0))
    >>> eigsh(A, k=2, rng=0).eigenvalues.round(8).tolist()
    [39.0, 40.0]
    """
    max_matvec = deprecated.pop("max_matvec", None)
    if deprecated:
        msg = f"eigsh() got an unexpected keyword argument {next(iter(deprecated))!r}"
        raise TypeError(msg)
    if max_matvec is not None:
        if maxiter is not None:
            msg = "eigsh: got both 'max_matvec' (deprecated) and 'maxiter'; pass only 'maxiter'"
            raise TypeError(msg)
        warnings.warn(
            "eigsh: the argument 'max_matvec' is deprecated and will be removed in ridgeline 0.3; use 'maxiter' "
            "(restart cycles per Lanczos run, as scipy)",
            DeprecationWarning,
            stacklevel=2,
        )
        max_matvec = check_int(max_matvec, "max_matvec", low=1)
    op = aslinearoperator(A)
    n = op.n
    k = check_int(k, "k", low=1)
    if k > n:
        msg = f"k={k} must be <= n={n}"
        raise ValueError(msg)
    which = check_choice(which, "which", _WHICH)
    tol = check_float(tol, "tol", low=0.0)
    tol_eff = max(tol, _EPS)
    if ncv is None:
        ncv = min(n, max(2 * k + 1, 20))
    else:
        ncv = check_int(ncv, "ncv")
        if not (k < ncv <= n):
            msg = f"ncv={ncv} must satisfy k={k} < ncv <= n={n}"
            raise ValueError(msg)
    maxiter = 10 * n if maxiter is None else check_int(maxiter, "maxiter", low=1)
    seed = check_rng(rng)
    return_eigenvectors = check_bool(return_eigenvectors, "return_eigenvectors")
    progress = check_bool(progress, "progress")
    if sigma is not None:
        sigma = check_float(sigma, "sigma")
    elif OPinv is not None:
        msg = "OPinv is used only with sigma; pass sigma too"
        raise ValueError(msg)
    v = None
    if v0 is not None:
        v = check_array(v0, "v0", shape=(n,))
        if not np.any(v):
            msg = "v0 must be nonzero"
            raise ValueError(msg)
    with Progress("spectra", f"eigsh k={k} which={which}", progress=progress) as prog:
        if n <= _DENSE_N or k >= n - 1:
            out = _eigsh_dense(op, k, which, sigma)
        elif sigma is not None:
            inner = _shift_invert(op, sigma, OPinv)
            out = _eigsh_lanczos(inner, k, which, tol_eff, ncv, maxiter, max_matvec, seed, v, prog, (op, sigma))
        else:
            out = _eigsh_lanczos(op, k, which, tol_eff, ncv, maxiter, max_matvec, seed, v, prog)
        values, vectors, residuals, n_mv, n_rs, converged = out
        prog.close(None, n_matvec=n_mv, converged=converged)
    if not converged:
        worst = float(np.max(residuals)) if residuals.size else float("nan")
        warnings.warn(
            f"eigsh: k={k} which={which!r} not converged or not certified after {n_mv} products "
            f"(largest residual {worst:.3g}, tol={tol:g}); increase maxiter or ncv",
            ConvergenceWarning,
            stacklevel=2,
        )
    return EigshResult(values, vectors if return_eigenvectors else None, residuals, n_mv, n_rs, converged)


def _shift_invert(op: LinearOperator, sigma: float, OPinv: Any) -> LinearOperator:
    """``(A - sigma I)^-1`` as an operator: the user's ``OPinv`` or an LU factorisation."""
    n = op.n
    if OPinv is not None:
        inv = aslinearoperator(OPinv, n=n) if callable(OPinv) and not hasattr(OPinv, "shape") else aslinearoperator(
            OPinv, check_symmetric=False
        )
        if inv.n != n:
            msg = f"OPinv has dimension {inv.n}, expected n={n}"
            raise ValueError(msg)
        inv._probe_symmetry = False
        return inv
    src = op._source
    if src is None:
        msg = "sigma needs OPinv (x -> (A - sigma I)^-1 x) for a matrix-free A"
        raise ValueError(msg)
    try:
        import scipy.linalg as sla
        import scipy.sparse as sps
        import scipy.sparse.linalg as spla
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "shift-invert (sigma=) needs scipy: pip install scipy"
        raise ImportError(msg) from err
    singular = f"sigma={sigma} is an eigenvalue of A (A - sigma I is singular); move sigma a little"
    if src[0] == "dense":
        M = src[1] - sigma * np.eye(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lu, piv = sla.lu_factor(M, check_finite=False)
        d = np.abs(np.diag(lu))
        if not np.all(np.isfinite(lu)) or d.min() <= 1e3 * _EPS * max(d.max(), 1e-300):
            raise ValueError(singular)

        def solve(X: np.ndarray) -> np.ndarray:
            return np.asarray(sla.lu_solve((lu, piv), X, check_finite=False))
    else:
        M = sps.csc_matrix((src[1], src[2], src[3]), shape=(n, n)) - sigma * sps.eye(n, format="csc")
        try:
            fac = spla.splu(sps.csc_matrix(M))
        except RuntimeError as err:
            raise ValueError(singular) from err

        def solve(X: np.ndarray) -> np.ndarray:
            return np.asarray(fac.solve(np.asfortranarray(X)))
    inv = LinearOperator(n, matmat=solve)
    inv._probe_symmetry = False
    return inv


def _eigsh_dense(op: LinearOperator, k: int, which: str, sigma: float | None) -> tuple[Any, ...]:
    """Form the matrix (n products, none for a dense input) and diagonalise it."""
    src = op._source
    if src is not None and src[0] == "dense":
        M, n_mv = src[1], 0
    else:
        M, n_mv = op.todense(), op.n
    if not np.all(np.isfinite(M)):
        msg = "A: the operator returned NaN or inf"
        raise ValueError(msg)
    m = float(np.max(np.abs(M))) if M.size else 0.0
    e = int(np.frexp(m)[1]) if m > 0 else 0
    Ms = np.ldexp(M, -e)
    if op._probe_symmetry and not np.allclose(Ms, Ms.T, rtol=0.0, atol=1e-8 * max(float(np.max(np.abs(Ms))), 1e-300)):
        msg = f"A must be symmetric (max |A - A.T| = {float(np.max(np.abs(M - M.T))):.3g})"
        raise ValueError(msg)
    Ms = (Ms + Ms.T) / 2.0
    w, V = np.linalg.eigh(Ms)
    if sigma is None:
        sel = np.sort(_select(w, which, k))
    else:
        with np.errstate(divide="ignore"):
            sel = np.sort(_select(1.0 / (w - np.ldexp(sigma, -e)), which, k))
    w, V = w[sel], V[:, sel]
    res = np.linalg.norm(Ms @ V - V * w, axis=0)
    return np.ldexp(w, e), V, np.ldexp(res, e), n_mv, 0, True


def _eigsh_lanczos(
    op: LinearOperator,
    k: int,
    which: str,
    tol: float,
    ncv: int,
    maxiter: int,
    max_matvec: int | None,
    seed: int,
    v0: np.ndarray | None,
    prog: Progress,
    outer: tuple[LinearOperator, float] | None = None,
) -> tuple[Any, ...]:
    """Certified Lanczos on ``op`` (``A``; or ``(A - sigma I)^-1`` with ``outer=(A, sigma)``,
    whose pairs are then refined by Rayleigh-Ritz on ``A`` and selected by ``1 / (lambda - sigma)``)."""
    n = op.n
    prep = _prepare(op, seed, probe=outer is None)
    if outer is not None:
        fprep = _prepare(outer[0], seed, probe=False)
        sigma = outer[1]

        def key(w: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore"):
                return 1.0 / (w - sigma)
    else:
        fprep = prep

        def key(w: np.ndarray) -> np.ndarray:
            return w

    n_mv = prep.n_matvec
    n_rs = 0
    squared = which == "SM"
    which_run = "SA" if squared else which
    if squared:
        def apply(X: np.ndarray) -> np.ndarray:
            return prep.apply(prep.apply(X))
        per = 2
    else:
        apply = prep.apply
        per = 1

    # A float32 operator (torch_hessian of a float32 model): float32 basis and products, no
    # conversions (the operator's own precision bounds the accuracy anyway).
    mm32 = op._matmat32 if (outer is None and not squared and prep.exp == 0) else None

    def run(k_run: int, which_r: str, start: np.ndarray | None, run_seed: int, fn: Any) -> Any:
        nonlocal n_mv, n_rs
        budget = _budget(ncv, k_run, maxiter)
        if max_matvec is not None:
            budget = max(min(budget, (max_matvec - n_mv) // per), ncv)
        f32 = mm32 is not None and fn is None
        eng: Any = (_core.spectra.LanczosEigs32 if f32 else _core.spectra.LanczosEigs)(
            n, k_run, which_r, tol, ncv, budget, run_seed, start
        )
        direct = fn is None and not squared and prep.core is not None and not prog.active and not f32
        if direct:
            eng.run(prep.core)
        else:
            step = mm32 if (f32 and mm32 is not None) else (fn or apply)
            while not eng.done:
                eng.supply(step(eng.request()))
                prog.update(None, n_matvec=n_mv + per * int(eng.n_matvec))
        n_mv += per * int(eng.n_matvec)
        n_rs += int(eng.n_restarts)
        return eng

    eng = run(k, which_run, v0, seed, None)
    pool_vals = np.asarray(eng.eigenvalues, dtype=np.float64)
    pool_vecs = np.asarray(eng.eigenvectors, dtype=np.float64)
    residuals = np.asarray(eng.residuals, dtype=np.float64)
    converged = bool(eng.converged)
    anorm = max(prep.norm**per, float(np.max(np.abs(pool_vals))), 1e-300)
    certified = False
    added = False
    if converged:
        for it in range(1, k + 2):
            if max_matvec is not None and n_mv >= max_matvec:
                break
            L = pool_vecs.shape[1]
            Z = np.asfortranarray(pool_vecs)
            m = n - L
            if m <= 0:
                certified = True
                break
            delta = 2.0 * tol * max(float(np.max(np.abs(pool_vals))), _EPS23 * anorm) + 100.0 * _EPS * anorm
            if m <= 2 * ncv + 2:
                # Small complement: its exact eigenpairs (m products).
                Q = np.linalg.qr(np.c_[Z, _spectra_seed(seed, it).standard_normal((n, m))])[0][:, L:]
                Q -= Z @ (Z.T @ Q)
                Q = np.linalg.qr(Q)[0]
                B = Q.T @ apply(Q)
                n_mv += per * m
                mu, S = np.linalg.eigh((B + B.T) / 2.0)
                cand = [(float(mu[i]), Q @ S[:, i]) for i in range(m)]
                new = [(mv, y) for mv, y in cand if _enters(mv, pool_vals, which_run, k, delta)]
                certified = True
            else:
                lo_vals = pool_vals
                span = float(lo_vals.max() - lo_vals.min()) + anorm
                # the locked directions are moved to an unwanted place (they are never started from)
                shift = {"LA": lo_vals.min() - span, "SA": lo_vals.max() + span, "LM": 0.0,
                         "BE": float(np.mean(lo_vals))}[which_run]

                def deflated(X: np.ndarray, Z: np.ndarray = Z, shift: float = shift) -> np.ndarray:
                    C = Z.T @ X
                    Y = apply(X - Z @ C)
                    out: np.ndarray = Y - Z @ (Z.T @ Y) + shift * (Z @ C)
                    return out

                g = _spectra_seed(seed, it).standard_normal(n)
                for _ in range(2):
                    g -= Z @ (Z.T @ g)
                # First an unrestarted run that stops as soon as a randomized bound excludes any
                # wanted eigenvalue from the complement, or its wanted-end Ritz pair converges; a
                # restarted run to full accuracy only if neither happens within ncv + 10 steps.
                if mm32 is not None and ncv + 10 < m:
                    # float32 operator: the compiled float32 engine on the complement of Z (every
                    # vector of the run is kept orthogonal to Z, which removes Z from each product)
                    state, pairs, used = _complement_engine(
                        mm32, Z, g / np.linalg.norm(g), ncv + 10, which_run, pool_vals, k, delta, tol, anorm, m,
                        (seed + 0x632BE59BD9B4E019 * it) % 2**64,
                    )
                else:
                    state, pairs, used = _complement_lanczos(
                        deflated, g / np.linalg.norm(g), ncv + 10, which_run, pool_vals, k, delta, tol, anorm, m, Z=Z
                    )
                n_mv += per * used
                prog.update(None, n_matvec=n_mv)
                if state == "none":
                    certified = True
                    break
                if state == "converged":
                    new = [(mv, y) for mv, y in pairs if np.linalg.norm(Z.T @ y) < 0.5
                           and _enters(mv, pool_vals, which_run, k, delta)]
                    if not new:
                        certified = True
                        break
                else:
                    k_c = 2 if (which_run == "BE" and k >= 2) else 1
                    which_c = which_run if k_c == 2 else ("LA" if which_run == "BE" else which_run)
                    start = g / np.linalg.norm(g)
                    if pairs:
                        y = np.sum([yy for _, yy in pairs], axis=0)
                        for _ in range(2):
                            y = y - Z @ (Z.T @ y)
                        if np.linalg.norm(y) > 0.5:
                            start = y / np.linalg.norm(y)
                    ce = run(k_c, which_c, start, (seed + 0x9E3779B97F4A7C15 * it) % 2**64, deflated)
                    if not ce.converged:
                        break
                    cand = []
                    cv = np.asarray(ce.eigenvectors)
                    for i, mv in enumerate(np.asarray(ce.eigenvalues)):
                        y = cv[:, i]
                        if np.linalg.norm(Z.T @ y) < 0.5:  # not an image of the locked space
                            cand.append((float(mv), y))
                    new = [(mv, y) for mv, y in cand if _enters(mv, pool_vals, which_run, k, delta)]
            if not new:
                certified = True
                break
            added = True
            for mv, y in new:
                for _ in range(2):
                    y = y - pool_vecs @ (pool_vecs.T @ y)
                pool_vecs = np.c_[pool_vecs, y / np.linalg.norm(y)]
                pool_vals = np.r_[pool_vals, mv]
            if certified:  # the complement was solved exactly
                break
    sel = np.sort(_select(pool_vals, which_run, k))
    values, vectors = pool_vals[sel], pool_vecs[:, sel]
    ok = False
    needs_rr = added or squared or outer is not None
    if not needs_rr or (not converged and not squared and outer is None):
        order = np.argsort(values)
        values, vectors, residuals = values[order], vectors[:, order], residuals[order]
        ok = bool(np.all(residuals <= _gate(values, tol, anorm)))
    if not ok and (converged or squared or outer is not None):
        # Rayleigh-Ritz on the locked pairs of the wanted set (k products), then, while a
        # residual is above the tolerance, block steps that add the residual directions
        # (k products each): pairs locked from different runs are refined together.
        anorm = anorm ** (1.0 / per) if outer is None else fprep.norm
        Q = np.linalg.qr(vectors)[0]
        AQ = fprep.apply(Q)
        n_mv += k
        for step in range(6):
            H = Q.T @ AQ
            w, S = np.linalg.eigh((H + H.T) / 2.0)
            pick = _select(key(w), which, k)
            values, vectors, AV = w[pick], Q @ S[:, pick], AQ @ S[:, pick]
            R = AV - vectors * values
            residuals = np.linalg.norm(R, axis=0)
            anorm = max(anorm, float(np.max(np.abs(w))))
            ok = bool(np.all(residuals <= _gate(values, tol, anorm)))
            if ok or step == 5 or (max_matvec is not None and n_mv + k > max_matvec):
                break
            for _ in range(2):
                R -= vectors @ (vectors.T @ R)
            Rq = np.linalg.qr(R)[0]
            Q = np.c_[vectors, Rq]
            AQ = np.c_[AV, fprep.apply(Rq)]
            n_mv += k
        order = np.argsort(values)
        values, vectors, residuals = values[order], vectors[:, order], residuals[order]
    return (fprep.unscale(values), vectors, fprep.unscale(residuals), n_mv, n_rs, converged and certified and ok)


@dataclass(frozen=True, repr=False)
class TraceResult:
    """Result of :func:`trace`; unpacks as ``value, stderr, n_matvec``.

    Attributes
    ----------
    value : float
        Trace estimate.
    stderr : float
        Its standard error (0 for the exact method).
    n_matvec : int
        Operator products used.
    method : str
        "krylov", "hutchinson", "hutch++" or "exact" (what ``method="auto"`` chose).
    samples : ndarray
        The Hutchinson samples (deflated ones for Krylov and Hutch++).
    """

    value: float
    stderr: float
    n_matvec: int
    method: str
    samples: np.ndarray = field(repr=False)

    def __iter__(self) -> Iterator[Any]:
        yield self.value
        yield self.stderr
        yield self.n_matvec

    def __repr__(self) -> str:
        return short_repr("TraceResult", value=self.value, stderr=self.stderr, n_matvec=self.n_matvec,
                          method=self.method)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in ridgeline's ``.npz`` result format (:mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        save_result(path, "spectra.TraceResult", {"samples": self.samples},
                    {"value": self.value, "stderr": self.stderr, "n_matvec": self.n_matvec, "method": self.method})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TraceResult:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = read_result(path, "spectra.TraceResult")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> TraceResult:
        return cls(float(scalars["value"]), float(scalars["stderr"]), int(scalars["n_matvec"]),
                   str(scalars["method"]), arrays["samples"])


def trace(
    A: OperatorLike,
    method: str = "auto",
    budget: int = 99,
    rng: int | np.random.Generator | None = None,
    *,
    progress: bool = False,
) -> TraceResult:
    """Stochastic trace estimate with a standard error.

    Parameters
    ----------
    A : array-like, sparse matrix, LinearOperator or callable
        Anything :func:`aslinearoperator` accepts.
    method : {"auto", "krylov", "hutchinson", "hutch++", "exact"}, default="auto"
        "krylov": Lanczos (full reorthogonalisation) from a random start
        builds a subspace Q whose trace ``tr(Q^T A Q)`` is exact (the sum of
        the Lanczos diagonal, no extra product), and Hutchinson with fresh
        Rademacher probes estimates the trace of the deflated rest
        ``(I - QQ^T) A (I - QQ^T)``.  A quarter of the budget goes to probes
        first; the Krylov depth is then chosen from the data: one more step is
        taken while the measured drop of ``||(I - QQ^T) A (I - QQ^T)||_F^2``
        pays for the probe it costs.  A Krylov subspace captures the outlier
        eigenvalues of a Hessian much better per product than Hutch++'s
        one-pass sketch, and on an indefinite, flat spectrum the depth stays
        at a few products.
        "auto": "krylov", but the plain Hutchinson estimate of the same probes
        is returned instead when its standard error is smaller (e.g. a
        diagonally dominant matrix); plain Hutchinson below 12 products.
        "hutchinson": Rademacher probes.  "hutch++": a third of the budget
        sketches the dominant subspace, whose trace is then exact, Hutchinson
        on the rest.  When ``budget >= n`` the trace is computed exactly.
    budget : int, default=99
        Number of operator products.
    rng : int, Generator or None
        Seeds the probes.
    progress : bool, default=False
        Show a progress line on a terminal; messages always go to the logger
        ``ridgeline.spectra``.

    Returns
    -------
    TraceResult
        ``value, stderr, n_matvec`` (and ``method``, ``samples``).

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.spectra import trace
    >>> value, stderr, n_matvec = trace(np.diag([1.0, 2.0, 3.0]))
    >>> value, stderr, n_matvec
    (6.0, 0.0, 3)
    """
    op = aslinearoperator(A)
    method = check_choice(method, "method", _TRACE_METHODS)
    budget = check_int(budget, "budget", low=1)
    progress = check_bool(progress, "progress")
    if method == "exact" and budget < op.n:
        msg = f"method='exact' needs budget >= n={op.n}, got budget={budget}"
        raise ValueError(msg)
    if method == "hutch++" and budget < 6 and budget < op.n:
        msg = f"method='hutch++' needs budget >= 6, got budget={budget}"
        raise ValueError(msg)
    if method == "krylov" and budget < 8 and budget < op.n:
        msg = f"method='krylov' needs budget >= 8, got budget={budget}"
        raise ValueError(msg)
    seed = check_rng(rng)
    prep = _prepare(op, seed, probe=False)
    eng: _core.spectra.KrylovTrace | _core.spectra.TraceEstimator
    if budget < op.n and (method == "krylov" or (method == "auto" and budget >= 12)):
        eng = _core.spectra.KrylovTrace(op.n, budget, seed, method == "auto")
    else:
        base = "hutchinson" if method == "auto" else method
        eng = _core.spectra.TraceEstimator(op.n, "exact" if base == "krylov" else base, budget, seed)
    with Progress("spectra", f"trace {method}", total=budget, progress=progress) as prog:
        _run(eng, prep, prog)
        prog.close(None, n_matvec=int(eng.n_matvec))
    return TraceResult(
        float(prep.unscale(float(eng.value))),
        float(prep.unscale(float(eng.stderr))),
        int(eng.n_matvec),
        str(eng.method),
        prep.unscale(np.asarray(eng.samples, dtype=np.float64)),
    )


def _run(eng: Any, prep: _Prepared, prog: Progress) -> None:
    """Drive an engine: in C++ for a compiled operator when nothing is reported, else from Python."""
    if prep.core is not None and not prog.active:
        eng.run(prep.core)
        return
    while not eng.done:
        eng.supply(prep.apply(eng.request()))
        prog.update(int(eng.n_matvec), n_matvec=int(eng.n_matvec))


@dataclass(frozen=True, repr=False)
class SpectralDensity:
    """A discrete spectral measure from stochastic Lanczos quadrature.

    Attributes
    ----------
    nodes : ndarray
        Quadrature nodes (Ritz values).
    weights : ndarray
        Their weights (non-negative, summing to 1).
    n : int
        Operator dimension.
    n_matvec : int
        Operator products used.
    n_deflated : int
        Converged extreme eigenpairs counted exactly (weight 1/n each).
    """

    nodes: np.ndarray
    weights: np.ndarray
    n: int
    n_matvec: int
    n_deflated: int

    def __repr__(self) -> str:
        return short_repr("SpectralDensity", n=self.n, n_nodes=int(self.nodes.size), n_matvec=self.n_matvec,
                          n_deflated=self.n_deflated,
                          range=f"[{float(self.nodes.min()):.4g}, {float(self.nodes.max()):.4g}]" if self.nodes.size else "")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in ridgeline's ``.npz`` result format (:mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        save_result(path, "spectra.SpectralDensity", {"nodes": self.nodes, "weights": self.weights},
                    {"n": self.n, "n_matvec": self.n_matvec, "n_deflated": self.n_deflated})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpectralDensity:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = read_result(path, "spectra.SpectralDensity")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> SpectralDensity:
        return cls(arrays["nodes"], arrays["weights"], int(scalars["n"]), int(scalars["n_matvec"]),
                   int(scalars["n_deflated"]))

    def pdf(self, grid: ArrayLike, sigma: float | None = None) -> np.ndarray:
        """Gaussian-smoothed density on ``grid`` (default ``sigma``: 1% of the spectral range).

        Parameters
        ----------
        grid : array-like
            Points where the density is evaluated.
        sigma : float, optional
            Width of the Gaussian kernel (default 1% of the spectral range).

        Returns
        -------
        ndarray of the shape of grid
        """
        g = np.asarray(grid, dtype=np.float64)
        if sigma is None:
            span = float(self.nodes.max() - self.nodes.min()) if self.nodes.size else 1.0
            sigma = 0.01 * span if span > 0 else 1.0
        if not (sigma > 0 and np.isfinite(sigma)):
            msg = f"sigma={sigma} must be a finite number > 0"
            raise ValueError(msg)
        z = (g[..., None] - self.nodes) / sigma
        out: np.ndarray = np.exp(-0.5 * z * z) @ self.weights / (sigma * np.sqrt(2.0 * np.pi))
        return out

    def cdf(self, grid: ArrayLike) -> np.ndarray:
        """Cumulative distribution of the discrete measure at ``grid`` (right-continuous).

        Parameters
        ----------
        grid : array-like
            Points where the distribution function is evaluated.

        Returns
        -------
        ndarray of the shape of grid
        """
        g = np.asarray(grid, dtype=np.float64)
        order = np.argsort(self.nodes)
        cum = np.concatenate([[0.0], np.cumsum(self.weights[order])])
        return cum[np.searchsorted(self.nodes[order], g, side="right")]

    def wasserstein(self, eigenvalues: ArrayLike) -> float:
        """Wasserstein-1 distance to the uniform measure on ``eigenvalues``.

        Parameters
        ----------
        eigenvalues : array-like of shape (n,)
            The exact spectrum to compare with.

        Returns
        -------
        float
        """
        ev = np.sort(np.asarray(eigenvalues, dtype=np.float64))
        pts = np.unique(np.concatenate([ev, self.nodes]))
        f_est = self.cdf(pts[:-1])
        f_true = np.searchsorted(ev, pts[:-1], side="right") / ev.size
        return float(np.sum(np.abs(f_est - f_true) * np.diff(pts)))

    def plot(self, ax: Axes | None = None, sigma: float | None = None, n_grid: int = 512, **kwargs: Any) -> Axes:
        """Plot the smoothed density with matplotlib; returns the axes.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (a new figure by default).
        sigma : float, optional
            Width of the smoothing kernel (as in :meth:`pdf`).
        n_grid : int, default=512
            Points of the plotted grid.
        **kwargs
            Passed to ``ax.semilogy``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # pragma: no cover - depends on the environment
            msg = "plot needs matplotlib: pip install 'ridgeline[plot]'"
            raise ImportError(msg) from err
        if ax is None:
            _, ax = plt.subplots()
        lo, hi = float(self.nodes.min()), float(self.nodes.max())
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        grid = np.linspace(lo - pad, hi + pad, n_grid)
        ax.semilogy(grid, np.maximum(self.pdf(grid, sigma), 1e-12), **kwargs)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density")
        return ax


def density(
    A: OperatorLike,
    n_probes: int = 10,
    n_steps: int = 80,
    rng: int | np.random.Generator | None = None,
    *,
    deflate: bool = True,
    deflate_tol: float = 1e-8,
    progress: bool = False,
) -> SpectralDensity:
    """Spectral density by stochastic Lanczos quadrature.

    Each probe is a normalised Gaussian vector; ``n_steps`` Lanczos steps with
    full reorthogonalisation give a tridiagonal T whose eigenvalues are the
    nodes and the squared first components of its eigenvectors the weights.
    The probes run in lockstep (one block product of all live probes per step).

    Parameters
    ----------
    A : array-like, sparse matrix, LinearOperator or callable
        Anything :func:`aslinearoperator` accepts.
    n_probes : int, default=10
    n_steps : int, default=80
    rng : int, Generator or None
    deflate : bool, default=True
        Run the first probe alone; the Ritz pairs it converged (residual
        ``<= deflate_tol * max|theta|``, typically the outliers) are counted
        exactly with weight 1/n, and the other probes sample only the
        orthogonal complement.  This removes the probe noise on the outliers'
        weights, the dominant error of plain SLQ on Hessians.  Same number of
        products.
    deflate_tol : float, default=1e-8
        Relative residual below which a Ritz pair of the first probe is deflated.
    progress : bool, default=False
        Show a progress bar on a terminal; messages always go to the logger
        ``ridgeline.spectra``.

    Returns
    -------
    SpectralDensity
        Nodes and weights (the operator's scale restored: matrices with
        extreme entries are rescaled exactly by a power of two inside).
    """
    op = aslinearoperator(A)
    n_probes = check_int(n_probes, "n_probes", low=1, high=1_000_000)
    n_steps = check_int(n_steps, "n_steps", low=1, high=1_000_000)
    deflate = check_bool(deflate, "deflate")
    deflate_tol = check_float(deflate_tol, "deflate_tol", low=0.0, low_inclusive=False)
    progress = check_bool(progress, "progress")
    seed = check_rng(rng)
    prep = _prepare(op, seed, probe=True)
    eng = _core.spectra.Slq(op.n, n_probes, n_steps, seed, deflate, deflate_tol)
    total = n_probes * min(n_steps, op.n)
    with Progress("spectra", f"density {n_probes}x{n_steps}", total=total, progress=progress) as prog:
        _run(eng, prep, prog)
        prog.close(None, n_matvec=int(eng.n_matvec), n_deflated=int(eng.n_deflated))
    return SpectralDensity(
        prep.unscale(np.asarray(eng.nodes, dtype=np.float64)),
        np.asarray(eng.weights, dtype=np.float64),
        op.n,
        int(eng.n_matvec) + prep.n_matvec,
        int(eng.n_deflated),
    )


@dataclass(frozen=True, repr=False)
class OutlierResult:
    """Result of :func:`outliers`.

    Attributes
    ----------
    n_outliers : int
    outliers : ndarray
        The outlier eigenvalues, descending.
    bulk_edge : float
        Largest eigenvalue of the bulk.
    eigenvalues : ndarray
        The extreme eigenvalues examined, descending.
    scores : ndarray
        Gap score of each candidate split (see :func:`outliers`).
    n_matvec : int
    """

    n_outliers: int
    outliers: np.ndarray
    bulk_edge: float
    eigenvalues: np.ndarray
    scores: np.ndarray
    n_matvec: int

    def __repr__(self) -> str:
        return short_repr("OutlierResult", n_outliers=self.n_outliers, bulk_edge=self.bulk_edge,
                          n_matvec=self.n_matvec)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in ridgeline's ``.npz`` result format (:mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        save_result(path, "spectra.OutlierResult",
                    {"outliers": self.outliers, "eigenvalues": self.eigenvalues, "scores": self.scores},
                    {"n_outliers": self.n_outliers, "bulk_edge": self.bulk_edge, "n_matvec": self.n_matvec})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OutlierResult:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = read_result(path, "spectra.OutlierResult")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> OutlierResult:
        return cls(int(scalars["n_outliers"]), arrays["outliers"], float(scalars["bulk_edge"]),
                   arrays["eigenvalues"], arrays["scores"], int(scalars["n_matvec"]))


def outliers(
    A: OperatorLike,
    max_outliers: int = 30,
    threshold: float = 2.0,
    rng: int | np.random.Generator | None = None,
    *,
    n_bulk: int = 10,
    progress: bool = False,
) -> OutlierResult:
    """Separate the top outlier eigenvalues from the bulk.

    The ``K = max_outliers + n_bulk`` largest eigenvalues
    ``l_1 >= ... >= l_K`` are computed by :func:`eigsh`; splitting after the
    i-th scores ``(l_i - l_{i+1}) / (l_{i+1} - l_K)``, the gap relative to the
    spread of the examined eigenvalues below it.  The best split with a score
    ``>= threshold`` gives the outliers; none means no outliers.  On a softmax
    classifier's Hessian this finds the C - 1 (or C) class outliers.

    Parameters
    ----------
    A : array-like, sparse matrix, LinearOperator or callable
    max_outliers : int, default=30
    threshold : float, default=2.0
    rng : int, Generator or None
    n_bulk : int, default=10
        Bulk eigenvalues examined below the largest possible split.
    progress : bool, default=False
        Progress of the underlying :func:`eigsh` call.

    Returns
    -------
    OutlierResult
    """
    op = aslinearoperator(A)
    max_outliers = check_int(max_outliers, "max_outliers", low=1)
    n_bulk = check_int(n_bulk, "n_bulk", low=2)
    threshold = check_float(threshold, "threshold", low=0.0, low_inclusive=False)
    K = min(op.n - 1, max_outliers + n_bulk)
    if K < 3:
        msg = f"the operator (n={op.n}) is too small to separate outliers"
        raise ValueError(msg)
    res = eigsh(op, k=K, which="LA", tol=1e-8, rng=rng, progress=progress)
    lam = res.eigenvalues[::-1].copy()
    last = lam[-1]
    n_cand = min(max_outliers, K - 2)
    scores = np.zeros(n_cand)
    for i in range(n_cand):
        below = lam[i + 1] - last
        gap = lam[i] - lam[i + 1]
        scores[i] = gap / below if below > 0 else (np.inf if gap > 0 else 0.0)
    best = int(np.argmax(scores)) if n_cand else 0
    count = best + 1 if n_cand and scores[best] >= threshold else 0
    edge = float(lam[count])
    return OutlierResult(count, lam[:count].copy(), edge, lam, scores, res.n_matvec)
