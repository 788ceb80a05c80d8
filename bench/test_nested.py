"""pytest-benchmark microbenchmarks of the nested sampler.

Run: ``pytest bench/test_nested.py --benchmark-enable -p no:cacheprovider -o addopts=""``.
Groups: one full run per likelihood kind (compiled C++, scalar Python, vectorised Python)
and the numpy reference; the bounding-ellipsoid fit; the shrinkage simulation.
"""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.nested import NestedSampler, problems
from ridgeline.nested import _reference as ref


@pytest.mark.benchmark(group="run gaussian(d), nlive=200, dlogz=0.5")
@pytest.mark.parametrize("ndim", [2, 5, 10])
@pytest.mark.parametrize("impl", ["core-builtin", "core-python", "core-vectorized", "reference"])
def test_run(benchmark, impl, ndim):
    p = problems.gaussian(ndim)
    if impl == "reference":
        if ndim > 5:
            pytest.skip("the reference is slow in 10-d")
        out = benchmark(lambda: ref.run(p.loglike_vectorized, None, ndim, nlive=200, dlogz=0.5, rng=0)["logz"])
    else:
        like, vec = {
            "core-builtin": (p.loglike, False),
            "core-python": (lambda x: p.loglike(x), False),
            "core-vectorized": (p.loglike_vectorized, True),
        }[impl]
        out = benchmark(lambda: NestedSampler(like, None, ndim, nlive=200, rng=0, vectorized=vec).run(dlogz=0.5).logz)
    assert abs(out - p.logz_true) < 1.0


@pytest.mark.benchmark(group="fit_bound")
@pytest.mark.parametrize("n", [int(v) for v in np.geomspace(100, 2000, 3)])
@pytest.mark.parametrize("impl", ["core", "reference"])
def test_fit_bound(benchmark, impl, n):
    pts = np.random.default_rng(0).random((n, 10))
    if impl == "core":
        out = benchmark(lambda: _core.nested.fit_bound(pts, -5.0, True, 1.25))
    else:
        out = benchmark(lambda: ref.fit_bound(pts, -5.0, True, 1.25))
    assert len(out) >= 1


@pytest.mark.benchmark(group="simulate_logz (100 simulations)")
@pytest.mark.parametrize("impl", ["core", "reference"])
def test_simulate(benchmark, impl):
    p = problems.gaussian(5)
    s = NestedSampler(p.loglike, p.prior_transform, 5, nlive=300, rng=0)
    r = s.run(dlogz=0.5)
    lv = float(s._core.state()["logvol"])
    if impl == "core":
        out = benchmark(lambda: _core.nested.simulate_logz(r.logl, r.nlive_it, r.nlive, lv, 100, 1))
    else:
        out = benchmark(lambda: ref.simulate_logz(r.logl, r.nlive_it, r.nlive, 100, np.random.default_rng(1)))
    assert 0.02 < np.std(out) < 0.5
