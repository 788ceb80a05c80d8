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


@pytest.mark.xfail(reason="speculative batches of compiled likelihoods are off by default (calibration RMS 0.765; see _sampler.py)", strict=True)
def test_compiled_batches_run_on_n_threads_threads():
    # a ctypes callback (it takes the GIL itself) records the thread of every call:
    # with n_threads=2 the pool's worker evaluates part of every batch of >= 16
    import threading

    seen: dict[int, int] = {}
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64, ctypes.c_void_p)

    def f(x, n, data):
        tid = threading.get_ident()
        seen[tid] = seen.get(tid, 0) + 1
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


@pytest.mark.parametrize("block", [1, 16])
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
