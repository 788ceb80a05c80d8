"""Slice sampling: adaptive number of steps and its bookkeeping (the C++ SliceProposal)."""

from __future__ import annotations

import math

import pytest

from ridgeline.nested import NestedSampler, problems


def _run(p, nlive, **kw):
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=nlive, rng=5, sample="slice", **kw)
    return s, s.run(dlogz=0.5)


@pytest.mark.parametrize(("ndim", "nlive", "start"), [(24, 300, 24), (10, 150, 5)])
def test_adaptive_steps_start_and_bookkeeping(ndim, nlive, start):
    p = problems.gaussian(ndim)
    # chains from live-point copies: the ones whose rank correlation adapts K
    s, res = _run(p, nlive, slice_start="live")
    st = s._core.state()
    stats = st.slice_stats
    # K starts at ceil(d / 2) when nlive >= 15 d, at d otherwise, and only doubles from there
    k = st.slice_nsteps
    assert k >= start and math.log2(k / start) == int(math.log2(k / start))
    assert stats.windows >= 1
    # every slice call is either a directional or a radial one
    assert stats.dir_calls + stats.rad_calls == st.slice_calls
    # each move costs 1 to ~4 calls on a Gaussian (chord of the 1.5x bound, shrinkage)
    assert 1.0 < stats.dir_calls / stats.steps < 4.0
    assert 1.0 < stats.rad_calls / stats.steps < 4.0
    # after K steps the log-likelihood rank is decorrelated from the starting live point's
    assert abs(stats.corr_k) < 0.2
    assert stats.corr_1 > stats.corr_k
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr


def test_fixed_steps_are_not_adapted():
    p = problems.gaussian(8)
    s, _ = _run(p, 100, slice_steps=3, slice_start="live")
    st = s._core.state()
    assert st.slice_nsteps == 0  # no adaptive state when the user fixes the steps
    assert st.slice_stats.steps == 3 * st.slice_replacements
    assert st.slice_stats.fresh_tries == 0


def test_fresh_starts_bookkeeping_and_savings():
    # a Gaussian is bounded well by its ellipsoid: most chains start from an accepted
    # draw from the bound and take 2 steps instead of K, so far fewer calls are made
    p = problems.gaussian(20)
    k = 10
    s, res = _run(p, 300, slice_steps=k)
    st = s._core.state()
    stats = st.slice_stats
    rep, fresh = st.slice_replacements, stats.fresh_starts
    assert fresh > 0.5 * rep
    # every call is a fresh-start draw, a directional or a radial one
    assert stats.dir_calls + stats.rad_calls + stats.fresh_calls == st.slice_calls
    # 2 steps after a fresh start, K otherwise
    assert stats.steps == 2 * fresh + k * (rep - fresh)
    # the measured acceptance of the draws (decayed counts) is a fraction
    assert 0.0 < stats.fresh_ok <= stats.fresh_tries
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr
    s_live, res_live = _run(p, 300, slice_steps=k, slice_start="live")
    assert s_live._core.state().slice_stats.fresh_tries == 0
    assert res_live.ncall > 1.5 * res.ncall
    assert abs(res_live.logz - p.logz_true) < 3.5 * res_live.logzerr


def test_slice_start_argument():
    p = problems.gaussian(3)
    with pytest.raises(ValueError, match="slice_start='x'"):
        NestedSampler(p.loglike, p.prior_transform, p.ndim, sample="slice", slice_start="x")
