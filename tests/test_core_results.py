"""The compiled results are read-only, picklable classes with named fields (no dicts, no positional tuples)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.elbo import masked_diffusion as md
from ridgeline.nested import NestedSampler, problems


def _arrays_equal(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if hasattr(a, "_fields"):
        return type(a) is type(b) and all(_arrays_equal(getattr(a, f), getattr(b, f)) for f in a._fields)
    return a == b or (a != a and b != b)  # NaN equals NaN here


def _check_result(r):
    names = type(r)._fields
    assert isinstance(names, tuple) and names
    for name in names:
        value = getattr(r, name)
        with pytest.raises(AttributeError):
            setattr(r, name, value)
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable, name
            with pytest.raises(ValueError, match="read-only"):
                value[...] = 0
    assert not isinstance(r, (dict, tuple))
    text = repr(r)
    assert text.startswith(type(r).__name__ + "(") and len(text) < 300
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is type(r)
    assert _arrays_equal(back, r)
    for name in names:  # arrays stay read-only after unpickling
        value = getattr(back, name)
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable, name


@pytest.fixture(scope="module")
def slice_run():
    p = problems.gaussian(6)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=4, sample="slice", slice_steps=4)
    s.run(dlogz=1.0)
    return s


def test_sampler_state_fields(slice_run):
    st = slice_run._core.state()
    assert isinstance(st, _core.nested.SamplerState)
    _check_result(st)
    _check_result(st.slice_stats)
    nd = st.niter
    assert st.dead_u.shape == (nd, 6) and st.live_u.shape == (60, 6) and st.dead_nlive.dtype == np.int32
    c = slice_run._core.counters()
    _check_result(c)
    assert (c.niter, c.ncall, c.logz) == (st.niter, st.ncall, st.logz)
    # the slice statistics by name: every slice call is a directional, radial or fresh-start one
    ss = st.slice_stats
    assert ss.recorded and st.slice_active
    assert ss.dir_calls + ss.rad_calls + ss.fresh_calls == st.slice_calls
    assert ss.moments.ndim == 2 and ss.moments.shape[1] == 3


def test_slice_stats_before_any_slice_step():
    p = problems.gaussian(2)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=30, rng=0, sample="unif")
    s.run(dlogz=1.0, maxiter=20)
    ss = s._core.state().slice_stats
    assert not ss.recorded and ss.steps == 0 and ss.moments.shape == (0, 3)
    _check_result(ss)


def test_bound_draw_evaluate_weights(slice_run):
    core = slice_run._core
    ells = core.bound()
    assert isinstance(ells, list) and ells
    for e in ells:
        assert isinstance(e, _core.nested.Ellipsoid)
        _check_result(e)
    st = core.state()
    ev = core.evaluate(st.live_u[:3])
    _check_result(ev)
    np.testing.assert_array_equal(ev.x, st.live_x[:3])
    np.testing.assert_array_equal(ev.logl, st.live_logl[:3])
    w = _core.nested.deterministic_weights(st.dead_logl, st.dead_nlive, 0, st.logvol)
    _check_result(w)
    assert w.logvol.shape == w.logwt.shape == st.dead_logl.shape
    pts = np.random.default_rng(0).random((50, 2))
    (e,) = _core.nested.fit_bound(pts, -3.0, False, 1.25)
    _check_result(e)
    assert e.center.shape == (2,) and e.shape.shape == (2, 2)


def test_draw_above_result():
    p = problems.gaussian(2)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=30, rng=1)
    s.run(dlogz=1.0, maxiter=50)
    st = s._core.state()
    seeder = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=30, rng=2)
    seeder._core.set_live(st.live_u, st.live_x, st.live_logl, st.live_birth, st.logvol)
    lstar = float(st.live_logl.min())
    d = seeder._core.draw_above(lstar, 5)
    _check_result(d)
    assert d.u.shape == d.x.shape == (5, 2) and np.all(d.logl > lstar)


def test_elbo_plan_arrays():
    p = md.plan([3, 2], budget=4, seed=7, scheme="stratified_l", mask="exact_k")
    _, key = md._seed_key(7)
    scheme, mask = md.SCHEMES.index("stratified_l"), md.MASKS.index("exact_k")
    arrays = _core.elbo.plan(np.arange(2, dtype=np.uint64), np.array([0, 3, 5]), np.array([0, 1, 2, 0, 1]), key,
                             scheme, mask, 4, p.t_min, p.nodes, p.weights, 1)
    assert isinstance(arrays, _core.elbo.PlanArrays)
    _check_result(arrays)
    np.testing.assert_array_equal(arrays.indptr, p.indptr)
    np.testing.assert_array_equal(arrays.indices, p.indices)
    np.testing.assert_array_equal(arrays.t, p.t.ravel())
    assert arrays.t.shape == arrays.coef.shape == (8,) and arrays.indptr.dtype == np.int64


def test_unpickling_refuses_a_wrong_state():
    c = _core.nested.Counters.__new__(_core.nested.Counters)
    with pytest.raises(ValueError, match="expected 3 fields, got 2"):
        c.__setstate__((1, 2))


def test_cluster_results():
    gen = np.random.default_rng(0)
    X = np.vstack([gen.normal(c, 0.1, size=(20, 2)) for c in (0.0, 3.0)])
    pw = _core.cluster.peng_wei(X, 2, 4, 1, max_iter=50)
    assert isinstance(pw, _core.cluster.PengWeiSolution)
    _check_result(pw)
    assert pw.U.shape[0] == 40 and pw.isa in ("baseline", "avx2+fma") and pw.n_iter <= 50
    km = _core.cluster.kmeans(X, 2, 3, 100, 5, 1)
    assert isinstance(km, _core.cluster.KMeansResult)
    _check_result(km)
    assert km.labels.shape == (40,) and km.centers.shape == (2, 2)
    # the inertia is the cost of the labels and centres it comes with
    assert km.inertia == pytest.approx(float(np.sum((X - km.centers[km.labels]) ** 2)), rel=1e-12)
    labels = km.labels
    covs = np.stack([np.cov(X[labels == k].T) + 1e-3 * np.eye(2) for k in range(2)])
    U0 = np.zeros((40, 4))
    U0[np.arange(40), 2 * labels] = 1.0 / np.sqrt(np.bincount(labels)[labels])
    la = _core.cluster.la_sdp(X, covs, U0, rank=2, max_iter=30)
    assert isinstance(la, _core.cluster.SdpSolution)
    _check_result(la)


def test_spectra_tridiagonal_result():
    a, b = np.array([2.0, 1.0, 3.0]), np.array([0.5, 0.25])
    eig = _core.spectra.tridiagonal_eigh(a, b)
    assert isinstance(eig, _core.spectra.TridiagonalEigh)
    _check_result(eig)
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    np.testing.assert_allclose(eig.eigenvalues, np.linalg.eigvalsh(T), rtol=1e-13)
    np.testing.assert_allclose(T @ eig.eigenvectors, eig.eigenvectors * eig.eigenvalues, atol=1e-13)
