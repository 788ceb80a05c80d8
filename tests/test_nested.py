"""Public API of ridgeline.nested: evidence against analytic truth, the four likelihood kinds, bad input."""

from __future__ import annotations

import ctypes
import math
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from ridgeline.nested import CLikelihood, NestedSampler, problems, sample


def _run(p, **kw):
    kw.setdefault("nlive", 300)
    kw.setdefault("rng", 1)
    dlogz = kw.pop("dlogz", 0.5)
    return NestedSampler(p.loglike, p.prior_transform, p.ndim, **kw).run(dlogz=dlogz)


@pytest.mark.parametrize(
    "p", [problems.gaussian(2), problems.gaussian(5), problems.shells(), problems.eggbox()], ids=lambda p: p.name
)
def test_builtin_logz_within_4_sigma(p):
    res = _run(p)
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr
    assert 0.02 < res.logzerr < 0.5
    assert res.samples.shape == (res.niter + 300, p.ndim)
    assert res.logl.shape == res.logwt.shape == res.weights.shape == (res.niter + 300,)
    assert math.isclose(res.weights.sum(), 1.0, rel_tol=1e-9)
    assert res.ncall >= res.niter + 300
    # the error bar is close to the classic sqrt(H / N)
    assert 0.6 < res.logzerr / math.sqrt(res.information / 300) < 1.6


def test_truths_of_problems():
    assert problems.gaussian(10).logz_true == pytest.approx(10 * math.log(math.erf(5 / math.sqrt(2))), abs=1e-12)
    assert problems.shells().logz_true == pytest.approx(-1.745642, abs=1e-6)
    assert problems.eggbox().logz_true == pytest.approx(235.855940, abs=1e-6)
    assert problems.mixture(10).logz_true == pytest.approx(-2.8665e-6, abs=1e-9)
    # built-in C++ likelihoods agree with their numpy definitions
    from ridgeline import _core

    x = np.random.default_rng(0).random((50, 2))
    for p in (problems.shells(), problems.eggbox(), problems.gaussian(2), problems.mixture(2)):
        xx = p.prior_transform(x)
        np.testing.assert_allclose(_core.nested.builtin_loglike(p.loglike.name, xx), p.loglike_vectorized(xx), rtol=1e-12)


def test_same_seed_same_run():
    p = problems.shells()
    a, b = _run(p, rng=7), _run(p, rng=7)
    assert a.logz == b.logz and a.ncall == b.ncall
    np.testing.assert_array_equal(a.samples, b.samples)
    c = _run(p, rng=8)
    assert c.logz != a.logz


def _gauss3():
    p = problems.gaussian(3)

    def scalar(x):
        r = x - 0.5
        return -0.5 * float(r @ r) / 0.01 - 3 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    def vector(x):
        r = x - 0.5
        return -0.5 * np.sum(r * r, axis=1) / 0.01 - 3 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    return p, scalar, vector


def test_scalar_python_likelihood_counts_every_call():
    p, scalar, _ = _gauss3()
    calls = []

    def loglike(x):
        calls.append(x.shape)
        return scalar(x)

    res = NestedSampler(loglike, lambda u: u, 3, nlive=200, rng=3).run(dlogz=0.5)
    assert res.ncall == len(calls)
    assert set(calls) == {(3,)}
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr


def test_vectorized_python_likelihood():
    p, _, vector = _gauss3()
    seen = []

    def loglike(x):
        seen.append(x.shape[0])
        assert x.ndim == 2 and x.shape[1] == 3
        return vector(x)

    res = NestedSampler(loglike, lambda u: u * 1.0, 3, nlive=200, rng=3, vectorized=True).run(dlogz=0.5)
    assert res.ncall == sum(seen)
    assert max(seen) >= 32  # batches, not single points
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr


@pytest.fixture(scope="module")
def c_gauss(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("clik")
    src = d / "lik.c"
    src.write_text(
        textwrap.dedent(
            """
            #include <stdint.h>
            #include <math.h>
            double gauss(const double* x, int64_t n, void* data) {
                double s = 0.0, sigma = *(const double*)data;
                for (int64_t i = 0; i < n; ++i) { double r = (x[i] - 0.5) / sigma; s += r * r; }
                return -0.5 * s - n * (log(sigma) + 0.5 * log(2.0 * 3.14159265358979323846));
            }
            """
        )
    )
    lib = d / "liblik.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(lib), "-lm"], check=True)
    return ctypes.CDLL(str(lib))


def test_c_function_likelihood(c_gauss):
    p = problems.gaussian(3)
    sigma = np.array([0.1])
    lik = CLikelihood(ctypes.cast(c_gauss.gauss, ctypes.c_void_p).value, data=sigma)
    res = NestedSampler(lik, None, 3, nlive=300, rng=5).run(dlogz=0.5)
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr
    # the same function object also works directly, and matches the built-in run draw for draw
    res2 = NestedSampler(CLikelihood(c_gauss.gauss, sigma), None, 3, nlive=300, rng=5).run(dlogz=0.5)
    assert res2.logz == res.logz
    ref = NestedSampler(p.loglike, p.prior_transform, 3, nlive=300, rng=5).run(dlogz=0.5)
    assert ref.ncall == res.ncall
    np.testing.assert_allclose(ref.logz, res.logz, rtol=1e-9)


def test_numba_cfunc_likelihood():
    numba = pytest.importorskip("numba")
    from numba import types

    sig = types.double(types.CPointer(types.double), types.int64, types.voidptr)

    @numba.cfunc(sig)
    def f(x, n, data):  # pragma: no cover - compiled
        s = 0.0
        for i in range(n):
            r = (x[i] - 0.5) / 0.1
            s += r * r
        return -0.5 * s - n * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    res = NestedSampler(CLikelihood(f), None, 3, nlive=300, rng=5).run(dlogz=0.5)
    assert abs(res.logz - problems.gaussian(3).logz_true) < 4 * res.logzerr


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # numba's own reports
def test_numba_cfunc_that_raises_stops_the_run(n_threads):
    """numba prints an exception of a cfunc's body and returns 0: the run must stop with that exception, not
    return a result, and the sampler must refuse to continue from a state that may hold the 0s."""
    numba = pytest.importorskip("numba")
    import sys

    from numba import types

    sig = types.double(types.CPointer(types.double), types.int64, types.voidptr)

    @numba.cfunc(sig)
    def f(x, n, data):  # pragma: no cover - compiled
        if x[0] > 0.99:
            raise ValueError("outside the model's domain")
        return -0.5 * (x[0] * x[0] + x[1] * x[1])

    hook = sys.unraisablehook
    s = NestedSampler(CLikelihood(f), None, 2, nlive=200, rng=0, n_threads=n_threads)
    with pytest.raises(ValueError, match="outside the model's domain"):
        s.run(dlogz=0.01)
    assert s._core._wrapped.counters().ncall < 100_000  # stopped early, not at the end of the run
    with pytest.raises(RuntimeError, match="create a new sampler"):
        s.run(dlogz=0.01)
    assert sys.unraisablehook is hook
    # a numba likelihood that does not raise is unaffected

    @numba.cfunc(sig)
    def g(x, n, data):  # pragma: no cover - compiled
        return -0.5 * ((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2) / 0.01

    res = NestedSampler(CLikelihood(g), None, 2, nlive=200, rng=0, n_threads=n_threads).run(dlogz=0.1)
    assert abs(res.logz - math.log(2 * math.pi * 0.01)) < 4 * res.logzerr


def test_minus_inf_is_legal_and_plateaus_are_handled():
    # the Gaussian restricted to x0 > 0.5: Z = 1/2
    def loglike(x):
        if x[0] < 0.5:
            return -math.inf
        r = x - 0.5
        return -0.5 * float(r @ r) / 0.01 - 2 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    res = NestedSampler(loglike, None, 2, nlive=300, rng=2).run(dlogz=0.5)
    assert abs(res.logz - math.log(0.5)) < 4 * res.logzerr
    # a pure plateau: L = 1 on half of the cube, 0 elsewhere
    flat = NestedSampler(lambda x: 0.0 if x[0] > 0.5 else -math.inf, None, 2, nlive=300, rng=4).run(dlogz=0.1)
    assert flat.stop == "plateau"
    assert abs(flat.logz - math.log(0.5)) < 4 * flat.logzerr


def test_result_methods():
    p = problems.gaussian(2)
    res = _run(p, rng=11)
    post = res.posterior(rng=0)
    assert post.shape[1] == 2 and abs(post.shape[0] - res.ess) <= 1
    np.testing.assert_allclose(post.mean(axis=0), 0.5, atol=0.02)
    np.testing.assert_allclose(post.std(axis=0), 0.1, rtol=0.15)
    mean, cov = res.mean_and_cov()
    np.testing.assert_allclose(mean, 0.5, atol=0.02)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), 0.1, rtol=0.15)
    assert res.posterior(n=10, rng=1).shape == (10, 2)
    assert "log Z" in res.summary()
    d = res.to_dynesty()
    n = res.niter + res.nlive
    for key in ("samples", "logl", "logwt", "logvol", "logz", "logzerr", "information"):
        assert len(d[key]) == n
    assert d["logz"][-1] == pytest.approx(res.logz)
    assert np.all(np.diff(d["logvol"]) < 0)
    assert np.all(res.logl_birth < res.logl)


def test_run_continues_and_aliases():
    p = problems.gaussian(2)
    s = NestedSampler(p.loglike, p.prior_transform, 2, nlive=200, rng=0)
    with pytest.raises(RuntimeError, match="no results yet"):
        s.results  # noqa: B018
    a = s.run(dlogz=5.0)
    b = s.run_nested(dlogz=0.1)
    assert b.ncall > a.ncall and b.niter > a.niter
    assert s.results is b
    c = s.run(dlogz=0.1, maxiter=b.niter + 10)
    assert c.niter == b.niter  # already converged: nothing to do
    r = sample(p.loglike, p.prior_transform, 2, nlive=200, rng=0, dlogz=0.1)
    assert r.stop == "dlogz"
    m = sample(p.loglike, p.prior_transform, 2, nlive=200, rng=0, maxcall=1000)
    assert m.stop == "maxcall" and m.ncall >= 1000


def test_mixture_mode_weights_one_seed():
    p = problems.mixture(10)
    res = _run(p, nlive=500, rng=0)
    left = res.weights[res.samples.mean(axis=1) < 0.5].sum()
    assert abs(left - 0.5) < 0.1
    assert abs(res.logz - p.logz_true) < 4 * res.logzerr


# --- bad input ---------------------------------------------------------------

def _ok(x):
    return 0.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"ndim": 0}, ValueError, "ndim=0 must be >= 1"),
        ({"ndim": 2.5}, TypeError, "ndim=2.5 must be an int"),
        ({"nlive": 2}, ValueError, "nlive=2 must be > ndim=2"),
        ({"nlive": 1}, ValueError, "nlive=1 must be >= 2"),
        ({"bound": "cube"}, ValueError, "bound='cube' must be one of"),
        ({"sample": "walk"}, ValueError, "sample='walk' must be one of"),
        ({"vectorized": "yes"}, TypeError, "vectorized='yes' must be True or False"),
        ({"rng": -1}, ValueError, "rng=-1 must be >= 0"),
        ({"rng": "seed"}, TypeError, "rng='seed'"),
        ({"enlarge": 0.5}, ValueError, "enlarge=0.5 must be"),
        ({"update_interval": 0}, ValueError, "update_interval=0 must be >= 1"),
        ({"nsim": 1}, ValueError, "nsim=1 must be >= 2"),
        ({"loglike": 3}, TypeError, "loglike=3 must be callable"),
        ({"prior_transform": "u"}, TypeError, "prior_transform='u' must be callable or None"),
    ],
)
def test_constructor_rejects_bad_input(kwargs, exc, match):
    args = {"loglike": _ok, "prior_transform": None, "ndim": 2}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        NestedSampler(args.pop("loglike"), args.pop("prior_transform"), args.pop("ndim"), **args)


def test_run_rejects_bad_input():
    s = NestedSampler(_ok, None, 2, nlive=50)
    with pytest.raises(ValueError, match="dlogz=-1.0 must be >= 0"):
        s.run(dlogz=-1)
    with pytest.raises(TypeError, match="dlogz='a' must be a real number"):
        s.run(dlogz="a")
    with pytest.raises(ValueError, match="maxiter=-2 must be >= 0"):
        s.run(maxiter=-2)
    with pytest.raises(TypeError, match="maxcall=1.5 must be an int"):
        s.run(maxcall=1.5)
    with pytest.raises(ValueError, match="must be >= 1"):
        _run(problems.gaussian(2), rng=0).posterior(n=0)
    with pytest.raises(ValueError, match="ndim=3 does not match"):
        NestedSampler(problems.gaussian(2).loglike, None, 3)


def test_clikelihood_rejects_bad_input():
    with pytest.raises(ValueError, match="address=0"):
        CLikelihood(0)
    with pytest.raises(TypeError, match="address='f'"):
        CLikelihood("f")
    with pytest.raises(ValueError, match="address=-5 must be >= 0"):
        CLikelihood(-5)
    with pytest.raises(TypeError, match="data=1.5"):
        CLikelihood(1234, data=1.5)


def test_nan_names_the_point():
    def loglike(x):
        return math.nan if x[0] > 0.9 else 0.0

    with pytest.raises(ValueError, match=r"loglike returned nan at x=\[0\.9"):
        NestedSampler(loglike, None, 2, nlive=50, rng=0).run()
    with pytest.raises(ValueError, match="loglike returned inf"):
        NestedSampler(lambda x: math.inf, None, 2, nlive=50, rng=0).run()
    with pytest.raises(ValueError, match="-inf at all nlive=50 initial points"):
        NestedSampler(lambda x: -math.inf, None, 2, nlive=50, rng=0).run()


def test_wrong_shaped_outputs():
    with pytest.raises(ValueError, match=r"prior_transform returned shape \(3,\); expected \(2,\)"):
        NestedSampler(_ok, lambda u: np.zeros(3), 2, nlive=50, rng=0).run()
    with pytest.raises(ValueError, match="prior_transform returned a non-finite value"):
        NestedSampler(_ok, lambda u: u * np.nan, 2, nlive=50, rng=0).run()
    with pytest.raises(TypeError, match="loglike must return a float, got NoneType"):
        NestedSampler(lambda x: None, None, 2, nlive=50, rng=0).run()
    with pytest.raises(ValueError, match=r"loglike returned shape \(7,\); expected \(50,\)"):
        NestedSampler(lambda x: np.zeros(7), None, 2, nlive=50, rng=0, vectorized=True).run()
    with pytest.raises(ValueError, match=r"prior_transform returned shape \(50, 3\)"):
        NestedSampler(lambda x: np.zeros(len(x)), lambda u: np.zeros((len(u), 3)), 2, nlive=50, vectorized=True).run()


class MyError(Exception):
    pass


def _deep_failure(x):
    if x[0] > 0.8:
        raise MyError("boom at the callback")
    return 0.0


def test_callback_exception_keeps_type_and_traceback():
    with pytest.raises(MyError, match="boom at the callback") as info:
        NestedSampler(_deep_failure, None, 2, nlive=50, rng=0).run()
    names = [entry.name for entry in info.traceback]
    assert "_deep_failure" in names

    def bad_transform(u):
        raise KeyError("transform")

    with pytest.raises(KeyError, match="transform"):
        NestedSampler(_ok, bad_transform, 2, nlive=50, rng=0).run()


@pytest.mark.parametrize("kind", ["builtin", "python"])
def test_ctrl_c_stops_promptly(kind):
    code = textwrap.dedent(
        f"""
        import sys, time
        from ridgeline.nested import NestedSampler, problems
        p = problems.gaussian(20)
        like = p.loglike if {kind!r} == "builtin" else (lambda x: p.loglike(x))
        s = NestedSampler(like, p.prior_transform, 20, nlive=20000, rng=0)
        print("started", flush=True)
        try:
            s.run(dlogz=1e-9)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        sys.exit(0)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3, out
    assert "interrupted" in out
    assert time.monotonic() - t0 < 5.0
