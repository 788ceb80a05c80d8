"""Solution quality on users' data: never worse than KMeans by the K-means cost; iLA-SDP converges."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.cluster import ila_sdp
from ridgeline.cluster._lloyd import cost

sklearn = pytest.importorskip("sklearn")

from sklearn import datasets  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402

from ridgeline.cluster import SDPKMeans  # noqa: E402


def _std(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


def load(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    if name == "iris":
        d = datasets.load_iris()
        return d.data, d.target, 3
    if name == "wine":
        d = datasets.load_wine()
        return _std(d.data), d.target, 3
    if name == "breast_cancer":
        d = datasets.load_breast_cancer()
        return _std(d.data), d.target, 2
    if name == "digits":
        d = datasets.load_digits()
        return d.data, d.target, 10
    rng = np.random.default_rng(0)  # two-scale: covariances I and 9I, p=10, n=200
    X = np.r_[rng.standard_normal((100, 10)), 3.0 * rng.standard_normal((100, 10))]
    return X, np.repeat([0, 1], 100), 2


def error_rate(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)
    r, c = linear_sum_assignment(-C)
    return 1.0 - C[r, c].sum() / len(a)


def _mean_costs(X: np.ndarray, K: int) -> tuple[float, float]:
    from threadpoolctl import threadpool_limits

    ours, theirs = [], []
    with threadpool_limits(1):  # KMeans' OpenMP threads oversubscribe a busy machine
        for seed in range(5):
            ours.append(cost(X, SDPKMeans(K, random_state=seed).fit(X).labels_, K))
            theirs.append(cost(X, KMeans(K, n_init=10, random_state=seed).fit(X).labels_, K))
    return float(np.mean(ours)), float(np.mean(theirs))


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_kmeans_cost_never_above_kmeans(name: str) -> None:
    X, _, K = load(name)
    ours, theirs = _mean_costs(X, K)
    assert ours <= theirs * (1 + 1e-9), (ours, theirs)


def grid49(seed: int) -> np.ndarray:
    g = np.stack(np.meshgrid(np.arange(7), np.arange(7)), axis=-1).reshape(-1, 2) * 10.0
    rng = np.random.default_rng(seed)
    return np.repeat(g, 20, axis=0) + rng.standard_normal((980, 2))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_grid_of_49_clusters_never_above_kmeans(seed: int) -> None:
    X = grid49(seed)
    km = SDPKMeans(49, random_state=seed).fit(X)
    ref = KMeans(49, n_init=10, random_state=seed).fit(X)
    assert cost(X, km.labels_, 49) <= cost(X, ref.labels_, 49) * (1 + 1e-9)


# iLA-SDP: converges (no warning: warnings are errors in the tests) with these errors;
# GaussianMixture(full) for comparison: 0.0100, 0.0333, 0.0337, 0.0598 (seed 0).
# breast_cancer: the rounds re-fit covariances from hard labels, so the path is chaotic in round-off:
# 40 copies of the data scaled by (1 + 1e-13 * N(0,1)) gave errors 0.0808-0.1178 (46-67 of 569; mode
# 0.0826 and 0.0967), the unperturbed data 47 (last session's release build), 52 (its ASan build) or 55 (this venv, numpy
# 2.4.6). KMeans(n_init=10) errs 0.0949, GaussianMixture(full) 0.0598: on this data set iLA-SDP does not
# beat KMeans reliably (README, Determinism; the cluster guide). The bound admits every path measured.
@pytest.mark.parametrize(
    ("name", "max_error"), [("two-scale", 0.030), ("iris", 0.020), ("wine", 0.0225), ("breast_cancer", 0.12)]
)
def test_ila_sdp_converges(name: str, max_error: float) -> None:
    X, truth, K = load(name)
    res = ila_sdp(X, K, rng=0)
    assert res.converged and res.n_rounds <= 30
    assert error_rate(truth, res.labels) <= max_error + 1e-3
