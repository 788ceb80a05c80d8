"""Genetic-algorithm starts with posterior repartitioning (ridgeline.nested.repartition)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline.nested import NestedSampler, genetic_search, repartition
from ridgeline.nested._genetic import _Mixture


def narrow_gaussian(d: int, s: float):
    """Normalised N(mu, s^2 I) on U[0, 1]^d: log Z = sum_j log(Phi((1-mu_j)/s) - Phi(-mu_j/s)) ~ 0."""
    mu = np.array([0.3, 0.6, 0.7, 0.45, 0.2])[:d]

    def loglike(x):
        r = (np.asarray(x) - mu) / s
        return -0.5 * float(r @ r) - d * (math.log(s) + 0.5 * math.log(2.0 * math.pi))

    truth = sum(math.log(0.5 * (math.erf((1 - m) / s / math.sqrt(2)) - math.erf(-m / s / math.sqrt(2)))) for m in mu)
    return loglike, truth


def _mixture():
    return _Mixture(np.array([0.7, 0.3]), np.array([[0.3, 0.6], [0.9, 0.05]]),
                    np.array([[0.01, 0.05], [0.004, 0.2]]), 0.1)


def test_proposal_density_is_normalised():
    q = _mixture()
    n = 1000
    g = (np.arange(n) + 0.5) / n  # midpoint rule, 4 points per narrowest scale: error far below 1e-4 here
    xx, yy = np.meshgrid(g, g, indexing="ij")
    total = np.exp(q.log_density(np.stack([xx.ravel(), yy.ravel()], axis=1))).mean()
    assert abs(total - 1.0) < 1e-4
    # q >= eps everywhere (the defensive component)
    assert np.exp(q.log_density(np.stack([xx.ravel(), yy.ravel()], axis=1))).min() >= 0.1 * (1 - 1e-12)


def test_transform_draws_follow_the_density():
    q = _mixture()
    rng = np.random.default_rng(1)
    u = q.transform(rng.random((100_000, 2)))
    assert u.min() >= 0.0 and u.max() <= 1.0
    # E_q[1 / q] = volume of the cube = 1 (importance identity behind the exact evidence)
    w = np.exp(-q.log_density(u))
    assert abs(w.mean() - 1.0) < 5 * w.std() / math.sqrt(w.size)
    # binned chi-square against the density integrated on a grid: 100 bins, mean 1 with sd ~0.14
    n = 1000
    g = (np.arange(n) + 0.5) / n
    xx, yy = np.meshgrid(g, g, indexing="ij")
    dens = np.exp(q.log_density(np.stack([xx.ravel(), yy.ravel()], axis=1))).reshape(n, n) / n / n
    expected = dens.reshape(10, 100, 10, 100).sum(axis=(1, 3)) * u.shape[0]
    hist = np.histogram2d(u[:, 0], u[:, 1], bins=10, range=[[0, 1], [0, 1]])[0]
    assert ((hist - expected) ** 2 / expected).sum() / 100 < 1.6


def test_genetic_search_finds_the_optimum_and_counts_calls():
    loglike, _ = narrow_gaussian(3, 0.0025)
    calls = []

    def counted(x):
        calls.append(1)
        return loglike(x)

    s = genetic_search(counted, None, 3, popsize=60, ngen=20, rng=0)
    assert s.ncall == len(calls) == 60 + 20 * (60 - 6)  # initial population, then all but the 6 elites
    assert np.max(np.abs(s.population[0] - [0.3, 0.6, 0.7])) < 0.01
    assert np.all(np.diff(s.logl) <= 0)
    s2 = genetic_search(counted, None, 3, popsize=60, ngen=20, rng=0)
    np.testing.assert_array_equal(s.population, s2.population)  # same seed, same search


def test_repartition_small_case_exact_and_cheaper():
    """d=2, posterior ~1e-5 of the prior: |z| < 4 per seed, and fewer total calls than a plain run (3 seeds)."""
    loglike, truth = narrow_gaussian(2, 0.001)
    ga_calls = plain_calls = 0
    for seed in range(3):
        rep = repartition(loglike, None, 2, rng=seed, ngen=15)
        res = rep.run(nlive=150, dlogz=0.5, rng=seed)
        assert abs(res.logz - truth) < 4 * res.logzerr
        assert res.ncall > rep.ncall_search
        assert np.all(np.abs(res.samples[-1] - [0.3, 0.6]) < 0.01)  # the last live points sit at the mode
        plain = NestedSampler(loglike, None, 2, nlive=150, rng=seed).run(dlogz=0.5)
        ga_calls += res.ncall
        plain_calls += plain.ncall
    assert ga_calls < plain_calls


def test_repartition_with_prior_transform_and_vectorized_search():
    lo, hi = np.array([-5.0, 10.0]), np.array([5.0, 30.0])

    def transform(u):
        return lo + (hi - lo) * np.asarray(u)

    def loglike_batch(x):
        x = np.atleast_2d(x)
        r = (x - [1.0, 20.0]) / [0.05, 0.1]
        return -0.5 * np.sum(r * r, axis=1) - math.log(2 * math.pi * 0.05 * 0.1)

    truth = -math.log(10.0 * 20.0)
    rep = repartition(loglike_batch, transform, 2, rng=3, vectorized=True)
    res = rep.run(nlive=150, dlogz=0.5, rng=3)
    assert abs(res.logz - truth) < 4 * res.logzerr
    mean = np.average(res.samples, weights=res.weights, axis=0)
    np.testing.assert_allclose(mean, [1.0, 20.0], atol=0.05)


@pytest.mark.parametrize(("kw", "exc"), [({"eps": 0.0}, ValueError), ({"eps": 1.0}, ValueError),
                                         ({"max_modes": 0}, ValueError), ({"eps": "a"}, TypeError)])
def test_repartition_bad_input(kw, exc):
    with pytest.raises(exc):
        repartition(lambda x: 0.0, None, 2, rng=0, **kw)


def test_repartition_rejects_non_callable():
    with pytest.raises(TypeError, match="loglike="):
        repartition(3, None, 2, rng=0)


@pytest.mark.slow
def test_repartition_calibrated_and_2x_cheaper_slow():
    """d=3, N(mu, 0.0025^2 I) in U[0,1]^3 (posterior ~1.1e-6 of the prior), 20 seeds, nlive=500, dlogz=0.1."""
    loglike, truth = narrow_gaussian(3, 0.0025)
    zs, ga_calls, plain_calls = [], 0, 0
    for seed in range(20):
        rep = repartition(loglike, None, 3, rng=seed)
        res = rep.run(nlive=500, dlogz=0.1, rng=seed)
        plain = NestedSampler(loglike, None, 3, nlive=500, rng=seed).run(dlogz=0.1)
        zs.append((res.logz - truth) / res.logzerr)
        ga_calls += res.ncall
        plain_calls += plain.ncall
    zs = np.array(zs)
    rms = float(np.sqrt(np.mean(zs**2)))
    print(f"\nrepartition d=3: RMS z={rms:.3f} max|z|={np.abs(zs).max():.2f} "
          f"calls GA+NS={ga_calls} plain={plain_calls} ratio={plain_calls / ga_calls:.2f}")
    assert 0.75 <= rms <= 1.3
    assert np.abs(zs).max() < 4
    assert plain_calls >= 2 * ga_calls
