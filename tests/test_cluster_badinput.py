"""Table-driven bad input for the clustering engine: clear errors naming the argument, or the right answer.

Cases that could hang (extreme scales, covariances at the bottom of the double range) run
in a forked child process under a timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.cluster import ila_sdp, kmeans_sdp


def _two_groups(dtype: Any = np.float64) -> np.ndarray:
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0.0, 1.0, (12, 2)), rng.normal(20.0, 1.0, (12, 2))]
    return X.astype(dtype)


TRUTH = np.repeat([0, 1], 12)


def _same_partition(labels: np.ndarray) -> bool:
    labels = np.asarray(labels)
    return bool(np.array_equal(labels, TRUTH) or np.array_equal(labels, 1 - TRUTH))


X0 = _two_groups()
ok = "ok"

# (id, call, expected): expected is (exception type, regex) or ("ok", check(result) -> bool)
CASES: list[tuple[str, Callable[[], Any], Any]] = [
    # data: values
    ("nan", lambda: kmeans_sdp(np.where(np.eye(24, 2) > 0, np.nan, X0), 2), (ValueError, "X contains NaN")),
    ("inf", lambda: kmeans_sdp(np.where(np.eye(24, 2) > 0, np.inf, X0), 2), (ValueError, "X contains NaN")),
    ("-inf", lambda: kmeans_sdp(np.where(np.eye(24, 2) > 0, -np.inf, X0), 2), (ValueError, "X contains NaN")),
    ("nan ila", lambda: ila_sdp(np.where(np.eye(24, 2) > 0, np.nan, X0), 2), (ValueError, "X contains NaN")),
    # data: shapes
    ("1-D", lambda: kmeans_sdp(np.zeros(5), 2), (ValueError, r"X must be 2-D .*reshape")),
    ("3-D", lambda: kmeans_sdp(np.zeros((2, 3, 4)), 2), (ValueError, "X must be 2-D")),
    ("0-D", lambda: kmeans_sdp(np.float64(3.0), 1), (ValueError, "X must be 2-D")),
    ("no rows", lambda: kmeans_sdp(np.zeros((0, 2)), 1), (ValueError, "n_samples=0 should be >= n_clusters=1")),
    ("no columns", lambda: kmeans_sdp(np.zeros((5, 0)), 1), (ValueError, "X must have at least one feature")),
    ("too few rows", lambda: kmeans_sdp(np.zeros((3, 2)), 4), (ValueError, "n_samples=3 should be >= n_clusters=4")),
    ("ragged", lambda: kmeans_sdp([[1.0, 2.0], [3.0]], 1), (ValueError, "X must be a rectangular array")),
    ("no rows ila", lambda: ila_sdp(np.zeros((0, 2)), 1), (ValueError, "n_samples=0 should be >= n_clusters=1")),
    # data: dtypes
    ("complex", lambda: kmeans_sdp(X0 + 1j, 2), (TypeError, "X must be real")),
    ("complex ila", lambda: ila_sdp(X0 + 0j, 2), (TypeError, "X must be real")),
    ("strings", lambda: kmeans_sdp(np.array([["a", "b"], ["c", "d"]]), 1), (TypeError, "X must be numeric")),
    ("a string", lambda: kmeans_sdp("abc", 1), (TypeError, "X must be an array of numbers")),
    ("objects", lambda: kmeans_sdp(np.array([[None, 1.0], [2.0, 3.0]], dtype=object), 1), (ValueError, "X contains NaN")),
    ("objects non-numeric", lambda: kmeans_sdp(np.array([[{}, 1.0], [2.0, 3.0]], dtype=object), 1), (TypeError, "X must be numeric")),
    ("datetime", lambda: kmeans_sdp(np.zeros((4, 2), dtype="datetime64[s]"), 1), (TypeError, "X must be")),
    ("numeric strings", lambda: kmeans_sdp(X0.astype(str), 2, rng=0).labels, (ok, _same_partition)),
    ("float32", lambda: kmeans_sdp(X0.astype(np.float32), 2, rng=0).labels, (ok, _same_partition)),
    ("float16", lambda: kmeans_sdp(X0.astype(np.float16), 2, rng=0).labels, (ok, _same_partition)),
    ("int8", lambda: kmeans_sdp(np.round(X0).astype(np.int8), 2, rng=0).labels, (ok, _same_partition)),
    ("bool", lambda: kmeans_sdp(np.repeat([[False, False], [True, True]], 12, axis=0), 2, rng=0).labels,
     (ok, _same_partition)),
    ("list of lists", lambda: kmeans_sdp(X0.tolist(), 2, rng=0).labels, (ok, _same_partition)),
    ("huge int64", lambda: kmeans_sdp(np.round(X0).astype(np.int64) * 2**57, 2, rng=0).labels, (ok, _same_partition)),
    ("uint64 max", lambda: kmeans_sdp(np.repeat(np.array([[0, 1], [2**64 - 1, 2**64 - 2]], dtype=np.uint64), 12, axis=0), 2,
                                      rng=0).labels, (ok, _same_partition)),
    ("python big ints", lambda: kmeans_sdp([[10**30 * int(v > 10)] for v in X0[:, 0]], 2, rng=0).labels,
     (ok, _same_partition)),
    ("duplicates", lambda: kmeans_sdp(np.zeros((10, 3)), 2, rng=0).inertia, (ok, lambda v: v == 0.0)),
    ("one point", lambda: kmeans_sdp(np.ones((1, 3)), 1, rng=0).labels, (ok, lambda v: v.tolist() == [0])),
    # options: n_clusters
    ("n_clusters str", lambda: kmeans_sdp(X0, "3"), (TypeError, "n_clusters='3' must be an integer")),
    ("n_clusters float", lambda: kmeans_sdp(X0, 1.5), (TypeError, "n_clusters=1.5 must be an integer")),
    ("n_clusters bool", lambda: kmeans_sdp(X0, True), (TypeError, "n_clusters=True must be an integer")),
    ("n_clusters None", lambda: kmeans_sdp(X0, None), (TypeError, "n_clusters=None must be an integer")),
    ("n_clusters 0", lambda: kmeans_sdp(X0, 0), (ValueError, "n_clusters=0 must be >= 1")),
    ("n_clusters -1", lambda: ila_sdp(X0, -1), (ValueError, "n_clusters=-1 must be >= 1")),
    ("n_clusters 2**70", lambda: kmeans_sdp(X0, 2**70), (ValueError, "n_clusters=1180591620717411303424 must be <=")),
    ("n_clusters 2**40", lambda: kmeans_sdp(X0, 2**40), (ValueError, "n_samples=24 should be >= n_clusters")),
    # options: solver
    ("rank 0", lambda: kmeans_sdp(X0, 2, rank=0), (ValueError, "rank=0 must be >= 1")),
    ("rank < K", lambda: kmeans_sdp(X0, 3, rank=1), (ValueError, r"rank=1 should be >= n_clusters=3")),
    ("rank 2**40", lambda: kmeans_sdp(X0, 2, rank=2**40), (ValueError, "rank=1099511627776 must be <=")),
    ("rank str", lambda: kmeans_sdp(X0, 2, rank="4"), (TypeError, "rank='4' must be an integer")),
    ("tol 0", lambda: kmeans_sdp(X0, 2, tol=0.0), (ValueError, "tol=0.0 must be > 0")),
    ("tol -1", lambda: kmeans_sdp(X0, 2, tol=-1), (ValueError, "tol=-1.0 must be > 0")),
    ("tol nan", lambda: kmeans_sdp(X0, 2, tol=float("nan")), (ValueError, "tol=nan must be finite")),
    ("tol inf", lambda: kmeans_sdp(X0, 2, tol=float("inf")), (ValueError, "tol=inf must be finite")),
    ("tol str", lambda: kmeans_sdp(X0, 2, tol="1e-3"), (TypeError, "tol='1e-3' must be a real number")),
    ("max_iter 0", lambda: kmeans_sdp(X0, 2, max_iter=0), (ValueError, "max_iter=0 must be >= 1")),
    ("max_iter 2**63", lambda: kmeans_sdp(X0, 2, max_iter=2**63), (ValueError, "max_iter=9223372036854775808 must be <=")),
    ("max_iter float", lambda: kmeans_sdp(X0, 2, max_iter=10.0), (TypeError, "max_iter=10.0 must be an integer")),
    ("n_init 0", lambda: kmeans_sdp(X0, 2, n_init=0), (ValueError, "n_init=0 must be >= 1")),
    ("n_threads -2", lambda: kmeans_sdp(X0, 2, n_threads=-2), (ValueError, "n_threads=-2 must be >= -1")),
    ("n_threads 2**31", lambda: kmeans_sdp(X0, 2, n_threads=2**31), (ValueError, "n_threads=2147483648 must be <= 4096")),
    ("n_threads str", lambda: kmeans_sdp(X0, 2, n_threads="2"), (TypeError, "n_threads='2' must be an integer")),
    ("sketch 0", lambda: kmeans_sdp(X0, 2, sketch=0), (ValueError, "sketch=0 must be >= 1")),
    ("sketch < K", lambda: kmeans_sdp(X0, 2, sketch=1), (ValueError, "sketch=1 should be >= n_clusters=2")),
    ("sketch str", lambda: kmeans_sdp(X0, 2, sketch="10"), (TypeError, "sketch='10' must be an integer")),
    ("tight_tol -1", lambda: kmeans_sdp(X0, 2, tight_tol=-1.0), (ValueError, "tight_tol=-1.0 must be > 0")),
    ("progress str", lambda: kmeans_sdp(X0, 2, progress="yes"), (TypeError, "progress='yes' must be True or False")),
    ("rng -1", lambda: kmeans_sdp(X0, 2, rng=-1), (ValueError, "rng=-1")),
    ("rng str", lambda: kmeans_sdp(X0, 2, rng="seed"), (TypeError, "rng='seed'")),
    ("rng float", lambda: kmeans_sdp(X0, 2, rng=1.5), (TypeError, "rng=1.5")),
    ("unknown keyword", lambda: kmeans_sdp(X0, 2, seed=3), (TypeError, "unexpected keyword argument 'seed'")),
    # options: iLA-SDP
    ("ridge 0", lambda: ila_sdp(X0, 2, ridge=0.0), (ValueError, "ridge=0.0 must be > 0")),
    ("ridge nan", lambda: ila_sdp(X0, 2, ridge=float("nan")), (ValueError, "ridge=nan must be finite")),
    ("shrinkage 1.5", lambda: ila_sdp(X0, 2, shrinkage=1.5), (ValueError, "shrinkage=1.5 must be in")),
    ("shrinkage oas", lambda: ila_sdp(X0, 2, shrinkage="oas"), (ValueError, "shrinkage='oas' must be")),
    ("shrinkage None", lambda: ila_sdp(X0, 2, shrinkage=None), (TypeError, "shrinkage=None must be")),
    ("max_rounds 0", lambda: ila_sdp(X0, 2, max_rounds=0), (ValueError, "max_rounds=0 must be >= 1")),
    ("ila rank 0", lambda: ila_sdp(X0, 2, rank=0), (ValueError, "rank=0 must be >= 1")),
    ("init_labels float", lambda: ila_sdp(X0, 2, init_labels=TRUTH.astype(float)), (TypeError, "init_labels must hold integers")),
    ("init_labels str", lambda: ila_sdp(X0, 2, init_labels="01"), (TypeError, "init_labels must be an array")),
    ("init_labels short", lambda: ila_sdp(X0, 2, init_labels=TRUTH[:5]), (ValueError, r"init_labels must have shape \(24,\)")),
    ("init_labels range", lambda: ila_sdp(X0, 2, init_labels=TRUTH + 1), (ValueError, r"init_labels must be integers in \[0, n_clusters=2\)")),
    ("init_labels negative", lambda: ila_sdp(X0, 2, init_labels=TRUTH - 1), (ValueError, "init_labels must be integers in")),
    ("init_labels ok", lambda: ila_sdp(X0, 2, init_labels=TRUTH, rng=0).labels, (ok, _same_partition)),
    # the private core (reachable): arguments checked before any memory is touched
    ("core kmeans max_iter 0", lambda: _core.cluster.kmeans(X0, 2, 1, 0, 0, 1), (ValueError, "max_iter=0 must be >= 1")),
    ("core kmeans no columns", lambda: _core.cluster.kmeans(np.zeros((4, 0)), 2, 1, 10, 0, 1),
     (ValueError, "Y must have at least one column")),
    ("core round_factor empty", lambda: _core.cluster.round_factor(np.zeros((4, 0)), 2),
     (ValueError, "U must have at least one row and one column")),
    ("core progress not callable", lambda: _core.cluster.peng_wei(X0, 2, 4, 0, progress=3), (TypeError, "progress must be callable")),
    ("core progress interval", lambda: _core.cluster.peng_wei(X0, 2, 4, 0, progress=print, progress_interval=-1.0),
     (ValueError, "progress_interval must be finite")),
]


def _check(call: Callable[[], Any], expected: Any) -> None:
    kind, what = expected
    if kind == ok:
        assert what(call())
    else:
        with pytest.raises(kind, match=what):
            call()


@pytest.mark.parametrize(("call", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call: Callable[[], Any], expected: Any) -> None:
    _check(call, expected)


def test_n_threads_zero_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="n_threads=0"):
        res = kmeans_sdp(X0, 2, n_threads=0, rng=0)
    assert _same_partition(res.labels)


# ---- cases that could hang: a forked child under a timeout ----------------------------------------


def _child(fn: Callable[[], Any], q: Any) -> None:
    try:
        q.put(("ok", fn()))
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        q.put(("error", f"{type(err).__name__}: {err}"))


def _in_child(fn: Callable[[], Any], timeout: float = 60.0) -> tuple[str, Any]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, q))
    proc.start()
    try:
        out = q.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        proc.join()
        pytest.fail(f"no answer within {timeout} s (hang)")
    proc.join(timeout=10)
    return out


def _labels_at_scale(scale: float) -> list[int]:
    return kmeans_sdp(X0 * scale, 2, rng=0).labels.tolist()


def _ila_labels_at_scale(scale: float) -> list[int]:
    return ila_sdp(X0 * scale, 2, rng=0).labels.tolist()


needs_fork = pytest.mark.skipif(sys.platform == "win32", reason="fork start method")


@needs_fork
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300, 2.0**1000])
def test_extreme_scales_give_the_unscaled_answer(scale: float) -> None:
    base = _labels_at_scale(1.0)
    status, labels = _in_child(lambda: _labels_at_scale(scale))
    assert status == "ok", labels
    assert labels == base
    status, labels = _in_child(lambda: _ila_labels_at_scale(scale))
    assert status == "ok", labels
    assert _same_partition(np.array(labels))


@needs_fork
def test_entries_near_1e200_do_not_hang() -> None:
    rng = np.random.default_rng(1)
    X = 1e200 * (1.0 + rng.random((40, 3)))
    X[:20] *= 1e8  # 1e208: squared norms would overflow without the internal scaling
    status, out = _in_child(lambda: kmeans_sdp(X, 2, rng=0).labels.tolist())
    assert status == "ok", out
    assert sorted(np.bincount(out).tolist()) == [20, 20]


@needs_fork
def test_mixed_column_scales() -> None:
    X = np.c_[X0[:, 0] * 1e300, X0[:, 1] * 1e-300]
    status, out = _in_child(lambda: kmeans_sdp(X, 2, rng=0).labels)
    assert status == "ok", out
    assert _same_partition(out)


@needs_fork
def test_core_extreme_input_refused_not_hung() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 3))
    covs = np.stack([2e-308 * np.eye(3)] * 2)
    U0 = np.abs(rng.standard_normal((30, 4)))
    status, out = _in_child(lambda: _core.cluster.la_sdp(X, covs, U0, rank=2, max_iter=50000))
    assert status == "error" and "ValueError" in out and "covariance 0" in out, out
    status, out = _in_child(lambda: _core.cluster.peng_wei(X * 1e200, 2, 4, 0, max_iter=50000))
    assert status == "error" and "ValueError" in out and "X is too large" in out, out
