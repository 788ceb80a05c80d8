"""The stall rule of the SDP early exit (issue 17) and Lloyd's iterations in C++."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.cluster import kmeans_sdp
from ridgeline.cluster._api import _unit_scale
from ridgeline.cluster._lloyd import _lloyd_numpy, cost, lloyd, means

datasets = pytest.importorskip("sklearn.datasets")


@pytest.mark.parametrize("trial", range(8))
def test_core_lloyd_matches_numpy(trial: int) -> None:
    # the same iterations: same labels, iteration count, centres and cost (to round-off)
    rng = np.random.default_rng(trial)
    n, K = 200 + 50 * trial, 2 + trial % 5
    X = rng.standard_normal((n, 3 + trial % 4)) + 2.0 * rng.integers(0, K, n)[:, None]
    if trial == 7:  # duplicate points: an empty cluster takes the farthest point
        X = np.repeat(X[:5], n // 5, axis=0)
    C = X[rng.choice(n, K, replace=False)]
    a, b = lloyd(X, C.copy()), _lloyd_numpy(X, C.copy())
    assert np.array_equal(a[0], b[0]) and a[3] == b[3]
    assert np.allclose(a[1], b[1], rtol=1e-12, atol=1e-12 * np.abs(X).max())
    assert a[2] == pytest.approx(b[2], rel=1e-12, abs=1e-12 * float(np.sum(X * X)))
    assert a[2] == pytest.approx(cost(X, a[0], K), rel=1e-12, abs=1e-12 * float(np.sum(X * X)))


def test_core_stall_fields() -> None:
    # digits is not tight: with the stall rule the solve stops early (settled and stalled), and
    # its best rounding refined by Lloyd on X has the reported cost
    X = datasets.load_digits().data.astype(np.float64)
    Xu, _ = _unit_scale(X)
    K = 10
    out = _core.cluster.peng_wei(Xu, K, 2 * K, 5, settle_n_init=10, settle_seed=1, settle_infeas=0.1,
                                 stall_checks=2, stall_rtol=1e-4, dual_c=0.3, max_iter=50000)
    assert out.stalled and out.settled and not out.converged
    best = np.asarray(out.best_rounding)
    assert best.shape == (X.shape[0],) and 0 < out.best_iter <= out.n_iter
    refined = lloyd(Xu, means(Xu, best.astype(np.intp), K))
    assert out.best_cost == pytest.approx(refined[2], rel=1e-9)
    # the rule off: no best rounding
    off = _core.cluster.peng_wei(Xu, K, 2 * K, 5, settle_n_init=10, settle_seed=1, settle_infeas=0.1, max_iter=300)
    assert not off.stalled and np.asarray(off.best_rounding).size == 0 and math.isinf(off.best_cost)


@pytest.mark.parametrize("name", ["digits", "wine"])
def test_stalled_never_claims_certification(name: str) -> None:
    if name == "digits":
        X, K = datasets.load_digits().data.astype(np.float64), 10
    else:
        w = datasets.load_wine()
        X, K = (w.data - w.data.mean(axis=0)) / w.data.std(axis=0), 3
    res = kmeans_sdp(X, K, rng=0)  # no warning (filterwarnings = error)
    assert res.stop_reason == "stalled"
    assert not res.tight and not res.converged and not res.infeasibility <= 1e-6
    # the bound is reported as computed; it does not certify (a proved gap well above 0)
    assert res.lower_bound < res.inertia and res.certified_gap > 1e-3
    assert res.inertia == pytest.approx(cost(X, res.labels, K), rel=1e-10)
    assert res.inertia <= min(res.sdp_inertia, res.kmeanspp_inertia) * (1 + 1e-12)


def test_stall_rule_thread_invariant() -> None:
    X = datasets.load_digits().data.astype(np.float64)
    a = kmeans_sdp(X, 10, rng=1, n_threads=1)
    b = kmeans_sdp(X, 10, rng=1, n_threads=2)
    assert a.stop_reason == b.stop_reason == "stalled" and a.n_iter == b.n_iter
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.factor, b.factor)


def test_stall_and_lloyd_bad_input() -> None:
    X = np.random.default_rng(0).standard_normal((30, 2))
    with pytest.raises(ValueError, match="stall_checks"):
        _core.cluster.peng_wei(X, 2, 4, 0, stall_checks=-1)
    with pytest.raises(ValueError, match="stall_rtol"):
        _core.cluster.peng_wei(X, 2, 4, 0, stall_rtol=1.5)
    with pytest.raises(ValueError, match="centers"):
        _core.cluster.lloyd(X, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="max_iter"):
        _core.cluster.lloyd(X, X[:2], 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_core_early_exit_matches_reference(seed: int) -> None:
    # the settle / stall exit of the C++ solve against the numpy reference: the same stop, at the
    # same iteration, with the same best rounding and cost (seed 1 stalls, 0 and 2 settle)
    from ridgeline.cluster import _reference as R

    w = datasets.load_wine()
    X = (w.data - w.data.mean(axis=0)) / w.data.std(axis=0)
    kw = {"settle_n_init": 10, "settle_seed": 1, "settle_infeas": 0.1, "stall_checks": 2, "stall_rtol": 1e-4,
          "dual_c": 0.3}
    d = _core.cluster.peng_wei(X, 3, 6, seed, tol=1e-6, max_iter=5000, **kw)
    state: dict[str, object] = {}
    ref, s2 = R.peng_wei(X, 3, rank=6, tol=1e-6, max_iter=5000, seed=seed, state=state, **kw)
    assert d.settled and ref.settled and not d.converged
    assert d.n_iter == ref.n_iter and d.stalled is state["stalled"] and d.best_iter == state["best_iter"]
    assert d.stalled is (seed == 1)
    best = state["best_rounding"]
    assert isinstance(best, np.ndarray) and R.same_partition(np.asarray(d.best_rounding), best, 3)
    assert d.best_cost == pytest.approx(float(state["best_cost"]) * s2, rel=1e-9)  # type: ignore[arg-type]
