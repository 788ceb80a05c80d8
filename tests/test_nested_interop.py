"""Plots and exports of a nested-sampling result."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.nested import problems, sample


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    p = problems.gaussian(2)
    return sample(p.loglike, p.prior_transform, p.ndim, nlive=100, rng=3, dlogz=0.5)


def test_plots_draw_the_run(result) -> None:  # type: ignore[no-untyped-def]
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig = result.plot_run()
    axes = fig.get_axes()
    assert len(axes) == 3
    # the cumulative-evidence curve ends at Z / Z = 1
    ydata = axes[2].get_lines()[0].get_ydata()
    assert ydata[-1] == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.diff(ydata) >= -1e-12)
    plt.close(fig)
    fig = result.plot_trace(labels=["a", "b"])
    assert len(fig.get_axes()) == 2
    plt.close(fig)
    fig = result.plot_corner(bins=10)
    assert len(fig.get_axes()) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="dims contains 5"):
        result.plot_corner(dims=[5])
    with pytest.raises(ValueError, match="bins=0"):
        result.plot_corner(bins=0)
    with pytest.raises(ValueError, match="labels has 1 entries"):
        result.plot_trace(labels=["a"])


def test_birth_contours_are_below_each_point(result) -> None:  # type: ignore[no-untyped-def]
    assert np.all(result.logl_birth < result.logl)


def test_to_anesthetic(result) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("anesthetic")
    ns = result.to_anesthetic(columns=["a", "b"])
    assert len(ns) == result.samples.shape[0]
    # anesthetic's own evidence estimate from the exported birth contours agrees with ours
    assert abs(float(ns.logZ()) - result.logz) < 3 * result.logzerr
    with pytest.raises(ValueError, match="columns has 1 names"):
        result.to_anesthetic(columns=["a"])
