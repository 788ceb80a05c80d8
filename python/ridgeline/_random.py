"""Pure-numpy reference of ridgeline's counter-based generator (Philox4x32-10).

It mirrors ``cpp/include/ridgeline/common/random.hpp`` bit for bit and never
calls the compiled core; tests compare the two.  Any engine that needs draws
that are a pure function of ``(seed, stream, position)`` in Python uses it.
"""

from __future__ import annotations

import math

import numpy as np

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def philox4x32_10(ctr: np.ndarray, seed: int) -> np.ndarray:
    """Philox4x32-10 on counters of shape (..., 4) (uint32 words) with a 64-bit key."""
    c = np.asarray(ctr, dtype=np.uint64) & _MASK32
    c0, c1, c2, c3 = (c[..., i].copy() for i in range(4))
    k0 = np.uint64(seed & 0xFFFFFFFF)
    k1 = np.uint64((seed >> 32) & 0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0 = _M0 * c0
            p1 = _M1 * c2
            hi0, lo0 = p0 >> _S32, p0 & _MASK32
            hi1, lo1 = p1 >> _S32, p1 & _MASK32
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
    return np.stack([c0, c1, c2, c3], axis=-1)


def words(seed: int, stream: int | np.ndarray, index: int | np.ndarray) -> np.ndarray:
    """64-bit word ``index`` of stream ``stream`` (broadcasting), as uint64."""
    stream = np.asarray(stream, dtype=np.uint64)
    index = np.asarray(index, dtype=np.uint64)
    stream, index = np.broadcast_arrays(stream, index)
    block = index >> np.uint64(1)
    ctr = np.stack(
        [block & _MASK32, block >> _S32, stream & _MASK32, stream >> _S32], axis=-1
    )
    out = philox4x32_10(ctr, int(seed))
    lo = (out[..., 1] << _S32) | out[..., 0]
    hi = (out[..., 3] << _S32) | out[..., 2]
    out_words: np.ndarray = np.where((index & np.uint64(1)) == 0, lo, hi)
    return out_words


def to_uniform(w: np.ndarray) -> np.ndarray:
    """64 random bits -> float64 in the open interval (0, 1)."""
    u: np.ndarray = ((np.asarray(w, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return u


def uniform(seed: int, stream: int, n: int) -> np.ndarray:
    """The first ``n`` uniforms of a stream (same as ``_core.random.uniform``)."""
    return to_uniform(words(seed, stream, np.arange(n, dtype=np.uint64)))


def normal(seed: int, stream: int, n: int) -> np.ndarray:
    """The first ``n`` Box-Muller normals of a stream (cos then sin of each pair)."""
    m = (n + 1) // 2
    u = uniform(seed, stream, 2 * m)
    r = np.sqrt(-2.0 * np.log(u[0::2]))
    a = 2.0 * np.pi * u[1::2]
    out = np.empty(2 * m)
    out[0::2] = r * np.cos(a)
    out[1::2] = r * np.sin(a)
    return out[:n]


def _ziggurat_tables() -> tuple[list[float], list[float]]:
    """Layer edges and inner ratios of the 128-layer ziggurat (as ``ZigguratTables`` in the C++)."""
    layers, r, area = 128, 3.442619855899, 9.91256303526217e-3
    x = [0.0] * (layers + 1)
    f = math.exp(-0.5 * r * r)
    x[0], x[1] = area / f, r
    for i in range(2, layers):
        x[i] = math.sqrt(-2.0 * math.log(area / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    return x, [x[i + 1] / x[i] for i in range(layers)]


def ziggurat_normal(seed: int, stream: int, n: int) -> np.ndarray:
    """The first ``n`` ziggurat normals of a stream (same as ``_core.random.ziggurat_normal``).

    A plain loop over the words, written from the method's description
    (Marsaglia and Tsang 2000, 128 layers; the tail by Marsaglia 1964), not
    from the C++.
    """
    x, ratio = _ziggurat_tables()
    r = x[1]
    out = np.empty(n)
    pos = 0
    chunk = max(64, 2 * n)
    w = words(seed, stream, np.arange(chunk, dtype=np.uint64))

    def word() -> int:
        nonlocal pos, w, chunk
        if pos >= w.size:
            chunk *= 2
            w = words(seed, stream, np.arange(chunk, dtype=np.uint64))
        v = int(w[pos])
        pos += 1
        return v

    def unif() -> float:
        return ((word() >> 11) + 0.5) * 2.0**-53

    for k in range(n):
        while True:
            v = word()
            i = v & 127
            u = ((v >> 11) + 0.5) * 2.0**-52 - 1.0
            if abs(u) < ratio[i]:
                out[k] = u * x[i]
                break
            if i == 0:
                while True:
                    xt = math.log(unif()) / r
                    yt = math.log(unif())
                    if -2.0 * yt >= xt * xt:
                        break
                out[k] = xt - r if u < 0.0 else r - xt
                break
            xv = u * x[i]
            f0 = math.exp(-0.5 * (x[i] * x[i] - xv * xv))
            f1 = math.exp(-0.5 * (x[i + 1] * x[i + 1] - xv * xv))
            if f1 + unif() * (f0 - f1) < 1.0:
                out[k] = xv
                break
    return out


def mix_seed(seed: int, salt: int) -> int:
    """splitmix64 finaliser of ``seed + golden * (salt + 1)`` (as in the C++)."""
    m = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15 * (salt + 1)) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def seed_from(rng: object = None) -> int:
    """A 64-bit seed for the C++ kernels from ``int | np.random.Generator | None``."""
    if isinstance(rng, (bool, np.bool_)):
        msg = f"rng={rng!r} must be an int, a numpy Generator or None"
        raise TypeError(msg)
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            msg = f"rng={rng} must be >= 0"
            raise ValueError(msg)
        return mix_seed(int(rng) & ((1 << 64) - 1), 0x5EED)
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence)):
        gen = np.random.default_rng(rng)
        return int(gen.integers(0, 2**63, dtype=np.int64)) * 2 + int(gen.integers(0, 2))
    msg = f"rng={rng!r} must be an int, a numpy Generator or None"
    raise TypeError(msg)
