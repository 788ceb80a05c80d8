"""The result of a nested-sampling run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ridgeline import _io, _validation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NestedResult"]

_KIND = "nested.NestedResult"
_MAX_DRAWS = 100_000_000  # posterior draws per call (bounds the memory)
_ARRAYS = ("samples", "samples_u", "logl", "logwt", "logvol", "logl_birth", "weights", "logz_sim", "nlive_it")
_SCALARS = ("logz", "logzerr", "information", "ncall", "niter", "nlive", "stop", "ncall_surrogate", "surrogate")


def _logsumexp(a: np.ndarray) -> float:
    """log(sum(exp(a))) by one shift to the largest value (np.logaddexp.reduce calls
    log1p and exp for every element through a scalar loop: 15x slower at 10^4 points)."""
    if a.size == 0:
        return -np.inf
    m = float(np.max(a))
    if not np.isfinite(m):
        return m
    return m + float(np.log(np.sum(np.exp(a - m))))


@dataclass(frozen=True)
class NestedResult:
    """The outcome of a nested-sampling run (immutable).

    Attributes
    ----------
    logz, logzerr : float
        Log evidence and its standard error.  The error is the standard deviation
        of log Z over ``nsim`` runs whose prior-volume shrinkage factors are
        redrawn (``logz_sim``).
    samples : ndarray of shape (niter + nlive, ndim)
        Points in parameter (x) space: dead points, then the final live points
        in order of increasing likelihood.
    samples_u : ndarray of shape (niter + nlive, ndim)
        The same points in the unit cube.
    logl, logwt, logvol : ndarray of shape (niter + nlive,)
        Log-likelihood, log importance weight and expected log prior volume of
        each point.
    logl_birth : ndarray of shape (niter + nlive,)
        The likelihood contour each point was drawn above (-inf for prior draws).
    weights : ndarray of shape (niter + nlive,)
        Normalised importance weights ``exp(logwt - logz)``.
    information : float
        Kullback-Leibler divergence H of the posterior from the prior (nats).
    ncall, niter, nlive : int
        Likelihood evaluations, iterations (dead points) and live points.
    logz_sim : ndarray of shape (nsim,)
        log Z of the simulated runs.
    stop : str
        Why the run stopped: 'dlogz', 'maxiter', 'maxcall' or 'plateau'.
    ncall_surrogate : int
        Likelihood values given by the neural surrogate instead of a true call
        (``NestedSampler(surrogate=...)``; ``ncall`` counts true calls only).
    surrogate : dict or None
        Surrogate statistics: trainings, switches on and off, spot checks, the
        last validation error and the final log Z correction.
    """

    logz: float
    logzerr: float
    samples: np.ndarray
    samples_u: np.ndarray
    logl: np.ndarray
    logwt: np.ndarray
    logvol: np.ndarray
    logl_birth: np.ndarray
    weights: np.ndarray
    information: float
    ncall: int
    niter: int
    nlive: int
    logz_sim: np.ndarray
    stop: str
    nlive_it: np.ndarray = field(repr=False)
    ncall_surrogate: int = 0
    surrogate: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def eff(self) -> float:
        """Sampling efficiency: points kept (dead + final live) per likelihood call, in percent."""
        return 100.0 * (self.niter + self.nlive) / max(self.ncall, 1)

    @property
    def ess(self) -> float:
        """Kish effective sample size of the importance weights."""
        w = self.weights
        return float(w.sum() ** 2 / np.sum(w * w))

    def posterior(self, n: int | None = None, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """Equally weighted posterior draws (systematic resampling of the weights).

        Parameters
        ----------
        n : int, optional
            Number of draws; default the effective sample size (rounded).
        rng : int, numpy Generator or None
            Randomness of the resampling offset and of the final shuffle.

        Returns
        -------
        ndarray of shape (n, ndim)
        """
        if n is None:
            n = max(1, int(round(self.ess)))
        n = _validation.check_int(n, "n", low=1, high=_MAX_DRAWS)
        gen = np.random.default_rng(rng)
        cdf = np.cumsum(self.weights)
        cdf /= cdf[-1]
        pos = (gen.random() + np.arange(n)) / n
        idx = np.minimum(np.searchsorted(cdf, pos, side="right"), cdf.size - 1)
        gen.shuffle(idx)
        out: np.ndarray = self.samples[idx].copy()
        return out

    def mean_and_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted posterior mean and covariance."""
        w = self.weights
        mean = w @ self.samples
        r = self.samples - mean
        cov = (r * w[:, None]).T @ r / max(1.0 - float(np.sum(w * w)), 1e-300)
        return mean, cov

    def summary(self) -> str:
        """A short human-readable report."""
        mean, cov = self.mean_and_cov()
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        lines = [
            f"niter: {self.niter}  ncall: {self.ncall}  eff(%): {self.eff:.1f}  stop: {self.stop}",
            f"log Z: {self.logz:.4f} +/- {self.logzerr:.4f}  information: {self.information:.3f} nats",
            f"effective sample size: {self.ess:.0f}",
        ]
        k = min(len(mean), 6)
        lines.append("posterior mean +/- sd: " + ", ".join(f"{m:.4g}+/-{s:.2g}" for m, s in zip(mean[:k], sd[:k])))
        if len(mean) > k:
            lines[-1] += f", ... ({len(mean)} parameters)"
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return _io.short_repr(
            "NestedResult", logz=self.logz, logzerr=self.logzerr, ncall=self.ncall, niter=self.niter,
            nlive=self.nlive, stop=self.stop, samples=self.samples,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in ridgeline's ``.npz`` result format (no pickle).

        Every field is kept exactly; read it back with :meth:`load` or
        :func:`ridgeline.load`.  The format is described in ``ridgeline._io``.

        Parameters
        ----------
        path : str or os.PathLike
            File to write (``.npz`` is appended by numpy when missing).
        """
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        scalars = {k: getattr(self, k) for k in _SCALARS}
        _io.save_result(path, _KIND, arrays, scalars)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NestedResult:
        """Load a result written by :meth:`save`."""
        _, arrays, scalars = _io.read_result(path, _KIND)
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> NestedResult:
        missing = [k for k in _ARRAYS if k not in arrays] + [k for k in _SCALARS if k not in scalars]
        if missing:
            msg = f"a saved NestedResult lacks the fields {missing}"
            raise ValueError(msg)
        return cls(
            logz=float(scalars["logz"]),
            logzerr=float(scalars["logzerr"]),
            samples=np.asarray(arrays["samples"], dtype=np.float64),
            samples_u=np.asarray(arrays["samples_u"], dtype=np.float64),
            logl=np.asarray(arrays["logl"], dtype=np.float64),
            logwt=np.asarray(arrays["logwt"], dtype=np.float64),
            logvol=np.asarray(arrays["logvol"], dtype=np.float64),
            logl_birth=np.asarray(arrays["logl_birth"], dtype=np.float64),
            weights=np.asarray(arrays["weights"], dtype=np.float64),
            information=float(scalars["information"]),
            ncall=int(scalars["ncall"]),
            niter=int(scalars["niter"]),
            nlive=int(scalars["nlive"]),
            logz_sim=np.asarray(arrays["logz_sim"], dtype=np.float64),
            stop=str(scalars["stop"]),
            nlive_it=np.asarray(arrays["nlive_it"]),
            ncall_surrogate=int(scalars["ncall_surrogate"]),
            surrogate=scalars["surrogate"],
        )

    def to_anesthetic(self, columns: Any = None) -> Any:
        """The run as ``anesthetic.NestedSamples`` (needs anesthetic).

        Each point carries the likelihood contour it was drawn above
        (``logl_birth``, -inf for the initial prior draws), so anesthetic can
        rebuild the live-point history and its own evidence estimates.

        Parameters
        ----------
        columns : sequence of str, optional
            Parameter names (default ``x0, x1, ...``).
        """
        try:
            from anesthetic import NestedSamples
        except ImportError as err:
            msg = "to_anesthetic needs anesthetic; install it with `pip install anesthetic`"
            raise ImportError(msg) from err
        ndim = self.samples.shape[1]
        cols = [f"x{i}" for i in range(ndim)] if columns is None else list(columns)
        if len(cols) != ndim:
            msg = f"columns has {len(cols)} names, expected ndim={ndim}"
            raise ValueError(msg)
        return NestedSamples(data=self.samples, columns=cols, logL=self.logl, logL_birth=self.logl_birth)

    def plot_run(self, *, fig: Figure | None = None) -> Figure:
        """Run plot (log L, weights, evidence against log X); see :func:`ridgeline.nested.plotting.runplot`.

        Parameters
        ----------
        fig : matplotlib Figure, optional
            Figure to draw into (three axes are added); a new one by default.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ridgeline.nested.plotting import runplot

        return runplot(self, fig=fig)

    def plot_trace(self, dims: Sequence[int] | None = None, *, labels: Sequence[str] | None = None) -> Figure:
        """Trace plot; see :func:`ridgeline.nested.plotting.traceplot`.

        Parameters
        ----------
        dims : sequence of int, optional
            Parameters to show (default: all).
        labels : sequence of str, optional
            Axis labels, one per shown parameter.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ridgeline.nested.plotting import traceplot

        return traceplot(self, dims, labels=labels)

    def plot_corner(
        self, dims: Sequence[int] | None = None, *, bins: int = 30, labels: Sequence[str] | None = None
    ) -> Figure:
        """Weighted corner plot; see :func:`ridgeline.nested.plotting.cornerplot`.

        Parameters
        ----------
        dims : sequence of int, optional
            Parameters to show (default: all).
        bins : int, default=30
            Histogram bins per axis.
        labels : sequence of str, optional
            Axis labels, one per shown parameter.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ridgeline.nested.plotting import cornerplot

        return cornerplot(self, dims, bins=bins, labels=labels)

    def to_dynesty(self) -> Any:
        """The run as dynesty-style results (per-iteration arrays).

        Returns a ``dynesty.results.Results`` when dynesty is installed (so its
        plotting functions work on it), otherwise a plain dict with the same keys.
        """
        n = self.logl.size
        logz_cum = np.logaddexp.accumulate(self.logwt)
        # running information and the classic error sqrt(H / nlive) per iteration
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = np.exp(self.logwt - logz_cum[-1])
            ll = np.where(np.isfinite(self.logl), self.logl, 0.0)
            h_cum = np.cumsum(p * ll) * np.exp(logz_cum[-1] - logz_cum) - logz_cum
        h_cum = np.where(np.isfinite(h_cum), np.maximum(h_cum, 0.0), 0.0)
        nlive_it = np.concatenate([self.nlive_it, np.arange(self.nlive, 0, -1)]).astype(int)
        logzerr_cum = np.sqrt(h_cum / self.nlive)
        out = {
            "nlive": self.nlive,
            "niter": self.niter,
            "ncall": np.full(n, max(self.ncall // max(n, 1), 1), dtype=int),
            "eff": self.eff,
            "samples": self.samples,
            "samples_u": self.samples_u,
            "samples_id": np.arange(n),
            "samples_it": np.arange(n),
            "samples_n": nlive_it,
            "logwt": self.logwt,
            "logl": self.logl,
            "logvol": self.logvol,
            "logz": logz_cum,
            "logzerr": logzerr_cum,
            "information": h_cum,
        }
        try:
            from dynesty.results import Results
        except ImportError:
            return out
        return Results(list(out.items()))
