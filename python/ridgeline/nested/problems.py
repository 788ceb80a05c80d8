"""Built-in test problems with known evidence.

Each function returns a :class:`Problem` with a scalar ``loglike(x)``, a
``prior_transform(u)`` from the unit cube, ``ndim``, the true ``logz_true`` and a
``name``.  Passing the problem's own ``loglike`` and ``prior_transform`` to
:class:`ridgeline.nested.NestedSampler` runs them as compiled C++ (no Python per
call); any other callable runs as Python.

=============  ====  ==========================================================  ==========================
name           d     likelihood and prior                                        true log Z
=============  ====  ==========================================================  ==========================
gaussian(d)    any   N(0.5, 0.1^2 I) on U[0, 1]^d                                d log(Phi(5) - Phi(-5))
shells()       2     two Gaussian shells (w=0.1, r=2, centres (+-3.5, 0)),       closed form (-1.745642)
                     prior U[-6, 6]^2 (Feroz et al. 2009)
eggbox()       2     exp((2 + cos(x/2) cos(y/2))^5), prior U[0, 10 pi]^2         2-D Gauss-Legendre (235.85594)
mixture(d)     any   0.5 N(0.25, 0.05^2 I) + 0.5 N(0.75, 0.05^2 I) on U[0, 1]^d  d log(Phi(15) - Phi(-5))
correlated(d)  any   N(0.5, S) on U[0, 1]^d, S = 0.05^2 (0.1 I + 0.9 1 1^T)        0 (|error| < d erfc(10/sqrt 2))
=============  ====  ==========================================================  ==========================
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ridgeline._validation import check_int

__all__ = ["Problem", "correlated", "eggbox", "gaussian", "mixture", "shells", "get"]

_LOG2PI = math.log(2.0 * math.pi)


def _log_ndtr_diff(b: float, a: float) -> float:
    """log(Phi(b) - Phi(a)) for a < b, accurate when the difference is near 1."""
    # Phi(b) - Phi(a) = 1 - Phi(-b) - Phi(a) = 1 - (erfc(b/sqrt2) + erfc(-a/sqrt2)) / 2
    tail = 0.5 * (math.erfc(b / math.sqrt(2.0)) + math.erfc(-a / math.sqrt(2.0)))
    return math.log1p(-tail)


class BuiltinLoglike:
    """Scalar log-likelihood of a built-in problem (also runs as compiled C++)."""

    def __init__(self, name: str, ndim: int, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.name = name
        self.ndim = ndim
        self._fn = fn

    def __call__(self, x: Any) -> float:
        x = np.asarray(x, dtype=np.float64)
        if x.size != self.ndim:
            msg = f"x has shape {x.shape}, expected ({self.ndim},) for {self.name}({self.ndim})"
            raise ValueError(msg)
        return float(self._fn(x.reshape(1, -1))[0])

    def batch(self, x: Any) -> np.ndarray:
        """Vectorised form: (m, ndim) -> (m,)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.ndim:
            msg = f"x has shape {x.shape}, expected (m, {self.ndim}) for {self.name}({self.ndim})"
            raise ValueError(msg)
        return self._fn(x)

    def __repr__(self) -> str:
        return f"<built-in loglike {self.name}({self.ndim})>"


class BoxTransform:
    """Prior transform x = lo + (hi - lo) u (also runs as compiled C++)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)

    def __call__(self, u: Any) -> np.ndarray:
        return self.lo + (self.hi - self.lo) * np.asarray(u, dtype=np.float64)

    def __repr__(self) -> str:
        return f"<box prior [{self.lo[0]:g}, {self.hi[0]:g}]^{self.lo.size}>"


@dataclass(frozen=True)
class Problem:
    """A test problem: likelihood, prior transform and the true log evidence."""

    name: str
    ndim: int
    loglike: BuiltinLoglike
    prior_transform: BoxTransform
    logz_true: float

    def loglike_vectorized(self, x: np.ndarray) -> np.ndarray:
        """The log-likelihood of a batch of points of shape (m, ndim).

        Parameters
        ----------
        x : ndarray of shape (m, ndim)
            Points in parameter space.

        Returns
        -------
        ndarray of shape (m,)
        """
        return self.loglike.batch(x)


def _check_ndim(ndim: Any) -> int:
    return check_int(ndim, "ndim", low=1, high=100_000)


def gaussian(ndim: int = 2) -> Problem:
    """Normalised N(0.5, 0.1^2 I) likelihood on the unit cube.

    Parameters
    ----------
    ndim : int, default=2
        Number of dimensions.

    Returns
    -------
    Problem
    """
    d = _check_ndim(ndim)

    def fn(x: np.ndarray) -> np.ndarray:
        r = (x - 0.5) / 0.1
        out: np.ndarray = -0.5 * np.sum(r * r, axis=1) - d * (math.log(0.1) + 0.5 * _LOG2PI)
        return out

    truth = d * _log_ndtr_diff(5.0, -5.0)
    return Problem(f"gaussian({d})", d, BuiltinLoglike("gaussian", d, fn), BoxTransform(np.zeros(d), np.ones(d)), truth)


def mixture(ndim: int = 10) -> Problem:
    """0.5 N(0.25, 0.05^2 I) + 0.5 N(0.75, 0.05^2 I) on the unit cube (two modes of equal weight).

    Parameters
    ----------
    ndim : int, default=10
        Number of dimensions.

    Returns
    -------
    Problem
    """
    d = _check_ndim(ndim)

    def fn(x: np.ndarray) -> np.ndarray:
        a = -0.5 * np.sum(((x - 0.25) / 0.05) ** 2, axis=1)
        b = -0.5 * np.sum(((x - 0.75) / 0.05) ** 2, axis=1)
        out: np.ndarray = np.logaddexp(a, b) + math.log(0.5) - d * (math.log(0.05) + 0.5 * _LOG2PI)
        return out

    # each mode: prod over dims of Phi((1 - mu)/s) - Phi(-mu/s); both equal by symmetry
    truth = d * _log_ndtr_diff(15.0, -5.0)
    return Problem(f"mixture({d})", d, BuiltinLoglike("mixture", d, fn), BoxTransform(np.zeros(d), np.ones(d)), truth)


def correlated(ndim: int = 20) -> Problem:
    """Strongly correlated Gaussian N(0.5, S) on the unit cube.

    S = s^2 ((1 - rho) I + rho 1 1^T) with s = 0.05 and rho = 0.9 (condition number
    1 + d rho / (1 - rho), 181 at d = 20).  Every marginal has standard deviation
    0.05, so the cube holds all but at most d erfc(10 / sqrt 2) < 1e-21 d of the
    mass: log Z = 0 to that accuracy.

    Parameters
    ----------
    ndim : int, default=20
        Number of dimensions.

    Returns
    -------
    Problem
    """
    d = _check_ndim(ndim)
    s, rho = 0.05, 0.9
    a = rho / (1.0 + (d - 1) * rho)
    logdet = d * math.log(s * s) + (d - 1) * math.log1p(-rho) + math.log1p((d - 1) * rho)

    def fn(x: np.ndarray) -> np.ndarray:
        r = x - 0.5
        q = (np.sum(r * r, axis=1) - a * np.sum(r, axis=1) ** 2) / (s * s * (1.0 - rho))
        out: np.ndarray = -0.5 * q - 0.5 * logdet - 0.5 * d * _LOG2PI
        return out

    truth = 0.0  # log P(cube) = log(1 - eps), 0 <= eps <= d erfc(10 / sqrt 2) < 1e-21 d
    return Problem(
        f"correlated({d})", d, BuiltinLoglike("correlated", d, fn), BoxTransform(np.zeros(d), np.ones(d)), truth
    )


def shells() -> Problem:
    """Two Gaussian shells in 2-D (Feroz, Hobson & Bridges 2009), prior U[-6, 6]^2."""
    w, r = 0.1, 2.0

    def fn(x: np.ndarray) -> np.ndarray:
        d1 = np.hypot(x[:, 0] - 3.5, x[:, 1]) - r
        d2 = np.hypot(x[:, 0] + 3.5, x[:, 1]) - r
        out: np.ndarray = np.logaddexp(-0.5 * (d1 / w) ** 2, -0.5 * (d2 / w) ** 2) - math.log(w) - 0.5 * _LOG2PI
        return out

    # Each shell integrates (polar coordinates, exact for the full plane) to
    # 2 pi (r Phi(r/w) + w phi(r/w)); the shells are disjoint and the box cuts
    # only tails beyond 5 widths.  Divide by the prior area 144.
    z = r / w
    one = 2.0 * math.pi * (r * 0.5 * math.erfc(-z / math.sqrt(2.0)) + w * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    truth = math.log(2.0 * one / 144.0)
    return Problem("shells", 2, BuiltinLoglike("shells", 2, fn), BoxTransform(np.full(2, -6.0), np.full(2, 6.0)), truth)


@functools.lru_cache(maxsize=1)
def _eggbox_logz() -> float:
    # x = 2a, y = 2b with a, b in [0, 5 pi]; Gauss-Legendre on 40 panels x 16 nodes
    # per axis (converged to 1e-11: doubling either changes nothing).
    g, wts = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, 5.0 * np.pi, 41)
    h = np.diff(edges) / 2.0
    a = ((edges[:-1] + h)[:, None] + h[:, None] * g[None, :]).ravel()
    wa = (h[:, None] * wts[None, :]).ravel()
    c = np.cos(a)
    f = np.exp((2.0 + c[:, None] * c[None, :]) ** 5 - 243.0)
    integral = float(wa @ f @ wa)
    return 243.0 + math.log(4.0 * integral) - 2.0 * math.log(10.0 * math.pi)


def eggbox() -> Problem:
    """The egg-box likelihood exp((2 + cos(x/2) cos(y/2))^5) on U[0, 10 pi]^2 (18 modes)."""

    def fn(x: np.ndarray) -> np.ndarray:
        return (2.0 + np.cos(0.5 * x[:, 0]) * np.cos(0.5 * x[:, 1])) ** 5

    return Problem(
        "eggbox", 2, BuiltinLoglike("eggbox", 2, fn), BoxTransform(np.zeros(2), np.full(2, 10.0 * np.pi)), _eggbox_logz()
    )


def get(name: str, ndim: int | None = None) -> Problem:
    """A problem by name: 'gaussian', 'shells', 'eggbox', 'mixture' or 'correlated'.

    Parameters
    ----------
    name : str
        The problem's name.
    ndim : int, optional
        Number of dimensions of the problems that take one ('gaussian', 'mixture', 'correlated'; their
        own default when None); 'shells' and 'eggbox' are 2-D only.

    Returns
    -------
    Problem
    """
    if name == "gaussian":
        return gaussian(2 if ndim is None else ndim)
    if name == "mixture":
        return mixture(10 if ndim is None else ndim)
    if name == "correlated":
        return correlated(20 if ndim is None else ndim)
    if name in ("shells", "eggbox"):
        if ndim not in (None, 2):
            msg = f"ndim={ndim} must be 2 for {name}"
            raise ValueError(msg)
        return shells() if name == "shells" else eggbox()
    msg = f"unknown problem {name!r}; expected one of 'gaussian', 'shells', 'eggbox', 'mixture', 'correlated'"
    raise ValueError(msg)
