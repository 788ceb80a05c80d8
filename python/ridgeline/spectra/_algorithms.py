"""Spectral algorithms on symmetric operators: eigsh, trace, density, outliers."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ridgeline._exceptions import ConvergenceWarning

from ridgeline import _core
from ridgeline._random import seed_from
from ridgeline.spectra._operators import LinearOperator, _drive, aslinearoperator

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

_WHICH = ("LA", "SA", "LM", "BE")
_TRACE_METHODS = ("auto", "krylov", "hutchinson", "hutch++", "exact")


@dataclass(frozen=True)
class EigshResult:
    """Result of :func:`eigsh`; unpacks as ``eigenvalues, eigenvectors``.

    Attributes
    ----------
    eigenvalues : ndarray of shape (k,)
        Ascending.
    eigenvectors : ndarray of shape (n, k)
        Orthonormal Ritz vectors, column i for eigenvalue i.
    residuals : ndarray of shape (k,)
        True residual norms ``||A x_i - lambda_i x_i||``.
    n_matvec : int
        Operator products used (a block of b vectors counts b).
    n_restarts : int
        Thick restarts performed.
    converged : bool
        Whether every wanted pair met the tolerance.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    n_matvec: int
    n_restarts: int
    converged: bool

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.eigenvalues
        yield self.eigenvectors


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        msg = f"{name}={value!r} must be an integer"
        raise TypeError(msg)
    if value < lo:
        msg = f"{name}={value} must be >= {lo}"
        raise ValueError(msg)
    return int(value)


def eigsh(
    A: Any,
    k: int = 6,
    which: str = "LA",
    tol: float = 1e-10,
    rng: int | np.random.Generator | None = None,
    *,
    ncv: int | None = None,
    max_matvec: int | None = None,
    v0: Any = None,
) -> EigshResult:
    """k eigenpairs of a symmetric operator by thick-restart Lanczos with full reorthogonalisation.

    Parameters
    ----------
    A : array-like, sparse matrix, LinearOperator or callable
        Anything :func:`aslinearoperator` accepts.
    k : int, default=6
        Number of eigenpairs, ``1 <= k < n``.
    which : {"LA", "SA", "LM", "BE"}, default="LA"
        Largest algebraic, smallest algebraic, largest magnitude, or both ends
        (k // 2 from the low end, the rest from the high end).
    tol : float, default=1e-10
        Relative accuracy of the eigenvalues: stop when every wanted Ritz pair
        has residual ``r <= tol * |lambda|`` or ``r**2 / gap <= tol * |lambda|``
        (the a-posteriori eigenvalue error bound, with the gap to the nearest
        other Ritz value).  Residual norms are returned.
    rng : int, Generator or None
        Seeds the random start vector.
    ncv : int, optional
        Largest basis kept before a thick restart (default ``max(2k + 1, 20)``, at most n).
    max_matvec : int, optional
        Budget of products (default ``max(1000, 50 * ncv)``); a
        :class:`ConvergenceWarning` is emitted when it is reached first.
    v0 : array-like of shape (n,), optional
        Start vector (overrides ``rng``).

    Returns
    -------
    EigshResult
        Ascending eigenvalues, eigenvectors, residual norms and the product count.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.spectra import eigsh
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> eigsh(A, k=2, rng=0).eigenvalues.round(8).tolist()
    [9.0, 10.0]
    """
    op = aslinearoperator(A)
    n = op.n
    k = _check_int("k", k, 1)
    if k >= n:
        msg = f"k={k} must be < n={n}"
        raise ValueError(msg)
    if which not in _WHICH:
        msg = f"unknown which {which!r}; expected one of 'LA', 'SA', 'LM', 'BE'"
        raise ValueError(msg)
    tol = float(tol)
    if not (tol > 0.0 and np.isfinite(tol)):
        msg = f"tol={tol} must be a finite number > 0"
        raise ValueError(msg)
    ncv = min(n, max(2 * k + 1, 20)) if ncv is None else _check_int("ncv", ncv, 1)
    if not (k < ncv <= n):
        msg = f"ncv={ncv} must satisfy k={k} < ncv <= n={n}"
        raise ValueError(msg)
    max_matvec = max(1000, 50 * ncv) if max_matvec is None else _check_int("max_matvec", max_matvec, ncv)
    v = None
    if v0 is not None:
        v = np.asarray(v0, dtype=np.float64)
        if v.shape != (n,):
            msg = f"v0 has shape {v.shape}, expected ({n},)"
            raise ValueError(msg)
        if not np.all(np.isfinite(v)) or not np.any(v):
            msg = "v0 must be finite and nonzero"
            raise ValueError(msg)
    eng = _core.spectra.LanczosEigs(n, k, which, tol, ncv, max_matvec, seed_from(rng), v)
    _drive(eng, op)
    if not eng.converged:
        warnings.warn(
            f"eigsh reached max_matvec={max_matvec} before tol={tol:g} (largest residual "
            f"{float(np.max(eng.residuals)):.3g})",
            ConvergenceWarning,
            stacklevel=2,
        )
    return EigshResult(
        np.asarray(eng.eigenvalues),
        np.asarray(eng.eigenvectors),
        np.asarray(eng.residuals),
        int(eng.n_matvec),
        int(eng.n_restarts),
        bool(eng.converged),
    )


@dataclass(frozen=True)
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


def trace(
    A: Any, method: str = "auto", budget: int = 99, rng: int | np.random.Generator | None = None
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
    if method not in _TRACE_METHODS:
        msg = f"unknown method {method!r}; expected one of 'auto', 'krylov', 'hutchinson', 'hutch++', 'exact'"
        raise ValueError(msg)
    budget = _check_int("budget", budget, 1)
    if method == "exact" and budget < op.n:
        msg = f"method='exact' needs budget >= n={op.n}, got budget={budget}"
        raise ValueError(msg)
    if method == "hutch++" and budget < 6 and budget < op.n:
        msg = f"method='hutch++' needs budget >= 6, got budget={budget}"
        raise ValueError(msg)
    if method == "krylov" and budget < 8 and budget < op.n:
        msg = f"method='krylov' needs budget >= 8, got budget={budget}"
        raise ValueError(msg)
    seed = seed_from(rng)
    if budget < op.n and (method == "krylov" or (method == "auto" and budget >= 12)):
        eng = _core.spectra.KrylovTrace(op.n, budget, seed, method == "auto")
    else:
        base = "hutchinson" if method == "auto" else method
        eng = _core.spectra.TraceEstimator(op.n, "exact" if base == "krylov" else base, budget, seed)
    _drive(eng, op)
    return TraceResult(
        float(eng.value), float(eng.stderr), int(eng.n_matvec), str(eng.method), np.asarray(eng.samples)
    )


@dataclass(frozen=True)
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

    def pdf(self, grid: Any, sigma: float | None = None) -> np.ndarray:
        """Gaussian-smoothed density on ``grid`` (default ``sigma``: 1% of the spectral range)."""
        g = np.asarray(grid, dtype=np.float64)
        if sigma is None:
            span = float(self.nodes.max() - self.nodes.min()) if self.nodes.size else 1.0
            sigma = 0.01 * span if span > 0 else 1.0
        if not (sigma > 0 and np.isfinite(sigma)):
            msg = f"sigma={sigma} must be a finite number > 0"
            raise ValueError(msg)
        z = (g[..., None] - self.nodes) / sigma
        return np.exp(-0.5 * z * z) @ self.weights / (sigma * np.sqrt(2.0 * np.pi))

    def cdf(self, grid: Any) -> np.ndarray:
        """Cumulative distribution of the discrete measure at ``grid`` (right-continuous)."""
        g = np.asarray(grid, dtype=np.float64)
        order = np.argsort(self.nodes)
        cum = np.concatenate([[0.0], np.cumsum(self.weights[order])])
        return cum[np.searchsorted(self.nodes[order], g, side="right")]

    def wasserstein(self, eigenvalues: Any) -> float:
        """Wasserstein-1 distance to the uniform measure on ``eigenvalues``."""
        ev = np.sort(np.asarray(eigenvalues, dtype=np.float64))
        pts = np.unique(np.concatenate([ev, self.nodes]))
        f_est = self.cdf(pts[:-1])
        f_true = np.searchsorted(ev, pts[:-1], side="right") / ev.size
        return float(np.sum(np.abs(f_est - f_true) * np.diff(pts)))

    def plot(self, ax: Any = None, sigma: float | None = None, n_grid: int = 512, **kwargs: Any) -> Any:
        """Plot the smoothed density with matplotlib; returns the axes."""
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
    A: Any,
    n_probes: int = 10,
    n_steps: int = 80,
    rng: int | np.random.Generator | None = None,
    *,
    deflate: bool = True,
    deflate_tol: float = 1e-8,
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

    Returns
    -------
    SpectralDensity
    """
    op = aslinearoperator(A)
    n_probes = _check_int("n_probes", n_probes, 1)
    n_steps = _check_int("n_steps", n_steps, 1)
    if not (deflate_tol > 0):
        msg = f"deflate_tol={deflate_tol} must be > 0"
        raise ValueError(msg)
    eng = _core.spectra.Slq(op.n, n_probes, n_steps, seed_from(rng), bool(deflate), float(deflate_tol))
    _drive(eng, op)
    return SpectralDensity(
        np.asarray(eng.nodes), np.asarray(eng.weights), op.n, int(eng.n_matvec), int(eng.n_deflated)
    )


@dataclass(frozen=True)
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


def outliers(
    A: Any,
    max_outliers: int = 30,
    threshold: float = 2.0,
    rng: int | np.random.Generator | None = None,
    *,
    n_bulk: int = 10,
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

    Returns
    -------
    OutlierResult
    """
    op = aslinearoperator(A)
    max_outliers = _check_int("max_outliers", max_outliers, 1)
    n_bulk = _check_int("n_bulk", n_bulk, 2)
    if not threshold > 0:
        msg = f"threshold={threshold} must be > 0"
        raise ValueError(msg)
    K = min(op.n - 1, max_outliers + n_bulk)
    if K < 3:
        msg = f"the operator (n={op.n}) is too small to separate outliers"
        raise ValueError(msg)
    res = eigsh(op, k=K, which="LA", tol=1e-8, rng=rng)
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
