"""A dual certificate of a K-means partition for the Peng-Wei SDP (numpy only, no _core).

The Peng-Wei relaxation ``max <A, Z>`` over ``Z >= 0`` (entrywise), ``Z`` PSD, ``Z 1 = 1``,
``tr(Z) = K`` (``A = Xc Xc^T``, ``Xc`` the centred data) has, for every ``y`` in R^n and every
symmetric ``Gamma >= 0`` (entrywise), the weak-duality bound

    <A, Z> <= 1^T y + K lambda_max(A + Gamma - (y 1^T + 1 y^T) / 2)

(take ``mu = lambda_max(...)`` in ``S = mu I + (y 1^T + 1 y^T) / 2 - A - Gamma``, which is then PSD:
``<A, Z> = mu K + 1^T y - <Gamma, Z> - <S, Z>``).  Every partition's K-means cost is
``tr(A) - <A, Z_B>`` for its block matrix ``Z_B``, so ``tr(A)`` minus the bound is a lower bound
on the K-means cost of *every* partition.

The dual point is built from a candidate partition as in the complementary-slackness
construction of Iguchi, Mixon, Peterson & Villar (2017), written here from its description:
with cluster sizes ``n_b``, centred means ``m_b`` and a scalar ``mu``,

    y_i = 2 x_i.m_b - |m_b|^2 - mu / n_b                                       (i in cluster b)
    Gamma_{ba} = u_ba u_ab^T / s_ab,  u_ba,i = max(0, n_a (|x_i - m_a|^2 - |x_i - m_b|^2) / 2
                                                      - mu (n_a + n_b) / (2 n_b))   (i in b)

with ``s_ab = sqrt(1^T u_ba 1^T u_ab)`` and ``Gamma`` zero on the diagonal blocks.  At the largest
``mu`` keeping every ``u`` non-negative before the clip, ``S 1_b = 0`` for every cluster, so the
bound equals the partition's cost exactly when ``S`` is PSD: the partition is then a global
K-means optimum and its block matrix solves the SDP (the SDP is tight).  When it is not, the
bound is still valid, only not attained.

``A + Gamma - (y 1^T + 1 y^T) / 2`` is ``W C W^T`` for the n x m matrix ``W`` of the columns
``Xc``, the cluster indicators, ``y0`` and the ``K (K - 1)`` vectors ``u_ba`` (m = p + K + 1 +
K (K - 1)), so its largest eigenvalue is that of the m x m matrix ``R C R^T`` with ``W = Q R``
(a QR factorisation by row chunks: O(n m^2) time, O(chunk m) memory beyond X, no n x n matrix).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["kmeans_lower_bound", "certificate_size", "trace", "Bound"]

_CHUNK = 16384


def certificate_size(p: int, K: int) -> int:
    """Columns m of the factor ``W`` (the work is O(n m^2))."""
    return p + K + 1 + K * (K - 1)


def _chunk_terms(
    Xc: np.ndarray, lab: np.ndarray, M: np.ndarray, mm: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(x_i.m_k for all k, the unclipped g_ba,i for every ordered pair, as an (rows, K) array per
    row's own cluster b: g[i, a] = n_a (|x_i - m_a|^2 - |x_i - m_b|^2) / 2, with g[i, b] = 0)."""
    XM = Xc @ M.T
    rows = np.arange(Xc.shape[0])
    own = XM[rows, lab]
    # |x - m_a|^2 - |x - m_b|^2 = 2 x.(m_b - m_a) + |m_a|^2 - |m_b|^2
    g = 0.5 * counts[None, :] * (2.0 * (own[:, None] - XM) + mm[None, :] - mm[lab][:, None])
    g[rows, lab] = 0.0
    return XM, g


class Bound(NamedTuple):
    """What :func:`kmeans_lower_bound` returns."""

    lower_bound: float  # <= every K-partition's K-means cost
    cost: float  # K-means cost of the candidate partition, tr(A) - <A, Z_B>
    trace: float  # tr(A) = sum of squared distances to the overall mean
    mu: float  # the dual scalar used


def trace(X: np.ndarray) -> float:
    """Sum of squared distances of the rows to their mean, by row chunks (no n x p temporary)."""
    mean = X.mean(axis=0)
    total = 0.0
    for i0 in range(0, X.shape[0], _CHUNK):
        Xc = X[i0 : i0 + _CHUNK] - mean
        total += float(np.einsum("ij,ij->", Xc, Xc))
    return total


def kmeans_lower_bound(X: np.ndarray, labels: np.ndarray, K: int) -> Bound:
    """A lower bound on every K-partition's K-means cost, from the dual point of ``labels``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data (float64, C order).
    labels : ndarray of shape (n_samples,)
        The candidate partition (integers in [0, K)).
    K : int
        Number of clusters.

    Returns
    -------
    Bound
        ``lower_bound`` <= the K-means cost of every partition into K clusters (-inf when a
        cluster of ``labels`` is empty; the cost itself when K == 1); ``cost`` is the cost of
        ``labels``, ``trace`` is ``tr(A)``, ``mu`` the dual scalar used.
        ``(cost - lower_bound) / cost`` is a certified optimality gap of ``labels`` (up to the
        floating-point round-off of the computation, relative ~1e-14 of ``tr(A)``).
    """
    n, p = X.shape
    lab = np.asarray(labels, dtype=np.intp)
    counts = np.bincount(lab, minlength=K).astype(np.float64)
    mean = X.mean(axis=0)
    sums = np.zeros((K, p))
    for j in range(p):
        sums[:, j] = np.bincount(lab, weights=X[:, j] - mean[j], minlength=K)
    M = sums / np.where(counts > 0, counts, 1.0)[:, None]
    mm = np.sum(M * M, axis=1)
    # pass 1: tr(A), the cost, sum of y0 and the largest mu keeping every u >= 0
    trA = 0.0
    sy0 = 0.0
    mu_max = math.inf
    kappa = 0.5 * (counts[None, :] + counts[:, None]) / np.where(counts > 0, counts, 1.0)[:, None]  # kappa[b, a]
    for i0 in range(0, n, _CHUNK):
        Xc = X[i0 : i0 + _CHUNK] - mean
        lb = lab[i0 : i0 + _CHUNK]
        trA += float(np.einsum("ij,ij->", Xc, Xc))
        XM, g = _chunk_terms(Xc, lb, M, mm, counts)
        sy0 += float(np.sum(2.0 * XM[np.arange(lb.size), lb] - mm[lb]))
        if K > 1:
            t = g / kappa[lb]
            t[np.arange(lb.size), lb] = math.inf
            mu_max = min(mu_max, float(t.min()))
    cost = trA - float(np.sum(counts * mm))  # tr(A) - <A, Z_B>
    if K == 1:
        return Bound(cost, cost, trA, 0.0)  # one partition only: Z = 1 1^T / n
    if np.any(counts == 0) or not math.isfinite(mu_max):
        return Bound(-math.inf, cost, trA, math.nan)
    mu = mu_max
    pairs = [(b, a) for b in range(K) for a in range(K) if a != b]
    col = {pr: p + K + 1 + j for j, pr in enumerate(pairs)}
    m = certificate_size(p, K)
    # pass 2: the u columns (clipped at 0 against round-off), their sums, and R of W = Q R by chunks
    usum = np.zeros((K, K))
    R: np.ndarray = np.zeros((0, m))
    for i0 in range(0, n, _CHUNK):
        Xc = X[i0 : i0 + _CHUNK] - mean
        lb = lab[i0 : i0 + _CHUNK]
        c = lb.size
        rows = np.arange(c)
        XM, g = _chunk_terms(Xc, lb, M, mm, counts)
        W = np.zeros((c, m))
        W[:, :p] = Xc
        W[rows, p + lb] = 1.0
        W[:, p + K] = 2.0 * XM[rows, lb] - mm[lb]
        u = np.maximum(g - mu * kappa[lb], 0.0)
        u[rows, lb] = 0.0
        for b, a in pairs:
            sel = lb == b
            W[sel, col[(b, a)]] = u[sel, a]
        usum += _block_sums(u, lb, K)
        R = np.asarray(np.linalg.qr(np.vstack([R, W]), mode="r"))
    # coefficients: W C W^T = A + Gamma - (y 1^T + 1 y^T) / 2
    C = np.zeros((m, m))
    C[:p, :p] = np.eye(p)
    cy = np.zeros(m)
    cy[p + K] = 1.0
    cy[p : p + K] = -mu / counts
    c1 = np.zeros(m)
    c1[p : p + K] = 1.0
    C -= 0.5 * (np.outer(cy, c1) + np.outer(c1, cy))
    for b, a in pairs:
        s = math.sqrt(usum[b, a] * usum[a, b])
        if s > 0.0:
            C[col[(b, a)], col[(a, b)]] += 1.0 / s
    H = R @ C @ R.T
    H = 0.5 * (H + H.T)
    lam = float(np.linalg.eigvalsh(H)[-1]) if H.size else 0.0
    if R.shape[0] < n:  # W has fewer columns than rows: 0 is an eigenvalue too
        lam = max(lam, 0.0)
    ub = sy0 - mu * K + K * lam
    return Bound(trA - ub, cost, trA, mu)


def _block_sums(u: np.ndarray, lab: np.ndarray, K: int) -> np.ndarray:
    """out[b, a] = sum of u[i, a] over the rows i in cluster b."""
    out = np.zeros((K, K))
    for a in range(K):
        out[:, a] = np.bincount(lab, weights=u[:, a], minlength=K)
    return out
