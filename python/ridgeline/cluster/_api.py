"""Functional API of the SDP clustering engine (numpy and ``_core`` only)."""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ridgeline import _core, _io
from ridgeline._exceptions import ConvergenceWarning
from ridgeline._progress import Progress
from ridgeline._validation import check_array, check_bool, check_float, check_int, check_n_threads, check_rng
from ridgeline.cluster import _certificate, _lloyd

__all__ = ["SDPResult", "ILAResult", "kmeans_sdp", "ila_sdp", "check_data", "ConvergenceWarning"]

# least time between two progress reports from the C++ solver (seconds)
_PROGRESS_INTERVAL = 0.1
# infeasibility below which the early-exit test (rounding settled) runs
_SETTLE_INFEAS = 0.1
# the stall rule of that test: stop once the rounding refined by Lloyd has not lowered the best
# K-means cost seen at this many roundings in a row (stop_reason "stalled")
_STALL_CHECKS = 2
_STALL_RTOL = 1e-4
# inner-solve accuracy before a dual step, relative to the infeasibility (see _reference.nlr_solve)
_DUAL_C = 0.3
_INIT_WEIGHT = 0.5  # share of the warm start from the k-means++ block matrix (the rest: the random start)
# the dual certificate of the k-means++ partition (_certificate.py) is tried when its factor has at
# most this many columns (O(n m^2) work); it certifies when cost - bound <= _CERT_RTOL cost + the
# round-off allowance _CERT_ROUNDOFF tr(A) of the computation
_CERT_MAX_COLS = 256
_CERT_RTOL = 1e-9
_CERT_ROUNDOFF = 64 * 2.0**-52
# sketch="auto": above _AUTO_N points, the baseline's starts and the SDP run on _AUTO_SKETCH of them
# (Lloyd refines both candidates on all points, and the certificate is checked on all points)
_AUTO_N = 20000
_AUTO_SKETCH = 4000
# iLA-SDP stops after this many rounds without a new best likelihood
_PATIENCE = 3
# a coarse LA-SDP round ends once its labels, read every _ILA_SETTLE_EVERY iterations below
# infeasibility _ILA_SETTLE_INFEAS, agree three readings in a row (the round needs only them);
# 3e-3 rather than 1e-2: at 1e-2 standardised breast_cancer settled on other labels (error 0.13)
_ILA_SETTLE_EVERY = 25
_ILA_SETTLE_INFEAS = 3e-3


class _Saved:
    """save / load / short repr shared by the two result classes (``ridgeline._io`` format)."""

    _kind = ""
    _repr_fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return _io.short_repr(type(self).__name__, **{k: getattr(self, k) for k in self._repr_fields})

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` (``.npz``, the documented format of ``ridgeline._io``; no pickle)."""
        arrays: dict[str, Any] = {}
        scalars: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                arrays[f.name] = v
            else:
                scalars[f.name] = v
        _io.save_result(path, self._kind, arrays, scalars)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = _io.read_result(path, cls._kind)
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> Any:
        kw: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in arrays:
                kw[f.name] = arrays[f.name]
            elif f.name in scalars:
                kw[f.name] = scalars[f.name]
        return cls(**kw)


@dataclass(frozen=True, repr=False, eq=False)
class SDPResult(_Saved):
    """Result of :func:`kmeans_sdp`.

    The returned partition is the best, by K-means cost, of two candidates: the SDP
    rounding refined by Lloyd's iterations, and ``n_init`` greedy k-means++ starts
    refined the same way.  ``objective`` is the relaxed cost of the SDP solution;
    when the SDP is tight (``tight``) it equals the cost of ``labels`` and the
    partition is a global K-means optimum.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
        Cluster index of each point (0 .. n_clusters - 1).
    centers : ndarray of shape (n_clusters, n_features)
        Mean of each cluster.
    objective : float
        Relaxed K-means cost ``tr(A) - <A, Z>`` with ``A = Xc Xc^T`` of the factored SDP
        solution (``A`` of the sketch when sketching).  The relaxation's optimum is a
        lower bound on every partition's K-means cost; the factored solver reaches it
        when the SDP is tight, and otherwise reports a value at or above it (the
        non-negative factorisation may stop at a local optimum 0.4-1.9% short of the SDP).
    sdp_value : float
        ``<A, Z>``, the value the SDP maximises (in the units of X).
    inertia : float
        K-means cost of ``labels`` (sum of squared distances to the centres).
    sdp_inertia : float
        K-means cost of the SDP rounding after Lloyd refinement (on the sketch, then
        lifted, when sketching).
    kmeanspp_inertia : float
        K-means cost of the best k-means++ start after Lloyd refinement.
    winner : {"sdp", "kmeans++"}
        Which candidate gave ``labels`` (ties go to "sdp").
    optimality_gap : float
        ``(inertia - objective) / inertia``: when the SDP is solved to its global
        optimum, ``labels`` are within this fraction of the optimal K-means cost.  It is
        a certificate when ``tight`` (then 0 up to the solver tolerance); otherwise the
        factored solver may stop at a local optimum of the non-negative factorisation,
        and a negative value shows exactly that (its relaxed cost is above a
        partition's cost, so it bounds nothing).  NaN when sketching (the bound is on
        the sketch only).
    infeasibility : float
        ``max_i |(U U^T 1)_i - 1|``.
    tight : bool
        Whether the dual certificate proved the k-means++ partition optimal
        (``stop_reason == "certified"``), or the solver converged to ``tol`` and Z equals the
        block matrix of the rounding (within ``tight_tol``): the certificate that ``labels``
        are K-means optimal.
    tightness_gap : float
        ``||Z - Z(rounding)||_F / ||Z(rounding)||_F``.
    n_iter : int
        Solver iterations.
    converged : bool
        Whether the infeasibility and the stationarity reached ``tol``.
    stop_reason : {"certified", "converged", "settled", "stalled", "max_iter"}
        Why the solver stopped.  "certified" (only with ``certify``): the dual point built from
        the k-means++ partition proved it K-means optimal, so the SDP is tight there and the
        block matrix of ``labels`` solves it; the iterative solve was skipped (``n_iter`` 0,
        ``winner`` "kmeans++", ``tight`` and ``converged`` True).  "settled" (only with ``early_stop``): three roundings in a
        row, taken at growing intervals once the infeasibility is below 1e-2, gave one
        partition that ``U U^T`` stays farther than 1e-2 from, so the relaxation is not
        tight there and solving on would not change the returned labels.  "stalled" (only
        with ``early_stop``): under the same conditions (infeasibility below 0.1, ``U U^T``
        farther than 1e-2 from the rounding's block matrix and that distance no longer
        shrinking), the rounding refined by Lloyd's iterations on the data did not lower
        the best K-means cost seen by more than a relative 1e-4 at two roundings in a row;
        the best of those roundings is the SDP candidate.  A measured rule, not a bound: a
        longer solve may still find a rounding up to about that much cheaper.  After
        "settled" or "stalled", ``converged`` and ``tight`` are False and ``objective`` /
        ``optimality_gap`` are those of an inexact solution (no bound; ``lower_bound``
        from the dual point is the only proved one).
    lower_bound : float
        A certified lower bound on the K-means cost of every partition into ``n_clusters``
        clusters, from the dual point of the k-means++ partition (see ``certify``): the
        weak-duality bound of the SDP, valid whether or not the SDP is tight (up to
        floating-point round-off, relative ~1e-14 of the total sum of squares).  -inf when not
        computed (an int ``sketch``, ``certify=False``, too many clusters).
    certified_gap : float
        ``(inertia - lower_bound) / inertia`` (clipped at 0): ``labels`` are proved within this
        fraction of the optimal K-means cost; 0 up to round-off when ``stop_reason ==
        "certified"``.  NaN when ``lower_bound`` was not computed.
    factor : ndarray of shape (n_sub, rank)
        The non-negative factor U with ``Z = U U^T`` (on the sketch when sketching).
    sdp_labels : ndarray of shape (n_samples,)
        Labels of the SDP rounding before Lloyd refinement (lifted when sketching).
    sketch_indices : ndarray or None
        Indices of the subsample solved when sketching, else None.
    """

    labels: np.ndarray
    centers: np.ndarray
    objective: float
    sdp_value: float
    inertia: float
    infeasibility: float
    tight: bool
    tightness_gap: float
    n_iter: int
    converged: bool
    factor: np.ndarray
    sketch_indices: np.ndarray | None = None
    sdp_labels: np.ndarray | None = None
    sdp_inertia: float = math.nan
    kmeanspp_inertia: float = math.nan
    winner: str = "sdp"
    optimality_gap: float = math.nan
    stop_reason: str = "converged"
    lower_bound: float = -math.inf
    certified_gap: float = math.nan

    _kind = "cluster.SDPResult"
    _repr_fields = ("labels", "inertia", "objective", "optimality_gap", "winner", "tight", "n_iter", "converged")


@dataclass(frozen=True, repr=False, eq=False)
class ILAResult(_Saved):
    """Result of :func:`ila_sdp`.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
        Cluster index of each point.
    means : ndarray of shape (n_clusters, n_features)
        Mean of each cluster.
    covariances : ndarray of shape (n_clusters, n_features, n_features)
        Ridge-regularised covariance of each cluster.
    n_rounds : int
        LA-SDP rounds run.
    n_iter : int
        Solver iterations summed over the Peng-Wei start and all rounds.
    infeasibility : float
        Of the last LA-SDP solve.
    converged : bool
        The labels repeated, or three rounds in a row brought no new best
        classification log-likelihood, in rounds solved to ``tol``, within ``max_rounds``
        (and no solve stopped at ``max_iter``).  The rounds before are coarse: each
        solve ends once its labels agree at three readings 25 iterations apart.
    log_likelihood : float
        Mean classification log-likelihood per sample of ``labels`` under the fitted
        Gaussians (weights = cluster fractions); the rounds keep the best.
    """

    labels: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    n_rounds: int
    n_iter: int
    infeasibility: float
    converged: bool
    log_likelihood: float = math.nan

    _kind = "cluster.ILAResult"
    _repr_fields = ("labels", "log_likelihood", "n_rounds", "n_iter", "infeasibility", "converged")


_io.register("cluster.SDPResult", "ridgeline.cluster._api:SDPResult")
_io.register("cluster.ILAResult", "ridgeline.cluster._api:ILAResult")


def _threads(value: object) -> int:
    """``n_threads`` for the core (0 = all cores); 0 itself is the deprecated spelling of -1."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and int(value) == 0:
        warnings.warn(
            "n_threads=0 for all cores is deprecated and will be removed in ridgeline 0.3; use n_threads=-1",
            DeprecationWarning,
            stacklevel=3,
        )
        return 0
    return check_n_threads(value)


def check_data(X: object, n_clusters: object) -> tuple[np.ndarray, int]:
    """Validate data and cluster count; returns (C-contiguous float64 X, n_clusters)."""
    K = check_int(n_clusters, "n_clusters", 1)
    if isinstance(X, (str, bytes)):
        msg = f"X must be an array of numbers, got a {type(X).__name__}"
        raise TypeError(msg)
    try:
        raw = np.asarray(X)
    except (ValueError, TypeError) as err:
        msg = f"X must be a rectangular array of numbers: {err}"
        raise ValueError(msg) from err
    if raw.dtype.kind in "OUS":  # numeric strings or objects: convert if every entry is a number
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError) as err:
            msg = f"X must be numeric, got dtype {raw.dtype}"
            raise TypeError(msg) from err
    if raw.ndim != 2:
        msg = f"X must be 2-D (n_samples, n_features), got shape {raw.shape}; reshape 1-D data with X.reshape(-1, 1)"
        raise ValueError(msg)
    arr = check_array(raw, "X", ndim=2, min_size=0)
    if arr.shape[1] < 1:
        msg = f"X must have at least one feature, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.shape[0] < K:
        msg = f"n_samples={arr.shape[0]} should be >= n_clusters={K}"
        raise ValueError(msg)
    return arr, K


def _unit_scale(X: np.ndarray) -> tuple[np.ndarray, int]:
    """``X * 2**-e`` with ``max |X| * 2**-e`` in [0.5, 1) (exact: only the exponents change).

    K-means and the SDP are invariant under scaling; working at unit scale keeps the
    squared distances inside the double range for data anywhere in 1e-300 .. 1e300.
    """
    m = max(float(np.max(X)), -float(np.min(X))) if X.size else 0.0
    if m == 0.0 or not math.isfinite(m):
        return X, 0
    e = math.frexp(m)[1]
    return np.ldexp(X, -e), e


def _unscale(value: float, e: int) -> float:
    """``value * 2**e``; inf when the product leaves the double range (costs of data near 1e300)."""
    try:
        return math.ldexp(value, e)
    except OverflowError:
        return math.copysign(math.inf, value)


def _means(X: np.ndarray, labels: np.ndarray, K: int) -> np.ndarray:
    return _lloyd.means(X, labels, K)


def tightness(U: np.ndarray, labels: np.ndarray, K: int) -> tuple[float, float]:
    """(relative distance of U U^T to the block matrix of labels, sigma_{K+1}^2 / sigma_1^2).

    Computed from U only: ``||U U^T - B||_F^2 = ||U^T U||_F^2 - 2 sum_k ||U^T 1_k||^2 / n_k + K'``.
    """
    G = U.T @ U
    counts = np.bincount(labels, minlength=K)
    S = np.zeros((K, U.shape[1]))
    np.add.at(S, labels, U)
    nz = counts > 0
    cross = float(np.sum(np.sum(S[nz] ** 2, axis=1) / counts[nz]))
    kk = float(np.count_nonzero(nz))
    gap2 = max(float(np.sum(G * G)) - 2.0 * cross + kk, 0.0)
    w = np.sort(np.linalg.eigvalsh(G))[::-1]
    ratio = float(w[K] / w[0]) if (w.size > K and w[0] > 0) else 0.0
    return float(np.sqrt(gap2 / kk)), ratio


class _BlockSolution:
    """The SDP solution of a certified partition: Z = the block matrix of ``labels`` (what
    ``_core.cluster.peng_wei`` returns, for the fields kmeans_sdp reads)."""

    def __init__(self, labels: np.ndarray, K: int, rank: int, value: float) -> None:
        n = labels.size
        counts = np.bincount(labels, minlength=K)
        U = np.zeros((n, rank))
        keep = labels < rank
        U[np.flatnonzero(keep), labels[keep]] = 1.0 / np.sqrt(counts[labels[keep]])
        self.U = U
        self.objective = -value  # <A, Z> = value, A unscaled (scale2 = 1)
        self.scale2 = 1.0
        self.converged = True
        self.settled = False
        self.n_iter = 0
        self.infeasibility = float(np.max(np.abs(U @ (U.T @ np.ones(n)) - 1.0)))


def _fail_progress(pb: Progress) -> None:
    pb.__exit__(*sys.exc_info())


def kmeans_sdp(
    X: object,
    n_clusters: int,
    *,
    rank: int | None = None,
    tol: float = 1e-6,
    max_iter: int = 50000,
    sketch: int | str | None = "auto",
    n_init: int = 10,
    n_threads: int | None = 1,
    tight_tol: float = 1e-3,
    early_stop: bool = True,
    warm_start: bool = True,
    certify: bool = True,
    progress: bool = False,
    rng: object = None,
) -> SDPResult:
    """K-means clustering by the Peng-Wei SDP, solved in factored form.

    Solves ``max <A, Z>`` over ``Z = U U^T`` with ``U >= 0`` (n x rank),
    ``tr(Z) = K`` and ``Z 1 = 1`` by an augmented Lagrangian on U (A = Xc Xc^T kept
    factored: O(n p r) per iteration, no n x n matrix), then rounds: top-K left
    singular vectors of U, then k-means++ with ``n_init`` starts.  The rounding is
    refined by Lloyd's iterations and compared, by K-means cost, with ``n_init``
    greedy k-means++ starts refined the same way; the better partition is returned
    (``winner``), so the result is never worse than that k-means++ baseline.  When
    the SDP is tight (``tight``) the partition is a global K-means optimum.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data, one point per row (any finite scale: it is rescaled by a power of two internally).
    n_clusters : int
        Number of clusters K (1 <= K <= n_samples).
    rank : int, default=None
        Columns of the factor U (>= n_clusters); default ``2 * n_clusters``.
    tol : float, default=1e-6
        Target primal infeasibility and stationarity.
    max_iter : int, default=50000
        Iteration cap of the solver; reaching it warns with ``ConvergenceWarning``.
    sketch : int, "auto" or None, default="auto"
        An int: solve on a random subsample of this many points, then assign every point to
        the nearest subsample centroid (sketch-and-lift). None solves on all points.
        "auto": all points up to 20,000 of them; above, the k-means++ starts and (unless the
        certificate of ``certify`` settles it on all points) the SDP run on a subsample of
        4,000 points, and Lloyd's iterations refine both candidates on all points.
    n_init : int, default=10
        k-means++ starts of the rounding, and of the k-means++ baseline (run on the
        subsample when sketching, then refined on all points).
    n_threads : int or None, default=1
        Threads of the solver (-1 or None: all cores); the result does not depend on it.
    tight_tol : float, default=1e-3
        Tolerance on the block-structure gap for reporting the solution tight.
    early_stop : bool, default=True
        Stop the solver once its rounding has settled on a partition the SDP solution is
        not close to (``stop_reason == "settled"``: the relaxation is not tight there, so
        no certificate is to be had and more iterations would not change the labels), or
        once the rounding refined by Lloyd's iterations has stopped lowering the K-means
        cost (``stop_reason == "stalled"``; see ``SDPResult.stop_reason``).  A solution
        heading to tight is always solved to ``tol`` and certified.
    warm_start : bool, default=True
        Start the solver at the block matrix of the best k-means++ partition mixed
        half-and-half with the random factor (with the least-squares multiplier).  With the
        stall rule of ``early_stop`` this is faster on data where the SDP is not tight
        (digits, seeds 0-4: 140-273 iterations, SDP candidate chosen on every seed, mean
        K-means cost 0.003% below KMeans(n_init=10)'s; from the random start 200-765
        iterations).  Off, the SDP starts from the random factor only (it explores more on
        its own, at more iterations).
    certify : bool, default=True
        Before the solve, build the dual point of the k-means++ partition (the
        complementary-slackness construction of Iguchi, Mixon, Peterson & Villar) and check it
        (one eigenvalue of an m x m matrix, m = n_features + K^2 + 1, O(n m^2) work).  When it
        proves the partition optimal (``stop_reason == "certified"``: its K-means cost is within
        a relative 1e-9, plus round-off, of the dual bound), the SDP is tight there, the block
        matrix of that partition solves it and the iterative solve is skipped.  In every case
        the bound is reported (``lower_bound``, ``certified_gap``).  Not tried with an int
        ``sketch`` or when m > 256 (with ``sketch="auto"`` it is checked on all points).
    progress : bool, default=False
        Show the solver's progress (a bar on stderr when it is a terminal); messages
        also go to ``logging.getLogger("ridgeline.cluster")``.
    rng : int, numpy Generator or None, default=None
        Seed of the initial factor, the subsample, the rounding and the k-means++ baseline.

    Returns
    -------
    SDPResult

    Raises
    ------
    ValueError
        On NaN/inf, 1-D X, n_clusters out of range or bad options.
    TypeError
        On non-numeric X or options of the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.cluster import kmeans_sdp
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10] + np.arange(10)[:, None] * 0.01
    >>> kmeans_sdp(X, 2, rng=0).labels.tolist() in ([0] * 5 + [1] * 5, [1] * 5 + [0] * 5)
    True
    """
    return _kmeans_sdp(
        X, n_clusters, rank=rank, tol=tol, max_iter=max_iter, sketch=sketch, n_init=n_init,
        n_threads=n_threads, tight_tol=tight_tol, progress=progress, verbose=0, rng=rng, stacklevel=3,
        early_stop=early_stop, warm_start=warm_start, certify=certify,
    )


def _kmeans_sdp(
    X: object,
    n_clusters: object,
    *,
    rank: object,
    tol: object,
    max_iter: object,
    sketch: object,
    n_init: object,
    n_threads: object,
    tight_tol: object,
    progress: object,
    verbose: object,
    rng: object,
    stacklevel: int,
    warn: bool = True,
    early_stop: object = True,
    warm_start: object = True,
    certify: object = True,
) -> SDPResult:
    Xa, K = check_data(X, n_clusters)
    r = 2 * K if rank is None else check_int(rank, "rank", 1, 1 << 20)
    if r < K:  # Z = U U^T with Z 1 = 1, Z >= 0 has eigenvalues <= 1, so rank(Z) >= tr(Z) = K
        msg = f"rank={r} should be >= n_clusters={K} (a lower rank cannot satisfy the constraints)"
        raise ValueError(msg)
    tol_ = check_float(tol, "tol", 0.0, low_inclusive=False)
    mi = check_int(max_iter, "max_iter", 1, 2**62)
    ni = check_int(n_init, "n_init", 1, 1 << 20)
    nt = _threads(n_threads)
    tt = check_float(tight_tol, "tight_tol", 0.0, low_inclusive=False)
    show = check_bool(progress, "progress")
    es = check_bool(early_stop, "early_stop")
    ws = check_bool(warm_start, "warm_start")
    cf = check_bool(certify, "certify")
    vb = check_int(verbose, "verbose", 0)
    seed = check_rng(rng)
    n = Xa.shape[0]
    idx = None
    m = None
    auto = isinstance(sketch, str) and sketch == "auto"
    if auto:
        m = _AUTO_SKETCH if n > _AUTO_N else None
    elif sketch is not None:
        m = check_int(sketch, "sketch", 1, 2**62)
        if m < K:
            msg = f"sketch={m} should be >= n_clusters={K}"
            raise ValueError(msg)
    Xu, e = _unit_scale(Xa)
    Xs = Xu
    if m is not None and m < n:
        # m distinct indices in O(m) (no permutation of all n)
        pick = np.random.default_rng(_core.random.mix_seed(seed, 7)).choice(n, size=m, replace=False)
        idx = np.sort(pick).astype(np.intp)
        Xs = np.ascontiguousarray(Xu[idx])
    pb = Progress("cluster", f"SDP K-means (n={Xs.shape[0]}, K={K})", None, progress=show, verbose=vb)
    try:
        cb = None
        if pb.active:

            def cb(it: int, infeas: float, stat: float) -> None:
                pb.update(it, iteration=it, infeasibility=infeas, stationarity=stat)

        # the k-means++ baseline first: its partition is the solver's warm start
        gen = np.random.default_rng(_core.random.mix_seed(seed, 2))
        lab_b, cen_b, cost_b = _lloyd.kmeans_restarts(Xs, K, ni, gen)
        full = idx is None or auto  # whether lab_b and the certificate are on all points
        if idx is not None and auto:  # the best start of the sketch, refined by Lloyd on all points
            lab_b, cen_b, cost_b, _ = _lloyd.lloyd(Xu, cen_b, 300)
        round_seed = _core.random.mix_seed(seed, 1)
        lower_u = -math.inf
        certified = False
        if cf and full and _certificate.certificate_size(Xs.shape[1], K) <= _CERT_MAX_COLS:
            if pb.active:
                pb.update(None, stage="dual certificate of the k-means++ partition")
            bound = _certificate.kmeans_lower_bound(Xu, lab_b, K)
            lower_u = bound.lower_bound
            certified = bool(cost_b - lower_u <= _CERT_RTOL * cost_b + _CERT_ROUNDOFF * bound.trace)
        out: Any
        if certified:
            # the block matrix of lab_b solves the SDP on all points (the dual point above proves
            # it): no solve, and no sketch
            out = _BlockSolution(lab_b, K, r, bound.trace - bound.cost)
            U = out.U
            lab_s = lab_b
            idx, Xs = None, Xu
        else:
            out = _core.cluster.peng_wei(
                Xs, K, r, seed, tol=tol_, max_iter=mi, n_threads=nt, progress=cb, progress_interval=_PROGRESS_INTERVAL,
                settle_n_init=ni if es else 0, settle_seed=round_seed, settle_infeas=_SETTLE_INFEAS,
                init_labels=(lab_b[idx] if full and idx is not None else lab_b) if ws else None,
                init_weight=_INIT_WEIGHT, dual_c=_DUAL_C,
                stall_checks=_STALL_CHECKS if es else 0, stall_rtol=_STALL_RTOL,
            )
            U = out.U
            L = _core.cluster.round_factor(U, K)
            lab_s = _core.cluster.kmeans(L, K, ni, 300, round_seed, nt).labels.astype(np.intp)

        if certified:  # U U^T is the block matrix of lab_s, a Lloyd fixed point already
            gap = 0.0
            lab_a, cen_a, cost_a = lab_b, cen_b, cost_b
        else:
            gap, _ = tightness(U, lab_s, K)
            if pb.active:
                pb.update(None, stage="Lloyd refinement and k-means++ baseline")
            # both candidates are refined by Lloyd on the solved points (all of them, or the sketch)
            lab_a, cen_a, cost_a, _ = _lloyd.lloyd(Xs, _lloyd.means(Xs, lab_s, K), 300)
            # a solve stopped early: the early-exit test's best rounding (by its Lloyd-refined
            # cost) may beat the rounding of the last iterate
            best_r = np.asarray(out.best_rounding, dtype=np.intp)
            if not out.converged and best_r.size == lab_s.size and out.best_iter != out.n_iter:
                lab_c, cen_c, cost_c, _ = _lloyd.lloyd(Xs, _lloyd.means(Xs, best_r, K), 300)
                if cost_c < cost_a:
                    lab_s, lab_a, cen_a, cost_a = best_r, lab_c, cen_c, cost_c
        if idx is None:
            sdp_labels = lab_s
        elif auto:  # sketch-and-lift, then Lloyd on all points (lab_b is there already)
            x2 = np.einsum("ij,ij->i", Xu, Xu)
            sdp_labels = _lloyd.nearest(Xu, x2, _lloyd.means(Xs, lab_s, K))
            lab_a, cen_a, cost_a, _ = _lloyd.lloyd(Xu, cen_a, 300, None, x2)
        else:  # sketch-and-lift: every point to its nearest centre (one pass per candidate)
            x2 = np.einsum("ij,ij->i", Xu, Xu)
            sdp_labels = _lloyd.nearest(Xu, x2, _lloyd.means(Xs, lab_s, K))
            lab_a = _lloyd.nearest(Xu, x2, cen_a)
            lab_b = _lloyd.nearest(Xu, x2, cen_b)
            cen_a, cen_b = _lloyd.means(Xu, lab_a, K), _lloyd.means(Xu, lab_b, K)
            cost_a, cost_b = _lloyd.cost(Xu, lab_a, K, None, cen_a), _lloyd.cost(Xu, lab_b, K, None, cen_b)
    except BaseException:
        _fail_progress(pb)
        raise
    if cost_b < cost_a or certified:
        winner, labels, centers_u, cost_u = "kmeans++", lab_b, cen_b, cost_b
    else:
        winner, labels, centers_u, cost_u = "sdp", lab_a, cen_a, cost_a
    trA = _certificate.trace(Xs)
    sdp_value_u = -float(out.objective) * float(out.scale2)
    objective_u = trA - sdp_value_u
    if idx is None and cost_u > 0.0:
        opt_gap = (cost_u - objective_u) / cost_u
    elif idx is None:
        opt_gap = 0.0
    else:
        opt_gap = math.nan
    objective, inertia = _unscale(objective_u, 2 * e), _unscale(cost_u, 2 * e)
    converged = bool(out.converged)
    if certified:
        stop_reason = "certified"
    else:
        stop_reason = "converged" if converged else ("max_iter" if not out.settled else "stalled" if out.stalled else "settled")
    # a certificate only from the dual point or from a solve to tol
    tight = bool(certified or (converged and gap <= tt))
    # a bound above the returned cost can only be round-off (the allowance above): clip it there
    # (and a cost is >= 0: a negative bound says nothing more than 0)
    lower_u = min(max(lower_u, 0.0), cost_u) if math.isfinite(lower_u) else lower_u
    lower_bound = _unscale(lower_u, 2 * e) if math.isfinite(lower_u) else lower_u
    if not math.isfinite(lower_u):
        cert_gap = math.nan
    elif cost_u > 0.0:
        cert_gap = max((cost_u - lower_u) / cost_u, 0.0)
    else:
        cert_gap = 0.0
    pb.close(
        f"winner {winner}",
        iterations=int(out.n_iter),
        infeasibility=float(out.infeasibility),
        inertia=inertia,
        gap=opt_gap,
        tight=tight,
        stop_reason=stop_reason,
    )
    if warn and stop_reason == "max_iter":
        msg = (
            f"the SDP solver stopped at max_iter={mi} with infeasibility {out.infeasibility:.3g} "
            f"(tol={tol_:g}); increase max_iter"
        )
        warnings.warn(msg, ConvergenceWarning, stacklevel=stacklevel)
    return SDPResult(
        labels=labels,
        centers=np.ldexp(centers_u, e),
        objective=objective,
        sdp_value=_unscale(sdp_value_u, 2 * e),
        inertia=inertia,
        infeasibility=float(out.infeasibility),
        tight=tight,
        tightness_gap=gap,
        n_iter=int(out.n_iter),
        converged=converged,
        stop_reason=stop_reason,
        factor=U,
        sketch_indices=idx,
        sdp_labels=sdp_labels,
        sdp_inertia=_unscale(cost_a, 2 * e),
        kmeanspp_inertia=_unscale(cost_b, 2 * e),
        winner=winner,
        optimality_gap=opt_gap,
        lower_bound=lower_bound,
        certified_gap=cert_gap,
    )


def _shrinkage_arg(value: object) -> str | float:
    if isinstance(value, str):
        if value != "ledoit-wolf":
            msg = f"shrinkage={value!r} must be 'ledoit-wolf' or a number in [0, 1]"
            raise ValueError(msg)
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        msg = f"shrinkage={value!r} must be 'ledoit-wolf' or a number in [0, 1]"
        raise TypeError(msg)
    v = float(value)
    if not 0.0 <= v <= 1.0:
        msg = f"shrinkage={value} must be in [0, 1]"
        raise ValueError(msg)
    return v


def _covariances(
    X: np.ndarray, labels: np.ndarray, K: int, ridge: float, shrinkage: str | float = 0.0
) -> np.ndarray:
    """Per-cluster covariance, shrunk towards ``(tr S / p) I``, plus ``ridge * mean feature variance * I``.

    ``shrinkage="ledoit-wolf"`` takes the Ledoit-Wolf (2004) intensity
    ``min(b^2, d^2) / d^2`` with ``d^2 = ||S - (tr S / p) I||_F^2`` and
    ``b^2 = sum_i ||x_i x_i^T - S||_F^2 / n_k^2`` over the cluster's centred points
    (O(n_k p^2), from ``||x x^T - S||_F^2 = ||x||^4 - 2 x^T S x + ||S||_F^2``); a number
    in [0, 1] fixes it (0: the maximum-likelihood covariance).
    """
    p = X.shape[1]
    base = float(np.mean(np.var(X, axis=0))) if X.shape[0] > 1 else 1.0
    base = base if base > 0.0 else 1.0
    covs = np.empty((K, p, p))
    eye = np.eye(p)
    for k in range(K):
        Xk = X[labels == k]
        nk = Xk.shape[0]
        if nk > 1:
            D = Xk - Xk.mean(axis=0)
            S = D.T @ D / nk
            mu = float(np.trace(S)) / p
            if shrinkage == "ledoit-wolf":
                d2 = float(np.sum((S - mu * eye) ** 2))
                q = np.sum(D * D, axis=1)
                b2 = float(np.sum(q * q - 2.0 * np.sum((D @ S) * D, axis=1) + np.sum(S * S))) / nk**2
                a = min(b2, d2) / d2 if d2 > 0.0 else 1.0
            else:
                a = float(shrinkage)
            S = (1.0 - a) * S + a * mu * eye
        else:
            S = np.zeros((p, p))
        covs[k] = S + ridge * base * eye
    return covs


def _block_start(labels: np.ndarray, K: int, rank: int, seed: int) -> np.ndarray:
    from ridgeline import _random

    n = labels.shape[0]
    noise = _random.uniform(seed, 1, n * K * rank).reshape(n, K * rank)
    U = 0.01 * noise / np.sqrt(n * rank)
    for k in range(K):
        m = labels == k
        c = max(int(m.sum()), 1)
        U[m, k * rank : (k + 1) * rank] += 1.0 / np.sqrt(rank * c)
    out: np.ndarray = U
    return out


def _labels_from_blocks(U: np.ndarray, K: int, rank: int) -> np.ndarray:
    cols = [U[:, k * rank : (k + 1) * rank] @ U[:, k * rank : (k + 1) * rank].sum(axis=0) for k in range(K)]
    out: np.ndarray = np.argmax(np.stack(cols, axis=1), axis=1).astype(np.intp)
    return out


def _class_loglik(X: np.ndarray, labels: np.ndarray, covs: np.ndarray, K: int) -> float:
    """Mean classification log-likelihood ``(1/n) sum_i log(pi_k N(x_i | mu_k, S_k))`` of hard labels."""
    n, p = X.shape
    counts = np.bincount(labels, minlength=K)
    mu = _lloyd.means(X, labels, K)
    total = 0.0
    for k in range(K):
        if counts[k] == 0:
            continue
        L = np.linalg.cholesky(covs[k])
        Y = np.linalg.solve(L, (X[labels == k] - mu[k]).T)
        logdet = 2.0 * float(np.sum(np.log(np.diag(L))))
        total += counts[k] * math.log(counts[k] / n)
        total -= 0.5 * (float(np.sum(Y * Y)) + counts[k] * (logdet + p * math.log(2.0 * math.pi)))
    return float(total / n)


def ila_sdp(
    X: object,
    n_clusters: int,
    *,
    ridge: float = 1e-3,
    shrinkage: str | float = 0.0,
    max_rounds: int = 30,
    rank: int = 2,
    tol: float = 1e-3,
    max_iter: int = 50000,
    n_init: int = 10,
    n_threads: int | None = 1,
    init_labels: object = None,
    progress: bool = False,
    rng: object = None,
) -> ILAResult:
    """Iterative likelihood-adjusted SDP (iLA-SDP) for clusters of different shapes.

    Starts from the Peng-Wei SDP labels (:func:`kmeans_sdp`), then alternates:
    per-cluster covariances (optionally shrunk towards a multiple of the identity,
    plus ``ridge`` times the mean feature variance on the diagonal), and the LA-SDP
    ``min sum_k <W_k, B_k>`` over K non-negative factor blocks ``B_k = U_k U_k^T``
    (``tr B_k = 1``, ``sum_k B_k 1 = 1``), warm-started from the previous factor, with
    ``W_k`` applied from whitened data and never formed.  Labels are
    ``argmax_k (B_k 1)_i``.  Each round's labels are scored by the classification
    log-likelihood of the Gaussian model.  The first rounds are coarse: a round needs
    only its labels, so its solve ends once they agree at three readings 25 iterations
    apart (below infeasibility 3e-3).  When the labels repeat, or three rounds in a row
    bring no new best likelihood, the rounds go on solved to ``tol``; the same tests
    then stop them, converged, and the most likely labels are returned.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data, one point per row.
    n_clusters : int
        Number of clusters K (1 <= K <= n_samples).
    ridge : float, default=1e-3
        Relative ridge added to each covariance (times the mean feature variance).
    shrinkage : {"ledoit-wolf"} or float in [0, 1], default=0.0
        Shrinkage of each cluster covariance ``S`` towards ``(tr S / p) I``:
        ``(1 - a) S + a (tr S / p) I``.  "ledoit-wolf" estimates ``a`` from the
        cluster's points (Ledoit & Wolf 2004); 0 keeps the maximum-likelihood
        covariance.  Covariances estimated from the current hard labels are noisy
        (O(p^2) parameters from each cluster) and the noise feeds back into the
        labels of the next round; "ledoit-wolf" damps it when the clusters are
        roughly isotropic, but it hurts strongly anisotropic, near-singular clusters
        (standardised breast_cancer), hence not the default.
    max_rounds : int, default=30
        Cap on the LA-SDP rounds; reaching it while the likelihood still rises warns.
    rank : int, default=2
        Columns per factor block.
    tol : float, default=1e-3
        Target infeasibility and stationarity of each LA-SDP solve.  A round needs only
        its labels ``argmax_k (B_k 1)_i``, which settle long before the factor does:
        on iris, wine, standardised breast_cancer and the two-scale mixture, 1e-3 gives
        the labels of 1e-6 or better at 5-50x fewer iterations.  The Peng-Wei start is
        solved to ``min(tol, 1e-6)``.
    max_iter : int, default=50000
        Iteration cap of each solve.
    n_init : int, default=10
        k-means++ starts of the Peng-Wei start's rounding and baseline.
    n_threads : int or None, default=1
        Threads of the solver (-1 or None: all cores); the result does not depend on it.
    init_labels : array-like of int of shape (n_samples,), default=None
        Start from these labels (integers in [0, n_clusters)) instead of the Peng-Wei SDP.
    progress : bool, default=False
        Show the rounds' progress (a bar on stderr when it is a terminal); messages
        also go to ``logging.getLogger("ridgeline.cluster")``.
    rng : int, numpy Generator or None, default=None
        Seed of the Peng-Wei start and of the factor's initial noise.

    Returns
    -------
    ILAResult

    Raises
    ------
    ValueError
        On NaN/inf, 1-D X, n_clusters out of range, bad ``init_labels`` or options.
    TypeError
        On non-numeric X, non-integer ``init_labels`` or options of the wrong type.
    """
    return _ila_sdp(
        X, n_clusters, ridge=ridge, shrinkage=shrinkage, max_rounds=max_rounds, rank=rank, tol=tol,
        max_iter=max_iter, n_init=n_init, n_threads=n_threads, init_labels=init_labels, progress=progress,
        verbose=0, rng=rng, stacklevel=3,
    )


def _check_labels(value: object, n: int, K: int) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        msg = f"init_labels must be an array of integers, got a {type(value).__name__}"
        raise TypeError(msg)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        msg = f"init_labels must hold integers, got dtype {arr.dtype}"
        raise TypeError(msg)
    if arr.shape != (n,):
        msg = f"init_labels must have shape ({n},), got {arr.shape}"
        raise ValueError(msg)
    lab = arr.astype(np.int64)
    if n and (int(lab.min()) < 0 or int(lab.max()) >= K):
        msg = f"init_labels must be integers in [0, n_clusters={K}), got range [{int(lab.min())}, {int(lab.max())}]"
        raise ValueError(msg)
    return lab.astype(np.intp)


def _ila_sdp(
    X: object,
    n_clusters: object,
    *,
    ridge: object,
    shrinkage: object,
    max_rounds: object,
    rank: object,
    tol: object,
    max_iter: object,
    n_init: object,
    n_threads: object,
    init_labels: object,
    progress: object,
    verbose: object,
    rng: object,
    stacklevel: int,
    warn: bool = True,
) -> ILAResult:
    Xa, K = check_data(X, n_clusters)
    rd = check_float(ridge, "ridge", 0.0, low_inclusive=False)
    sh = _shrinkage_arg(shrinkage)
    mr = check_int(max_rounds, "max_rounds", 1, 1 << 20)
    rk = check_int(rank, "rank", 1, 1 << 16)
    tol_ = check_float(tol, "tol", 0.0, low_inclusive=False)
    mi = check_int(max_iter, "max_iter", 1, 2**62)
    ni = check_int(n_init, "n_init", 1, 1 << 20)
    nt = _threads(n_threads)
    show = check_bool(progress, "progress")
    vb = check_int(verbose, "verbose", 0)
    seed = check_rng(rng)
    given = None if init_labels is None else _check_labels(init_labels, Xa.shape[0], K)
    Xu, e = _unit_scale(Xa)
    n, p = Xu.shape
    pb = Progress("cluster", f"iLA-SDP (n={n}, K={K})", None, progress=show, verbose=vb)
    total_iter = 0
    all_conv = True
    rounds = 0
    stopped = ""
    infeas = 0.0
    try:
        if given is None:
            pw = _kmeans_sdp(
                Xu, K, rank=None, tol=min(tol_, 1e-6), max_iter=mi, sketch=None, n_init=ni, n_threads=nt if nt else -1,
                tight_tol=1e-3, progress=False, verbose=0, rng=seed, stacklevel=stacklevel, warn=False,
                early_stop=False, warm_start=False,  # the SDP's own rounding, solved to tol, starts the rounds
            )
            labels = pw.labels if pw.sdp_labels is None else pw.sdp_labels
            total_iter += pw.n_iter
            all_conv = pw.converged
        else:
            labels = given
        covs = _covariances(Xu, labels, K, rd, sh)
        # the start's labels come from another model (K-means), so they are not a candidate:
        # the first round is always taken, and later rounds must raise the likelihood
        best_ll = -math.inf
        best = (labels, covs)
        stale = 0
        U = _block_start(labels, K, rk, seed)

        cb = None
        if pb.active:

            def cb(it: int, infeas_: float, stat: float) -> None:
                pb.update(None, round=rounds, iteration=it, infeasibility=infeas_)

        # coarse rounds first (each solve ends once its labels settle); the rounds' stopping
        # tests switch to precise rounds (solved to tol) before they may stop the run
        precise = False
        for rounds in range(1, mr + 1):
            out = _core.cluster.la_sdp(
                Xu, covs, U, rank=rk, tol=tol_, max_iter=mi, n_threads=nt, progress=cb,
                progress_interval=_PROGRESS_INTERVAL, settle_every=0 if precise else _ILA_SETTLE_EVERY,
                settle_infeas=_ILA_SETTLE_INFEAS,
            )
            total_iter += out.n_iter
            all_conv = all_conv and (out.converged or out.settled)
            infeas = out.infeasibility
            U = out.U
            new = _labels_from_blocks(U, K, rk)
            if np.array_equal(new, labels):
                if not precise:  # solve this round on to tol from where it settled
                    precise = True
                    continue
                stopped = "labels repeated"
                if not math.isfinite(best_ll):  # the first round kept the start's labels
                    best_ll, best = _class_loglik(Xu, labels, covs, K), (labels, covs)
                break
            new_covs = _covariances(Xu, new, K, rd, sh)
            ll = _class_loglik(Xu, new, new_covs, K)
            if pb.active:
                pb.update(None, round=rounds, log_likelihood=ll, changed=int(np.count_nonzero(new != labels)))
            if math.isfinite(best_ll) and not ll > best_ll + 1e-9 * abs(best_ll):
                stale += 1
                if stale >= _PATIENCE and not precise:
                    precise, stale = True, 0
                elif stale >= _PATIENCE:
                    stopped = f"likelihood did not increase for {_PATIENCE} rounds"
                    break
            else:
                stale = 0
                best_ll, best = ll, (new, new_covs)
            labels, covs = new, new_covs
    except BaseException:
        _fail_progress(pb)
        raise
    converged = bool(stopped) and all_conv
    labels, covs = best
    # back to the units of X: x = 2**e xu, so covariances scale by 4**e and densities by 2**(-e p)
    loglik = best_ll - e * p * math.log(2.0)
    pb.close(stopped or f"max_rounds={mr} reached", rounds=rounds, iterations=total_iter, log_likelihood=loglik)
    if warn and not converged:
        why = stopped if stopped else f"the likelihood still rose after max_rounds={mr} rounds"
        msg = f"iLA-SDP did not converge: {why}" + ("" if all_conv else f"; a solve hit max_iter={mi}")
        warnings.warn(msg, ConvergenceWarning, stacklevel=stacklevel)
    with np.errstate(over="ignore"):  # covariances of data near 1e300 leave the double range: inf
        cov_x = np.ldexp(covs, 2 * e)
    return ILAResult(
        labels=labels,
        means=np.ldexp(_lloyd.means(Xu, labels, K), e),
        covariances=cov_x,
        n_rounds=rounds,
        n_iter=total_iter,
        infeasibility=infeas,
        converged=converged,
        log_likelihood=loglik,
    )
