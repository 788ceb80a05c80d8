"""Dynamic nested sampling: batches of live points to reach a requested effective sample size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline.nested import DynamicNestedSampler, NestedSampler, problems
from ridgeline.nested._dynamic import batch_bounds, merge_runs


def _dyn(p, **kw):
    kw.setdefault("nlive", 150)
    kw.setdefault("rng", 5)
    return DynamicNestedSampler(p.loglike, p.prior_transform, p.ndim, **kw)


def _birth_count(res):
    """Live points at each point from the births alone: #{j : birth_j < L_i <= L_j} (no ties, no -inf)."""
    lb, ll = res.logl_birth, res.logl
    return np.array([np.sum((lb < v) & (ll >= v)) for v in ll])


def test_no_batch_reproduces_the_static_run():
    p = problems.gaussian(3)
    static = NestedSampler(p.loglike, p.prior_transform, 3, nlive=150, rng=11).run(dlogz=0.1)
    dyn = _dyn(p, rng=11).run(target_ess=1.0, dlogz_init=0.1)
    assert dyn.stop == "ess"
    assert dyn.logz == static.logz
    assert dyn.logzerr == static.logzerr
    np.testing.assert_array_equal(dyn.logwt, static.logwt)
    np.testing.assert_array_equal(dyn.samples, static.samples)
    np.testing.assert_array_equal(dyn.nlive_it, static.nlive_it)
    assert dyn.nlive == static.nlive
    assert dyn.ncall == static.ncall


def test_gaussian_reaches_target_ess_and_true_logz():
    p = problems.gaussian(3)
    s = _dyn(p)
    res = s.run(target_ess=3000, dlogz_init=0.1)
    assert res.stop == "ess"
    assert res.ess >= 3000
    assert len(s.batches) >= 1
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr
    # the number of live points varies, and it is exactly the count implied by the births
    assert res.nlive_it.max() > 150
    n_all = np.concatenate([res.nlive_it, np.arange(res.nlive, 0, -1)])
    np.testing.assert_array_equal(n_all, _birth_count(res))
    # batches start inside the run (not from the prior) and every point is above its batch's contour
    assert all(b["logl_low"] > -math.inf for b in s.batches)
    assert np.all(res.logl > res.logl_birth)
    # posterior moments: N(0.5, 0.1^2) per coordinate (the prior cut at 5 sigma is negligible)
    mean, cov = res.mean_and_cov()
    se = 0.1 / math.sqrt(res.ess)
    assert np.all(np.abs(mean - 0.5) < 5 * se)
    np.testing.assert_allclose(np.diag(cov), 0.01, rtol=0.15)


def test_multimodal_reaches_target_ess_with_mode_weights():
    p = problems.mixture(3)
    s = _dyn(p, nlive=200, rng=2)
    res = s.run(target_ess=3000, dlogz_init=0.1)
    assert res.stop == "ess"
    assert res.ess >= 3000
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr
    w_low = res.weights[res.samples[:, 0] < 0.5].sum()
    assert abs(w_low - 0.5) < 0.1  # each mode holds half the posterior


def test_shells_reaches_target_ess():
    p = problems.shells()
    res = _dyn(p, nlive=200, rng=4).run(target_ess=2500, dlogz_init=0.1)
    assert res.ess >= 2500
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr


def test_same_seed_same_result_and_continuation():
    p = problems.gaussian(2)
    a = _dyn(p, nlive=100, rng=9).run(target_ess=1500, dlogz_init=0.5)
    b = _dyn(p, nlive=100, rng=9).run(target_ess=1500, dlogz_init=0.5)
    assert a.logz == b.logz
    np.testing.assert_array_equal(a.samples, b.samples)
    s = _dyn(p, nlive=100, rng=9)
    s.run(target_ess=1500, dlogz_init=0.5)
    more = s.run(target_ess=3000)
    assert more.ess >= 3000
    assert more.ncall > a.ncall


def test_limits_stop_the_batches():
    p = problems.gaussian(2)
    s = _dyn(p, nlive=100)
    res = s.run(target_ess=1e6, dlogz_init=0.5, maxbatch=2)
    assert res.stop == "maxbatch"
    assert len(s.batches) == 2
    s = _dyn(p, nlive=100)
    res = s.run(target_ess=1e6, dlogz_init=0.5, maxcall=6000)
    assert res.stop == "maxcall"
    assert res.ncall <= 6000 + 2 * 100  # the last replacement batch may finish its queue


def test_result_interoperates():
    p = problems.gaussian(2)
    s = _dyn(p, nlive=100, nlive_batch=60)
    with pytest.warns(DeprecationWarning, match="'n_effective' is deprecated.*'target_ess'"):
        res = s.run(n_effective=1500, dlogz_init=0.5)
    assert res.ess >= 1500
    draws = res.posterior(rng=0)
    assert draws.shape == (round(res.ess), 2)
    assert abs(draws.mean() - 0.5) < 0.02
    d = res.to_dynesty()
    n = res.logl.size
    assert len(d["samples_n"]) == n
    np.testing.assert_array_equal(np.asarray(d["samples_n"])[: res.niter], res.nlive_it)
    assert float(np.asarray(d["logz"])[-1]) == pytest.approx(res.logz)
    assert "log Z" in res.summary()
    assert s.results is res
    assert all(b["nlive"] == 60 for b in s.batches)


def test_plots_work_on_a_dynamic_run():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = problems.gaussian(2)
    res = _dyn(p, nlive=80).run(target_ess=800, dlogz_init=0.5)
    for fig in (res.plot_run(), res.plot_trace(), res.plot_corner()):
        plt.close(fig if hasattr(fig, "savefig") else fig[0])


def test_python_loglike_and_vectorized():
    p = problems.gaussian(2)
    res = DynamicNestedSampler(p.loglike_vectorized, None, 2, nlive=100, rng=1, vectorized=True).run(
        target_ess=1200, dlogz_init=0.5)
    assert res.ess >= 1200
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr


def test_draw_above_is_uniform_in_the_contour():
    # points drawn above L* from a seed live set are uniform in the ball r < R:
    # (r / R)^d ~ U(0, 1)
    p = problems.gaussian(3)
    base = NestedSampler(p.loglike, p.prior_transform, 3, nlive=300, rng=0)
    base.run(dlogz=10.0, maxiter=1200)
    st = base._core.state()
    lstar = float(np.min(st["live_logl"]))
    seeder = NestedSampler(p.loglike, p.prior_transform, 3, nlive=300, rng=1)
    seeder._core.set_live(st["live_u"], st["live_x"], st["live_logl"], st["live_birth"], float(st["logvol"]))
    u, x, ll = seeder._core.draw_above(lstar, 3000)
    assert np.all(ll > lstar)
    np.testing.assert_array_equal(ll, [p.loglike(xi) for xi in x])
    r2max = 2 * 0.01 * (p.loglike(np.full(3, 0.5)) - lstar)
    q = (np.sum((x - 0.5) ** 2, axis=1) / r2max) ** 1.5
    assert abs(q.mean() - 0.5) < 4 * math.sqrt(1 / 12 / q.size)
    assert abs(np.mean(q < 0.25) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / q.size)
    # the seed set is left unchanged
    np.testing.assert_array_equal(seeder._core.state()["live_logl"], st["live_logl"])


def test_merge_runs_counts_live_points():
    # baseline with 3 live points, a batch of 2 started at logl=1.5
    base = {"logl": np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "n": np.array([3, 3, 3, 2, 1]), "start": -math.inf}
    batch = {"logl": np.array([2.5, 3.5, 6.0]), "n": np.array([2, 2, 1]), "start": 1.5}
    m = merge_runs([base, batch])
    np.testing.assert_array_equal(m["logl"], [1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(m["nlive"], [3, 5, 5, 5, 4, 3, 2, 1])
    assert m["nfinal"] == 5  # from logl=3: no point is born any more
    assert m["logvol_end"] == pytest.approx(-(1 / 3 + 1 / 5 + 1 / 5))


def test_batch_bounds():
    logl = np.linspace(-10, 0, 101)
    logwt = -0.5 * ((np.arange(101) - 40) / 10.0) ** 2  # peaked at point 40
    lo, hi = batch_bounds(logwt, logl, maxfrac=0.8)
    assert -math.inf < lo < hi < math.inf
    imp = np.exp(logwt - logwt.max())
    inside = (logl > lo) & (logl < hi)
    assert np.all(imp[~inside] < 0.8)
    assert np.all(imp[inside] >= 0.8)
    assert lo == logl[33] and hi == logl[47]  # exp(-0.5 (k / 10)^2) >= 0.8 for |k| <= 6, plus one point
    lo, hi = batch_bounds(logl - 0.0, logl)  # increasing weights: the interval reaches the end
    assert hi == math.inf


@pytest.mark.parametrize(
    ("kw", "err"),
    [
        ({"target_ess": -1.0}, ValueError),
        ({"target_ess": "x"}, TypeError),
        ({"maxfrac": 0.0}, ValueError),
        ({"pfrac": 1.5}, ValueError),
        ({"maxbatch": -1}, ValueError),
        ({"target_ess": 10.0, "n_effective": 10.0}, TypeError),
    ],
)
def test_bad_run_arguments(kw, err):
    p = problems.gaussian(2)
    with pytest.raises(err):
        _dyn(p, nlive=50).run(**kw)


def test_bad_constructor_arguments():
    p = problems.gaussian(2)
    with pytest.raises(ValueError, match="nlive_batch"):
        _dyn(p, nlive_batch=2)
    with pytest.raises(TypeError, match="nlive_batch"):
        _dyn(p, nlive_batch=2.5)
    with pytest.raises(TypeError, match="surrogate"):
        _dyn(p, surrogate="mlp")


def _quadratic(x):
    r = x - 0.5
    return float(-0.5 * (r @ r) / 0.01)


def test_executor_batches_same_result_for_any_worker_count():
    import concurrent.futures as cf

    out = []
    for workers in (1, 2):
        with cf.ThreadPoolExecutor(workers) as ex:
            s = DynamicNestedSampler(_quadratic, None, 2, nlive=60, rng=3, executor=ex)
            out.append(s.run(target_ess=800, dlogz_init=0.5))
    assert out[0].ess >= 800
    assert out[0].logz == out[1].logz
    np.testing.assert_array_equal(out[0].samples, out[1].samples)
    # log Z of the unnormalised Gaussian: ln(2 pi 0.01) (the prior cut at 5 sigma is negligible)
    assert abs(out[0].logz - math.log(2 * math.pi * 0.01)) < 3.5 * out[0].logzerr


def test_slice_sampling_batches():
    p = problems.correlated(8)
    s = DynamicNestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=100, rng=2, sample="slice")
    res = s.run(target_ess=1500, dlogz_init=0.5)
    assert res.ess >= 1500
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr
    mean, _ = res.mean_and_cov()
    assert np.all(np.abs(mean - 0.5) < 0.01)  # posterior sd per coordinate 0.05


def test_dynesty_tools_read_a_dynamic_run():
    pytest.importorskip("dynesty")
    from dynesty import utils as dyutils

    p = problems.gaussian(2)
    res = _dyn(p, nlive=80).run(target_ess=800, dlogz_init=0.5)
    d = res.to_dynesty()
    np.testing.assert_allclose(d.importance_weights(), res.weights, rtol=1e-10)
    mean, cov = dyutils.mean_and_cov(d.samples, d.importance_weights())
    np.testing.assert_allclose(mean, res.mean_and_cov()[0], rtol=1e-10)


def test_core_run_until_stops_above_the_contour():
    p = problems.gaussian(3)
    s = NestedSampler(p.loglike, p.prior_transform, 3, nlive=100, rng=0)
    stop = s._core.run_until(2.0, 0.0)
    st = s._core.state()
    assert stop == "logl"
    assert st["live_logl"].min() > 2.0
    assert st["dead_logl"][-1] <= 2.0 < st["live_logl"].min()
    # continuing with dlogz only: the ordinary stopping rule
    assert s._core.run_until(math.inf, 0.5) == "dlogz"


def test_cli_target_ess(capsys):
    from ridgeline.nested._cli import main

    assert main(["--problem", "gaussian", "--nlive", "100", "--target-ess", "1000"]) == 0
    out = capsys.readouterr().out
    ess = float(out.split("effective sample size ")[1].split()[0])
    assert ess >= 1000


def test_evidence_batches_start_from_the_prior():
    # pfrac=0: the importance is the evidence still to come, largest at the first point,
    # so the batches start from the prior (logl_low = -inf)
    p = problems.gaussian(3)
    s = _dyn(p, nlive=100, rng=8)
    res = s.run(target_ess=1e9, dlogz_init=0.5, pfrac=0.0, maxbatch=2)
    assert res.stop == "maxbatch"
    assert s.batches[0]["logl_low"] == -math.inf
    n_all = np.concatenate([res.nlive_it, np.arange(res.nlive, 0, -1)])
    assert n_all[0] == 100 * (1 + sum(b["logl_low"] == -math.inf for b in s.batches))
    np.testing.assert_array_equal(n_all, _birth_count(res))
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr


def test_deprecated_thread_spelling_warns_once():
    p = problems.gaussian(2)
    with pytest.warns(DeprecationWarning, match="'nthreads' is deprecated") as rec:
        s = DynamicNestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=50, rng=0, nthreads=2)
        res = s.run(target_ess=300, dlogz_init=0.5)
    assert len([w for w in rec if issubclass(w.category, DeprecationWarning)]) == 1
    assert s._base.n_threads == 2 and res.ess >= 300
    with pytest.warns(DeprecationWarning, match="'nthreads' is deprecated"):
        from ridgeline.nested import sample

        r = sample(p.loglike, p.prior_transform, p.ndim, nlive=50, rng=0, dlogz=0.5, nthreads=2)
    assert r.ncall > 0
