"""Lloyd iterations and greedy k-means++ seeding (the K-means candidates of SDPKMeans).

The seeding is numpy; Lloyd's iterations run in C++ (``_core.cluster.lloyd``) on unweighted
float64 data and in numpy otherwise (``_lloyd_numpy``, the same iterations).

Written from the descriptions of Lloyd (1982) and Arthur & Vassilvitskii (2007),
with the greedy variant (several candidate centres per step, keep the one that
lowers the potential most) that makes k-means++ restarts competitive.  Lloyd's
iterations run until the labels repeat (no tolerance on the centre shift), so a
returned partition is a fixed point: every point is nearest its own centre
(ties aside) and every centre is its cluster's mean.
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK = 16384

__all__ = ["lloyd", "kmeans_plusplus", "kmeans_restarts", "cost", "means", "nearest"]


def means(X: np.ndarray, labels: np.ndarray, K: int, w: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) mean of each cluster; an empty cluster gets the zero vector."""
    n = X.shape[0]
    wt = np.ones(n) if w is None else w
    counts = np.bincount(labels, weights=wt, minlength=K)
    if K * n <= 1 << 24:  # one-hot (K x n) times X: one pass over X
        M = np.zeros((K, n))
        M[labels, np.arange(n)] = wt
        sums = M @ X
    else:
        sums = np.zeros((K, X.shape[1]))
        for j in range(X.shape[1]):
            sums[:, j] = np.bincount(labels, weights=wt * X[:, j], minlength=K)
    out: np.ndarray = sums / np.where(counts > 0, counts, 1.0)[:, None]
    return out


def cost(
    X: np.ndarray, labels: np.ndarray, K: int, w: np.ndarray | None = None, C: np.ndarray | None = None
) -> float:
    """K-means cost of ``labels``: (weighted) squared distances to the cluster means (``C`` if given)."""
    C = means(X, labels, K, w) if C is None else C
    total = 0.0
    for i in range(0, X.shape[0], _CHUNK):  # row blocks: no n x p temporary (page faults dominate otherwise)
        D = X[i : i + _CHUNK] - C[labels[i : i + _CHUNK]]
        if w is None:
            total += float(np.einsum("ij,ij->", D, D))
        else:
            total += float(np.einsum("ij,ij,i->", D, D, w[i : i + _CHUNK]))
    return total


def _sqdist(X: np.ndarray, x2: np.ndarray, C: np.ndarray) -> np.ndarray:
    d = X @ C.T
    d *= -2.0
    d += x2[:, None]
    d += np.sum(C * C, axis=1)[None, :]
    res: np.ndarray = np.maximum(d, 0.0, out=d)
    return res


def nearest(X: np.ndarray, x2: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Index of the nearest centre of each row."""
    out: np.ndarray = np.argmin(_sqdist(X, x2, C), axis=1).astype(np.intp)
    return out


def lloyd(
    X: np.ndarray, C: np.ndarray, max_iter: int = 300, w: np.ndarray | None = None, x2: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Lloyd's iterations from centres ``C`` until the labels repeat.

    Returns ``(labels, centres, cost, n_iter)``; an empty cluster takes the point
    farthest from its centre (so K clusters stay non-empty while there are K distinct points).
    """
    K = C.shape[0]
    if w is None and X.dtype == np.float64 and X.flags.c_contiguous:
        # the same iterations in C++ (ridgeline._core.cluster.lloyd): no numpy temporaries per step
        from ridgeline import _core

        lab, Cc, c, it = _core.cluster.lloyd(X, np.ascontiguousarray(C, dtype=np.float64), max_iter)
        return np.asarray(lab, dtype=np.intp), np.asarray(Cc), float(c), int(it)
    return _lloyd_numpy(X, C, max_iter, w, x2)


def _lloyd_numpy(
    X: np.ndarray, C: np.ndarray, max_iter: int = 300, w: np.ndarray | None = None, x2: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """:func:`lloyd` in numpy (weighted points; the reference of the C++ iterations)."""
    K = C.shape[0]
    x2 = np.einsum("ij,ij->i", X, X) if x2 is None else x2
    labels = np.full(X.shape[0], -1, dtype=np.intp)
    it = 0
    for it in range(1, max_iter + 1):
        d = _sqdist(X, x2, C)
        new = np.argmin(d, axis=1).astype(np.intp)
        dmin = d[np.arange(X.shape[0]), new]
        counts = np.bincount(new, minlength=K)
        for k in np.flatnonzero(counts == 0):
            far = int(np.argmax(dmin))
            if dmin[far] <= 0.0:
                break
            counts[new[far]] -= 1
            new[far] = k
            dmin[far] = 0.0
        if np.array_equal(new, labels):
            break
        labels = new
        C = means(X, labels, K, w)
    return labels, C, cost(X, labels, K, w, C), it


def kmeans_plusplus(
    X: np.ndarray, K: int, rng: np.random.Generator, w: np.ndarray | None = None, x2: np.ndarray | None = None
) -> np.ndarray:
    """Greedy k-means++ seeding: ``2 + floor(ln K)`` candidates per step, keep the best."""
    n = X.shape[0]
    x2 = np.einsum("ij,ij->i", X, X) if x2 is None else x2
    wt = np.ones(n) if w is None else w
    trials = 2 + int(math.log(K))
    first = int(rng.choice(n, p=wt / wt.sum()))
    C = np.empty((K, X.shape[1]))
    C[0] = X[first]
    closest = _sqdist(X, x2, C[:1])[:, 0]
    for k in range(1, K):
        pot = wt * closest
        total = float(pot.sum())
        if total <= 0.0:  # fewer distinct points than clusters so far: any point
            cand = rng.integers(0, n, size=trials)
        else:
            cand = np.searchsorted(np.cumsum(pot), rng.random(trials) * total, side="right")
            cand = np.minimum(cand, n - 1)
        dc = _sqdist(X, x2, X[cand])  # n x trials
        newd = np.minimum(closest[:, None], dc)
        best = int(np.argmin(np.sum(wt[:, None] * newd, axis=0)))
        C[k] = X[cand[best]]
        closest = newd[:, best]
    return C


def kmeans_restarts(
    X: np.ndarray, K: int, n_init: int, rng: np.random.Generator, max_iter: int = 300, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Best of ``n_init`` greedy k-means++ + Lloyd runs: ``(labels, centres, cost)``."""
    x2 = np.einsum("ij,ij->i", X, X)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        C0 = kmeans_plusplus(X, K, rng, w, x2)
        lab, C, c, _ = lloyd(X, C0, max_iter, w, x2)
        if best is None or c < best[2]:
            best = (lab, C, c)
    assert best is not None
    return best
