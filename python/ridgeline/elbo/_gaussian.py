"""ELBOs of a Gaussian variational distribution with MC, antithetic and randomised QMC draws."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ridgeline import _core, _io, _random
from ridgeline._validation import check_array, check_callable, check_choice, check_int, check_rng

__all__ = [
    "ESTIMATORS",
    "SAMPLERS",
    "GaussianELBO",
    "IWAEBound",
    "QMCWarning",
    "gaussian_elbo",
    "iwae_bound",
    "sobol_normals",
]

SAMPLERS = ("mc", "rqmc", "antithetic")
ESTIMATORS = ("cv", "sampled", "analytic")
MAX_DIM = 1111


class QMCWarning(UserWarning):
    """Quasi-Monte Carlo used with a number of points that is not a power of two."""


def _check_n(n: Any, name: str = "n") -> int:
    return check_int(n, name, 1, 2**40)


def _warn_pow2(n: int) -> None:
    if n & (n - 1):
        msg = (
            f"n={n} is not a power of two: scrambled Sobol points keep their balance (and their variance "
            f"reduction) only for n = 2**k; use n={1 << (n - 1).bit_length()} or n={1 << (n.bit_length() - 1)}"
        )
        warnings.warn(msg, QMCWarning, stacklevel=3)


def sobol_normals(n: int, d: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
    """Standard normal quasi-random points: Owen-scrambled Sobol mapped through the normal quantile.

    Parameters
    ----------
    n : int
        Number of points; a power of two keeps the net property (otherwise a
        :class:`QMCWarning` is issued).
    d : int
        Dimension, 1 <= d <= 1111.
    rng : int, numpy Generator or None
        Seed of the scramble.

    Returns
    -------
    ndarray of shape (n, d)
        Each row is exactly N(0, I) distributed; the set is better balanced than iid draws.

    Examples
    --------
    >>> z = sobol_normals(256, 3, rng=0)
    >>> z.shape
    (256, 3)
    """
    n = _check_n(n)
    d = check_int(d, "d", 1, MAX_DIM)
    seed = check_rng(rng)
    _warn_pow2(n)
    return np.asarray(_core.elbo.sobol_normal(n, d, seed))


def _check_q(mean: Any, scale: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    mu = check_array(mean, "mean", ndim=1)
    d = mu.size
    if d > MAX_DIM:
        msg = f"mean has dimension {d}; it must be <= {MAX_DIM}"
        raise ValueError(msg)
    S = check_array(scale, "scale", ndim=(1, 2))
    if S.shape == (d,):
        full = False
        diag = S
    elif S.shape == (d, d):
        full = True
        if np.any(np.triu(S, 1) != 0):
            msg = "scale must be lower-triangular (a Cholesky factor) when 2-D"
            raise ValueError(msg)
        diag = np.diag(S)
    else:
        msg = f"scale must have shape ({d},) or ({d}, {d}), got {S.shape}"
        raise ValueError(msg)
    if np.any(diag <= 0):
        msg = "scale must have a positive diagonal"
        raise ValueError(msg)
    return mu, S, full


def _combine(f: np.ndarray, h: np.ndarray, estimator: str) -> tuple[float, np.ndarray]:
    """ELBO minus the entropy, and the per-unit residuals (for the standard error).

    ``f`` = log p(x, z) and ``h`` = log q(z) + H[q] (mean zero under q) per independent
    unit.  ``"analytic"``: mean(f); ``"sampled"``: mean(f - h) (Pyro's Trace_ELBO);
    ``"cv"``: mean(f - c h) with the variance-optimal c = Cov(f, h) / Var(h) estimated on
    one half of the units and applied to the other (cross-fitting keeps it unbiased).
    """
    if estimator == "analytic":
        return float(f.mean()), f
    if estimator == "sampled":
        r = f - h
        return float(r.mean()), r
    m = f.size
    if m < 4:
        return float(f.mean()), f
    halves = (np.arange(0, m // 2), np.arange(m // 2, m))
    coefs = []
    for idx in halves:
        fh, hh = f[idx], h[idx]
        hc = hh - hh.mean()
        vh = float(hc @ hc)
        coefs.append(float((fh - fh.mean()) @ hc) / vh if vh > 0 and np.all(np.isfinite(fh)) else 0.0)
    r = np.empty_like(f)
    r[halves[1]] = f[halves[1]] - coefs[0] * h[halves[1]]
    r[halves[0]] = f[halves[0]] - coefs[1] * h[halves[0]]
    value = 0.5 * (float(r[halves[0]].mean()) + float(r[halves[1]].mean()))
    return value, r


def _draw(n: int, d: int, sampler: str, seed: int, replicates: int = 1) -> np.ndarray:
    if sampler == "mc":
        return np.asarray(_core.random.normal(seed, 0, n * d)).reshape(n, d)
    if sampler == "antithetic":
        if n % 2:
            msg = f"n={n} must be even for sampler='antithetic'"
            raise ValueError(msg)
        h = np.asarray(_core.random.normal(seed, 0, (n // 2) * d)).reshape(n // 2, d)
        eps = np.empty((n, d))
        eps[0::2] = h
        eps[1::2] = -h
        return eps
    if sampler == "rqmc":
        if n % replicates:
            msg = f"n={n} must be a multiple of replicates={replicates}"
            raise ValueError(msg)
        m = n // replicates
        _warn_pow2(m)
        parts = [np.asarray(_core.elbo.sobol_normal(m, d, _random.mix_seed(seed, r))) for r in range(replicates)]
        return np.concatenate(parts, axis=0)
    msg = f"sampler={sampler!r} must be one of 'mc', 'rqmc', 'antithetic'"
    raise ValueError(msg)


def _call(logjoint: Callable[[np.ndarray], Any], z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    out = logjoint(z)
    grads = None
    if isinstance(out, tuple):
        if len(out) != 2:
            msg = "logjoint must return values of shape (n,) or a tuple (values (n,), gradients (n, d))"
            raise ValueError(msg)
        out, grads = out
        grads = np.asarray(grads, dtype=np.float64)
        if grads.shape != z.shape:
            msg = f"logjoint gradients must have shape {z.shape}, got {grads.shape}"
            raise ValueError(msg)
        if not np.all(np.isfinite(grads)):
            msg = "logjoint returned non-finite gradients"
            raise ValueError(msg)
    vals = np.asarray(out, dtype=np.float64)
    if vals.shape != (z.shape[0],):
        msg = f"logjoint must map an (n, d) batch to shape (n,), got {vals.shape} for n={z.shape[0]}"
        raise ValueError(msg)
    if np.any(np.isnan(vals)) or np.any(vals == np.inf):
        msg = "logjoint returned nan or +inf"
        raise ValueError(msg)
    return vals, grads


@dataclass(frozen=True, repr=False)
class GaussianELBO:
    """Result of :func:`gaussian_elbo`.

    Attributes
    ----------
    value, stderr : float
        ELBO estimate and its standard error.
    entropy : float
        Exact entropy of q.
    n, sampler, estimator
        Settings used (``estimator`` after resolving ``"auto"``).
    grad_mean : ndarray of shape (d,) or None
        Reparameterisation gradient of the ELBO estimate with respect to ``mean``.
    grad_scale : ndarray of shape (d,) or (d, d) or None
        Gradient with respect to ``scale`` (lower-triangular when ``scale`` is).
    """

    value: float
    stderr: float
    entropy: float
    n: int
    sampler: str
    grad_mean: np.ndarray | None = None
    grad_scale: np.ndarray | None = None
    estimator: str = "analytic"

    def __repr__(self) -> str:
        return _io.short_repr(
            "GaussianELBO", value=self.value, stderr=self.stderr, entropy=self.entropy, n=self.n,
            sampler=self.sampler, estimator=self.estimator, grad_mean=self.grad_mean,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the result (``.npz``, see :mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        arrays = {k: v for k, v in (("grad_mean", self.grad_mean), ("grad_scale", self.grad_scale)) if v is not None}
        scalars = {k: getattr(self, k) for k in ("value", "stderr", "entropy", "n", "sampler", "estimator")}
        _io.save_result(path, "elbo.GaussianELBO", arrays, scalars)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GaussianELBO:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = _io.read_result(path, "elbo.GaussianELBO")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> GaussianELBO:
        return cls(
            value=float(scalars["value"]), stderr=float(scalars["stderr"]), entropy=float(scalars["entropy"]),
            n=int(scalars["n"]), sampler=str(scalars["sampler"]), estimator=str(scalars["estimator"]),
            grad_mean=arrays.get("grad_mean"), grad_scale=arrays.get("grad_scale"),
        )


def gaussian_elbo(
    logjoint: Callable[[np.ndarray], ArrayLike | tuple[ArrayLike, ArrayLike]],
    mean: ArrayLike,
    scale: ArrayLike,
    *,
    n: int = 256,
    sampler: str = "mc",
    rng: int | np.random.Generator | None = None,
    replicates: int = 1,
    estimator: str = "cv",
) -> GaussianELBO:
    """ELBO of ``q = N(mean, scale scale^T)``: ``E_q[log p(x, z)] + H[q]``.

    Parameters
    ----------
    logjoint : callable
        Maps an (n, d) batch of ``z`` to ``log p(x, z)`` of shape (n,), or to a tuple
        (values (n,), gradients (n, d)); with gradients the reparameterisation gradients
        of the estimate are returned too.
    mean : array-like of shape (d,)
    scale : array-like of shape (d, d) or (d,)
        Lower-triangular Cholesky factor of the covariance, or standard deviations.
    n : int, default=256
        Number of draws (model evaluations).
    sampler : {"mc", "rqmc", "antithetic"}, default="mc"
        ``"rqmc"``: Owen-scrambled Sobol points (``n`` a power of two, else a
        :class:`QMCWarning`); ``"antithetic"``: pairs ``(eps, -eps)`` (helps gradients,
        often hurts values near a mode).
    rng : int, numpy Generator or None
    replicates : int, default=1
        For ``"rqmc"``: number of independent scrambles sharing the ``n`` points; with
        ``replicates >= 2`` the standard error is the spread of the replicate means
        (unbiased), with 1 it is the iid formula (an approximation, usually conservative).
    estimator : {"cv", "sampled", "analytic"}, default="cv"
        How ``H[q]`` enters the value, with ``f = log p(x, z)`` and ``h = log q(z) + H[q]``
        (mean zero under q) at the draws:
        ``"analytic"``: ``mean(f) + H``;
        ``"sampled"``: ``mean(f - log q)``, Pyro's ``Trace_ELBO`` (``h`` as a control
        variate with weight 1: far better than analytic when q is close to the posterior);
        ``"cv"``: ``mean(f - c h) + H`` with the variance-optimal weight
        ``c = Cov(f, h) / Var(h)`` estimated on one half of the draws (pairs for
        antithetic) and applied to the other half, so the estimate stays unbiased and is
        at least as good as both up to ``O(1/n)`` (with ``"rqmc"`` the halves are the
        two halves of each scrambled Sobol set, and the bias is of the order of the
        tiny RQMC error of ``mean(h)``).  The gradients are the same for all four (the derivative of ``log q`` at a
        reparameterised draw is the derivative of ``-H``).

    Returns
    -------
    GaussianELBO

    Raises
    ------
    TypeError
        On a complex or non-numeric mean or scale, a non-callable ``logjoint``.
    ValueError
        On shapes, a non-positive scale diagonal, a NaN or +inf returned by ``logjoint``.

    Examples
    --------
    >>> import numpy as np
    >>> lj = lambda z: -0.5 * (z**2).sum(axis=1) - 0.5 * np.log(2 * np.pi)
    >>> r = gaussian_elbo(lj, [0.0], [1.0], n=64, sampler="rqmc", rng=0)
    >>> bool(abs(r.value) < 1e-6)
    True
    """
    check_callable(logjoint, "logjoint")
    n = _check_n(n)
    reps = _check_n(replicates, "replicates")
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    est = check_choice(estimator, "estimator", ESTIMATORS)
    if reps > 1 and sampler != "rqmc":
        msg = f"replicates={reps} applies to sampler='rqmc' only"
        raise ValueError(msg)
    mu, S, full = _check_q(mean, scale)
    d = mu.size
    eps = _draw(n, d, sampler, check_rng(rng), reps)
    z = mu + (eps @ S.T if full else eps * S)
    vals, grads = _call(logjoint, z)
    diag = np.diag(S) if full else S
    entropy = 0.5 * d * (1.0 + math.log(2.0 * math.pi)) + float(np.sum(np.log(diag)))
    h = 0.5 * (d - (eps**2).sum(axis=1))  # log q(z) + H[q]
    if sampler == "antithetic":
        f_u, h_u = 0.5 * (vals[0::2] + vals[1::2]), 0.5 * (h[0::2] + h[1::2])
    else:
        f_u, h_u = vals, h
    with np.errstate(invalid="ignore"):
        part, resid = _combine(f_u, h_u, est)
    value = part + entropy
    if sampler == "rqmc" and reps > 1:
        means = resid.reshape(reps, -1).mean(axis=1)
        se = float(means.std(ddof=1) / math.sqrt(reps))
    else:
        se = float(resid.std(ddof=1) / math.sqrt(resid.size)) if resid.size > 1 else math.nan
    if not np.isfinite(value):
        se = math.nan
    gm = gs = None
    if grads is not None:
        gm = grads.mean(axis=0)
        if full:
            gs = np.tril(grads.T @ eps / n) + np.diag(1.0 / diag)
        else:
            gs = (grads * eps).mean(axis=0) + 1.0 / diag
    return GaussianELBO(
        value=value, stderr=se, entropy=entropy, n=n, sampler=sampler, grad_mean=gm, grad_scale=gs, estimator=est
    )


@dataclass(frozen=True, repr=False)
class IWAEBound:
    """Result of :func:`iwae_bound`: ``value`` and ``stderr`` of ``L_K`` from ``n`` outer draws."""

    value: float
    stderr: float
    K: int
    n: int
    sampler: str

    def __repr__(self) -> str:
        return _io.short_repr("IWAEBound", value=self.value, stderr=self.stderr, K=self.K, n=self.n, sampler=self.sampler)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the result (``.npz``, see :mod:`ridgeline._io`).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        scalars = {k: getattr(self, k) for k in ("value", "stderr", "K", "n", "sampler")}
        _io.save_result(path, "elbo.IWAEBound", {}, scalars)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IWAEBound:
        """Read a result written by :meth:`save`."""
        _, arrays, scalars = _io.read_result(path, "elbo.IWAEBound")
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> IWAEBound:
        return cls(value=float(scalars["value"]), stderr=float(scalars["stderr"]), K=int(scalars["K"]),
                   n=int(scalars["n"]), sampler=str(scalars["sampler"]))


def iwae_bound(
    logjoint: Callable[[np.ndarray], ArrayLike | tuple[ArrayLike, ArrayLike]],
    mean: ArrayLike,
    scale: ArrayLike,
    *,
    K: int,
    n: int = 256,
    sampler: str = "mc",
    rng: int | np.random.Generator | None = None,
) -> IWAEBound:
    """Importance-weighted bound ``L_K = E log (1/K) sum_k p(x, z_k) / q(z_k)``.

    ``L_1`` is the ELBO and ``L_K <= L_{K+1} <= log p(x)``.

    Parameters
    ----------
    logjoint : callable
        As in :func:`gaussian_elbo` (gradients, if returned, are ignored).
    mean, scale
        As in :func:`gaussian_elbo`.
    K : int
        Importance samples per term, >= 1.
    n : int, default=256
        Number of independent terms (``n * K`` evaluations).
    sampler : {"mc", "rqmc"}, default="mc"
        ``"rqmc"`` groups consecutive points of one scrambled Sobol set of size ``n K``.
    rng : int, numpy Generator or None

    Returns
    -------
    IWAEBound
    """
    check_callable(logjoint, "logjoint")
    K = _check_n(K, "K")
    n = _check_n(n)
    sampler = check_choice(sampler, "sampler", ("mc", "rqmc"))
    mu, S, full = _check_q(mean, scale)
    d = mu.size
    eps = _draw(n * K, d, sampler, check_rng(rng))
    z = mu + (eps @ S.T if full else eps * S)
    vals, _ = _call(logjoint, z)
    diag = np.diag(S) if full else S
    logq = -0.5 * (eps**2).sum(axis=1) - float(np.sum(np.log(diag))) - 0.5 * d * math.log(2.0 * math.pi)
    logw = (vals - logq).reshape(n, K)
    m = logw.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        terms = (m + np.log(np.exp(logw - np.where(np.isfinite(m), m, 0.0)).mean(axis=1, keepdims=True)))[:, 0]
    value = float(terms.mean())
    se = float(terms.std(ddof=1) / math.sqrt(n)) if n > 1 and np.isfinite(value) else math.nan
    return IWAEBound(value=value, stderr=se, K=K, n=n, sampler=sampler)


_io.register("elbo.GaussianELBO", "ridgeline.elbo._gaussian:GaussianELBO")
_io.register("elbo.IWAEBound", "ridgeline.elbo._gaussian:IWAEBound")
