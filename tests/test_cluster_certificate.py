"""The dual certificate of a K-means partition (ridgeline.cluster._certificate) and its use in kmeans_sdp."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ridgeline.cluster import SDPKMeans, kmeans_sdp
from ridgeline.cluster._certificate import kmeans_lower_bound, trace
from ridgeline.cluster._lloyd import cost, kmeans_restarts


def _optimum(X: np.ndarray, K: int) -> float:
    """The exact K-means optimum by enumerating every partition (small n only)."""
    n = X.shape[0]
    best = math.inf
    for tail in itertools.product(range(K), repeat=n - 1):
        lab = np.array((0, *tail))
        if np.unique(lab).size == K:
            best = min(best, cost(X, lab, K))
    return best


@pytest.mark.parametrize("trial", range(12))
def test_bound_below_the_enumerated_optimum(trial: int) -> None:
    # weak duality: the bound never exceeds the optimal cost (brute force over all partitions),
    # whether the partition it is built from is optimal or not, separated or not
    rng = np.random.default_rng(trial)
    K = 2 + trial % 2
    n = 9
    X = rng.standard_normal((n, 2)) + 3.0 * (trial % 3) * rng.integers(0, 3, n)[:, None]
    opt = _optimum(X, K)
    for lab in (kmeans_restarts(X, K, 5, np.random.default_rng(0))[0], rng.permutation(np.arange(n) % K)):
        b = kmeans_lower_bound(X, lab, K)
        assert b.lower_bound <= opt * (1.0 + 1e-12) + 1e-12 * b.trace
        assert b.cost == pytest.approx(cost(X, lab, K), rel=1e-10)
        assert b.trace == pytest.approx(trace(X), rel=1e-12)


def test_separated_clusters_are_certified_exactly() -> None:
    # well-separated clusters: the bound equals the cost of the right partition (the SDP is tight)
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 20.0]])
    truth = np.repeat(np.arange(4), [50, 70, 90, 40])
    X = centres[truth] + rng.standard_normal((truth.size, 3))
    b = kmeans_lower_bound(X, truth, 4)
    assert b.cost - b.lower_bound <= 1e-10 * b.cost
    assert b.mu > 0.0
    # a wrong partition (one point moved) costs more, and the bound from it stays below the optimum
    wrong = truth.copy()
    wrong[0] = 1
    w = kmeans_lower_bound(X, wrong, 4)
    assert w.cost > b.cost and w.lower_bound <= b.cost * (1.0 + 1e-12)


def test_bound_below_the_sdp_optimum_on_real_shaped_data() -> None:
    # not tight: the bound is valid (below the best cost found) and not attained
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    lab, _, c = kmeans_restarts(X, 3, 10, np.random.default_rng(1))
    b = kmeans_lower_bound(X, lab, 3)
    assert b.lower_bound < c
    res = kmeans_sdp(X, 3, rng=0)
    assert res.stop_reason != "certified" and not res.tight
    assert res.inertia >= res.lower_bound
    assert res.certified_gap == pytest.approx((res.inertia - res.lower_bound) / res.inertia)


def test_empty_cluster_and_one_cluster() -> None:
    X = np.random.default_rng(0).standard_normal((20, 2))
    assert kmeans_lower_bound(X, np.zeros(20, dtype=np.intp), 2).lower_bound == -math.inf
    one = kmeans_lower_bound(X, np.zeros(20, dtype=np.intp), 1)
    assert one.lower_bound == one.cost == pytest.approx(cost(X, np.zeros(20, dtype=np.intp), 1))


def test_kmeans_sdp_skips_the_solve_when_certified() -> None:
    rng = np.random.default_rng(5)
    truth = np.repeat(np.arange(3), 200)
    X = 30.0 * np.eye(5)[truth] + rng.standard_normal((600, 5))
    res = kmeans_sdp(X, 3, rng=0)
    assert res.stop_reason == "certified" and res.tight and res.converged and res.n_iter == 0
    assert res.winner == "kmeans++" and res.certified_gap <= 1e-9
    assert res.inertia == pytest.approx(cost(X, res.labels, 3), rel=1e-12)
    # the same partition as the iterative solve, which certifies it its own way
    full = kmeans_sdp(X, 3, rng=0, certify=False)
    assert full.stop_reason == "converged" and full.tight and full.n_iter > 0
    assert math.isnan(full.certified_gap) and full.lower_bound == -math.inf
    assert np.array_equal(np.unique(res.labels * 3 + full.labels).size, 3)
    assert res.inertia == pytest.approx(full.inertia, rel=1e-9)
    # the SDP optimum reached by the solver matches the certified value
    assert full.objective == pytest.approx(res.inertia, rel=1e-5)
    # Z = U U^T of the certified result is the block matrix (feasible)
    U = res.factor
    assert np.allclose(U @ (U.T @ np.ones(600)), 1.0) and np.isclose(np.sum(U * U), 3.0)


def test_estimator_attributes() -> None:
    rng = np.random.default_rng(5)
    truth = np.repeat(np.arange(2), 100)
    X = 30.0 * np.eye(3)[truth] + rng.standard_normal((200, 3))
    km = SDPKMeans(2, random_state=0).fit(X)
    assert km.stop_reason_ == "certified" and km.tight_ and km.certified_gap_ <= 1e-9
    assert km.lower_bound_ <= km.inertia_
    off = SDPKMeans(2, random_state=0, certify=False).fit(X)
    assert off.stop_reason_ == "converged" and off.lower_bound_ == -math.inf


def test_auto_sketch(monkeypatch: pytest.MonkeyPatch) -> None:
    from ridgeline.cluster import _api

    monkeypatch.setattr(_api, "_AUTO_N", 500)
    monkeypatch.setattr(_api, "_AUTO_SKETCH", 200)
    rng = np.random.default_rng(2)
    truth = np.repeat(np.arange(3), 400)
    sep = 30.0 * np.eye(4)[truth] + rng.standard_normal((1200, 4))
    # separated: the certificate on all points settles it; no sketch, no iterations
    res = kmeans_sdp(sep, 3, rng=0)
    assert res.stop_reason == "certified" and res.tight and res.sketch_indices is None
    assert res.factor.shape == (1200, 6) and res.certified_gap <= 1e-9
    # overlapping: the SDP runs on 200 points; both candidates are Lloyd fixed points on all points
    X = rng.standard_normal((1200, 4))
    res = kmeans_sdp(X, 3, rng=0)
    assert res.stop_reason != "certified" and not res.tight
    assert res.sketch_indices is not None and res.sketch_indices.shape == (200,)
    d = ((X[:, None, :] - res.centers[None, :, :]) ** 2).sum(axis=2)
    assert np.array_equal(np.argmin(d, axis=1), res.labels)
    assert res.inertia == pytest.approx(cost(X, res.labels, 3), rel=1e-12)
    assert res.inertia <= min(res.sdp_inertia, res.kmeanspp_inertia) * (1 + 1e-12)
    assert 0.0 < res.certified_gap <= 1.0 and 0.0 <= res.lower_bound <= res.inertia
    # sketch=None: all points
    full = kmeans_sdp(X, 3, rng=0, sketch=None)
    assert full.sketch_indices is None and full.factor.shape[0] == 1200
