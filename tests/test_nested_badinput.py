"""A table of bad inputs to ridgeline.nested: every one gives a clear error naming the argument.

Each case is (function to call, expected exception type, text the message must
contain: the argument's name).  The in-process cases run under a timer that
interrupts a loop that would not end (the compiled loops check for signals);
the cases where a hang would not be interruptible run in a child process with a
timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ridgeline

from ridgeline.nested import CLikelihood, DynamicNestedSampler, NestedResult, NestedSampler, problems, sample


def _q(x):
    r = x - 0.5
    return float(-(r @ r) / 0.02)


def _qb(x):
    r = x - 0.5
    return -np.sum(r * r, axis=1) / 0.02


def _sampler(**kw):
    ll = kw.pop("loglike", _q)
    pt = kw.pop("prior_transform", None)
    ndim = kw.pop("ndim", 2)
    kw.setdefault("nlive", 20)
    kw.setdefault("rng", 0)
    return NestedSampler(ll, pt, ndim, **kw)


def _run(sampler_kw=None, **run_kw):
    run_kw.setdefault("dlogz", 0.5)
    run_kw.setdefault("maxcall", 20_000)
    return _sampler(**(sampler_kw or {})).run(**run_kw)


class UserError(Exception):
    pass


def _raise(*_):
    raise UserError("from the callback")


CASES: list[tuple[str, object, type, str]] = []


def case(name, fn, exc, text):
    CASES.append((name, fn, exc, text))


# --- generated: every numeric option against wrong kinds and values -------------------

_BAD_KIND = [("str", "3"), ("bytes", b"3"), ("complex", 3 + 0j), ("bool", True), ("list", [3]), ("array", np.array([3])),
             ("dict", {}), ("object", object())]
_BAD_INT_VALUE = [("nan", float("nan")), ("inf", float("inf")), ("float", 2.5), ("huge", 2**64), ("2**31", 2**31 + 5)]
_BAD_FLOAT_VALUE = [("nan", float("nan")), ("-inf", -float("inf"))]

# constructor ints: (name, allows None, smallest legal value, largest legal value or None)
_CTOR_INTS = [("ndim", False, 1, 100_000), ("nlive", False, 3, 10_000_000), ("update_interval", True, 1, None),
              ("nsim", False, 2, 10_000_000), ("slice_steps", True, 1, 1 << 20), ("slice_dim", False, 1, None),
              ("executor_chunks", True, 1, None), ("n_threads", True, 1, 4096)]
for pname, allows_none, low, high in _CTOR_INTS:
    for label, value in _BAD_KIND + ([] if allows_none else [("None", None)]):
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), TypeError, pname)
    for label, value in _BAD_INT_VALUE:
        if label == "2**31" and high is None:
            continue
        exc = TypeError if isinstance(value, float) else ValueError
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), exc, pname)
    if pname != "n_threads":
        case(f"NestedSampler {pname}=below", lambda p=pname, v=low - 1: _sampler(**{p: v}), ValueError, pname)
    case(f"NestedSampler {pname}=-(2**63)", lambda p=pname: _sampler(**{p: -(2**63)}), ValueError, pname)

# constructor floats: (name, low, high)
for pname, low, high in [("enlarge", 1.0, 1000.0), ("chord_scale", 1.0, 1000.0)]:
    for label, value in _BAD_KIND + [("None", None)]:
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), TypeError, pname)
    for label, value in _BAD_FLOAT_VALUE + [("inf", float("inf")), ("1e300", 1e300), ("below", low - 1e-9),
                                            ("-1e300", -1e300), ("1e-300", 1e-300), ("zero", 0.0)]:
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), ValueError, pname)

# choices
for pname, legal in [("bound", "multi"), ("sample", "auto"), ("slice_start", "auto")]:
    for label, value in [("unknown", "nope"), ("upper", legal.upper()), ("empty", "")]:
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), ValueError, pname)
    for label, value in [("bytes", legal.encode()), ("int", 1), ("None", None), ("list", [legal])]:
        case(f"NestedSampler {pname}={label}", lambda p=pname, v=value: _sampler(**{p: v}), TypeError, pname)
for label, value in [("str", "yes"), ("int", 1), ("None", None), ("float", 1.0)]:
    case(f"NestedSampler vectorized={label}", lambda v=value: _sampler(vectorized=v), TypeError, "vectorized")
for label, value, exc in [("negative", -1, ValueError), ("float", 1.5, TypeError), ("str", "0", TypeError),
                          ("complex", 1j, TypeError), ("list", [1], TypeError)]:
    case(f"NestedSampler rng={label}", lambda v=value: _sampler(rng=v), exc, "rng")
for label, value in [("int", 3), ("str", "f"), ("array", np.zeros(3))]:
    case(f"NestedSampler loglike={label}", lambda v=value: _sampler(loglike=v), TypeError, "loglike")
    case(f"NestedSampler prior_transform={label}", lambda v=value: _sampler(prior_transform=v), TypeError,
         "prior_transform")
case("NestedSampler nlive=ndim", lambda: _sampler(ndim=5, nlive=5), ValueError, "nlive")
case("NestedSampler unknown keyword", lambda: _sampler(bogus=1), TypeError, "bogus")
case("NestedSampler both thread spellings", lambda: _sampler(n_threads=2, nthreads=2), TypeError, "nthreads")
case("NestedSampler executor=5", lambda: _sampler(executor=5), TypeError, "executor")
case("NestedSampler surrogate='x'", lambda: _sampler(surrogate="x"), ValueError, "surrogate")
case("NestedSampler surrogate=5", lambda: _sampler(surrogate=5), (TypeError, ValueError), "surrogate")
case("NestedSampler builtin ndim mismatch", lambda: NestedSampler(problems.gaussian(3).loglike, None, 2, nlive=20),
     ValueError, "ndim")

# run() options
for pname, allows_none in [("maxiter", True), ("maxcall", True)]:
    for label, value in _BAD_KIND:
        case(f"run {pname}={label}", lambda p=pname, v=value: _run(**{p: v}), TypeError, pname)
    for label, value in _BAD_INT_VALUE[:4] + [("negative", -2), ("-(2**63)", -(2**63))]:
        exc = TypeError if isinstance(value, float) else ValueError
        case(f"run {pname}={label}", lambda p=pname, v=value: _run(**{p: v}), exc, pname)
for label, value in _BAD_KIND + [("None", None)]:
    case(f"run dlogz={label}", lambda v=value: _run(dlogz=v), TypeError, "dlogz")
    case(f"run checkpoint_every={label}", lambda v=value: _run(checkpoint="unused.ckpt", checkpoint_every=v),
         TypeError, "checkpoint_every")
for label, value in [("nan", float("nan")), ("negative", -1.0), ("-inf", -float("inf")), ("-1e300", -1e300)]:
    case(f"run dlogz={label}", lambda v=value: _run(dlogz=v), ValueError, "dlogz")
    case(f"run checkpoint_every={label}", lambda v=value: _run(checkpoint="unused.ckpt", checkpoint_every=v),
         ValueError, "checkpoint_every")
for label, value in [("str", "yes"), ("int", 1), ("None", None)]:
    case(f"run progress={label}", lambda v=value: _run(progress=v), TypeError, "progress")
for label, value in [("int", 5), ("list", ["a"]), ("float", 1.5)]:
    case(f"run checkpoint={label}", lambda v=value: _run(checkpoint=v), TypeError, "checkpoint")
case("run unknown keyword", lambda: _sampler().run(bogus=1), TypeError, "bogus")

# callbacks that raise or return garbage (scalar and vectorised)
_GARBAGE_SCALAR = [("None", None, TypeError), ("str", "abc", TypeError), ("complex", 1j, TypeError),
                   ("list", [1.0, 2.0], TypeError), ("array2", np.zeros(2), TypeError), ("dict", {}, TypeError),
                   ("nan", float("nan"), ValueError), ("+inf", float("inf"), ValueError),
                   ("huge int", 10**400, ValueError), ("all -inf", -float("inf"), ValueError)]
for label, value, exc in _GARBAGE_SCALAR:
    case(f"loglike returns {label}", lambda v=value: _run({"loglike": lambda x: v}), exc, "loglike")
_GARBAGE_BATCH = [("None", lambda x: None, ValueError), ("str", lambda x: np.array(["a"] * len(x)), TypeError),
                  ("complex", lambda x: np.zeros(len(x), complex), TypeError),
                  ("short", lambda x: np.zeros(len(x) - 1), ValueError),
                  ("2-D", lambda x: np.zeros((len(x), 1)), ValueError), ("scalar", lambda x: 0.0, ValueError),
                  ("nan", lambda x: np.full(len(x), np.nan), ValueError),
                  ("object", lambda x: np.array([object()] * len(x)), TypeError)]
for label, fn, exc in _GARBAGE_BATCH:
    case(f"vectorised loglike returns {label}", lambda f=fn: _run({"loglike": f, "vectorized": True}), exc, "loglike")
_GARBAGE_TRANSFORM = [("None", lambda u: None, ValueError), ("str", lambda u: "ab", TypeError),
                      ("complex", lambda u: u + 0j, TypeError), ("short", lambda u: u[:1], ValueError),
                      ("nan", lambda u: u * np.nan, ValueError), ("inf", lambda u: u * np.inf, ValueError),
                      ("list of str", lambda u: ["a", "b"], TypeError)]
for label, fn, exc in _GARBAGE_TRANSFORM:
    case(f"prior_transform returns {label}", lambda f=fn: _run({"prior_transform": f}), exc, "prior_transform")
case("vectorised prior_transform returns wrong shape",
     lambda: _run({"loglike": _qb, "prior_transform": lambda u: u[:, :1], "vectorized": True}), ValueError,
     "prior_transform")
case("loglike raises", lambda: _run({"loglike": _raise}), UserError, "from the callback")
case("vectorised loglike raises", lambda: _run({"loglike": _raise, "vectorized": True}), UserError,
     "from the callback")
case("prior_transform raises", lambda: _run({"prior_transform": _raise}), UserError, "from the callback")
case("loglike raises KeyError", lambda: _run({"loglike": lambda x: {}["k"]}), KeyError, "k")



def _ctypes_raising(after, n_threads=1, dynamic=False):
    """A CLikelihood from a ctypes callback that raises on its call number ``after`` (ctypes alone would print the
    exception and hand 0 to C: the run would return a result)."""
    import ctypes

    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64, ctypes.c_void_p)
    calls = [0]

    def f(x, n, data):
        calls[0] += 1
        if calls[0] >= after:
            raise UserError("from the callback")
        return -sum((x[i] - 0.5) ** 2 for i in range(n)) / 0.02

    like = CLikelihood(proto(f))
    if dynamic:
        return DynamicNestedSampler(like, None, 2, nlive=20, rng=0).run(maxcall=20_000)
    return NestedSampler(like, None, 2, nlive=20, rng=0, n_threads=n_threads).run(dlogz=0.5, maxcall=20_000)


for label, after, nt in [("first call", 1, 1), ("call 50", 50, 1), ("call 120", 120, 1), ("call 120, 2 threads", 120, 2)]:
    case(f"CLikelihood ctypes callback raises at {label}", lambda a=after, t=nt: _ctypes_raising(a, t), UserError,
         "from the callback")
case("CLikelihood ctypes callback raises in a dynamic run", lambda: _ctypes_raising(120, dynamic=True), UserError,
     "from the callback")
for label, scale in [("1e300", 1e300), ("1e100", 1e100)]:
    case(f"loglike of magnitude {label} (below double-precision resolution)",
         lambda k=scale: _run({"loglike": lambda x: -k * float(np.sum((x - 0.5) ** 2))}), ValueError, "loglike")
case("built-in loglike called with a wrong-length x", lambda: problems.gaussian(3).loglike(np.zeros(2)), ValueError,
     "expected (3,)")
case("built-in loglike batch with wrong width", lambda: problems.gaussian(3).loglike_vectorized(np.zeros((4, 2))),
     ValueError, "expected (m, 3)")


def _dy(**kw):
    from ridgeline.nested import dynesty

    return dynesty.NestedSampler(_q, lambda u: u, 2, nlive=20, rstate=np.random.default_rng(0), **kw)


for label, value in [("1e8", 1e8), ("inf", float("inf")), ("nan", float("nan")), ("0.5", 0.5)]:
    case(f"dynesty drop-in enlarge={label}", lambda v=value: _dy(enlarge=v), ValueError, "enlarge")
case("dynesty drop-in loglike of magnitude 1e300",
     lambda: _dy(enlarge=None).__class__(lambda x: -1e300 * float(np.sum((x - 0.5) ** 2)), lambda u: u, 2, nlive=20,
                                         rstate=np.random.default_rng(0)).run_nested(print_progress=False),
     ValueError, "loglike")

# the convenience function, the dynamic sampler, the result and the problems
case("sample nlive='x'", lambda: sample(_q, None, 2, nlive="x"), TypeError, "nlive")
case("sample dlogz=nan", lambda: sample(_q, None, 2, nlive=20, dlogz=float("nan")), ValueError, "dlogz")
case("sample ndim=0", lambda: sample(_q, None, 0), ValueError, "ndim")


def _dyn(**kw):
    return DynamicNestedSampler(_q, None, 2, nlive=20, rng=0, **kw)


for label, value, exc in [("str", "5", TypeError), ("float", 5.5, TypeError), ("small", 2, ValueError),
                          ("huge", 2**40, ValueError)]:
    case(f"DynamicNestedSampler nlive_batch={label}", lambda v=value: _dyn(nlive_batch=v), exc, "nlive_batch")
for pname, values in [("target_ess", [("nan", float("nan"), ValueError), ("negative", -1.0, ValueError),
                                       ("zero", 0.0, ValueError), ("1e300", 1e300, ValueError),
                                       ("str", "x", TypeError)]),
                      ("pfrac", [("1.5", 1.5, ValueError), ("nan", float("nan"), ValueError), ("str", "x", TypeError)]),
                      ("maxfrac", [("0", 0.0, ValueError), ("2", 2.0, ValueError)]),
                      ("maxbatch", [("negative", -1, ValueError), ("float", 1.5, TypeError)]),
                      ("maxcall", [("zero", 0, ValueError), ("str", "1", TypeError)]),
                      ("dlogz_init", [("negative", -1.0, ValueError), ("None", None, TypeError)])]:
    for label, value, exc in values:
        case(f"DynamicNestedSampler.run {pname}={label}", lambda p=pname, v=value: _dyn().run(**{p: v}), exc, pname)
case("DynamicNestedSampler checkpoint", lambda: _dyn(checkpoint="x"), TypeError, "checkpoint")
case("DynamicNestedSampler both ESS spellings", lambda: _dyn().run(target_ess=10.0, n_effective=10.0), TypeError,
     "n_effective")

_RES: list[NestedResult] = []


def _result():
    if not _RES:
        _RES.append(_run())
    return _RES[0]


for label, value, exc in [("zero", 0, ValueError), ("negative", -5, ValueError), ("str", "5", TypeError),
                          ("float", 5.0, TypeError), ("huge", 2**70, ValueError), ("bool", True, TypeError)]:
    case(f"posterior n={label}", lambda v=value: _result().posterior(n=v), exc, "n=")
case("posterior rng=-1", lambda: _result().posterior(rng=-1), ValueError, "")
case("NestedResult.load missing", lambda: NestedResult.load("/nonexistent/x.npz"), FileNotFoundError, "path")
case("NestedResult.load directory", lambda: NestedResult.load(os.path.dirname(__file__)), ValueError, "path")
for label, value, exc in [("str", "f", TypeError), ("negative", -5, ValueError), ("zero", 0, ValueError),
                          ("huge", 2**70, ValueError), ("float", 1.5, TypeError)]:
    case(f"CLikelihood address={label}", lambda v=value: CLikelihood(v), exc, "address")
case("CLikelihood data=1.5", lambda: CLikelihood(1234, data=1.5), TypeError, "data")
for label, value, exc in [("str", "3", TypeError), ("zero", 0, ValueError), ("float", 2.5, TypeError)]:
    case(f"problems.gaussian ndim={label}", lambda v=value: problems.gaussian(v), exc, "ndim")
case("problems.get unknown", lambda: problems.get("nope"), ValueError, "nope")


class _Hung(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hung


@pytest.mark.parametrize(("name", "fn", "exc", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(name, fn, exc, text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # checkpoint cases write nothing outside the test's directory
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 20.0)
    try:
        with pytest.raises(exc) as info:
            fn()
    except _Hung:
        pytest.fail(f"{name}: no answer within 20 s (a loop that does not end)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)
    msg = str(info.value)
    assert text in msg, f"{name}: {type(info.value).__name__}: {msg}"
    assert len(msg) < 600, msg


def test_table_size():
    assert len(CASES) >= 300


# --- cases that could hang without being interruptible: a child process each ---------------

_CHILD_CASES = {
    "core Sampler nlive < ndim": """
        from ridgeline import _core
        try:
            _core.nested.Sampler(10, 4, 0)
        except ValueError as err:
            print(json.dumps(["ValueError", str(err)]))
    """,
    "core Sampler enlarge=1e12 honours maxcall": """
        from ridgeline import _core
        s = _core.nested.Sampler(3, 30, 0, "multi", 1e12, 3)
        s.set_loglike_builtin("gaussian")
        s.set_transform_affine([0.0] * 3, [1.0] * 3)
        print(json.dumps(["stop", s.run(0.01, -1, 1000)]))
    """,
    "core Sampler enlarge=inf": """
        from ridgeline import _core
        try:
            _core.nested.Sampler(2, 30, 0, "multi", float("inf"), 3)
        except ValueError as err:
            print(json.dumps(["ValueError", str(err)]))
    """,
    "peak in a corner with sample='unif' in 12-D honours maxcall": """
        import numpy as np
        from ridgeline.nested import NestedSampler
        def corner(x):
            return float(-0.5 * np.sum(x * x) / 1e-4)
        r = NestedSampler(corner, None, 12, nlive=40, rng=0, sample="unif").run(dlogz=0.1, maxcall=30000)
        print(json.dumps(["stop", r.stop]))
    """,
    "Ctrl-C during a long rejection loop": """
        import signal, threading, numpy as np
        from ridgeline import _core
        s = _core.nested.Sampler(3, 30, 0, "multi", 1e12, 3)
        s.set_loglike_builtin("gaussian")
        s.set_transform_affine([0.0] * 3, [1.0] * 3)
        threading.Timer(1.0, lambda: signal.raise_signal(signal.SIGINT)).start()
        try:
            s.run(0.0, -1, -1)
        except KeyboardInterrupt:
            print(json.dumps(["KeyboardInterrupt", ""]))
    """,
}


@pytest.mark.parametrize("name", list(_CHILD_CASES))
def test_child_cases_end(name):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(ridgeline.__file__)),
                                         env.get("PYTHONPATH", "")])
    code = "import json\n" + textwrap.dedent(_CHILD_CASES[name])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    kind, text = json.loads(out.stdout.strip().splitlines()[-1])
    if kind == "ValueError":
        assert ("nlive" in text) or ("enlarge" in text), text
    elif kind == "stop":
        assert text == "maxcall" or text == "dlogz", text
    else:
        assert kind == "KeyboardInterrupt"
