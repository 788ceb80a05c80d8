"""Direct calls into ridgeline._core.nested, compared with the numpy reference sampler."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.nested import NestedSampler, problems
from ridgeline.nested import _reference as ref

core = _core.nested


def _a_run(p, seed=0, nlive=200):
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=nlive, rng=seed)
    res = s.run(dlogz=0.5)
    return s, res


def test_expected_weights_match_reference():
    s, res = _a_run(problems.shells())
    logvol_end = float(s._core.state().logvol)
    w = core.deterministic_weights(res.logl, res.nlive_it, res.nlive, logvol_end)
    lv, lw = w.logvol, w.logwt
    rlv, rlw = ref.expected_weights(res.logl, res.nlive_it, res.nlive, logvol_end)
    np.testing.assert_allclose(lv, rlv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lw, rlw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lw, res.logwt, rtol=0, atol=0)


@pytest.mark.parametrize("p", [problems.gaussian(5), problems.eggbox()], ids=lambda p: p.name)
def test_simulated_spread_matches_exact_reference(p):
    s, res = _a_run(p, nlive=300)
    logvol_end = float(s._core.state().logvol)
    sims = core.simulate_logz(res.logl, res.nlive_it, res.nlive, logvol_end, 2000, 123)
    exact = ref.simulate_logz(res.logl, res.nlive_it, res.nlive, 2000, np.random.default_rng(5))
    # 2000 draws: the standard deviation has a relative standard error of ~1.6%
    assert sims.std() == pytest.approx(exact.std(), rel=0.08)
    assert abs(sims.mean() - exact.mean()) < 4 * exact.std() / np.sqrt(1000)
    # point by point (block=1) is the exact scheme as well
    one = core.simulate_logz(res.logl, res.nlive_it, res.nlive, logvol_end, 2000, 7, 1)
    assert one.std() == pytest.approx(exact.std(), rel=0.08)
    # same seed, same numbers
    np.testing.assert_array_equal(sims, core.simulate_logz(res.logl, res.nlive_it, res.nlive, logvol_end, 2000, 123))


def test_single_ellipsoid_matches_reference():
    gen = np.random.default_rng(1)
    for n, d in [(200, 2), (60, 5), (500, 10)]:
        pts = gen.random((n, d)) * np.linspace(0.2, 1.0, d)
        (got,) = core.fit_bound(pts, -3.0, False, 1.25)
        c, shape, logvol = got.center, got.shape, got.logvol
        (e,) = ref.fit_bound(pts, -3.0, False, 1.25)
        np.testing.assert_allclose(c, e.center, rtol=1e-12)
        np.testing.assert_allclose(shape, e.shape, rtol=1e-9, atol=1e-14)
        assert logvol == pytest.approx(e.logvol, rel=1e-10)
        # every point is inside, the volume is at least n * pointvol
        p = np.linalg.inv(shape)
        r2 = np.einsum("ij,jk,ik->i", pts - c, p, pts - c)
        assert r2.max() <= 1.0
        assert logvol >= np.log(n) - 3.0


def _uniform_ball(gen, n, d):
    z = gen.standard_normal((n, d))
    return z / np.linalg.norm(z, axis=1)[:, None] * gen.random((n, 1)) ** (1.0 / d)


def test_few_points_in_high_dimension_get_the_cross_validated_shrunk_ellipsoid():
    # 500 uniform points in a 40-ball: the sample covariance spreads its eigenvalues
    # (Marchenko-Pastur), so the plain fit is many times the ball; the Ledoit-Wolf
    # shape with its cross-validated coverage factor is kept when smaller
    gen = np.random.default_rng(11)
    d, n = 40, 500
    lpv = ref._log_unit_ball(d) + np.log(0.1**d) - np.log(n)
    fresh = 0.5 + 0.1 * _uniform_ball(gen, 20000, d)
    for _ in range(2):
        pts = 0.5 + 0.1 * _uniform_ball(gen, n, d)
        (got,) = core.fit_bound(pts, lpv, False, 1.0)
        (want,) = ref.fit_bound(pts, lpv, False, 1.0)
        np.testing.assert_allclose(got.center, want.center, rtol=1e-12)
        np.testing.assert_allclose(got.shape, want.shape, rtol=1e-9, atol=1e-16)
        assert got.logvol == pytest.approx(want.logvol, rel=1e-10)
        plain = ref.fit_ellipsoid(pts, lpv)
        true_logvol = ref._log_unit_ball(d) + d * np.log(0.1)
        assert got.logvol < plain.logvol - np.log(5)  # measured: ~10x smaller
        assert got.logvol - true_logvol < np.log(10)  # within 10x of the ball's volume
        p = np.linalg.inv(got.shape)
        r2 = np.einsum("ij,jk,ik->i", fresh - got.center, p, fresh - got.center)
        assert np.mean(r2 <= 1.0) > 0.98  # held-out coverage (measured 0.99+)
    # a strongly anisotropic cloud (axis ratio 100, rotated): the spread is real and the plain fit is kept
    q, _ = np.linalg.qr(gen.standard_normal((d, d)))
    t = q * np.exp(np.linspace(0.0, np.log(100.0), d) / 2) * 0.01
    pts = 0.5 + _uniform_ball(gen, n, d) @ t.T
    (got,) = core.fit_bound(pts, -200.0, False, 1.0)
    plain = ref.fit_ellipsoid(pts, -200.0)
    assert got.logvol == pytest.approx(plain.logvol, rel=1e-10)


def test_two_clusters_in_high_dimension_match_reference():
    # two balls in 25 dimensions, 300 points each: the clusters of the split take the shrunk shape too
    gen = np.random.default_rng(12)
    d = 25
    pts = np.vstack([0.3 + 0.05 * _uniform_ball(gen, 300, d), 0.7 + 0.05 * _uniform_ball(gen, 300, d)])
    lpv = ref._log_unit_ball(d) + d * np.log(0.05) + np.log(2 / 600)
    got = core.fit_bound(pts, lpv, True, 1.25, 10)
    want = ref.fit_bound(pts, lpv, True, 1.25, 10)
    assert len(got) == len(want) == 2
    for g, e in zip(sorted(got, key=lambda t: tuple(t.center)), sorted(want, key=lambda e: tuple(e.center))):
        np.testing.assert_allclose(g.center, e.center, rtol=1e-10)
        np.testing.assert_allclose(g.shape, e.shape, rtol=1e-8, atol=1e-16)
        assert g.logvol == pytest.approx(e.logvol, rel=1e-9)
        assert g.logvol < ref.fit_ellipsoid(pts[np.abs(pts.mean(axis=1) - g.center.mean()) < 0.1], lpv).logvol - 1.0


def test_multi_ellipsoid_split_matches_reference():
    gen = np.random.default_rng(2)
    centres = np.array([[0.2, 0.2, 0.2], [0.8, 0.3, 0.5], [0.4, 0.8, 0.7]])

    def ball(n):  # uniform in the ball of radius 0.1
        z = gen.standard_normal((n, 3))
        return 0.1 * z / np.linalg.norm(z, axis=1)[:, None] * gen.random((n, 1)) ** (1 / 3)

    pts = np.vstack([c + ball(150) for c in centres])
    logpointvol = np.log(4 / 3 * np.pi * 0.1**3 / 150)  # the volume each point fills
    got = core.fit_bound(pts, logpointvol, True, 1.25)
    want = ref.fit_bound(pts, logpointvol, True, 1.25)
    assert len(got) == len(want) == 3
    for g, e in zip(sorted(got, key=lambda t: tuple(t.center)), sorted(want, key=lambda e: tuple(e.center))):
        np.testing.assert_allclose(g.center, e.center, rtol=1e-10)
        np.testing.assert_allclose(g.shape, e.shape, rtol=1e-8, atol=1e-14)
        assert g.logvol == pytest.approx(e.logvol, rel=1e-9)
    # the union covers the clusters and each ellipsoid holds one cluster centre
    for c in centres:
        inside = [float((c - g.center) @ np.linalg.inv(g.shape) @ (c - g.center)) <= 1 for g in got]
        assert sum(inside) == 1
    # a single compact cluster is not split
    assert len(core.fit_bound(0.5 + ball(300), logpointvol + np.log(0.5), True, 1.25)) == 1


def test_cross_validated_bound_matches_reference_and_covers_thin_annulus():
    # a thin annulus (a contour of the thin Gaussian shells) cut into many small
    # ellipsoids: they taper where the pieces meet and miss part of the annulus;
    # the 10-fold coverage check enlarges the union (at most 2x in volume)
    gen = np.random.default_rng(3)
    r0, h = 0.2, 0.001

    def annulus(m):
        th = gen.uniform(0, 2 * np.pi, m)
        r = np.sqrt(gen.uniform((r0 - h) ** 2, (r0 + h) ** 2, m))
        return np.c_[0.5 + r * np.cos(th), 0.5 + r * np.sin(th)]

    area = np.pi * ((r0 + h) ** 2 - (r0 - h) ** 2)
    test = annulus(40000)

    def missed(ells):
        r2 = np.stack([np.einsum("ij,jk,ik->i", test - e.center, np.linalg.inv(e.shape), test - e.center) for e in ells], axis=1)
        return float(np.mean(r2.min(axis=1) > 1.0))

    miss0, miss10 = [], []
    for _ in range(3):
        pts = annulus(500)
        lpv = np.log(area / 500)
        plain = core.fit_bound(pts, lpv, True, 1.25)
        cv = core.fit_bound(pts, lpv, True, 1.25, 10)
        want = ref.fit_bound(pts, lpv, True, 1.25, 10)
        assert len(cv) == len(want) == len(plain) > 10
        for got, e in zip(sorted(cv, key=lambda t: tuple(t.center)), sorted(want, key=lambda e: tuple(e.center))):
            np.testing.assert_allclose(got.center, e.center, rtol=1e-10)
            np.testing.assert_allclose(got.shape, e.shape, rtol=1e-8, atol=1e-14)
            assert got.logvol == pytest.approx(e.logvol, rel=1e-9)
        # same ellipsoids, enlarged by one common factor in (1, 2 / 1.25]
        ratio = [b.logvol - a.logvol for a, b in zip(plain, cv)]
        assert np.ptp(ratio) < 1e-9 and 0 < ratio[0] <= np.log(2 / 1.25) + 1e-12
        miss0.append(missed(plain))
        miss10.append(missed(cv))
    assert np.mean(miss0) > 0.02  # the plain union misses a few percent
    assert np.mean(miss10) < 0.5 * np.mean(miss0)
    # a compact Gaussian-like cluster is left at the default enlargement
    ball = gen.standard_normal((500, 5)) * 0.05 + 0.5
    np.testing.assert_allclose(
        [t.logvol for t in core.fit_bound(ball, np.log(1e-6), True, 1.25, 10)],
        [t.logvol for t in core.fit_bound(ball, np.log(1e-6), True, 1.25)],
    )
    with pytest.raises(ValueError, match="folds=1 must be 0 or >= 2"):
        core.fit_bound(ball, 0.0, True, 1.25, 1)


def test_core_rejects_bad_input():
    with pytest.raises(ValueError, match="nsim=0 must be >= 1"):
        core.simulate_logz(np.zeros(3), np.array([3], dtype=np.int32), 2, 0.0, 0, 1)
    with pytest.raises(ValueError, match="logl must be 1-D"):
        core.simulate_logz(np.zeros((3, 1)), np.array([3], dtype=np.int32), 2, 0.0, 10, 1)
    with pytest.raises(ValueError, match="nlive must have length"):
        core.deterministic_weights(np.zeros(3), np.array([3, 3], dtype=np.int32), 2, 0.0)
    with pytest.raises(ValueError, match="nfinal=5 must be <= len"):
        core.deterministic_weights(np.zeros(3), np.array([3], dtype=np.int32), 5, 0.0)
    with pytest.raises(ValueError, match="logl must not contain nan"):
        core.deterministic_weights(np.array([0.0, np.nan]), np.array([3], dtype=np.int32), 1, 0.0)
    with pytest.raises(ValueError, match="points must be finite"):
        core.fit_bound(np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 1.0]]), 0.0)
    with pytest.raises(ValueError, match="points must be 2-D"):
        core.fit_bound(np.zeros(4), 0.0)
    with pytest.raises(ValueError, match="enlarge=0.5"):
        core.fit_bound(np.zeros((4, 2)), 0.0, True, 0.5)
    with pytest.raises(ValueError, match="bound='cube' is unknown"):
        core.Sampler(2, 50, 0, "cube")
    with pytest.raises(ValueError, match="nlive=1 must be >= 2"):
        core.Sampler(2, 1, 0)
    s = core.Sampler(2, 50, 0)
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        s.set_loglike_builtin("nope")
    with pytest.raises(ValueError, match="address=0"):
        s.set_loglike_cfunc(0)
    with pytest.raises(TypeError, match="loglike must be callable"):
        s.set_loglike_python(3, False)
    with pytest.raises(ValueError, match="lo and hi must have length ndim=2"):
        s.set_transform_affine([0.0], [1.0])
    with pytest.raises(ValueError, match="dlogz=-1"):
        s.run(-1.0)
    with pytest.raises(ValueError, match="must be 2 for shells"):
        core.Sampler(3, 50, 0).set_loglike_builtin("shells")


def _compare_with_reference(p, nlive, nseed):
    zc, ec, zr, er = [], [], [], []
    for seed in range(nseed):
        res = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=nlive, rng=seed).run(dlogz=0.5)
        zc.append(res.logz)
        ec.append(res.logzerr)
        r = ref.run(p.loglike_vectorized, p.prior_transform, p.ndim, nlive=nlive, dlogz=0.5, rng=1000 + seed)
        zr.append(r["logz"])
        er.append(r["logzerr"])
    zc, ec, zr, er = map(np.asarray, (zc, ec, zr, er))
    se = np.sqrt(zc.var(ddof=1) / nseed + zr.var(ddof=1) / nseed)
    assert abs(zc.mean() - zr.mean()) < 4 * se, (zc.mean(), zr.mean(), se)
    assert 1 / 1.25 < ec.mean() / er.mean() < 1.25, (ec.mean(), er.mean())
    # both are right about the truth too
    assert abs(zc.mean() - p.logz_true) < 4 * ec.mean() / np.sqrt(nseed) + 4 * zc.std(ddof=1) / np.sqrt(nseed)
    return zc, ec, zr, er


def test_core_agrees_with_reference_sampler_gaussian3():
    _compare_with_reference(problems.gaussian(3), nlive=100, nseed=20)


@pytest.mark.slow
@pytest.mark.parametrize(
    "p", [problems.shells(), problems.mixture(3), problems.gaussian(6)], ids=lambda p: p.name
)
def test_core_agrees_with_reference_sampler_slow(p):
    zc, ec, zr, er = _compare_with_reference(p, nlive=200, nseed=20)
    print(f"\n{p.name}: core {zc.mean():.4f} +/- {ec.mean():.4f}   reference {zr.mean():.4f} +/- {er.mean():.4f}")
