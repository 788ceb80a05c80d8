"""The fast paths of the nested sampler: threads for compiled likelihoods, the
heap of live points across resumed runs, and the simulated evidence spread."""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.nested import CLikelihood, NestedSampler, problems
from ridgeline.nested import _reference as ref

core = _core.nested


@pytest.fixture(scope="module")
def c_lib(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("clik_speed")
    src = d / "lik.c"
    src.write_text(
        textwrap.dedent(
            """
            #include <stdint.h>
            #include <math.h>
            /* N(0.5, 0.1^2 I) on the unit cube, normalised */
            double gauss(const double* x, int64_t n, void* data) {
                (void)data;
                double s = 0.0;
                for (int64_t i = 0; i < n; ++i) { double r = (x[i] - 0.5) / 0.1; s += r * r; }
                return -0.5 * s - n * (log(0.1) + 0.5 * log(2.0 * 3.14159265358979323846));
            }
            """
        )
    )
    lib = d / "liblik.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(lib), "-lm"], check=True)
    return ctypes.CDLL(str(lib))


def _same_run(a, b):
    assert a.ncall == b.ncall and a.niter == b.niter
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.logl, b.logl)
    assert a.logz == b.logz and a.logzerr == b.logzerr


def test_clikelihood_threads_give_the_same_run(c_lib):
    p = problems.gaussian(4)
    runs = [
        NestedSampler(CLikelihood(c_lib.gauss), None, 4, nlive=150, rng=11, n_threads=t).run(dlogz=0.5)
        for t in (1, 2, 3)
    ]
    _same_run(runs[0], runs[1])
    _same_run(runs[0], runs[2])
    assert abs(runs[0].logz - p.logz_true) < 4 * runs[0].logzerr


def test_compiled_batches_run_on_n_threads_threads():
    # a ctypes callback (it takes the GIL itself) records the thread of every call:
    # with n_threads=2 the pool's worker takes its share of the batches of >= 16.  Work is
    # handed out to whichever thread is free, so each call lasts 0.3 ms (a sleep, which
    # releases the GIL) for the worker's wake-up to be short against a batch
    import threading
    import time

    seen: dict[int, int] = {}
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64, ctypes.c_void_p)

    def f(x, n, data):
        tid = threading.get_ident()
        seen[tid] = seen.get(tid, 0) + 1
        time.sleep(3e-4)
        return -0.5 * sum(((x[i] - 0.5) / 0.1) ** 2 for i in range(n))

    cf = proto(f)
    res = NestedSampler(CLikelihood(cf), None, 2, nlive=50, rng=1, n_threads=2).run(dlogz=1.0)
    assert len(seen) == 2 and min(seen.values()) > 0.2 * res.ncall
    assert sum(seen.values()) == res.ncall


def test_builtin_threads_give_the_same_run_and_batches_do_not_change_calls():
    p = problems.correlated(5)
    one = NestedSampler(p.loglike, p.prior_transform, 5, nlive=200, rng=3, n_threads=1).run(dlogz=0.5)
    two = NestedSampler(p.loglike, p.prior_transform, 5, nlive=200, rng=3, n_threads=2).run(dlogz=0.5)
    _same_run(one, two)
    assert abs(one.logz - p.logz_true) < 4 * one.logzerr
    # the speculative batches of compiled likelihoods (at least 16 candidates)
    # cost about as many calls as one candidate at a time: within 5% on average
    # over 20 seeds (measured: +1.8%)

    def ncall(seed, bmin, bmax):
        c = core.Sampler(5, 200, seed, "multi", 1.25, 20, 0.5, bmin, bmax)
        c.set_loglike_builtin("correlated")
        c.set_transform_builtin()
        c.run(0.5)
        return c.counters().ncall

    batched = np.mean([ncall(s, 16, 4096) for s in range(20)])
    single = np.mean([ncall(s, 1, 1) for s in range(20)])
    assert abs(batched / single - 1.0) < 0.05


@pytest.mark.parametrize("step", [1, 7])
def test_run_in_small_blocks_is_the_same_run(step):
    # the min-heap of live points is rebuilt at every call: running in blocks of
    # `step` iterations, with ties at equal likelihoods (a staircase), continues
    # exactly as one call does
    def stairs(x):
        r = x - 0.5
        return math.floor(-0.5 * float(r @ r) / 0.01 * 4.0) / 4.0

    whole = NestedSampler(stairs, None, 2, nlive=60, rng=9).run(dlogz=0.5, maxiter=700)
    s = NestedSampler(stairs, None, 2, nlive=60, rng=9)
    for it in range(step, 700 + step, step):
        res = s.run(dlogz=0.5, maxiter=min(it, 700))
        if res.stop != "maxiter":
            break
    _same_run(whole, res)
    assert len(np.unique(whole.logl)) < whole.logl.size  # there were ties


@pytest.mark.parametrize("block", [1, 16, 0])
def test_simulated_spread_with_gamma_blocks_matches_exact_reference(block):
    # -n log T of a block of c dead points is drawn as one Gamma(c) variate
    # (c = 1: an exponential variate)
    s = NestedSampler(problems.gaussian(3).loglike, problems.gaussian(3).prior_transform, 3, nlive=100, rng=2)
    res = s.run(dlogz=0.5)
    logvol_end = float(s._core.state().logvol)
    sims = core.simulate_logz(res.logl, res.nlive_it, res.nlive, logvol_end, 3000, 17, block)
    exact = ref.simulate_logz(res.logl, res.nlive_it, res.nlive, 3000, np.random.default_rng(6))
    # 3000 draws each: relative standard error of a standard deviation ~1.3%
    assert sims.std() == pytest.approx(exact.std(), rel=0.07)
    assert abs(sims.mean() - exact.mean()) < 4 * exact.std() * math.sqrt(2 / 3000)


@pytest.mark.parametrize("batch", [(16, 4096), (1, 1)])
def test_compiled_batches_shrink_the_volume_as_beta(monkeypatch, batch):
    # gaussian(3): while the contour lies inside the cube its prior volume is analytic,
    # X(L) = (4/3) pi (0.1 R)^3 with R^2 = -2 (log L - log L_max).  Every replacement
    # must be uniform in the volume of its birth contour, u = X(L)/X(L_birth) ~ U(0, 1),
    # and consecutive dead points must shrink it by t ~ Beta(nlive, 1): t^nlive ~ U(0, 1).
    # Speculative batches (candidates drawn before earlier replacements raised the
    # threshold, kept across bound refits) must not change either law.
    from scipy import stats

    import ridgeline.nested._sampler as smod

    monkeypatch.setattr(smod, "_COMPILED_BATCH", batch)
    d, nlive = 3, 100
    p = problems.gaussian(d)
    lmax = -d * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    def logx(logl):
        r = np.sqrt(np.maximum(-2.0 * (logl - lmax), 0.0))
        return math.log(4.0 / 3.0 * math.pi) + d * np.log(0.1 * r), r

    us, ts = [], []
    for seed in range(100):
        res = NestedSampler(p.loglike, p.prior_transform, d, nlive=nlive, rng=seed, sample="unif").run(dlogz=0.5)
        lx, r = logx(res.logl)
        lxb, rb = logx(res.logl_birth)
        ok = np.isfinite(res.logl_birth) & (r <= 5.0) & (rb <= 5.0)
        us.append(np.exp(lx[ok] - lxb[ok]))
        nd = res.logl.size - nlive
        inside = (r[1:nd] <= 5.0) & (r[: nd - 1] <= 5.0)
        ts.append(np.exp(nlive * np.diff(lx[:nd]))[inside])
    u, t = np.concatenate(us), np.concatenate(ts)
    assert u.size > 40_000 and t.size > 40_000
    # KS at the 0.1% level; and the means (1/2 and E[-log t^n] = 1) to 4 standard errors
    for v in (u, t):
        assert stats.kstest(v, "uniform").statistic < 1.95 / math.sqrt(v.size)
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / u.size)
    assert abs(-np.log(t).mean() - 1.0) < 4 / math.sqrt(t.size)


def test_negligible_prefix_is_one_block_with_the_exact_spread():
    # correlated(5): the first ~half of the dead points carry weights below e^-60 of the
    # largest; simulate_logz draws their total shrinkage as one Gamma variate per run of
    # them, which must leave the spread of log Z that of the exact point-by-point scheme
    p = problems.get("correlated", 5)
    s = NestedSampler(p.loglike, p.prior_transform, 5, nlive=100, rng=4)
    res = s.run(dlogz=0.5)
    negligible = res.logwt < res.logwt.max() - 60.0
    assert negligible[: res.niter].mean() > 0.25
    logvol_end = float(s._core.state().logvol)
    for block in (1, 16, 0):
        sims = core.simulate_logz(res.logl, res.nlive_it, res.nlive, logvol_end, 3000, 11, block)
        exact = ref.simulate_logz(res.logl, res.nlive_it, res.nlive, 3000, np.random.default_rng(12))
        assert sims.std() == pytest.approx(exact.std(), rel=0.07)
        assert abs(sims.mean() - exact.mean()) < 4 * exact.std() * math.sqrt(2 / 3000)


def test_deep_split_search_schedule():
    # the checkpoint checker's copy of sampler.hpp's schedule: updates 0, 8, 24, 56, 120,
    # then every 64 after a restart
    from ridgeline.nested._checkpoint_check import search_due

    due = [k for k in range(400) if search_due(k)]
    assert due == [0, 8, 24, 56, 120, 184, 248, 312, 376]


def test_deep_split_search_schedule_is_cheap_for_any_counter():
    from ridgeline.nested._checkpoint_check import search_due

    assert search_due(56 + 64 * 10**15)
    assert not search_due(2**62)
