"""scikit-learn estimators (this module imports scikit-learn; it is loaded lazily)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ridgeline._exceptions import ConvergenceWarning
from ridgeline.cluster._api import ila_sdp, kmeans_sdp

__all__ = ["SDPKMeans", "ILASDP"]


def _seed(random_state: object) -> int:
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class SDPKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means by the Peng-Wei SDP (non-negative low-rank augmented Lagrangian).

    Parameters
    ----------
    n_clusters : int, default=8
    rank : int, default=None
        Columns of the factor U (default ``2 * n_clusters``).
    tol : float, default=1e-6
        Target primal infeasibility and stationarity of the solver.
    max_iter : int, default=50000
    sketch : int, default=None
        Solve on a subsample of this size and lift by nearest centroid.
    n_init : int, default=10
        k-means++ starts of the rounding.
    n_threads : int, default=1
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    objective_ : float
        Relaxed K-means cost ``tr(A) - <A, Z>``.
    inertia_ : float
        K-means cost of ``labels_``.
    infeasibility_ : float
        ``max_i |(Z 1)_i - 1|``.
    tight_ : bool
        Whether Z is the block matrix of ``labels_`` (the relaxation is tight).
    n_iter_ : int
    n_features_in_ : int

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
        sketch: int | None = None,
        n_init: int = 10,
        n_threads: int = 1,
        random_state: object = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.sketch = sketch
        self.n_init = n_init
        self.n_threads = n_threads
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> SDPKMeans:
        """Solve the SDP on X and round to labels; returns self."""
        Xv = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        if Xv.shape[0] < self.n_clusters:
            msg = f"n_samples={Xv.shape[0]} should be >= n_clusters={self.n_clusters}"
            raise ValueError(msg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = kmeans_sdp(
                Xv,
                self.n_clusters,
                rank=self.rank,
                tol=self.tol,
                max_iter=self.max_iter,
                sketch=self.sketch,
                n_init=self.n_init,
                n_threads=self.n_threads,
                rng=_seed(self.random_state),
            )
        if not res.converged:
            msg = (
                f"SDPKMeans stopped at max_iter={self.max_iter} with infeasibility "
                f"{res.infeasibility:.3g} (tol={self.tol:g}); increase max_iter"
            )
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        self.labels_ = res.labels
        self.cluster_centers_ = res.centers
        self.objective_ = res.objective
        self.inertia_ = res.inertia
        self.infeasibility_ = res.infeasibility
        self.tight_ = res.tight
        self.n_iter_ = res.n_iter
        return self

    def fit_predict(self, X: object, y: object = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def transform(self, X: object) -> np.ndarray:
        """Distances to the cluster centres, shape (n_samples, n_clusters)."""
        check_is_fitted(self)
        Xv = validate_data(self, X, dtype=np.float64, reset=False)
        C = self.cluster_centers_
        d2 = np.sum(Xv * Xv, axis=1)[:, None] - 2.0 * Xv @ C.T + np.sum(C * C, axis=1)[None, :]
        return np.sqrt(np.maximum(d2, 0.0))

    def predict(self, X: object) -> np.ndarray:
        """Index of the nearest cluster centre for each point."""
        return np.argmin(self.transform(X), axis=1).astype(np.intp)

    def score(self, X: object, y: object = None) -> float:
        """Minus the K-means cost of X under the fitted centres."""
        return -float(np.sum(np.min(self.transform(X), axis=1) ** 2))


class ILASDP(ClusterMixin, BaseEstimator):
    """Iterative likelihood-adjusted SDP clustering (clusters of different shapes).

    Parameters
    ----------
    n_clusters : int, default=8
    ridge : float, default=1e-3
        Relative ridge on each covariance (times the mean feature variance).
    shrinkage : {"ledoit-wolf"} or float in [0, 1], default=0.0
        Shrinkage of each covariance towards a multiple of the identity (see :func:`ila_sdp`).
    max_rounds : int, default=10
    rank : int, default=2
        Columns per factor block.
    tol : float, default=1e-6
    max_iter : int, default=50000
    n_threads : int, default=1
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    means_ : ndarray of shape (n_clusters, n_features)
    covariances_ : ndarray of shape (n_clusters, n_features, n_features)
    weights_ : ndarray of shape (n_clusters,)
    infeasibility_ : float
    n_iter_ : int
    n_rounds_ : int
    n_features_in_ : int
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        ridge: float = 1e-3,
        shrinkage: str | float = 0.0,
        max_rounds: int = 10,
        rank: int = 2,
        tol: float = 1e-6,
        max_iter: int = 50000,
        n_threads: int = 1,
        random_state: object = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.ridge = ridge
        self.shrinkage = shrinkage
        self.max_rounds = max_rounds
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.n_threads = n_threads
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> ILASDP:
        """Run iLA-SDP on X; returns self."""
        Xv = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        if Xv.shape[0] < self.n_clusters:
            msg = f"n_samples={Xv.shape[0]} should be >= n_clusters={self.n_clusters}"
            raise ValueError(msg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = ila_sdp(
                Xv,
                self.n_clusters,
                ridge=self.ridge,
                shrinkage=self.shrinkage,
                max_rounds=self.max_rounds,
                rank=self.rank,
                tol=self.tol,
                max_iter=self.max_iter,
                n_threads=self.n_threads,
                rng=_seed(self.random_state),
            )
        if not res.converged:
            msg = f"ILASDP did not converge in max_rounds={self.max_rounds} (or a solve hit max_iter)"
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        self.labels_ = res.labels
        self.means_ = res.means
        self.covariances_ = res.covariances
        self.weights_ = np.bincount(res.labels, minlength=self.n_clusters) / Xv.shape[0]
        self.infeasibility_ = res.infeasibility
        self.n_iter_ = res.n_iter
        self.n_rounds_ = res.n_rounds
        return self

    def fit_predict(self, X: object, y: object = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def _log_resp(self, X: np.ndarray) -> np.ndarray:
        K, p = self.means_.shape
        out = np.empty((X.shape[0], K))
        for k in range(K):
            L = np.linalg.cholesky(self.covariances_[k])
            Yk = np.linalg.solve(L, (X - self.means_[k]).T).T
            out[:, k] = -0.5 * np.sum(Yk * Yk, axis=1) - np.sum(np.log(np.diag(L)))
        return out

    def predict(self, X: object) -> np.ndarray:
        """Most likely cluster of each point under the fitted Gaussians (equal weights)."""
        check_is_fitted(self)
        Xv = validate_data(self, X, dtype=np.float64, reset=False)
        return np.argmax(self._log_resp(Xv), axis=1).astype(np.intp)
