"""Slice sampling: adaptive number of steps and its bookkeeping (the C++ SliceProposal)."""

from __future__ import annotations

import math

import pytest

from ridgeline.nested import NestedSampler, problems

# layout of state()["slice_stats"] (slice.hpp, enum SliceStat)
_DIR_CALLS, _RAD_CALLS, _STEPS, _CORR1, _CORRK, _WINDOWS = 3, 4, 5, 6, 7, 8


def _run(p, nlive, **kw):
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=nlive, rng=5, sample="slice", **kw)
    return s, s.run(dlogz=0.5)


@pytest.mark.parametrize(("ndim", "nlive", "start"), [(24, 300, 24), (10, 150, 5)])
def test_adaptive_steps_start_and_bookkeeping(ndim, nlive, start):
    p = problems.gaussian(ndim)
    s, res = _run(p, nlive)
    st = s._core.state()
    stats = st["slice_stats"]
    # K starts at ceil(d / 2) when nlive >= 15 d, at d otherwise, and only doubles from there
    k = st["slice_nsteps"]
    assert k >= start and math.log2(k / start) == int(math.log2(k / start))
    assert stats[_WINDOWS] >= 1
    # every slice call is either a directional or a radial one
    assert stats[_DIR_CALLS] + stats[_RAD_CALLS] == st["slice_calls"]
    # each move costs 1 to ~4 calls on a Gaussian (chord of the 1.5x bound, shrinkage)
    assert 1.0 < stats[_DIR_CALLS] / stats[_STEPS] < 4.0
    assert 1.0 < stats[_RAD_CALLS] / stats[_STEPS] < 4.0
    # after K steps the log-likelihood rank is decorrelated from the starting live point's
    assert abs(stats[_CORRK]) < 0.2
    assert stats[_CORR1] > stats[_CORRK]
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr


def test_fixed_steps_are_not_adapted():
    p = problems.gaussian(8)
    s, _ = _run(p, 100, slice_steps=3)
    st = s._core.state()
    assert st["slice_nsteps"] == 0  # no adaptive state when the user fixes the steps
    assert st["slice_stats"][_STEPS] == 3 * st["slice_replacements"]
