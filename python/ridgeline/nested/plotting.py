"""Plots of a nested-sampling run (matplotlib is an optional extra: ``pip install ridgeline[plot]``).

- :func:`runplot`: log L, the importance weights and the evidence accumulated
  against log X (prior volume), the classic diagnostic of a run;
- :func:`traceplot`: each parameter against log X, coloured by weight;
- :func:`cornerplot`: weighted 1-D and 2-D marginal histograms.

Each function takes a :class:`~ridgeline.nested.NestedResult` and returns the
matplotlib ``Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ridgeline.nested._results import NestedResult

__all__ = ["cornerplot", "runplot", "traceplot"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "plotting needs matplotlib; install it with `pip install ridgeline[plot]`"
        raise ImportError(msg) from err
    return plt


class WeightedSamples(Protocol):
    """What :func:`cornerplot` reads: points and their normalised importance weights."""

    @property
    def samples(self) -> np.ndarray:
        """Points of shape (n, ndim)."""

    @property
    def weights(self) -> np.ndarray:
        """Importance weights of shape (n,)."""


def _dims(result: WeightedSamples, dims: Sequence[int] | None) -> list[int]:
    ndim = result.samples.shape[1]
    if dims is None:
        return list(range(ndim))
    out = [int(d) for d in dims]
    for d in out:
        if not 0 <= d < ndim:
            msg = f"dims contains {d}, outside [0, {ndim})"
            raise ValueError(msg)
    return out


def runplot(result: NestedResult, *, fig: Figure | None = None) -> Figure:
    """Log-likelihood, normalised weights and cumulative evidence against log X.

    Parameters
    ----------
    result : NestedResult
        A finished run.
    fig : matplotlib Figure, optional
        Figure to draw into (three axes are added); a new one by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(figsize=(6, 7))
    axes = fig.subplots(3, 1, sharex=True)
    logx = result.logvol
    finite = np.isfinite(result.logl)
    axes[0].plot(logx[finite], result.logl[finite], lw=1)
    axes[0].set_ylabel("log L")
    axes[1].plot(logx, result.weights / max(result.weights.max(), 1e-300), lw=1)
    axes[1].set_ylabel("weight / max")
    zcum = np.exp(np.logaddexp.accumulate(result.logwt) - result.logz)
    axes[2].plot(logx, zcum, lw=1)
    axes[2].axhline(1.0, color="k", lw=0.5, ls="--")
    axes[2].set_ylabel("Z(<X) / Z")
    axes[2].set_xlabel("log X (prior volume)")
    axes[0].set_title(f"log Z = {result.logz:.3f} +/- {result.logzerr:.3f}")
    fig.tight_layout()
    return fig


def traceplot(
    result: NestedResult, dims: Sequence[int] | None = None, *, labels: Sequence[str] | None = None
) -> Figure:
    """Each parameter against log X, coloured by importance weight.

    Parameters
    ----------
    result : NestedResult
        A finished run.
    dims : sequence of int, optional
        Parameters to show (default: all).
    labels : sequence of str, optional
        Axis labels, one per shown parameter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    dims = _dims(result, dims)
    if labels is not None and len(labels) != len(dims):
        msg = f"labels has {len(labels)} entries, expected {len(dims)}"
        raise ValueError(msg)
    fig: Figure
    fig, axes = plt.subplots(len(dims), 1, sharex=True, figsize=(6, 1.6 * len(dims) + 0.6), squeeze=False)
    w = result.weights / max(result.weights.max(), 1e-300)
    for row, d in enumerate(dims):
        ax = axes[row, 0]
        ax.scatter(result.logvol, result.samples[:, d], c=w, s=2, cmap="viridis")
        ax.set_ylabel(labels[row] if labels is not None else f"x{d}")
    axes[-1, 0].set_xlabel("log X (prior volume)")
    fig.tight_layout()
    return fig


def cornerplot(
    result: WeightedSamples, dims: Sequence[int] | None = None, *, bins: int = 30, labels: Sequence[str] | None = None
) -> Figure:
    """Weighted 1-D and 2-D marginal posterior histograms.

    Parameters
    ----------
    result : NestedResult
        A finished run.
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
    plt = _pyplot()
    dims = _dims(result, dims)
    if int(bins) < 1:
        msg = f"bins={bins} must be >= 1"
        raise ValueError(msg)
    if labels is not None and len(labels) != len(dims):
        msg = f"labels has {len(labels)} entries, expected {len(dims)}"
        raise ValueError(msg)
    k = len(dims)
    fig: Figure
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    x, w = result.samples, result.weights
    for i, di in enumerate(dims):
        for j, dj in enumerate(dims):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
            elif i == j:
                ax.hist(x[:, di], bins=bins, weights=w, histtype="step", color="k")
                ax.set_yticks([])
            else:
                ax.hist2d(x[:, dj], x[:, di], bins=bins, weights=w, cmap="Greys")
            if i == k - 1:
                ax.set_xlabel(labels[j] if labels is not None else f"x{dj}")
            if j == 0 and i > 0:
                ax.set_ylabel(labels[i] if labels is not None else f"x{di}")
    fig.tight_layout()
    return fig
