"""Pure-numpy references of the spectra kernels (the tests' oracles).

Written independently of the C++ (never imports ``ridgeline._core``); the
random probes come from the numpy Philox reference ``ridgeline._random``, so
with the same seed the reference and the kernels see the same vectors.

- :func:`tridiagonal_eigh`: dense ``numpy.linalg.eigh`` of the tridiagonal matrix.
- :func:`lanczos_eigs`: thick-restart Lanczos with full reorthogonalisation.
- :func:`slq`: stochastic Lanczos quadrature (with the optional deflation).
- :func:`trace_estimate`: Hutchinson, Hutch++ and the sketch-based choice between them.
- :func:`krylov_trace`: Krylov-deflated Hutchinson with a data-driven Krylov depth.
- :func:`mlp_loss_grad`, :func:`mlp_hvp`, :func:`mlp_gnvp`: the MLP and its
  exact Hessian / Gauss-Newton products by Pearlmutter's R-operator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ridgeline import _random

__all__ = [
    "krylov_trace",
    "lanczos_eigs",
    "mlp_gnvp",
    "mlp_hvp",
    "mlp_loss_grad",
    "normal_vector",
    "rademacher_vector",
    "slq",
    "trace_estimate",
    "tridiagonal_eigh",
]

Matvec = Callable[[np.ndarray], np.ndarray]
_EPS = np.finfo(np.float64).eps


def tridiagonal_eigh(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the tridiagonal matrix (alpha, beta)."""
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    return np.linalg.eigh(T)


def normal_vector(seed: int, stream: int, n: int) -> np.ndarray:
    """Gaussian probe of a stream (Box-Muller normals of the Philox reference)."""
    return _random.normal(seed, stream, n)


def rademacher_vector(seed: int, stream: int, n: int) -> np.ndarray:
    """Rademacher probe: entry i is +1 when bit i % 64 of word i // 64 of the stream is set."""
    i = np.arange(n, dtype=np.uint64)
    w = _random.words(seed, stream, i >> np.uint64(6))
    bits = (w >> (i & np.uint64(63))) & np.uint64(1)
    return np.where(bits == 1, 1.0, -1.0)


def _orth(V: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classical Gram-Schmidt twice; returns (r orthogonalised, coefficients)."""
    h = np.zeros(V.shape[1])
    for _ in range(2):
        c = V.T @ r
        r = r - V @ c
        h += c
    return r, h


def _order(theta: np.ndarray, which: str) -> np.ndarray:
    m = theta.size
    if which == "LA":
        return np.arange(m)[::-1]
    if which == "SA":
        return np.arange(m)
    if which == "LM":
        return np.argsort(-np.abs(theta), kind="stable")
    out, lo, hi, high = [], 0, m - 1, True
    while lo <= hi:
        if high:
            out.append(hi)
            hi -= 1
        else:
            out.append(lo)
            lo += 1
        high = not high
    return np.array(out, dtype=int)


def lanczos_eigs(
    matvec: Matvec,
    n: int,
    k: int,
    which: str = "LA",
    tol: float = 1e-10,
    ncv: int | None = None,
    max_matvec: int = 10000,
    seed: int = 0,
) -> dict[str, object]:
    """Thick-restart Lanczos (full reorthogonalisation); the kernels' algorithm step by step.

    Returns a dict with ``eigenvalues`` (ascending), ``eigenvectors``,
    ``residuals`` (true), ``n_matvec`` and ``converged``.
    """
    m = min(n, max(2 * k + 1, 20)) if ncv is None else ncv
    V = np.zeros((n, m + 1))
    W = np.zeros((n, m))
    T = np.zeros((m + 1, m + 1))
    v = normal_vector(seed, 0, n)
    V[:, 0] = v / np.linalg.norm(v)
    j, n_mv, anorm, restarts, converged, prev_breakdown = 0, 0, 0.0, 0, False, False
    while True:
        w = matvec(V[:, j].copy())
        n_mv += 1
        W[:, j] = w
        r, h = _orth(V[:, : j + 1], w)
        T[j, j] = h[j]
        beta = float(np.linalg.norm(r))
        size = j + 1
        theta, S = np.linalg.eigh(T[:size, :size])
        anorm = max(anorm, np.abs(theta).max())
        exhausted = size == n
        breakdown = not exhausted and beta <= 1e-12 * max(anorm, _EPS)
        if exhausted:
            beta = 0.0
        if size >= k:
            want = _order(theta, which)[:k]
            res = beta * np.abs(S[j, want])
            scale = tol * np.maximum(np.abs(theta[want]), np.cbrt(_EPS * _EPS) * anorm)
            ok = bool(np.all(res <= scale))  # ARPACK's Ritz-estimate test
            # after a breakdown, accept only if a fresh direction breaks down again at once
            if (ok and (not breakdown or prev_breakdown)) or exhausted or n_mv >= max_matvec:
                converged = bool(ok or exhausted)
                break
        prev_breakdown = breakdown
        if breakdown:
            restarts += 1
            v = normal_vector(seed, restarts, n)
            v, _ = _orth(V[:, :size], v)
            r, beta = v / np.linalg.norm(v), 0.0
        else:
            r = r / beta
        if size == m:
            order = _order(theta, which)
            keep = min(size - 1, k + (m - k) // 2)
            sel = order[:keep]
            V[:, :keep] = V[:, :size] @ S[:, sel]
            W[:, :keep] = W[:, :size] @ S[:, sel]
            V[:, keep] = r
            T[:] = 0.0
            T[np.arange(keep), np.arange(keep)] = theta[sel]
            T[:keep, keep] = T[keep, :keep] = beta * S[size - 1, sel]
            j = keep
        else:
            V[:, size] = r
            T[j, size] = T[size, j] = beta
            j = size
    want = np.sort(_order(theta, which)[:k])
    X = V[:, :size] @ S[:, want]
    AX = W[:, :size] @ S[:, want]
    res = np.linalg.norm(AX - X * theta[want], axis=0)
    return {"eigenvalues": theta[want], "eigenvectors": X, "residuals": res, "n_matvec": n_mv, "converged": converged}


def _lanczos_run(
    matvec: Matvec, v: np.ndarray, m: int, U: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Plain Lanczos with full reorthogonalisation (also against U) from unit v: (alpha, beta, V, last beta)."""
    V = [v]
    alpha: list[float] = []
    beta: list[float] = []
    anorm = 0.0
    while True:
        w = matvec(V[-1].copy())
        r = w
        if U.shape[1]:
            r, _ = _orth(U, r)
        Vm = np.column_stack(V)
        r, h = _orth(Vm, r)
        alpha.append(h[-1])
        anorm = max(anorm, abs(h[-1]))
        b = float(np.linalg.norm(r))
        anorm = max(anorm, b)
        if len(alpha) >= m or b <= 1e-12 * max(anorm, _EPS) or U.shape[1] + len(alpha) >= n:
            return np.array(alpha), np.array(beta), Vm, b
        beta.append(b)
        V.append(r / b)


def slq(
    matvec: Matvec,
    n: int,
    n_probes: int = 10,
    n_steps: int = 80,
    seed: int = 0,
    deflate: bool = True,
    deflate_tol: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Stochastic Lanczos quadrature: (nodes, weights, n_deflated), as the kernel computes it."""
    m = min(n_steps, n)
    deflate = deflate and n_probes > 1
    U = np.zeros((n, 0))
    U_vals = np.zeros(0)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    first = 0
    if deflate:
        v = normal_vector(seed, 0, n)
        a, b, V, last = _lanczos_run(matvec, v / np.linalg.norm(v), m, U, n)
        theta, S = tridiagonal_eigh(a, b)
        scale = max(np.abs(theta).max(), _EPS)
        conv = np.flatnonzero(last * np.abs(S[-1, :]) <= deflate_tol * scale)
        if conv.size:
            U = np.linalg.qr(V @ S[:, conv])[0]
            U_vals = theta[conv]
        w = S[0, :] ** 2
        keep = np.setdiff1d(np.arange(theta.size), conv)
        mass = w[keep].sum()
        if keep.size and mass > 1e-8:
            parts.append((theta[keep], w[keep] / mass))
        first = 1
    if U.shape[1] < n:
        for p in range(first, n_probes):
            v = normal_vector(seed, p, n)
            if U.shape[1]:
                v, _ = _orth(U, v)
            nv = np.linalg.norm(v)
            if not nv > 0:
                continue
            a, b, _, _ = _lanczos_run(matvec, v / nv, m, U, n)
            theta, S = tridiagonal_eigh(a, b)
            parts.append((theta, S[0, :] ** 2))
    r = U.shape[1]
    nodes = [U_vals]
    weights = [np.full(r, 1.0 / n)]
    if r < n and parts:
        scale = (n - r) / n / len(parts)
        for t, w in parts:
            nodes.append(t)
            weights.append(scale * w)
    return np.concatenate(nodes), np.concatenate(weights), r


def trace_estimate(
    matmat: Callable[[np.ndarray], np.ndarray], n: int, method: str = "auto", budget: int = 99, seed: int = 0
) -> dict[str, object]:
    """Hutchinson / Hutch++ / automatic choice / exact, as the kernel computes them."""

    def probes(first: int, count: int) -> np.ndarray:
        return np.column_stack([rademacher_vector(seed, first + c, n) for c in range(count)]) if count else np.zeros((n, 0))

    def finish(samples: np.ndarray, offset: float, name: str) -> dict[str, object]:
        se = float(np.std(samples, ddof=1) / np.sqrt(samples.size)) if samples.size >= 2 else np.inf
        return {"value": offset + float(np.mean(samples)), "stderr": se, "method": name, "n_matvec": budget}

    if budget >= n or method == "exact":
        return {"value": float(np.trace(matmat(np.eye(n)))), "stderr": 0.0, "method": "exact", "n_matvec": n}
    if method == "hutchinson" or (method == "auto" and budget < 12):
        Z = probes(0, budget)
        return finish(np.einsum("ij,ij->j", Z, matmat(Z)), 0.0, "hutchinson")
    s = budget // 3
    S = probes(0, s)
    Y = matmat(S)
    use_pp = method == "hutch++"
    if method == "auto":
        h = s // 2
        Q1 = np.linalg.qr(Y[:, :h])[0]
        Y2 = Y[:, h:]
        frob = np.sum(Y2**2) / (s - h)
        tail = np.sum((Y2 - Q1 @ (Q1.T @ Y2)) ** 2) / (s - h)
        use_pp = frob > 0 and (tail / (budget - 2 * s)) / (frob / budget) < 1.0
    if not use_pp:
        Z = probes(s, budget - s)
        samples = np.concatenate([np.einsum("ij,ij->j", S, Y), np.einsum("ij,ij->j", Z, matmat(Z))])
        return finish(samples, 0.0, "hutchinson")
    Q = np.linalg.qr(Y)[0]
    exact = float(np.trace(Q.T @ matmat(Q)))
    G = probes(s, budget - 2 * s)
    G = G - Q @ (Q.T @ G)
    return finish(np.einsum("ij,ij->j", G, matmat(G)), exact, "hutch++")


def krylov_trace(
    matmat: Callable[[np.ndarray], np.ndarray], n: int, budget: int = 99, seed: int = 0, fallback: bool = True
) -> dict[str, object]:
    """Krylov-deflated Hutchinson, as the kernel computes it (written out plainly).

    Lanczos from the Rademacher probe of stream 0 (normalised) builds Q; after
    each product the residual Frobenius mass ``||(I - P) A (I - P)||_F^2`` is
    estimated by the mean of ``||(I - P) A (I - P) z||^2`` over the first
    ``m // 4`` probes; stop when the mean decrease over the last 3 steps no
    longer exceeds ``R / (m - j)``.  Probes of streams 1..m-j are
    deflated afterwards through ``A (I - P) z = A z - (A Q) Q^T z``.
    """
    m = budget
    g1 = max(2, m // 4)
    jmax = m - g1
    z0 = rademacher_vector(seed, 0, n)
    Z = np.column_stack([rademacher_vector(seed, i, n) for i in range(1, g1 + 1)])
    first = matmat(np.column_stack([z0 / np.sqrt(n), Z]))
    AZ = first[:, 1:]
    Q = (z0 / np.sqrt(n))[:, None]
    AQ = first[:, :1]
    R_hist: list[float] = []
    while True:
        j = Q.shape[1]
        r, _ = _orth(Q, AQ[:, -1])
        b = float(np.linalg.norm(r))
        C = Q.T @ Z
        B = AZ - AQ @ C
        B = B - Q @ (Q.T @ B)
        R = float(np.sum(B**2)) / g1
        R_hist.append(R)
        more = j < jmax and b > 1e-12 * np.sqrt(np.sum(AQ**2))
        if more and j >= 4:
            more = (R_hist[j - 4] - R) / 3.0 > R / (m - j)
        if not more:
            break
        q = r / b
        Q = np.column_stack([Q, q])
        AQ = np.column_stack([AQ, matmat(q[:, None])[:, 0]])
    j = Q.shape[1]
    g = m - j
    if g > g1:
        Z2 = np.column_stack([rademacher_vector(seed, i, n) for i in range(g1 + 1, g + 1)])
        Z = np.column_stack([Z, Z2])
        AZ = np.column_stack([AZ, matmat(Z2)])
    C = Q.T @ Z
    res = np.einsum("ij,ij->j", Z - Q @ C, AZ - AQ @ C)
    hut = np.concatenate([[z0 @ AQ[:, 0] * np.sqrt(n)], np.einsum("ij,ij->j", Z, AZ)])
    k_val = float(np.trace(Q.T @ AQ) + res.mean())
    k_se = float(np.std(res, ddof=1) / np.sqrt(g))
    h_se = float(np.std(hut, ddof=1) / np.sqrt(g + 1))
    out = {"n_krylov": j, "n_matvec": m, "krylov_value": k_val, "krylov_stderr": k_se}
    if fallback and h_se < k_se:
        out.update(value=float(hut.mean()), stderr=h_se, method="hutchinson", samples=hut)
    else:
        out.update(value=k_val, stderr=k_se, method="krylov", samples=res)
    return out


# ---------------------------------------------------------------------- MLP
def _unflatten(sizes: Sequence[int], p: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    out, o = [], 0
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        W = p[o : o + d_in * d_out].reshape(d_out, d_in)
        o += d_in * d_out
        out.append((W, p[o : o + d_out]))
        o += d_out
    return out


def _act(z: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if activation == "tanh":
        a = np.tanh(z)
        d1 = 1.0 - a * a
        return a, d1, -2.0 * a * d1
    return np.maximum(z, 0.0), (z > 0).astype(z.dtype), np.zeros_like(z)


def _forward(
    sizes: Sequence[int], activation: str, p: np.ndarray, X: np.ndarray
) -> tuple[list[np.ndarray], list[Any]]:
    """Activations of every layer, and (d1, d2) of the activation at each hidden layer (None at the input)."""
    layers = _unflatten(sizes, p)
    acts: list[np.ndarray] = [X]
    derivs: list[Any] = [None]
    h = X
    for i, (W, b) in enumerate(layers):
        z = h @ W.T + b
        if i + 1 < len(layers):
            h, d1, d2 = _act(z, activation)
            acts.append(h)
            derivs.append((d1, d2))
        else:
            acts.append(z)
    return acts, derivs


def _out_grad(z: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, np.ndarray, np.ndarray | None]:
    N = z.shape[0]
    if loss == "cross_entropy":
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        s = e.sum(axis=1, keepdims=True)
        P = e / s
        value = float(np.mean(zmax[:, 0] + np.log(s[:, 0]) - z[np.arange(N), y]))
        d = P.copy()
        d[np.arange(N), y] -= 1.0
        return value, d / N, P
    r = z - y.reshape(z.shape)
    return 0.5 * float(np.sum(r * r)) / N, r / N, None


def mlp_loss_grad(
    sizes: Sequence[int], activation: str, loss: str, params: np.ndarray, X: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean loss and its gradient (plain backpropagation)."""
    layers = _unflatten(sizes, params)
    acts, derivs = _forward(sizes, activation, params, X)
    value, d, _ = _out_grad(acts[-1], y, loss)
    grads = []
    for i in range(len(layers) - 1, -1, -1):
        W, _ = layers[i]
        grads.append((d.T @ acts[i], d.sum(axis=0)))
        if i > 0:
            d = (d @ W) * derivs[i][0]
    flat = [g for pair in reversed(grads) for g in (pair[0].ravel(), pair[1])]
    return value, np.concatenate(flat)


def _r_product(
    sizes: Sequence[int], activation: str, loss: str, params: np.ndarray, X: np.ndarray, y: np.ndarray,
    v: np.ndarray, gauss_newton: bool,
) -> np.ndarray:
    layers = _unflatten(sizes, params)
    dirs = _unflatten(sizes, v)
    acts, derivs = _forward(sizes, activation, params, X)
    _, d_out, P = _out_grad(acts[-1], y, loss)
    N = X.shape[0]
    L = len(layers)
    # backward deltas
    deltas: list[np.ndarray | None] = [None] * (L + 1)
    pre: list[np.ndarray | None] = [None] * (L + 1)
    deltas[L] = d_out
    for i in range(L - 1, 0, -1):
        pre[i] = deltas[i + 1] @ layers[i][0]
        deltas[i] = pre[i] * derivs[i][0]
    # R-forward
    R_act = [np.zeros_like(X)]
    R_z: list[np.ndarray | None] = [None]
    for i, ((W, _), (V, vb)) in enumerate(zip(layers, dirs)):
        rz = R_act[i] @ W.T + acts[i] @ V.T + vb
        R_z.append(rz)
        if i + 1 < L:
            R_act.append(rz * derivs[i + 1][0])
    rz = R_z[L]
    if loss == "cross_entropy":
        assert P is not None
        Rd = (P * rz - P * np.sum(P * rz, axis=1, keepdims=True)) / N
    else:
        Rd = rz / N
    out = []
    for i in range(L - 1, -1, -1):
        W, _ = layers[i]
        V, _ = dirs[i]
        gW = Rd.T @ acts[i]
        if not gauss_newton:
            d = deltas[i + 1]
            assert d is not None
            gW = gW + d.T @ R_act[i]
        out.append((gW, Rd.sum(axis=0)))
        if i > 0:
            nxt = Rd @ W
            if not gauss_newton:
                nxt = nxt + deltas[i + 1] @ V
            nxt = nxt * derivs[i][0]
            if not gauss_newton:
                nxt = nxt + pre[i] * derivs[i][1] * R_z[i]
            Rd = nxt
    flat = [g for pair in reversed(out) for g in (pair[0].ravel(), pair[1])]
    return np.concatenate(flat)


def _cast(dtype: Any, params: np.ndarray, X: np.ndarray, y: np.ndarray, v: np.ndarray, loss: str) -> tuple[Any, ...]:
    """Inputs rounded to ``dtype`` (float32: the arithmetic of a float32 network); labels stay integers."""
    dt = np.dtype(dtype)
    yy = np.asarray(y) if loss == "cross_entropy" else np.asarray(y, dtype=dt)
    return np.asarray(params, dtype=dt), np.asarray(X, dtype=dt), yy, np.asarray(v, dtype=dt)


def mlp_hvp(
    sizes: Sequence[int], activation: str, loss: str, params: np.ndarray, X: np.ndarray, y: np.ndarray, v: np.ndarray,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Exact Hessian-vector product of the mean loss (Pearlmutter's R-operator), computed in ``dtype``."""
    p, Xc, yc, vc = _cast(dtype, params, X, y, v, loss)
    return _r_product(sizes, activation, loss, p, Xc, yc, vc, False)


def mlp_gnvp(
    sizes: Sequence[int], activation: str, loss: str, params: np.ndarray, X: np.ndarray, y: np.ndarray, v: np.ndarray,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Generalised Gauss-Newton product ``J^T H_out J v``, computed in ``dtype``."""
    p, Xc, yc, vc = _cast(dtype, params, X, y, v, loss)
    return _r_product(sizes, activation, loss, p, Xc, yc, vc, True)
