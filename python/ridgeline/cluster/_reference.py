"""Pure-numpy reference of the SDP clustering solvers (the tests' oracle).

It never imports ``ridgeline._core``.  It implements, readably and with the
same rules as the C++ engine in ``cpp/include/ridgeline/cluster/``:

- the non-negative low-rank (Burer-Monteiro) augmented-Lagrangian solver for
  block-factored SDPs ``min sum_b <C_b, U_b U_b^T>`` subject to
  ``U_b >= 0``, ``||U_b||_F^2 = rho_b`` and ``sum_b U_b U_b^T 1 = 1``, with
  Barzilai-Borwein steps, a non-monotone line search, dual steps and a penalty
  that grows when infeasibility stalls;
- the Peng-Wei K-means SDP (one block, ``C = -A`` with ``A = X X^T`` kept
  factored, ``rho = K``);
- the likelihood-adjusted SDP (K blocks, ``C_k = W_k`` applied implicitly from
  whitened data, ``rho_k = 1``) and the iLA-SDP rounds;
- rounding (left singular vectors of U, then k-means++ with Lloyd).

Random initial factors use the numpy Philox reference of ``ridgeline._random``
so that the C++ engine and this module start from the same point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ridgeline import _random

_TRACE = False

__all__ = [
    "NLRResult",
    "initial_factor",
    "project",
    "nlr_solve",
    "peng_wei",
    "la_sdp_operator",
    "la_sdp",
    "ila_sdp",
    "round_factor",
    "kmeans",
    "labels_from_blocks",
    "ledoit_wolf_intensity",
]


@dataclass
class NLRResult:
    """Output of :func:`nlr_solve`."""

    U: np.ndarray
    y: np.ndarray
    beta: float
    objective: float
    infeasibility: float
    stationarity: float
    n_iter: int
    converged: bool
    history: list[float] = field(default_factory=list)
    settled: bool = False


def project(V: np.ndarray, blocks: list[tuple[int, int, float]]) -> np.ndarray:
    """Project each column block onto ``{U >= 0, ||U||_F^2 = rho}`` (exactly).

    ``blocks`` lists ``(first column, number of columns, rho)``.  When a block
    has no positive entry the nearest point is ``sqrt(rho)`` at its largest
    entry (the first one on ties, row-major order).
    """
    U = np.maximum(V, 0.0)
    for c0, w, rho in blocks:
        B = U[:, c0 : c0 + w]
        nrm = np.sqrt(np.sum(B * B))
        if nrm > 0.0:
            U[:, c0 : c0 + w] = B * (np.sqrt(rho) / nrm)
        else:
            src = V[:, c0 : c0 + w]
            i, j = np.unravel_index(np.argmax(src), src.shape)
            B[:] = 0.0
            B[i, j] = np.sqrt(rho)
    out: np.ndarray = U
    return out


def initial_factor(n: int, r: int, seed: int, stream: int = 0) -> np.ndarray:
    """Positive random n x r factor: uniforms in (0, 1) of one Philox stream, row-major."""
    return _random.uniform(seed, stream, n * r).reshape(n, r)


def ls_multiplier(CU: np.ndarray, U: np.ndarray, iters: int = 200) -> np.ndarray:
    """Least-squares multiplier estimate at U (warm starts).

    ``(y, mu) = argmin || M o (2 C U + y s^T + 1 (U^T y)^T - 2 mu U) ||_F`` over the
    support ``M = {U > 0}``, by Jacobi-preconditioned CG on the normal equations.
    """
    n, r = U.shape
    M = (U > 0).astype(float)
    s = U.sum(axis=0)
    ones = np.ones(n)

    def T(y: np.ndarray, mu: float) -> np.ndarray:
        return M * (np.outer(y, s) + np.outer(ones, U.T @ y) - 2.0 * mu * U)

    def Tt(E: np.ndarray) -> tuple[np.ndarray, float]:
        return E @ s + U @ E.sum(axis=0), -2.0 * float(np.sum(E * U))

    ry, rmu = Tt(M * (-2.0 * CU))
    dy = M @ (s * s) + 1e-300
    dmu = 4.0 * float(np.sum(M * U * U)) + 1e-300
    xy = np.zeros(n)
    zy, zmu = ry / dy, rmu / dmu
    py, pmu = zy.copy(), zmu
    rz = float(ry @ zy) + rmu * zmu
    rz0 = abs(rz)
    for _ in range(iters):
        if rz0 == 0.0:
            break
        qy, qmu = Tt(T(py, pmu))
        den = float(py @ qy) + pmu * qmu
        if not den > 0.0:
            break
        alpha = rz / den
        xy = xy + alpha * py
        ry = ry - alpha * qy
        rmu = rmu - alpha * qmu
        zy, zmu = ry / dy, rmu / dmu
        rz2 = float(ry @ zy) + rmu * zmu
        if np.sqrt(abs(rz2)) < 1e-12 * np.sqrt(rz0):
            break
        py = zy + (rz2 / rz) * py
        pmu = zmu + (rz2 / rz) * pmu
        rz = rz2
    return xy


def nlr_solve(
    apply_cost: Callable[[np.ndarray], np.ndarray],
    U0: np.ndarray,
    blocks: list[tuple[int, int, float]],
    *,
    y0: np.ndarray | None = None,
    beta0: float | None = None,
    tol: float = 1e-6,
    max_iter: int = 20000,
    memory: int = 10,
    max_move: float = 0.2,
    dual_c: float = 1.0,
    dual_bb: float = 100.0,
    multiplier_init: bool = False,
    beta_max: float | None = None,
    stall_duals: int = 20,
    settle: Callable[[np.ndarray, int, float], bool] | None = None,
) -> NLRResult:
    """Augmented-Lagrangian projected-gradient solver on the factor U.

    Minimises ``L(U, y) = <C, U U^T> + <y, U U^T 1 - 1> + beta/2 ||U U^T 1 - 1||^2``
    over the product of scaled non-negative spheres, where ``apply_cost(U)``
    returns ``C U`` (block-diagonal C applied block by block).

    Inner loop: projected gradient with Barzilai-Borwein steps ``<s, s> / <s, y>``
    (the step doubles instead when ``<s, y> <= 0``: the alternating BB1/BB2 rule
    can lock into a 2-cycle of short steps, and keeping the last step on negative
    curvature stalls) and a non-monotone (max of the last ``memory`` values)
    sufficient-decrease test, halving the step on failure.  When the gradient mapping is small enough
    (below ``c`` times the current infeasibility, or below the final
    stationarity target ``max(tol, sqrt(tol) / 10)``: the inner solve is never
    asked for more than the stopping test needs) the dual takes a step
    ``y += step * r``; if the infeasibility did not fall below a quarter of its
    previous value, beta doubles.  ``c`` starts at ``dual_c`` and halves at every dual
    step that finds the infeasibility grown since a previous step longer than beta:
    that extrapolated multiplier step was taken on a too inexact inner solve (its residual r was
    mostly inner-solve error), which otherwise makes the multipliers oscillate near
    convergence and the penalty climb.  The dual step length is a Barzilai-Borwein
    estimate from the last two dual steps, clipped to ``[beta, dual_bb * beta]``,
    and falls back to ``beta`` when the infeasibility grew since the last dual
    step (an overshooting multiplier).  ``beta_max`` caps the penalty; the cap
    doubles after ``stall_duals`` dual steps that did not halve the best infeasibility.  Converged when ``max|r| <= tol`` and the
    gradient mapping is below ``max(tol, sqrt(tol) / 10)``.
    """
    n = U0.shape[0]
    ones = np.ones(n)
    U = project(U0, blocks)
    y = np.zeros(n) if y0 is None else y0.copy()
    if y0 is None and multiplier_init:
        y = ls_multiplier(apply_cost(U), U)
    beta = float(n) ** -1 if beta0 is None else float(beta0)

    def evaluate(U: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        CU = apply_cost(U)
        s = U.sum(axis=0)
        r = U @ s - ones
        v = y + beta * r
        f = float(np.sum(U * CU) + y @ r + 0.5 * beta * (r @ r))
        G = 2.0 * CU + np.outer(v, s) + np.outer(ones, U.T @ v)
        return f, G, r, CU

    f, G, r, CU = evaluate(U)
    hist = [f]
    unorm = float(np.sqrt(sum(rho for _, _, rho in blocks)))
    t = 0.1 * unorm / max(float(np.linalg.norm(G)), 1e-300)
    infeas_prev = float(np.abs(r).max())
    stat_tol = max(tol, 0.1 * np.sqrt(tol))
    beta_cap = -1.0 if beta_max is None else float(beta_max)
    best_infeas, stall = np.inf, 0
    stat = np.inf
    it = 0
    converged = False
    settled = False
    n_dual = 0
    dy_prev = None
    r_prev = None
    inner_c = dual_c
    step_prev, beta_at_prev = 0.0, 0.0
    while it < max_iter:
        it += 1
        fref = max(hist[-memory:])
        while True:
            Un = project(U - t * G, blocks)
            D = Un - U
            dd = float(np.sum(D * D))
            fn, Gn, rn, CUn = evaluate(Un)
            small = dd <= (max_move * unorm) ** 2
            if (small and fn <= fref - 1e-4 * dd / t) or dd == 0.0 or t < 1e-20:
                break
            t *= 0.5
        stat = np.sqrt(dd) / t
        S = D
        Yg = Gn - G
        sy = float(np.sum(S * Yg))
        U, f, G, r, CU = Un, fn, Gn, rn, CUn
        hist.append(f)
        infeas = float(np.abs(r).max())
        # Barzilai-Borwein (long) step <s, s> / <s, y>; along non-positive curvature the
        # step doubles instead (the line search still checks it)
        t = dd / sy if sy > 0.0 else 2.0 * t
        t = min(max(t, 1e-12), 1e12)
        # dual step once the primal has (approximately) settled
        if infeas <= tol and stat <= stat_tol:
            converged = True
            break
        if settle is not None and settle(U, it, infeas):
            settled = True
            break
        if stat <= max(stat_tol, inner_c * infeas) or dd == 0.0:
            # an infeasibility that grew after an extrapolated (Barzilai-Borwein, > beta) dual
            # step means that step was taken on a too inexact inner solve: ask more of the
            # following ones
            if infeas > infeas_prev and step_prev > beta_at_prev:
                inner_c *= 0.5
            step = beta
            if dual_bb and dy_prev is not None and infeas <= infeas_prev:
                dr = r - r_prev
                den = -float(dy_prev @ dr)
                if den > 0.0:
                    step = min(max(float(dy_prev @ dy_prev) / den, beta), dual_bb * beta)
            step_prev, beta_at_prev = step, beta
            dy_prev = step * r
            r_prev = r.copy()
            y = y + dy_prev
            n_dual += 1
            if _TRACE:
                print(f"  dual it={it} infeas={infeas:.2e} stat={stat:.2e} beta*n={beta * n:.3g} f={f:.10f}")
            # the cap on beta rises only when the infeasibility stalls at it
            if infeas < 0.5 * best_infeas:
                best_infeas, stall = infeas, 0
            else:
                stall += 1
                if stall >= stall_duals:
                    beta_cap, stall = 2.0 * beta_cap, 0
            if infeas > 0.25 * infeas_prev and not (beta_cap > 0.0 and 2.0 * beta > beta_cap):
                beta *= 2.0
            infeas_prev = infeas
            f, G, r, CU = evaluate(U)
            hist = [f]
    objective = float(np.sum(U * CU))
    return NLRResult(
        U=U,
        y=y,
        beta=beta,
        objective=objective,
        infeasibility=float(np.abs(r).max()),
        stationarity=float(stat),
        n_iter=it,
        converged=converged,
        history=[float(n_dual)],
        settled=settled,
    )


def _centre_scale(X: np.ndarray) -> tuple[np.ndarray, float]:
    Xc = X - X.mean(axis=0)
    s2 = float(np.linalg.norm(Xc, 2) ** 2) if Xc.size else 0.0
    if s2 <= 0.0:
        s2 = 1.0
    return Xc / np.sqrt(s2), s2


def same_partition(a: np.ndarray | None, b: np.ndarray, K: int) -> bool:
    """Whether two labelings are one partition (equal up to a renaming of the labels)."""
    if a is None or a.shape != b.shape or a.size == 0:
        return False
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return bool(np.unique(pairs[:, 0]).size == pairs.shape[0] == np.unique(pairs[:, 1]).size)


def block_gap(U: np.ndarray, labels: np.ndarray, K: int) -> float:
    """``||U U^T - B||_F / sqrt(K')`` for the block matrix B of ``labels`` (K' non-empty clusters)."""
    counts = np.bincount(labels, minlength=K).astype(float)
    S = np.zeros((K, U.shape[1]))
    np.add.at(S, labels, U)
    nz = counts > 0
    G = U.T @ U
    kk = float(np.count_nonzero(nz))
    gap2 = float(np.sum(G * G)) - 2.0 * float(np.sum(np.sum(S[nz] ** 2, axis=1) / counts[nz])) + kk
    return float(np.sqrt(max(gap2, 0.0) / max(kk, 1.0)))


def lloyd_cost(Y: np.ndarray, labels: np.ndarray, K: int, max_iter: int = 300) -> float:
    """K-means cost of Lloyd's fixed point reached from the means of ``labels`` (empty clusters: zero means)."""
    n = Y.shape[0]
    lab = np.asarray(labels)
    C = np.zeros((K, Y.shape[1]))
    for k in range(K):
        if np.any(lab == k):
            C[k] = Y[lab == k].mean(axis=0)
    cur = np.full(n, -1)
    for _ in range(max_iter):
        D = np.maximum(np.sum((Y[:, None, :] - C[None, :, :]) ** 2, axis=2), 0.0)
        new = np.argmin(D, axis=1)
        dmin = D[np.arange(n), new]
        for k in range(K):  # an empty cluster takes the point farthest from its centre
            if not np.any(new == k):
                far = int(np.argmax(dmin))
                if not dmin[far] > 0.0:
                    break
                new[far] = k
                dmin[far] = 0.0
        if np.array_equal(new, cur):
            break
        cur = new
        C = np.zeros((K, Y.shape[1]))
        for k in range(K):
            if np.any(cur == k):
                C[k] = Y[cur == k].mean(axis=0)
    return float(np.sum((Y - C[cur]) ** 2))


def make_settle(
    Y: np.ndarray, K: int, n_init: int, seed: int, infeas_lim: float, gap_lim: float, stall_checks: int,
    stall_rtol: float, state: dict[str, Any],
) -> Callable[[np.ndarray, int, float], bool]:
    """The early exit of a non-tight Peng-Wei solve (settled / stalled), as ``make_settle`` in peng_wei.hpp.

    Below infeasibility ``infeas_lim``, at iterations spaced by ``max(50, it // 4)``, U is rounded
    (:func:`round_factor`, :func:`kmeans`).  Never while U U^T is within ``gap_lim`` of the
    rounding's block matrix or that distance shrank by a quarter since the last rounding;
    otherwise "settled" after three equal partitions in a row, "stalled" (``stall_checks > 0``)
    once the rounding refined by Lloyd's iterations on Y has not lowered the best K-means cost by
    more than a relative ``stall_rtol`` at ``stall_checks`` roundings in a row.  ``state`` gets
    ``stalled``, ``best_rounding``, ``best_cost`` (units of Y) and ``best_iter``.
    """
    st: dict[str, Any] = {"next": 0, "same": 0, "stale": 0, "prev": None, "prev_gap": math.inf}
    state.update(stalled=False, best_rounding=None, best_cost=math.inf, best_iter=0)

    def settle(U: np.ndarray, it: int, infeas: float) -> bool:
        if not infeas <= infeas_lim or it < st["next"]:
            return False
        st["next"] = it + max(50, it // 4)
        lab = kmeans(round_factor(U, K), K, n_init=n_init, seed=seed)[0]
        eq = same_partition(st["prev"], lab, K)
        gap = block_gap(U, lab, K)
        improved = False
        if stall_checks > 0:
            c = lloyd_cost(Y, lab, K)
            if c < state["best_cost"]:
                improved = c < state["best_cost"] * (1.0 - stall_rtol)
                state.update(best_cost=c, best_rounding=lab, best_iter=it)
        st["prev"] = lab
        shrinking = gap < 0.75 * st["prev_gap"]
        st["prev_gap"] = gap
        if gap <= gap_lim or shrinking:
            st["same"] = st["stale"] = 0
            return False
        st["same"] = st["same"] + 1 if eq else 0
        st["stale"] = 0 if improved else st["stale"] + 1
        if st["same"] >= 2:
            return True
        if stall_checks > 0 and st["stale"] >= stall_checks:
            state["stalled"] = True
            return True
        return False

    return settle


def peng_wei(
    X: np.ndarray,
    n_clusters: int,
    *,
    rank: int | None = None,
    tol: float = 1e-6,
    max_iter: int = 20000,
    seed: int = 0,
    dual_c: float = 1.0,
    settle_n_init: int = 0,
    settle_seed: int = 0,
    settle_infeas: float = 1e-2,
    stall_checks: int = 0,
    stall_rtol: float = 1e-9,
    state: dict[str, Any] | None = None,
) -> tuple[NLRResult, float]:
    """Solve the Peng-Wei SDP for data X (rows are points).

    Returns the solver result (on the scaled problem, ``A = Xc Xc^T / ||Xc||_2^2``)
    and the scale ``||Xc||_2^2``; ``-result.objective * scale`` is ``<Xc Xc^T, Z>``.
    ``settle_n_init > 0``: the early exit of :func:`make_settle` (gap limit 1e-2), which fills
    ``state`` when given.
    """
    n = X.shape[0]
    K = int(n_clusters)
    r = 2 * K if rank is None else int(rank)
    Y, s2 = _centre_scale(np.asarray(X, dtype=float))

    def apply_cost(U: np.ndarray) -> np.ndarray:
        out: np.ndarray = -(Y @ (Y.T @ U))
        return out

    U0 = initial_factor(n, r, seed)
    # a moderate penalty cap: past beta n ~ 64 the inner steps (~1 / (beta n)) slow down
    # far more than the multiplier steps speed up
    st: dict[str, Any] = {} if state is None else state
    settle = (
        make_settle(Y, K, settle_n_init, settle_seed, settle_infeas, 1e-2, stall_checks, stall_rtol, st)
        if settle_n_init > 0
        else None
    )
    res = nlr_solve(
        apply_cost, U0, [(0, r, float(K))], tol=tol, max_iter=max_iter, beta_max=64.0 / n, dual_c=dual_c,
        settle=settle,
    )
    return res, s2


def la_sdp_operator(
    X: np.ndarray, covariances: np.ndarray, scale: float | None = None
) -> tuple[Callable[[np.ndarray, int], np.ndarray], float]:
    """``(U_k, k) -> c W_k U_k`` without forming W_k, and the scale c.

    ``W_k = D^(k)/2 + log det(Sigma_k) 1 1^T`` with the Mahalanobis squared
    distances ``D^(k)_ij = (x_i - x_j)^T Sigma_k^{-1} (x_i - x_j)``: with
    ``Y_k = (X - m) L_k^{-T}`` and ``d_k`` its squared row norms,
    ``W_k U = (d_k (1^T U) + 1 (d_k^T U))/2 - Y_k (Y_k^T U) + log det 1 (1^T U)``.
    The centring ``m`` (the data mean) cancels in D.
    """
    Xc = X - X.mean(axis=0)
    Ys, ds, lds = [], [], []
    for S in covariances:
        L = np.linalg.cholesky(S)
        Yk = np.linalg.solve(L, Xc.T).T
        Ys.append(Yk)
        ds.append(np.sum(Yk * Yk, axis=1))
        lds.append(2.0 * float(np.sum(np.log(np.diag(L)))))
    if scale is None:
        scale = 1.0 / max(1.0, max(float(d.max()) for d in ds))

    def apply(U: np.ndarray, k: int) -> np.ndarray:
        s = U.sum(axis=0)
        out = 0.5 * (np.outer(ds[k], s) + np.outer(np.ones(len(ds[k])), ds[k] @ U))
        out -= Ys[k] @ (Ys[k].T @ U)
        out += lds[k] * np.outer(np.ones(U.shape[0]), s)
        return scale * out

    return apply, float(scale)


def la_sdp(
    X: np.ndarray,
    covariances: np.ndarray,
    U0: np.ndarray,
    *,
    rank: int = 2,
    tol: float = 1e-6,
    max_iter: int = 20000,
    settle_every: int = 0,
    settle_infeas: float = 1e-2,
) -> NLRResult:
    """LA-SDP on K factor blocks of ``rank`` columns each, warm-started at U0.

    ``settle_every > 0``: once the infeasibility is below ``settle_infeas``, the block
    labels :func:`labels_from_blocks` are read every ``settle_every`` iterations and the
    solve stops (``settled``) when three readings in a row agree (a round of iLA-SDP needs
    only its labels).
    """
    K = len(covariances)
    apply_k, _ = la_sdp_operator(X, covariances)
    blocks = [(k * rank, rank, 1.0) for k in range(K)]

    def apply_cost(U: np.ndarray) -> np.ndarray:
        return np.concatenate([apply_k(U[:, k * rank : (k + 1) * rank], k) for k in range(K)], axis=1)

    state: dict[str, Any] = {"next": 0, "same": 0, "prev": None}

    def settle(U: np.ndarray, it: int, infeas: float) -> bool:
        if not infeas <= settle_infeas or it < state["next"]:
            return False
        state["next"] = it + settle_every
        lab = labels_from_blocks(U, K, rank)
        eq = state["prev"] is not None and np.array_equal(lab, state["prev"])
        state["prev"] = lab
        state["same"] = state["same"] + 1 if eq else 0
        return bool(state["same"] >= 2)

    return nlr_solve(
        apply_cost, U0, blocks, tol=tol, max_iter=max_iter, beta0=10.0 / X.shape[0], multiplier_init=True,
        settle=settle if settle_every > 0 else None,
    )


def labels_from_blocks(U: np.ndarray, K: int, rank: int) -> np.ndarray:
    """``argmax_k (B_k 1)_i`` with ``B_k = U_k U_k^T`` (first k on ties)."""
    cols = [U[:, k * rank : (k + 1) * rank] @ U[:, k * rank : (k + 1) * rank].sum(axis=0) for k in range(K)]
    out: np.ndarray = np.argmax(np.stack(cols, axis=1), axis=1)
    return out


def ledoit_wolf_intensity(D: np.ndarray) -> float:
    """Ledoit-Wolf (2004) shrinkage intensity of centred points D (n x p), by its definition.

    ``S = D^T D / n``, ``m = tr(S) / p``, ``d^2 = ||S - m I||_F^2``,
    ``b^2 = (1/n^2) sum_i ||x_i x_i^T - S||_F^2``; intensity ``min(b^2, d^2) / d^2``
    (1 when ``d^2 = 0``).  Forms every outer product: O(n p^2) memory, for tests.
    """
    n, p = D.shape
    S = D.T @ D / n
    m = float(np.trace(S)) / p
    d2 = float(np.linalg.norm(S - m * np.eye(p), "fro") ** 2)
    outer = D[:, :, None] * D[:, None, :]
    b2 = float(np.sum((outer - S[None, :, :]) ** 2)) / n**2
    return min(b2, d2) / d2 if d2 > 0.0 else 1.0


def _covariances(
    X: np.ndarray, labels: np.ndarray, K: int, ridge: float, shrinkage: str | float = 0.0
) -> np.ndarray:
    """Cluster covariances ``(1 - a) S_k + a (tr S_k / p) I + ridge * mean feature variance * I``."""
    p = X.shape[1]
    base = float(np.mean(np.var(X, axis=0))) if X.shape[0] > 1 else 1.0
    base = base if base > 0.0 else 1.0
    covs = np.empty((K, p, p))
    for k in range(K):
        Xk = X[labels == k]
        if Xk.shape[0] > 1:
            D = Xk - Xk.mean(axis=0)
            S = D.T @ D / Xk.shape[0]
            a = ledoit_wolf_intensity(D) if shrinkage == "ledoit-wolf" else float(shrinkage)
            S = (1.0 - a) * S + a * (float(np.trace(S)) / p) * np.eye(p)
        else:
            S = np.zeros((p, p))
        covs[k] = S + ridge * base * np.eye(p)
    return covs


def _block_start(labels: np.ndarray, K: int, rank: int, seed: int) -> np.ndarray:
    """Warm start from labels: ``U_k`` columns near ``1_{G_k} / sqrt(rank |G_k|)``, plus 1% noise."""
    n = labels.shape[0]
    noise = initial_factor(n, K * rank, seed, stream=1)
    U = 0.01 * noise / np.sqrt(n * rank)
    for k in range(K):
        m = labels == k
        c = max(int(m.sum()), 1)
        U[m, k * rank : (k + 1) * rank] += 1.0 / np.sqrt(rank * c)
    out: np.ndarray = U
    return out


def ila_sdp(
    X: np.ndarray,
    n_clusters: int,
    *,
    ridge: float = 1e-3,
    shrinkage: str | float = 0.0,
    max_rounds: int = 10,
    rank: int = 2,
    tol: float = 1e-6,
    max_iter: int = 20000,
    seed: int = 0,
    init_labels: np.ndarray | None = None,
    settle_every: int = 25,
    settle_infeas: float = 3e-3,
) -> tuple[np.ndarray, np.ndarray, int]:
    """iLA-SDP: Peng-Wei start, then covariance / LA-SDP rounds until labels repeat.

    Coarse rounds (each solve ends once its labels settle, ``settle_every > 0``) until the
    labels repeat, then rounds solved to ``tol`` until they repeat again.

    Returns (labels, covariances, rounds).
    """
    X = np.asarray(X, dtype=float)
    K = int(n_clusters)
    if init_labels is None:
        res, _ = peng_wei(X, K, tol=tol, max_iter=max_iter, seed=seed)
        labels = kmeans(round_factor(res.U, K), K, seed=seed)[0]
    else:
        labels = np.asarray(init_labels)
    U = _block_start(labels, K, rank, seed)
    rounds = 0
    precise = settle_every <= 0
    for rounds in range(1, max_rounds + 1):
        covs = _covariances(X, labels, K, ridge, shrinkage)
        res = la_sdp(
            X, covs, U, rank=rank, tol=tol, max_iter=max_iter, settle_every=0 if precise else settle_every,
            settle_infeas=settle_infeas,
        )
        new = labels_from_blocks(res.U, K, rank)
        U = res.U
        if np.array_equal(new, labels):
            if not precise:  # coarse rounds (labels settled) until they repeat, then solved to tol
                precise = True
                continue
            break
        labels = new
    return labels, _covariances(X, labels, K, ridge, shrinkage), rounds


def round_factor(U: np.ndarray, K: int) -> np.ndarray:
    """Top-K left singular vectors of U (n x K), signs fixed so each column sums >= 0."""
    w, V = np.linalg.eigh(U.T @ U)
    order = np.argsort(w)[::-1][:K]
    w, V = w[order], V[:, order]
    sv = np.sqrt(np.maximum(w, 0.0))
    safe = np.where(sv > 1e-300, sv, 1.0)
    L = (U @ V) / safe
    L[:, sv <= 1e-300] = 0.0
    out: np.ndarray = L
    return out


def kmeans(
    Y: np.ndarray, K: int, *, n_init: int = 10, max_iter: int = 300, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means++ seeding (Philox draws) then Lloyd; best of ``n_init`` by inertia.

    Returns (labels, centres, inertia).
    """
    n = Y.shape[0]
    best = None
    for init in range(n_init):
        u = _random.uniform(seed, 1000 + init, K)
        C = np.empty((K, Y.shape[1]))
        C[0] = Y[min(int(u[0] * n), n - 1)]
        d2 = np.sum((Y - C[0]) ** 2, axis=1)
        for k in range(1, K):
            tot = float(d2.sum())
            if tot <= 0.0:
                C[k] = Y[min(int(u[k] * n), n - 1)]
            else:
                idx = int(np.searchsorted(np.cumsum(d2), u[k] * tot, side="right"))
                C[k] = Y[min(idx, n - 1)]
            d2 = np.minimum(d2, np.sum((Y - C[k]) ** 2, axis=1))
        lab = np.full(n, -1)
        for _ in range(max_iter):
            D = np.sum((Y[:, None, :] - C[None, :, :]) ** 2, axis=2)
            new = np.argmin(D, axis=1)
            dmin = D[np.arange(n), new]
            for k in range(K):  # an empty cluster takes the point farthest from its centre
                if not np.any(new == k):
                    far = int(np.argmax(dmin))
                    new[far] = k
                    dmin[far] = D[far, k]
            if np.array_equal(new, lab):
                break
            lab = new
            for k in range(K):
                C[k] = Y[lab == k].mean(axis=0)
        inertia = float(np.sum((Y - C[lab]) ** 2))
        if best is None or inertia < best[2] - 1e-12 * max(1.0, abs(best[2])):
            best = (lab.copy(), C.copy(), inertia)
    assert best is not None
    return best
