"""Calibration of log Z and its error over 50 seeds on two Gaussian shells in 2-d (slow).

The problem of Feroz, Hobson & Bridges (2009) and UltraNest's multi-shell example:
z = (log Z - truth) / logzerr over 50 seeds must have a mean within +-0.4 (the
standard error of a mean of 50 unit normals is 0.14) and an RMS near 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline.nested import NestedSampler, problems

_LOG2PI = math.log(2 * math.pi)


def thin_shells(w=0.01, r=2.0, c=3.5, half=6.0):
    """Two Gaussian shells of width w (vectorised Python) and their exact log Z on U[-half, half]^2."""

    def loglike(x):
        d1 = np.hypot(x[:, 0] - c, x[:, 1]) - r
        d2 = np.hypot(x[:, 0] + c, x[:, 1]) - r
        return np.logaddexp(-0.5 * (d1 / w) ** 2, -0.5 * (d2 / w) ** 2) - math.log(w) - 0.5 * _LOG2PI

    def transform(u):
        return (2.0 * u - 1.0) * half

    z = r / w
    one = 2 * math.pi * (r * 0.5 * math.erfc(-z / math.sqrt(2)) + w * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    return loglike, transform, math.log(2 * one / (2 * half) ** 2)


def _zscores(make, truth, seeds=50):
    z = []
    for seed in range(seeds):
        res = make(seed).run()
        z.append((res.logz - truth) / res.logzerr)
    return np.array(z)


@pytest.mark.slow
def test_shells_calibration_50_seeds():
    p = problems.shells()
    z = _zscores(lambda s: NestedSampler(p.loglike, p.prior_transform, 2, nlive=500, rng=s), p.logz_true)
    print(f"\nshells w=0.1: mean z {z.mean():+.3f} (se {z.std(ddof=1) / math.sqrt(z.size):.3f}), rms {np.sqrt(np.mean(z**2)):.3f}")
    assert abs(z.mean()) < 0.4
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="engine lean on thin curved shells: mean z +0.47 (se 0.13) at the default enlarge=1.25, "
    "+0.08 (se 0.13) at enlarge=2: the bounding ellipsoids miss part of the shell; remove this mark with the fix",
)
def test_thin_shells_calibration_50_seeds():
    ll, tr, truth = thin_shells(w=0.01)
    z = _zscores(lambda s: NestedSampler(ll, tr, 2, nlive=500, rng=s, vectorized=True), truth)
    print(f"\nshells w=0.01: mean z {z.mean():+.3f} (se {z.std(ddof=1) / math.sqrt(z.size):.3f}), rms {np.sqrt(np.mean(z**2)):.3f}")
    assert abs(z.mean()) < 0.4
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.5
