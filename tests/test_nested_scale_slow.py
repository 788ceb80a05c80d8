"""Slow statistical checks of slice sampling in high dimension (run with -m slow)."""

from __future__ import annotations

import pytest

from ridgeline.nested import NestedSampler, problems


@pytest.mark.slow
@pytest.mark.parametrize(("p", "sample"), [(problems.gaussian(30), "auto"), (problems.gaussian(50), "auto"),
                                           (problems.correlated(20), "auto"), (problems.correlated(20), "slice")],
                         ids=["gaussian30-auto", "gaussian50-auto", "correlated20-auto", "correlated20-slice"])
def test_five_seeds_within_3p5_sigma(p, sample):
    # 'auto' keeps rejection sampling below d = 21 (correlated(20)); 'slice' forces slice sampling there
    zs = []
    for seed in range(5):
        s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=500, rng=seed, sample=sample)
        res = s.run(dlogz=0.5)
        assert res.stop == "dlogz"
        zs.append((res.logz - p.logz_true) / res.logzerr)
        print(f"{p.name} seed {seed}: logz {res.logz:.3f} +- {res.logzerr:.3f} z {zs[-1]:+.2f} "
              f"ncall {res.ncall} calls/iter {res.ncall / res.niter:.1f} slice {s._core.state().slice_active}")
    assert all(abs(z) < 3.5 for z in zs), zs
