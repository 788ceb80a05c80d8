"""scikit-learn estimators (this module imports scikit-learn; it is loaded lazily)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ridgeline._exceptions import ConvergenceWarning
from ridgeline.cluster._api import _ila_sdp, _kmeans_sdp

__all__ = ["SDPKMeans", "ILASDP"]


def _seed(random_state: object) -> int:
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _dense(X: object) -> np.ndarray:
    """Sparse input is densified (the factored solver takes dense rows)."""
    toarray = getattr(X, "toarray", None)
    return np.ascontiguousarray(toarray() if toarray is not None else X)


def _few_distinct_warning(labels: np.ndarray, K: int) -> None:
    found = int(np.unique(labels).size)
    if found < K:
        msg = (
            f"number of distinct clusters ({found}) found smaller than n_clusters ({K}); "
            "X may contain duplicate points"
        )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)


# (type: ignore: scikit-learn ships no type information, so mypy sees its base classes as Any)
class SDPKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """K-means by the Peng-Wei SDP (non-negative low-rank augmented Lagrangian).

    The returned partition is the better, by K-means cost, of the SDP rounding
    refined by Lloyd's iterations and ``n_init`` greedy k-means++ starts refined the
    same way (``winner_``), so it is never worse than that k-means++ baseline.  The
    SDP also gives a bound: ``objective_`` is the relaxed K-means cost, and when the
    relaxation is tight (``tight_``) the labels are a provably optimal K-means
    partition (``optimality_gap_`` 0 up to the solver tolerance), a certificate no
    KMeans run gives.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters K.
    rank : int, default=None
        Columns of the factor U (default ``2 * n_clusters``).
    tol : float, default=1e-6
        Target primal infeasibility and stationarity of the SDP solver.
    max_iter : int, default=50000
        Iteration cap of the SDP solver; reaching it warns (``ConvergenceWarning``).
    sketch : int, "auto" or None, default="auto"
        Solve on a subsample of this size and lift by nearest centroid; None: on all
        points; "auto": on all points up to 20,000 of them, above on 4,000 (the certificate
        and Lloyd's refinement on all points; see :func:`~ridgeline.cluster.kmeans_sdp`).
    n_init : int, default=10
        k-means++ starts of the rounding and of the k-means++ baseline.
    n_threads : int or None, default=1
        Threads of the solver (-1 or None: all cores); the result does not depend on it.
    early_stop : bool, default=True
        Stop the SDP solver once its rounding has settled on a partition its solution
        is not close to (``stop_reason_ == "settled"``; the relaxation is not tight
        there, so no certificate is lost), or once the rounding refined by Lloyd's
        iterations stops lowering the K-means cost (``stop_reason_ == "stalled"``, a
        measured rule, no certificate claimed).  A solution heading to tight is solved
        to ``tol`` and certified.
    warm_start : bool, default=True
        Start the SDP solver at the block matrix of the best k-means++ partition mixed
        with the random start (fewer iterations on non-tight data; see
        :func:`~ridgeline.cluster.kmeans_sdp`).
    certify : bool, default=True
        Check first whether the dual point built from the best k-means++ partition proves
        it optimal; if so the SDP is tight there, its solution is that partition's block
        matrix and the iterative solve is skipped (``stop_reason_ == "certified"``).  The
        bound is reported in every case (``lower_bound_``, ``certified_gap_``); see
        :func:`~ridgeline.cluster.kmeans_sdp`.
    verbose : int, default=0
        With ``verbose >= 1``, print the solver's progress to stderr about once a
        second and a final summary (messages also go to ``logging.getLogger("ridgeline.cluster")``).
    random_state : int, RandomState instance or None, default=None
        Seed of the solver's initial factor, the rounding and the k-means++ baseline.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training point.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Cluster means (same dtype as the training data).
    inertia_ : float
        K-means cost of ``labels_``.
    objective_ : float
        Relaxed K-means cost ``tr(A) - <A, Z>`` of the SDP solution, the bound
        ``optimality_gap_`` is measured against.
    optimality_gap_ : float
        ``(inertia_ - objective_) / inertia_``: a certified bound on how far
        ``labels_`` are from the optimal K-means cost when ``tight_`` (then 0 up to
        ``tol``); without tightness the factored solver may stop at a local optimum
        and the value is only indicative (negative: the SDP solution found is not the
        relaxation's optimum).  NaN with ``sketch``.
    winner_ : {"sdp", "kmeans++"}
        Which candidate gave ``labels_`` ("kmeans++" when certified).
    lower_bound_ : float
        Certified lower bound on the K-means cost of every partition into ``n_clusters``
        clusters (weak duality of the SDP at the dual point of the k-means++ partition);
        -inf when not computed (an int ``sketch``, ``certify=False``, or more than 256 columns in
        the certificate's factor: ``n_features + n_clusters**2 + 1``).
    certified_gap_ : float
        ``(inertia_ - lower_bound_) / inertia_``: ``labels_`` are proved within this fraction
        of the optimal K-means cost (no KMeans gives this); NaN when not computed.
    sdp_inertia_ : float
        K-means cost of the SDP rounding after Lloyd refinement.
    kmeanspp_inertia_ : float
        K-means cost of the best k-means++ start after Lloyd refinement.
    infeasibility_ : float
        ``max_i |(Z 1)_i - 1|``.
    tight_ : bool
        Whether the relaxation is tight at ``labels_``, proved either by the dual
        certificate (``stop_reason_ == "certified"``) or by a solve to ``tol`` whose Z is
        the block matrix of the rounding.  Then ``labels_`` are a global K-means optimum.
    converged_ : bool
        Whether the SDP solver reached ``tol``.
    stop_reason_ : {"certified", "converged", "settled", "stalled", "max_iter"}
        Why the SDP solver stopped ("certified": see ``certify``, no iterations;
        "settled", "stalled": see ``early_stop``, not tight, no certificate; "max_iter" warns).
    n_iter_ : int
        SDP solver iterations.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit (only when X has string column names).

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.cluster import SDPKMeans
    >>> X = np.r_[np.zeros((5, 2)), np.full((5, 2), 10.0)] + np.arange(10)[:, None] * 0.01
    >>> SDPKMeans(n_clusters=2, random_state=0).fit(X).cluster_centers_.shape
    (2, 2)
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        rank: int | None = None,
        tol: float = 1e-6,
        max_iter: int = 50000,
        sketch: int | str | None = "auto",
        n_init: int = 10,
        n_threads: int | None = 1,
        early_stop: bool = True,
        warm_start: bool = True,
        certify: bool = True,
        verbose: int = 0,
        random_state: object = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.sketch = sketch
        self.n_init = n_init
        self.n_threads = n_threads
        self.early_stop = early_stop
        self.warm_start = warm_start
        self.certify = certify
        self.verbose = verbose
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: object = None) -> SDPKMeans:
        """Solve the SDP on X, round, refine and keep the better candidate; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        SDPKMeans
            The fitted estimator.
        """
        from ridgeline._validation import check_int

        check_int(self.n_clusters, "n_clusters", 1)
        Xv = _dense(validate_data(self, X, dtype=[np.float64, np.float32], accept_sparse=["csr", "csc"], ensure_min_samples=1))
        if Xv.shape[0] < self.n_clusters:
            msg = f"n_samples={Xv.shape[0]} should be >= n_clusters={self.n_clusters}"
            raise ValueError(msg)
        res = _kmeans_sdp(
            Xv.astype(np.float64),
            self.n_clusters,
            rank=self.rank,
            tol=self.tol,
            max_iter=self.max_iter,
            sketch=self.sketch,
            n_init=self.n_init,
            n_threads=self.n_threads,
            tight_tol=1e-3,
            progress=False,
            verbose=self.verbose,
            rng=_seed(self.random_state),
            stacklevel=3,
            warn=False,
            early_stop=self.early_stop,
            warm_start=self.warm_start,
            certify=self.certify,
        )
        if res.stop_reason == "max_iter":
            msg = (
                f"SDPKMeans stopped at max_iter={self.max_iter} with infeasibility "
                f"{res.infeasibility:.3g} (tol={self.tol:g}); increase max_iter"
            )
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        _few_distinct_warning(res.labels, self.n_clusters)
        self.labels_ = res.labels
        self.cluster_centers_ = res.centers.astype(Xv.dtype)
        self.objective_ = res.objective
        self.inertia_ = res.inertia
        self.optimality_gap_ = res.optimality_gap
        self.winner_ = res.winner
        self.sdp_inertia_ = res.sdp_inertia
        self.kmeanspp_inertia_ = res.kmeanspp_inertia
        self.infeasibility_ = res.infeasibility
        self.tight_ = res.tight
        self.converged_ = res.converged
        self.stop_reason_ = res.stop_reason
        self.lower_bound_ = res.lower_bound
        self.certified_gap_ = res.certified_gap
        self.n_iter_ = res.n_iter
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    def fit_predict(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.fit(X).labels_

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified (the factored solver takes dense rows)
        return tags

    def _sqdist(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        Xv = _dense(validate_data(self, X, dtype=[np.float64, np.float32], accept_sparse=["csr", "csc"], reset=False))
        C = self.cluster_centers_.astype(Xv.dtype)
        d2 = np.sum(Xv * Xv, axis=1)[:, None] - 2.0 * Xv @ C.T + np.sum(C * C, axis=1)[None, :]
        out: np.ndarray = np.maximum(d2, 0.0)
        return out

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Distances to the cluster centres, shape (n_samples, n_clusters).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to transform.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        out: np.ndarray = np.sqrt(self._sqdist(X))
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Index of the nearest cluster centre for each point.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to assign.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out: np.ndarray = np.argmin(self._sqdist(X), axis=1).astype(np.intp)
        return out

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Minus the K-means cost of X under the fitted centres (as KMeans.score).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        float
        """
        return -float(np.sum(np.min(self._sqdist(X), axis=1), dtype=np.float64))


class ILASDP(ClusterMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn bases are Any
    """Iterative likelihood-adjusted SDP clustering (clusters of different shapes).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters K.
    ridge : float, default=1e-3
        Relative ridge on each covariance (times the mean feature variance).
    shrinkage : {"ledoit-wolf"} or float in [0, 1], default=0.0
        Shrinkage of each covariance towards a multiple of the identity (see :func:`ila_sdp`).
    max_rounds : int, default=30
        Cap on the LA-SDP rounds.
    rank : int, default=2
        Columns per factor block.
    tol : float, default=1e-3
        Target infeasibility and stationarity of each LA-SDP solve (see :func:`ila_sdp`).
    max_iter : int, default=50000
        Iteration cap of each solve.
    n_init : int, default=10
        k-means++ starts of the Peng-Wei start.
    n_threads : int or None, default=1
        Threads of the solver (-1 or None: all cores); the result does not depend on it.
    verbose : int, default=0
        With ``verbose >= 1``, print progress to stderr about once a second and a final summary.
    random_state : int, RandomState instance or None, default=None
        Seed of the Peng-Wei start and of the factor's initial noise.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training point.
    means_ : ndarray of shape (n_clusters, n_features)
        Cluster means.
    covariances_ : ndarray of shape (n_clusters, n_features, n_features)
        Ridge-regularised cluster covariances.
    weights_ : ndarray of shape (n_clusters,)
        Fraction of training points in each cluster.
    log_likelihood_ : float
        Mean classification log-likelihood per training point.
    infeasibility_ : float
        Infeasibility of the last LA-SDP solve.
    converged_ : bool
        Whether the rounds converged (see :func:`ila_sdp`).
    n_iter_ : int
        Solver iterations over all rounds.
    n_rounds_ : int
        LA-SDP rounds run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit (only when X has string column names).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        ridge: float = 1e-3,
        shrinkage: str | float = 0.0,
        max_rounds: int = 30,
        rank: int = 2,
        tol: float = 1e-3,
        max_iter: int = 50000,
        n_init: int = 10,
        n_threads: int | None = 1,
        verbose: int = 0,
        random_state: object = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.ridge = ridge
        self.shrinkage = shrinkage
        self.max_rounds = max_rounds
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.n_threads = n_threads
        self.verbose = verbose
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: object = None) -> ILASDP:
        """Run iLA-SDP on X; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        ILASDP
            The fitted estimator.
        """
        from ridgeline._validation import check_int

        check_int(self.n_clusters, "n_clusters", 1)
        Xv = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        if Xv.shape[0] < self.n_clusters:
            msg = f"n_samples={Xv.shape[0]} should be >= n_clusters={self.n_clusters}"
            raise ValueError(msg)
        res = _ila_sdp(
            Xv,
            self.n_clusters,
            ridge=self.ridge,
            shrinkage=self.shrinkage,
            max_rounds=self.max_rounds,
            rank=self.rank,
            tol=self.tol,
            max_iter=self.max_iter,
            n_init=self.n_init,
            n_threads=self.n_threads,
            init_labels=None,
            progress=False,
            verbose=self.verbose,
            rng=_seed(self.random_state),
            stacklevel=3,
            warn=False,
        )
        if not res.converged:
            msg = f"ILASDP did not converge in max_rounds={self.max_rounds} (or a solve hit max_iter)"
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        self.labels_ = res.labels
        self.means_ = res.means
        self.covariances_ = res.covariances
        self.weights_ = np.bincount(res.labels, minlength=self.n_clusters) / Xv.shape[0]
        self.log_likelihood_ = res.log_likelihood
        self.infeasibility_ = res.infeasibility
        self.converged_ = res.converged
        self.n_iter_ = res.n_iter
        self.n_rounds_ = res.n_rounds
        return self

    def fit_predict(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.fit(X).labels_

    def _log_joint(self, X: np.ndarray) -> np.ndarray:
        """``log(w_k N(x_i | mu_k, S_k))``, shape (n_samples, n_clusters); -inf for empty clusters."""
        K, p = self.means_.shape
        out = np.full((X.shape[0], K), -np.inf)
        for k in range(K):
            if self.weights_[k] <= 0.0:
                continue
            L = np.linalg.cholesky(self.covariances_[k])
            Yk = np.linalg.solve(L, (X - self.means_[k]).T).T
            logdet = 2.0 * np.sum(np.log(np.diag(L)))
            out[:, k] = math.log(self.weights_[k]) - 0.5 * (np.sum(Yk * Yk, axis=1) + logdet + p * math.log(2 * math.pi))
        return out

    def _validated(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        out: np.ndarray = validate_data(self, X, dtype=np.float64, reset=False)
        return out

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most likely cluster of each point under the fitted Gaussian mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to assign.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out: np.ndarray = np.argmax(self._log_joint(self._validated(X)), axis=1).astype(np.intp)
        return out

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log-density of each point under the fitted mixture ``sum_k w_k N(mu_k, S_k)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        lj = self._log_joint(self._validated(X))
        m = np.max(lj, axis=1, keepdims=True)
        out: np.ndarray = (m + np.log(np.sum(np.exp(lj - m), axis=1, keepdims=True)))[:, 0]
        return out

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Posterior probability of each cluster, shape (n_samples, n_clusters).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to assign.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        lj = self._log_joint(self._validated(X))
        m = np.max(lj, axis=1, keepdims=True)
        w = np.exp(lj - m)
        out: np.ndarray = w / np.sum(w, axis=1, keepdims=True)
        return out

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Mean log-likelihood per sample under the fitted mixture (as GaussianMixture.score).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.
        y : None
            Ignored (present for the scikit-learn API).

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self) -> int:
        K, p = self.means_.shape
        return int(K * p + K * p * (p + 1) // 2 + K - 1)

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        float
        """
        n = np.asarray(X).shape[0]
        return float(-2.0 * self.score(X) * n + self._n_parameters() * math.log(n))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        float
        """
        n = np.asarray(X).shape[0]
        return float(-2.0 * self.score(X) * n + 2.0 * self._n_parameters())
