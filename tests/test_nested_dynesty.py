"""ridgeline.nested.dynesty: dynesty's test problems (reimplemented from their description) with
dynesty's pass criteria, and the drop-in's interface (Results, resample/merge/jitter, plots)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ridgeline.nested import dynesty as dy

# ----------------------------------------------------------------------------- problems
# 3-d correlated Gaussian (dynesty test_gau): mean linspace(-1, 1), unit variances, 0.95 correlations, prior U[-10, 10]^3
NDIM_GAU = 3
MEAN_GAU = np.linspace(-1.0, 1.0, NDIM_GAU)
COV_GAU = np.full((NDIM_GAU, NDIM_GAU), 0.95) + 0.05 * np.eye(NDIM_GAU)
PREC_GAU = np.linalg.inv(COV_GAU)
LNORM_GAU = -0.5 * (NDIM_GAU * math.log(2 * math.pi) + math.log(np.linalg.det(COV_GAU)))
LOGZ_GAU = NDIM_GAU * -math.log(20.0)


def loglike_gau(x):
    r = x - MEAN_GAU
    return float(-0.5 * r @ PREC_GAU @ r + LNORM_GAU)


def ptform_gau(u):
    return 10.0 * (2.0 * u - 1.0)


def bootstrap_tol(res, gen, niter=50):
    """Spread of the posterior mean and covariance over bootstrap subsamples (dynesty's tolerance)."""
    w = res.importance_weights()
    means, covs = [], []
    for _ in range(niter):
        keep = np.flatnonzero(gen.random(w.size) < w / w.max())
        pick = gen.choice(keep, size=keep.size, replace=True)
        means.append(res.samples[pick].mean(axis=0))
        covs.append(np.cov(res.samples[pick].T))
    return np.std(means, axis=0), np.std(covs, axis=0)


def check_gau(res, gen, sig=5):
    mean, cov = dy.mean_and_cov(res.samples, res.importance_weights())
    mtol, ctol = bootstrap_tol(res, gen)
    assert np.all(np.abs(mean - MEAN_GAU) < sig * mtol)
    assert np.all(np.abs(cov - COV_GAU) < sig * ctol)
    assert abs(res.logz[-1] - LOGZ_GAU) < sig * res.logzerr[-1]


def run_static(loglike, ptform, ndim, seed=1, nlive=500, dlogz=None, **kw):
    s = dy.NestedSampler(loglike, ptform, ndim, nlive=nlive, rstate=np.random.default_rng(seed), **kw)
    s.run_nested(dlogz=dlogz, print_progress=False)
    return s


# ----------------------------------------------------------------------------- test_gau
def test_gaussian_interface_and_utilities():
    gen = np.random.default_rng(11)
    s = run_static(loglike_gau, ptform_gau, NDIM_GAU)
    res = s.results
    check_gau(res, gen)
    # dynesty's cumulative arrays, item access, per-point calls summing to the calls made
    assert res["logz"][-1] == res.logz[-1]
    assert np.all(np.diff(res.logz) >= -1e-12)
    assert int(res.ncall.sum()) == s.ncall
    assert res.samples.shape == res.samples_u.shape == (res.logl.size, NDIM_GAU)
    assert np.all(np.diff(res.logl) >= 0)
    assert res.importance_weights().sum() == pytest.approx(1.0)
    assert res.samples_equal(rstate=gen).shape == res.samples.shape
    assert len(repr(res)) < 300
    res.summary()
    # jitter / resample / simulate keep the answer
    for fn in (dy.jitter_run, dy.resample_run, dy.simulate_run):
        check_gau(fn(res, rstate=gen), gen)
    # continuation with a looser tolerance changes nothing; reset makes independent runs
    s.run_nested(dlogz=0.1, print_progress=False)
    runs = []
    for _ in range(3):
        s.reset()
        s.run_nested(print_progress=False)
        runs.append(s.results)
        assert abs(s.results.logz[-1] - LOGZ_GAU) < 5 * s.results.logzerr[-1]
    comb = dy.merge_runs(runs)
    assert abs(comb.logz[-1] - LOGZ_GAU) < 5 * runs[-1].logzerr[-1]
    assert comb.samples_n.max() == 3 * 500
    # three runs merged: an error about 1/sqrt(3) of one run's
    assert comb.logzerr[-1] < 0.8 * np.mean([r.logzerr[-1] for r in runs])


def test_resample_run_spread_matches_logzerr():
    res = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=4, nlive=300).results
    gen = np.random.default_rng(5)
    z = [dy.resample_run(res, rstate=gen).logz[-1] for _ in range(25)]
    # the bootstrap spread over threads estimates the same error as the shrinkage simulation
    assert 0.5 * res.logzerr[-1] < np.std(z) < 2.0 * res.logzerr[-1]


@pytest.mark.parametrize(
    ("bound", "sample"),
    [("single", "unif"), ("multi", "rwalk"), ("balls", "rslice"), ("cubes", "slice"), ("none", "rwalk"),
     ("multi", "hslice")],
)
def test_bounding_sample(bound, sample):
    s = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=2, bound=bound, sample=sample)
    check_gau(s.results, np.random.default_rng(3))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bound", "sample"),
    list(itertools.product(["single", "multi", "balls", "cubes"], ["unif", "rwalk", "slice", "rslice"]))
    + [("none", s) for s in ("rwalk", "slice", "rslice")],
)
def test_bounding_sample_all(bound, sample):
    s = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=7, bound=bound, sample=sample)
    check_gau(s.results, np.random.default_rng(3))


def test_dynamic_gaussian():
    gen = np.random.default_rng(12)
    d = dy.DynamicNestedSampler(loglike_gau, ptform_gau, NDIM_GAU, rstate=np.random.default_rng(6))
    d.run_nested(nlive_init=300, n_effective=3000, print_progress=False)
    res = d.results
    assert res.isdynamic()
    assert res.samples_n.max() > 300
    check_gau(res, gen)
    for fn in (dy.jitter_run, dy.resample_run, dy.simulate_run):
        check_gau(fn(res, rstate=gen), gen)


# ----------------------------------------------------------------------------- test_egg
def loglike_egg(x):
    return float((2.0 + math.cos(x[0] / 2.0) * math.cos(x[1] / 2.0)) ** 5)


def ptform_egg(u):
    return 10.0 * math.pi * u


@pytest.mark.parametrize("bound", ["multi", "balls"])
def test_eggbox(bound):
    s = run_static(loglike_egg, ptform_egg, 2, seed=3, nlive=1000, dlogz=0.01, bound=bound, sample="unif")
    assert abs(235.856 - s.results.logz[-1]) < 5.0 * s.results.logzerr[-1]


# ----------------------------------------------------------------------------- test_plateau
class Plateau:
    """log(10) inside the unit disc, log(1) outside, prior U[-3, 3]^2."""

    ndim = 2

    def __call__(self, x):
        return math.log(10.0) if float(np.sum(x * x)) < 1.0 else 0.0

    logz_true = math.log(1.0 + math.pi * (10.0 - 1.0) / 36.0)

    @staticmethod
    def prior_transform(u):
        return 3.0 * (2.0 * u - 1.0)


@pytest.mark.parametrize(("sample", "dlogz"), [("unif", 1.0), ("rwalk", 1.0), ("unif", 0.01), ("rslice", 0.01),
                                              pytest.param("rslice", 1.0, marks=pytest.mark.slow),
                                              pytest.param("rwalk", 0.01, marks=pytest.mark.slow)])
def test_plateau_static(sample, dlogz):
    p = Plateau()
    s = run_static(p, p.prior_transform, 2, seed=5, nlive=1000, dlogz=dlogz, bound="none", sample=sample)
    assert abs(s.results.logz[-1] - p.logz_true) < 3 * s.results.logzerr[-1]


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["unif", "rslice", "rwalk"])
def test_plateau_dynamic_samples(sample):
    p = Plateau()
    d = dy.DynamicNestedSampler(p, p.prior_transform, 2, nlive=100, bound="none", sample=sample,
                                rstate=np.random.default_rng(8))
    d.run_nested(print_progress=False)
    assert abs(d.results.logz[-1] - p.logz_true) < 3 * d.results.logzerr[-1]


def test_plateau_dynamic_and_merge():
    p = Plateau()
    d = dy.DynamicNestedSampler(p, p.prior_transform, 2, nlive=100, bound="none", rstate=np.random.default_rng(8))
    d.run_nested(print_progress=False)
    assert abs(d.results.logz[-1] - p.logz_true) < 3 * d.results.logzerr[-1]
    runs = [run_static(p, p.prior_transform, 2, seed=20 + i, nlive=100, bound="none", sample="unif").results
            for i in range(3)]
    m = dy.merge_runs(runs)
    assert abs(m.logz[-1] - p.logz_true) < 3 * m.logzerr[-1]


class WeddingCake:
    """Fowlie et al. (2020)'s wedding cake: nested hypercube plateaus on the unit cube."""

    def __init__(self, ndim, sig=0.2, alpha=0.7):
        self.ndim, self.sig, self.alpha = ndim, sig, alpha

    def __call__(self, x):
        r = float(np.max(np.abs(x - 0.5)))
        i = int(self.ndim * math.log(2 * r) / math.log(self.alpha))
        return -(self.alpha ** (2 * i / self.ndim)) / (8 * self.sig**2)

    @property
    def logz_true(self):
        i = np.arange(200)
        terms = -(self.alpha ** (2 * i / self.ndim)) / (8 * self.sig**2) + i * math.log(self.alpha) + math.log(1 - self.alpha)
        return float(np.logaddexp.reduce(terms))


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["unif", "rwalk", "rslice"])
def test_wedding_cake(sample):
    c = WeddingCake(5)
    s = run_static(c, lambda u: u, 5, seed=9, nlive=1000, sample=sample)
    assert abs(s.results.logz[-1] - c.logz_true) < 3 * s.results.logzerr[-1]


@pytest.mark.parametrize("sample", ["auto", pytest.param("unif", marks=pytest.mark.slow),
                                    pytest.param("rslice", marks=pytest.mark.slow),
                                    pytest.param("rwalk", marks=pytest.mark.slow)])
def test_wedding_cake_dynamic(sample):
    c = WeddingCake(5)
    d = dy.DynamicNestedSampler(c, lambda u: u, 5, nlive=100, sample=sample, rstate=np.random.default_rng(9))
    d.run_nested(print_progress=False)
    assert abs(d.results.logz[-1] - c.logz_true) < 3 * d.results.logzerr[-1]


class EdgesInf:
    """A normalised Gaussian truncated to -inf outside radius r0, finite on ``volfrac`` of the prior (log Z = log P(r < r0))."""

    def __init__(self, ndim=2, volfrac=0.001, r0=5.0):
        self.ndim, self.r0 = ndim, r0
        self.size = r0 / volfrac ** (1.0 / ndim)
        self.lnorm = -ndim / 2.0 * math.log(2 * math.pi) + ndim * math.log(2 * self.size)

    def __call__(self, x):
        r2 = float(np.sum(x * x))
        return -math.inf if r2 > self.r0**2 else -0.5 * r2 + self.lnorm

    def prior_transform(self, u):
        return (2.0 * u - 1.0) * self.size

    @property
    def logz_true(self):
        from scipy.stats import chi2

        return float(np.log(chi2.cdf(self.r0**2, self.ndim)))


@pytest.mark.parametrize("volfrac", [1e-3, pytest.param(1e-5, marks=pytest.mark.slow)])
def test_edge(volfrac):
    ei = EdgesInf(2, volfrac)
    s = run_static(ei, ei.prior_transform, 2, seed=10, nlive=100, max_initial_draws=10**8)
    res = s.results
    # dynesty's criterion (its log Z is ~0 up to exp(-12.5)), and the finite fraction carried into log Z
    assert abs(res.logz[-1] - ei.logz_true) < 3 * res.logzerr[-1]
    assert abs(res.logz[-1]) < 3 * res.logzerr[-1]
    assert res.finite_fraction == pytest.approx(volfrac, rel=0.5)
    assert int(res.ncall.sum()) == s.ncall >= 100 / volfrac * 0.5


def test_edge_box_analytic():
    # L = 1 on a box of volume 0.001 inside the unit cube: log Z = log(0.001) exactly, information = log(1000)
    def ll(x):
        return 0.0 if np.all(np.abs(x - 0.3) < 0.05) else -math.inf

    res = run_static(ll, lambda u: u, 3, seed=12, nlive=200, dlogz=0.1).results
    assert abs(res.logz[-1] - math.log(1e-3)) < 3 * res.logzerr[-1]
    assert res.logzerr[-1] > 0.05  # the binomial error of the finite fraction (sqrt(1/200) = 0.07) is included


def test_edge_too_few_finite_draws_raises():
    with pytest.raises(ValueError, match="narrow the prior"):
        dy.NestedSampler(lambda x: -math.inf if x[0] > 1e-6 else 0.0, lambda u: u, 2, nlive=50,
                         max_initial_draws=10_000, rstate=np.random.default_rng(0)).run_nested(print_progress=False)


# ----------------------------------------------------------------------------- test_periodic
def test_periodic():
    win = 100.0
    from scipy.special import erf

    logz_true = math.log(math.sqrt(2 * math.pi) * erf(win / math.sqrt(2)) / (2 * win))

    def ll(x):
        return -0.5 * float(x[1]) ** 2

    def pt(u):
        return (2 * u - 1) * win

    for dynamic, sample in [(False, "unif"), (True, "rwalk"), (True, "unif"), (True, "rslice")]:
        if dynamic:
            s = dy.DynamicNestedSampler(ll, pt, 2, nlive=100, periodic=[0], sample=sample, rstate=np.random.default_rng(1))
            s.run_nested(dlogz_init=1, print_progress=False)
        else:
            s = dy.NestedSampler(ll, pt, 2, nlive=100, periodic=[0], sample=sample, rstate=np.random.default_rng(1))
            s.run_nested(dlogz=1, print_progress=False)
        assert abs(s.results.logz[-1] - logz_true) < 8 * s.results.logzerr[-1]
    with pytest.raises(ValueError, match="periodic"):
        dy.DynamicNestedSampler(ll, pt, 2, nlive=100, periodic=[22])
    with pytest.raises(ValueError, match="both periodic and reflective"):
        dy.NestedSampler(ll, pt, 2, periodic=[0], reflective=[0])


def test_periodic_mode_across_the_face():
    # a von Mises-like mode centred on the face x0 = 0 = 1 of a periodic parameter
    def ll(x):
        return 20.0 * (math.cos(2 * math.pi * x[0]) - 1.0) - 0.5 * ((x[1] - 0.5) / 0.1) ** 2

    from scipy.special import ive

    logz_true = math.log(ive(0, 20.0)) + math.log(0.1 * math.sqrt(2 * math.pi))
    s = run_static(ll, lambda u: u, 2, seed=3, nlive=300, periodic=[0], dlogz=0.1)
    assert abs(s.results.logz[-1] - logz_true) < 4 * s.results.logzerr[-1]


@pytest.mark.parametrize("sample", ["unif", "rslice"])
def test_reflective_mode_at_the_face(sample):
    # a half-Gaussian piled against the face x0 = 0 of a reflective parameter (and a periodic one beside it)
    def ll(x):
        return -0.5 * (x[0] / 0.05) ** 2 - 0.5 * ((x[1] - 0.5) / 0.1) ** 2

    logz_true = math.log(0.5 * 0.05 * math.sqrt(2 * math.pi)) + math.log(0.1 * math.sqrt(2 * math.pi))
    s = run_static(ll, lambda u: u, 3, seed=4, nlive=300, dlogz=0.1, sample=sample, reflective=[0], periodic=[2])
    assert abs(s.results.logz[-1] - logz_true) < 4 * s.results.logzerr[-1]
    np.testing.assert_array_equal(s.reflective, [0])
    with pytest.raises(ValueError, match="reflective"):
        dy.NestedSampler(ll, lambda u: u, 3, reflective=[3])
    with pytest.raises(TypeError, match="reflective"):
        dy.NestedSampler(ll, lambda u: u, 3, reflective=[0.5])


# ----------------------------------------------------------------------------- test_pathology
def test_pathology():
    alpha = 1e-8

    def ll(x):
        return -math.log(max(abs(float(x[0])), alpha)) - 1e-8 * float(np.sum(x * x))

    truth = math.log(1 - math.log(alpha))
    for sample in ("unif",):
        s = run_static(ll, lambda u: 2 * u - 1, 2, seed=13, nlive=1000, dlogz=0.1, sample=sample)
        assert abs(s.results.logz[-1] - truth) < 4 * s.results.logzerr[-1]


@pytest.mark.slow
def test_pathology_mcmc():
    alpha = 1e-8

    def ll(x):
        return -math.log(max(abs(float(x[0])), alpha)) - 1e-8 * float(np.sum(x * x))

    truth = math.log(1 - math.log(alpha))
    for sample in ("rslice", "rwalk", "unif"):
        if sample != "unif":  # the static unif case runs in the default suite (test_pathology)
            s = run_static(ll, lambda u: 2 * u - 1, 2, seed=13, nlive=1000, dlogz=0.1, sample=sample)
            assert abs(s.results.logz[-1] - truth) < 4 * s.results.logzerr[-1]
        d = dy.DynamicNestedSampler(ll, lambda u: 2 * u - 1, 2, nlive=1000, sample=sample, rstate=np.random.default_rng(1))
        d.run_nested(dlogz_init=1, print_progress=False)
        assert abs(d.results.logz[-1] - truth) < 4 * d.results.logzerr[-1]


# ----------------------------------------------------------------------------- test_misc (what applies)
def test_misc_arguments_and_errors():
    gen = np.random.default_rng(0)

    def ll(x, a, scale=1.0):
        return -0.5 * float(np.sum(((x - a) / scale) ** 2))

    def pt(u, lo):
        return lo + 10 * u

    s = dy.NestedSampler(ll, pt, 2, nlive=100, logl_args=(0.0,), logl_kwargs={"scale": 1.0}, ptform_args=(-5.0,),
                         rstate=gen, update_interval=0.5, first_update={"min_ncall": 10}, queue_size=4)
    s.run_nested(dlogz=0.5, maxiter=200, print_progress=False)
    assert s.results.niter == 200
    s.run_nested(dlogz=0.5, print_progress=False)  # continue to convergence
    assert abs(s.results.logz[-1] - math.log(2 * math.pi / 100)) < 4 * s.results.logzerr[-1]
    s2 = dy.NestedSampler(lambda x: -0.5 * float(np.sum(x * x)), lambda u: 10 * u - 5, 2, nlive=100, rstate=gen)
    s2.run_nested(maxcall=1500, print_progress=False)
    assert int(s2.results.ncall.sum()) == s2.ncall <= 1500 + 100
    for bad, match in [({"bound": "spheres"}, "bound='spheres'"), ({"sample": "walk"}, "sample='walk'"),
                       ({"sample": lambda *a: a}, "custom function"), ({"blob": "yes"}, "blob"),
                       ({"gradient": lambda x: x}, "gradient"), ({"rstate": 1.5}, "rstate")]:
        with pytest.raises((ValueError, TypeError), match=match):
            dy.NestedSampler(ll, pt, 2, **bad)
    with pytest.raises(TypeError, match="unexpected"):
        dy.NestedSampler(ll, pt, 2, nonsense=1)
    with pytest.raises(RuntimeError, match="run_nested"):
        _ = dy.NestedSampler(lambda x: 0.0, lambda u: u, 2).results


def test_same_rstate_same_run():
    def run():
        return run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=21, nlive=100, dlogz=0.5).results

    a, b = run(), run()
    np.testing.assert_array_equal(a.logl, b.logl)
    assert a.logz[-1] == b.logz[-1]


def test_pool():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        s = dy.NestedSampler(loglike_gau, ptform_gau, NDIM_GAU, nlive=200, pool=pool, rstate=np.random.default_rng(2))
        s.run_nested(dlogz=0.1, print_progress=False)
    assert abs(s.results.logz[-1] - LOGZ_GAU) < 5 * s.results.logzerr[-1]


def test_checkpoint_resume(tmp_path):
    path = tmp_path / "run.ckpt"
    s = dy.NestedSampler(loglike_gau, ptform_gau, NDIM_GAU, nlive=200, rstate=np.random.default_rng(4))
    s.run_nested(dlogz=0.1, maxiter=400, checkpoint_file=path, print_progress=False)
    full = dy.NestedSampler(loglike_gau, ptform_gau, NDIM_GAU, nlive=200, rstate=np.random.default_rng(4))
    full.run_nested(dlogz=0.1, print_progress=False)
    again = dy.NestedSampler(loglike_gau, ptform_gau, NDIM_GAU, nlive=200, rstate=np.random.default_rng(4))
    again.run_nested(dlogz=0.1, checkpoint_file=path, resume=True, print_progress=False)
    # the resumed run is the uninterrupted one
    np.testing.assert_array_equal(again.results.logl, full.results.logl)
    assert int(again.results.ncall.sum()) == int(full.results.ncall.sum())


def test_plots():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=2, nlive=100, dlogz=0.5).results
    fig, axes = dy.runplot(res)
    assert len(axes) == 3
    plt.close(fig)
    fig, axes = dy.cornerplot(res, labels=["a", "b", "c"])
    assert axes.size == 9
    plt.close(fig)


def test_from_nested_result():
    from ridgeline.nested import NestedSampler

    r = NestedSampler(loglike_gau, ptform_gau, NDIM_GAU, nlive=100, rng=1).run(dlogz=0.5)
    d = dy.Results.from_nested(r)
    assert d.logz[-1] == pytest.approx(r.logz)
    assert int(d.ncall.sum()) == r.ncall
    np.testing.assert_allclose(d.importance_weights(), r.weights / r.weights.sum())


def test_real_dynesty_utilities_accept_our_results():
    dynesty = pytest.importorskip("dynesty")
    import dynesty.utils as du

    res = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=2, nlive=200, dlogz=0.1).results
    d = res.to_dynesty()
    assert isinstance(d, dynesty.results.Results)
    gen = np.random.default_rng(0)
    z = du.resample_run(d, rstate=gen).logz[-1]
    assert abs(z - LOGZ_GAU) < 5 * res.logzerr[-1]
    m = du.merge_runs([d, d])
    assert abs(m.logz[-1] - res.logz[-1]) < 0.2
    du.jitter_run(d, rstate=gen)


def test_save_load_round_trip(tmp_path):
    import ridgeline

    res = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=2, nlive=100, dlogz=0.5).results
    path = tmp_path / "r.npz"
    res.save(path)
    for back in (dy.Results.load(path), ridgeline.load(path)):
        assert sorted(back.keys()) == sorted(res.keys())
        np.testing.assert_array_equal(back.logl_birth, res.logl_birth)
        assert back.finite_fraction == res.finite_fraction
        for k in res.keys():
            if k == "blob":
                continue
            np.testing.assert_array_equal(np.asarray(back[k]), np.asarray(res[k]))
    assert len(repr(res)) < 300


# ----------------------------------------------------------------------------- blobs, dynesty's own utilities
def loglike_blob(x):
    return loglike_gau(x), np.array([x[0] + x[1], x[2] ** 2])


def check_blobs(res):
    assert res.blob.shape == (res.logl.size, 2) and res.blob.dtype == np.float64
    np.testing.assert_allclose(res.blob[:, 0], res.samples[:, 0] + res.samples[:, 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.blob[:, 1], res.samples[:, 2] ** 2, rtol=1e-12, atol=1e-12)


def test_blobs_static_pool_dynamic():
    from concurrent.futures import ThreadPoolExecutor

    s = run_static(loglike_blob, ptform_gau, NDIM_GAU, seed=3, nlive=100, dlogz=0.5, blob=True)
    check_blobs(s.results)
    # the blobs do not change the run
    plain = run_static(loglike_gau, ptform_gau, NDIM_GAU, seed=3, nlive=100, dlogz=0.5).results
    np.testing.assert_array_equal(s.results.logl, plain.logl)
    with ThreadPoolExecutor(2) as pool:
        check_blobs(run_static(loglike_blob, ptform_gau, NDIM_GAU, seed=3, nlive=100, dlogz=0.5, blob=True,
                               pool=pool).results)
    d = dy.DynamicNestedSampler(loglike_blob, ptform_gau, NDIM_GAU, nlive=100, blob=True,
                                rstate=np.random.default_rng(4))
    d.run_nested(n_effective=1500, print_progress=False)
    check_blobs(d.results)
    # dict blobs (not stackable) stay an object array, also on the finite-sliver path
    ei = EdgesInf(2, 1e-3)

    def ll(x):
        return ei(x), {"r2": float(x @ x)}

    res = run_static(ll, ei.prior_transform, 2, seed=10, nlive=50, dlogz=0.5, blob=True).results
    assert res.blob.dtype == object
    assert [b["r2"] for b in res.blob] == [float(x @ x) for x in res.samples]
    with pytest.raises(ValueError, match="blob=True"):
        run_static(loglike_gau, ptform_gau, NDIM_GAU, nlive=50, blob=True)


@pytest.mark.parametrize("dynamic", [False, True])
def test_real_dynesty_functions_on_sampler_results(dynamic):
    """A dynesty script's calls of dynesty.utils and dynesty.plotting on ``sampler.results`` (no to_dynesty())."""
    pytest.importorskip("dynesty")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import dynesty.plotting as dyplot
    import dynesty.utils as du
    import matplotlib.pyplot as plt

    if dynamic:
        d = dy.DynamicNestedSampler(loglike_blob, ptform_gau, NDIM_GAU, nlive=200, blob=True,
                                    rstate=np.random.default_rng(6))
        d.run_nested(n_effective=2000, print_progress=False)
        res = d.results
        # per-run calls: each batch's calls on its own points, the sum exact
        assert res.samples_batch.max() == res.batch_nlive.size - 1
        assert int(res.ncall.sum()) == int(d._dyn._ncall) + d._init_calls
    else:
        res = run_static(loglike_blob, ptform_gau, NDIM_GAU, seed=2, nlive=200, dlogz=0.1, blob=True).results
    gen = np.random.default_rng(0)
    for fn in (du.resample_run, du.jitter_run):
        r = fn(res, rstate=gen)
        assert abs(r.logz[-1] - LOGZ_GAU) < 5 * res.logzerr[-1]
        assert r.blob.shape[0] == r.logl.size
    m = du.merge_runs([res, res])
    assert abs(m.logz[-1] - res.logz[-1]) < 0.2
    check_blobs(m)
    mean, cov = du.mean_and_cov(res.samples, res.importance_weights())
    np.testing.assert_allclose(mean, MEAN_GAU, atol=0.3)
    for plot in (dyplot.runplot, dyplot.traceplot, dyplot.cornerplot):
        fig, _ = plot(res)
        plt.close(fig)


# ----------------------------------------------------------------------------- test_misc: limits, -inf regions, errors
class _Oops(Exception):
    pass


def _ll_strip(x):
    # -inf outside radius 10 and on the strip |x0| < 0.1 (dynesty's test_misc "inf" case)
    r2 = float(np.sum(x * x))
    return -math.inf if (r2 > 100.0 or abs(float(x[0])) < 0.1) else -0.5 * r2


def _ll_raises(x):
    r2 = float(np.sum(x * x))
    if r2 < 0.1:
        raise _Oops("ooops")
    return -0.5 * r2


@pytest.mark.filterwarnings("ignore:The likelihood seem to have plateaus:UserWarning")  # dynesty's unravel_run
def test_misc_dynesty_cases():
    from scipy.special import erf
    from scipy.stats import chi2

    def pt(u):
        return (2 * u - 1) * 10.0

    gen = np.random.default_rng(1)
    dmax = dy.DynamicNestedSampler(lambda x: -0.5 * float(x @ x), pt, 2, nlive=100, rstate=gen)
    dmax.run_nested(dlogz_init=1, maxcall=1000, print_progress=False)
    assert 1000 <= int(dmax.results.ncall.sum()) <= 1000 + 100
    # -inf on a strip through the mode: Z = (disc - strip) / 400 (the strip's tails beyond r = 10 are < 1e-20)
    truth = math.log((2 * math.pi * chi2.cdf(100.0, 2) - 2 * math.pi * erf(0.1 / math.sqrt(2))) / 400.0)
    s = dy.NestedSampler(_ll_strip, pt, 2, nlive=100, rstate=gen)
    s.run_nested(print_progress=False)
    assert abs(s.results.logz[-1] - truth) < 4 * s.results.logzerr[-1]
    d = dy.DynamicNestedSampler(_ll_strip, pt, 2, nlive=100, rstate=gen)
    d.run_nested(dlogz_init=1, print_progress=False)
    assert abs(d.results.logz[-1] - truth) < 4 * d.results.logzerr[-1]
    # a raising likelihood: the user's exception comes out of run_nested
    for cls in (dy.NestedSampler, dy.DynamicNestedSampler):
        with pytest.raises(_Oops, match="ooops"):
            cls(_ll_raises, pt, 2, nlive=100, rstate=gen).run_nested(print_progress=False)
    # dynesty.utils.unravel_run / reweight_run on our results
    du = pytest.importorskip("dynesty.utils")
    s = dy.NestedSampler(lambda x: -0.5 * float(x @ x), pt, 2, nlive=100, rstate=gen)
    s.run_nested(print_progress=False)
    res = s.results
    strands = du.unravel_run(res, print_progress=False)
    assert len(strands) == 100
    back = du.merge_runs(strands, print_progress=False)
    assert abs(back.logz[-1] - res.logz[-1]) < 0.5 * res.logzerr[-1]
    rw = du.reweight_run(dmax.results, dmax.results.logl / 4.0)
    assert rw.logz[-1] > dmax.results.logz[-1]
