"""Public API of ridgeline.nested: evidence against analytic truth, the four likelihood kinds, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline.nested import CLikelihood, NestedSampler, problems, sample


def _run(p, **kw):
    kw.setdefault("nlive", 300)
    kw.setdefault("rng", 1)
    dlogz = kw.pop("dlogz", 0.5)
    return NestedSampler(p.loglike, p.prior_transform, p.ndim, **kw).run(dlogz=dlogz)


@pytest.mark.parametrize("p", [problems.gaussian(2), problems.gaussian(5), problems.shells(), problems.eggbox()],
                         ids=lambda p: p.name)
def test_builtin_logz_within_4_sigma(p):
    res = _run(p)
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr
    assert 0.02 < res.logzerr < 0.5
    assert res.samples.shape == (res.niter + 300, p.ndim)
    assert res.logl.shape == res.logwt.shape == res.weights.shape == (res.niter + 300,)
    assert math.isclose(res.weights.sum(), 1.0, rel_tol=1e-9)
    assert res.ncall >= res.niter + 300


def test_same_seed_same_run():
    p = problems.shells()
    a, b = _run(p, rng=7), _run(p, rng=7)
    assert a.logz == b.logz and a.ncall == b.ncall
    np.testing.assert_array_equal(a.samples, b.samples)
    c = _run(p, rng=8)
    assert c.logz != a.logz
