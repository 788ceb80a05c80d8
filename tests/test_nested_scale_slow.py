"""Slow statistical checks of slice sampling in high dimension (run with -m slow)."""

from __future__ import annotations

import pytest

from ridgeline.nested import NestedSampler, problems


@pytest.mark.slow
@pytest.mark.parametrize("p", [problems.gaussian(30), problems.gaussian(50), problems.correlated(20)],
                         ids=lambda p: p.name)
def test_five_seeds_within_3p5_sigma(p):
    zs = []
    for seed in range(5):
        s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=500, rng=seed, sample="auto")
        res = s.run(dlogz=0.5)
        assert res.stop == "dlogz"
        zs.append((res.logz - p.logz_true) / res.logzerr)
        print(f"{p.name} seed {seed}: logz {res.logz:.3f} +- {res.logzerr:.3f} z {zs[-1]:+.2f} "
              f"ncall {res.ncall} calls/iter {res.ncall / res.niter:.1f} slice {s._core.state()['slice_active']}")
    assert all(abs(z) < 3.5 for z in zs), zs
