"""Pure-numpy reference of the ELBO kernels (the tests' oracle for the C++ core).

Written independently of ``cpp/include/ridgeline/elbo``: it never imports
``ridgeline._core`` and draws every random number through ``ridgeline._random``
(the numpy Philox twin).  The plans it builds must be bit-identical to the
compiled ones; its Sobol points must match to rounding of the normal quantile.
"""

from __future__ import annotations

import math

import numpy as np

from ridgeline import _random

__all__ = [
    "SCHEMES",
    "coupled_load_reference",
    "plan_reference",
    "reduce_terms_reference",
    "sobol_directions_reference",
    "sobol_reference",
    "sqrt_l_density_reference",
    "stratum_l_reference",
]

SCHEMES = ("double_mc", "stratified_t", "systematic_t", "stratified_l", "systematic_l", "quadrature", "coupled_l")
_EVAL_BITS = 24


def _eval_stream(row: int, k: int) -> int:
    return (int(row) << _EVAL_BITS) | (int(k) + 1)


def stratum_l_reference(v: np.ndarray, k: np.ndarray, n: int, budget: int) -> np.ndarray:
    """Masked-token count of stratum ``k`` at offset ``v``: ``floor((k + v) n / B) + 1`` clipped to [1, n]."""
    x = (np.asarray(k, dtype=np.float64) + np.asarray(v, dtype=np.float64)) * float(n) / float(budget)
    return np.clip(np.floor(x).astype(np.int64) + 1, 1, n)


def sqrt_l_density_reference(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``p[l]`` proportional to ``1 / sqrt(l)`` on 1..n and ``F[l] = p[1] + ... + p[l]`` (index 0: zero).

    Both sums run in increasing ``l`` (``np.cumsum`` adds sequentially), as in the compiled core.
    """
    w = np.zeros(n + 1)
    w[1:] = 1.0 / np.sqrt(np.arange(1, n + 1, dtype=np.float64))
    z = float(np.cumsum(w[1:])[-1]) if n else 1.0
    p = w / z
    F = np.zeros(n + 1)
    F[1:] = np.cumsum(p[1:])
    return p, F


def coupled_load_reference(ell: np.ndarray) -> np.ndarray:
    """Integer proxy ``floor(2**24 / sqrt(l))`` of the per-token weight of an l-mask (placement only)."""
    return np.floor(16777216.0 / np.sqrt(np.asarray(ell, dtype=np.float64))).astype(np.uint64)


def _plan_row_coupled(pos: np.ndarray, row: int, key: int, B: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One row of scheme "coupled_l": l from the density p ~ 1/sqrt(l) (stratified), cyclic windows of one
    random permutation of the row's positions, placed greedily on the least-loaded positions."""
    n = pos.size
    p, F = sqrt_l_density_reference(n)
    v = _random.to_uniform(_random.words(key, np.array([_eval_stream(row, k) for k in range(B)], dtype=np.uint64), 0))
    u = (np.arange(B) + v) / B
    ell = np.minimum(np.searchsorted(F[1:], u, side="right") + 1, n).astype(np.int64)
    coef = 1.0 / (B * ell.astype(np.float64) * p[ell])
    w = _random.words(key, int(row) << _EVAL_BITS, np.arange(1, n + 1, dtype=np.uint64))
    perm = np.lexsort((np.arange(n), w))  # by word, ties by index
    load = np.zeros(n, dtype=np.uint64)
    offset = np.zeros(B, dtype=np.int64)
    q = coupled_load_reference(ell)
    for k in np.argsort(ell, kind="stable"):
        m = int(ell[k])
        o = 0
        if m < n:
            c = np.zeros(2 * n + 1, dtype=np.uint64)
            np.cumsum(np.concatenate([load, load]), out=c[1:])
            o = int(np.argmin(c[m : m + n] - c[:n]))  # first offset of least load
        offset[k] = o
        load[(o + np.arange(m)) % n] += q[k]
    chosen = [np.sort(pos[perm[(offset[k] + np.arange(ell[k])) % n]]) for k in range(B)]
    return ell, coef, chosen


def plan_reference(
    positions: list[np.ndarray],
    row_ids: np.ndarray,
    key: int,
    scheme: str,
    mask: str,
    budget: int,
    t_min: float,
    nodes: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Build a plan row by row; returns ``(t, coef, indptr, indices)`` like ``_core.elbo.plan``."""
    batch = len(positions)
    B = int(budget)
    t_all = np.zeros(batch * B)
    coef_all = np.zeros(batch * B)
    counts = np.zeros(batch * B, dtype=np.int64)
    chunks: list[np.ndarray] = []
    Q = len(nodes)
    for b in range(batch):
        pos = np.asarray(positions[b], dtype=np.int64)
        n = pos.size
        if n == 0:
            chunks.extend(np.zeros(0, dtype=np.int64) for _ in range(B))
            continue
        row = int(row_ids[b])
        if scheme == "coupled_l":
            ell_c, coef_c, chosen_c = _plan_row_coupled(pos, row, key, B)
            t_all[b * B : (b + 1) * B] = ell_c / n
            coef_all[b * B : (b + 1) * B] = coef_c
            counts[b * B : (b + 1) * B] = ell_c
            chunks.extend(chosen_c)
            continue
        row_v = float(_random.to_uniform(_random.words(key, row << _EVAL_BITS, 0)))
        for k in range(B):
            stream = _eval_stream(row, k)
            v = float(_random.to_uniform(_random.words(key, stream, 0)))
            key_stream, shift = stream, 0.0
            if scheme == "quadrature":
                q, rep = k % Q, k // Q
                key_stream = _eval_stream(row, q)
                shift = rep / (B // Q + (1 if q < B % Q else 0))
            keys = _random.to_uniform(_random.words(key, key_stream, np.arange(1, n + 1, dtype=np.uint64))) + shift
            keys = np.where(keys >= 1.0, keys - 1.0, keys)
            ell = -1
            if scheme in ("double_mc", "stratified_t", "systematic_t"):
                u = v
                if scheme == "stratified_t":
                    u = (k + v) / B
                elif scheme == "systematic_t":
                    u = (k + row_v) / B
                t = t_min + (1.0 - t_min) * u
                c = 1.0 / (B * t)
            elif scheme in ("stratified_l", "systematic_l"):
                ell = int(stratum_l_reference(np.array([v if scheme == "stratified_l" else row_v]), np.array([k]), n, B)[0])
                t = ell / n
                c = n / (B * ell)
            else:  # quadrature
                q = k % Q
                reps = B // Q + (1 if q < B % Q else 0)
                t = float(nodes[q])
                c = float(weights[q]) / (t * reps)
            if ell < 0 and mask == "exact_k":
                ell = min(int(math.floor(t * n)), n)
            if ell < 0:
                chosen = pos[keys < t]
            else:
                order = np.lexsort((np.arange(n), keys))  # by key, ties by index
                chosen = np.sort(pos[order[:ell]])
            t_all[b * B + k] = t
            coef_all[b * B + k] = c
            counts[b * B + k] = chosen.size
            chunks.append(chosen)
    indptr = np.zeros(batch * B + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return t_all, coef_all, indptr, indices.astype(np.int64)


def reduce_terms_reference(indptr: np.ndarray, indices: np.ndarray, coef: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """``coef[j] * sum(logp[j, masked])`` for every evaluation row ``j``."""
    rows = logp.shape[0]
    row_of = np.repeat(np.arange(rows), np.diff(indptr))
    vals = logp[row_of, indices]
    if np.any(np.isnan(vals)) or np.any(vals == np.inf):
        msg = "logp has a nan or +inf at a masked position"
        raise ValueError(msg)
    sums = np.zeros(rows)
    np.add.at(sums, row_of, vals)
    out = coef * sums
    out[np.diff(indptr) == 0] = 0.0
    return out


# ---------------------------------------------------------------------------------------------
# Sobol points


def _gf2_mulmod(a: int, b: int, p: int, s: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> s) & 1:
            a ^= p
    return r


def _gf2_powmod(e: int, p: int, s: int) -> int:
    result, base = 1, (2 if s > 1 else 1)
    while e:
        if e & 1:
            result = _gf2_mulmod(result, base, p, s)
        base = _gf2_mulmod(base, base, p, s)
        e >>= 1
    return result


def _prime_factors(m: int) -> list[int]:
    out, q = [], 2
    while q * q <= m:
        if m % q == 0:
            out.append(q)
            while m % q == 0:
                m //= q
        q += 1
    if m > 1:
        out.append(m)
    return out


def _primitive_polynomials(count: int) -> list[tuple[int, int]]:
    """The first ``count`` primitive polynomials over GF(2) as (encoding, degree), by degree then value."""
    out: list[tuple[int, int]] = []
    s = 1
    while len(out) < count:
        order = (1 << s) - 1
        factors = _prime_factors(order) if order > 1 else []
        for p in range((1 << s) | 1, 1 << (s + 1), 2):
            if _gf2_powmod(order, p, s) != 1:
                continue
            if any(_gf2_powmod(order // q, p, s) == 1 for q in factors if q != order or s == 1):
                continue
            out.append((p, s))
            if len(out) == count:
                break
        s += 1
    return out


_DIRECTION_KEY = 0x50B01D1EC7100


def sobol_directions_reference(d: int) -> np.ndarray:
    """Direction numbers ``v[j, b]`` (uint32, b = 0 the leading digit) of the first ``d`` dimensions."""
    v = np.zeros((d, 32), dtype=np.uint64)
    v[0] = [1 << (31 - b) for b in range(32)]
    for j, (p, s) in enumerate(_primitive_polynomials(d - 1), start=1):
        m = [0] * 33
        m[1] = 1
        for k in range(2, s + 1):
            w = int(_random.words(_DIRECTION_KEY, j, k))
            m[k] = ((w >> (65 - k)) << 1) | 1
        for k in range(s + 1, 33):
            x = m[k - s] ^ (m[k - s] << s)
            for i in range(1, s):
                if (p >> (s - i)) & 1:
                    x ^= m[k - i] << i
            m[k] = x
        v[j] = [(m[k] << (32 - k)) & 0xFFFFFFFF for k in range(1, 33)]
    return v.astype(np.uint32)


def sobol_reference(n: int, d: int, key: int, *, scramble: bool = True, normal: bool = False) -> np.ndarray:
    """First ``n`` points of the ``d``-dimensional Sobol sequence, Owen-scrambled under ``key``."""
    v = sobol_directions_reference(d).astype(np.uint64)
    idx = np.arange(n, dtype=np.uint64)
    bits = ((idx[:, None] >> np.arange(32, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(bool)  # (n, 32)
    out = np.empty((n, d))
    for j in range(d):
        x = np.zeros(n, dtype=np.uint64)
        for b in range(32):
            x[bits[:, b]] ^= v[j, b]
        if scramble:
            flips = np.zeros(n, dtype=np.uint64)
            for k in range(32):
                prefix = x >> np.uint64(32 - k) if k else np.zeros(n, dtype=np.uint64)
                node = (np.uint64(1) << np.uint64(k)) | prefix
                bit = _random.words(key, j, node) >> np.uint64(63)
                flips |= bit << np.uint64(31 - k)
            y = x ^ flips
            low = _random.to_uniform(_random.words(key, j, (np.uint64(1) << np.uint64(33)) | x))
            u = (y.astype(np.float64) + low) * 2.0**-32
            u = np.where(u >= 1.0, 1.0 - 2.0**-53, u)
        else:
            u = x.astype(np.float64) * 2.0**-32
        out[:, j] = u
    if normal:
        from scipy.special import ndtri

        out = ndtri(out)
    return out
