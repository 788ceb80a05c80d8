"""Generated calls into the private ``ridgeline._core`` bindings, run in a child process.

Not a test module (pytest does not collect it): ``tests/test_core_fuzz.py`` runs it as a
script, ``python core_fuzz_cases.py SEED START STOP [TARGET ...]``, and reads one line per
case from its stdout:

    B <k> <target> <description>      before case k (so a crash is attributed to it)
    E <k> <outcome> <outcome> ...      after case k, one outcome per call of the case

An outcome is ``ok``, the name of the exception a call raised, ``BAD:<name>`` for an
exception of any other class than the allowed ones, or ``INVALID:<why>`` for a result
that is not a valid one.  A case is one call of a function, or a short sequence of
method calls on an object (the calls after a failed one continue on the same object, so
the state an error leaves behind is exercised too).

Every case is drawn from ``numpy.random.default_rng([SEED, k])``: mostly valid arguments
of a small problem, with one to three replaced by a bad value (wrong type or dtype,
zero-size, huge or negative sizes, ints that do not fit the C++ type, NaN/inf, extreme
scales, non-contiguous, big-endian or read-only arrays, wrong lengths, None, callbacks
that raise, return garbage or call back into the object they are running in).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

ALLOWED = (TypeError, ValueError, RuntimeError, MemoryError, KeyboardInterrupt)

NAN, INF = math.nan, math.inf


class CallbackError(RuntimeError):
    """Raised on purpose by a fuzzed callback (must reach the caller unchanged)."""


class SkipRest(Exception):
    """The object of a sequence could not be made: the rest of the case is skipped, not counted."""


class Garbage:
    """An object no binding accepts as a number or an array."""

    def __float__(self) -> float:
        raise CallbackError("__float__ of garbage")

    def __index__(self) -> int:
        raise CallbackError("__index__ of garbage")

    def __len__(self) -> int:
        raise CallbackError("__len__ of garbage")


INT_BAD: list[Any] = [-1, 0, -(2**31), 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30, 1.5, NAN,
                      INF, None, "3", True, 1j, np.int64(-5), np.uint64(2**64 - 1), np.float64(2.0), Garbage(), [1]]
FLOAT_BAD: list[Any] = [NAN, INF, -INF, 0.0, -0.0, -1.0, 1e300, -1e300, 1e-300, 5e-324, 1.7976931348623157e308,
                        None, "1.0", 1j, 10**400, np.float32(NAN), Garbage(), [0.5], True]
STR_BAD: list[Any] = ["", "x" * 5000, "\x00", "auto\x00", None, 1, b"auto", "AUTO", "é", Garbage()]
BOOL_BAD: list[Any] = [None, 2, -1, "yes", NAN, np.bool_(True), np.array([True, False]), Garbage()]
OBJ_BAD: list[Any] = [None, 0, "x", np.zeros(3), Garbage(), object(), [], {}]


class Gen:
    """The random choices of one case."""

    def __init__(self, seed: int, k: int) -> None:
        self.r = np.random.default_rng([seed, k])

    def p(self, prob: float) -> bool:
        return bool(self.r.random() < prob)

    def pick(self, seq: list[Any] | tuple[Any, ...]) -> Any:
        return seq[int(self.r.integers(len(seq)))]

    def int(self, lo: int, hi: int) -> int:
        if hi < 2**62 and lo > -(2**62):
            return int(self.r.integers(lo, hi + 1))
        return lo + int(self.r.integers(0, 2**64, dtype=np.uint64)) % (hi - lo + 1)


def mutate_array(g: Gen, a: Any) -> Any:
    """A bad version of a valid array argument."""
    a = np.asarray(a)
    kinds = ["float32", "int", "complex", "bool", "object", "str", "empty", "empty_rows", "empty_cols", "strided",
             "transpose", "nan", "inf", "big", "tiny", "bigendian", "readonly", "fortran", "short", "long", "1d",
             "3d", "scalar", "0d", "none", "list", "broadcast_huge", "uint_huge", "neg", "garbage", "bytes"]
    kind = g.pick(kinds)
    if kind == "float32":
        return a.astype(np.float32)
    if kind == "int":
        return a.astype(np.int64) if a.dtype.kind != "f" or np.all(np.isfinite(a)) else a.astype(np.int32)
    if kind == "complex":
        return a.astype(complex) + 1j
    if kind == "bool":
        return a.astype(bool)
    if kind == "object":
        o = a.astype(object)
        if o.size:
            o.flat[0] = Garbage() if g.p(0.5) else None
        return o
    if kind == "str":
        return a.astype(str)
    if kind == "empty":
        return a.reshape(-1)[:0]
    if kind == "empty_rows":
        return a[:0] if a.ndim >= 1 else a.reshape(1)[:0]
    if kind == "empty_cols":
        return a[:, :0] if a.ndim >= 2 else a.reshape(-1, 1)[:, :0]
    if kind == "strided":
        return a[::2] if a.ndim >= 1 else a
    if kind == "transpose":
        return a.T
    if kind in ("nan", "inf", "big", "tiny", "neg", "uint_huge"):
        b = a.astype(np.float64 if a.dtype.kind not in "iu" or kind in ("nan", "inf", "big", "tiny") else a.dtype,
                     copy=True)
        if b.size == 0:
            return b
        idx = g.int(0, b.size - 1)
        if kind == "nan":
            b.flat[idx] = NAN
        elif kind == "inf":
            b.flat[idx] = g.pick([INF, -INF])
        elif kind == "big":
            b = b * 1e300 + g.pick([0.0, 1e300])
        elif kind == "tiny":
            b = b * 1e-300
        elif kind == "neg":
            b.flat[idx] = -1 if b.dtype.kind == "i" else (b.dtype.type(0) if b.dtype.kind == "u" else -b.flat[idx] - 1)
        else:
            if b.dtype.kind == "u":
                b.flat[idx] = np.iinfo(b.dtype).max
            elif b.dtype.kind == "i":
                info = np.iinfo(b.dtype)
                b.flat[idx] = g.pick([info.max, info.min, min(2**40, info.max), min(2**31, info.max)])
            else:
                b.flat[idx] = 2.0**63
        return b
    if kind == "bigendian":
        return a.astype(a.dtype.newbyteorder(">")) if a.dtype.kind in "iuf" else a
    if kind == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "short":
        return a[:-1] if a.ndim >= 1 and a.shape[0] > 0 else a
    if kind == "long":
        return np.concatenate([a, a[:1]]) if a.ndim >= 1 and a.shape[0] > 0 else np.zeros(1)
    if kind == "1d":
        return a.reshape(-1)
    if kind == "3d":
        return a.reshape((1, *a.shape, 1))
    if kind == "scalar":
        return float(a.reshape(-1)[0]) if a.size else 0.0
    if kind == "0d":
        return np.asarray(a.reshape(-1)[0] if a.size else 0.0)
    if kind == "none":
        return None
    if kind == "list":
        return a.tolist()
    if kind == "broadcast_huge":
        shape = tuple(g.pick([2**20, 2**31, 2**40, 3]) for _ in range(max(a.ndim, 1)))
        try:
            return np.broadcast_to(np.asarray(1, dtype=a.dtype) if a.dtype.kind in "iuf" else 1.0, shape)
        except ValueError:
            return np.broadcast_to(1.0, (2**20, 2**20))
    if kind == "garbage":
        return Garbage()
    return a.tobytes()


def bad_value(g: Gen, kind: str, valid: Any) -> Any:
    if kind == "int":
        return g.pick(INT_BAD)
    if kind == "float":
        return g.pick(FLOAT_BAD)
    if kind == "str":
        return g.pick(STR_BAD)
    if kind == "bool":
        return g.pick(BOOL_BAD)
    if kind == "array":
        return mutate_array(g, valid)
    return g.pick(OBJ_BAD)


def fuzz(g: Gen, spec: list[tuple[str, str, Any]], p_bad: float = 0.8) -> tuple[list[Any], dict[str, Any]]:
    """Arguments from (name, kind, valid value); usually one to three replaced by bad values.

    Positional by default; sometimes a trailing argument with a default is left out or
    everything is passed by keyword.
    """
    vals = [v for _, _, v in spec]
    if g.p(p_bad) and spec:
        for _ in range(g.pick([1, 1, 1, 2, 3])):
            i = g.int(0, len(spec) - 1)
            vals[i] = bad_value(g, spec[i][1], spec[i][2])
    if g.p(0.15):
        return [], {name: v for (name, _, _), v in zip(spec, vals)}
    return vals, {}


def describe(x: Any, depth: int = 0) -> str:
    if isinstance(x, np.ndarray):
        fl = "".join(c for c, f in (("C", x.flags.c_contiguous), ("F", x.flags.f_contiguous),
                                     ("W", x.flags.writeable)) if f)
        head = ""
        if x.size and x.dtype.kind in "biuf" and x.size <= 4:
            head = " " + np.array2string(x.reshape(-1), precision=3)
        return f"array({x.dtype.str},{x.shape},{fl}{head})"
    if isinstance(x, (list, tuple)) and depth < 2:
        inner = ", ".join(describe(v, depth + 1) for v in list(x)[:6])
        return ("[" + inner + (", ..." if len(x) > 6 else "") + "]") if isinstance(x, list) else "(" + inner + ")"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}={describe(v, depth + 1)}" for k, v in list(x.items())[:12]) + "}"
    if callable(x) and hasattr(x, "__name__"):
        return f"<fn {x.__name__}>"
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


# --- a case: a list of (label, thunk) calls ---------------------------------------------------------------

Call = tuple[str, Callable[[], Any], Callable[[Any], str | None] | None]


def call(label: str, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
         check: Callable[[Any], str | None] | None = None) -> Call:
    desc = f"{label}({', '.join([describe(a) for a in args] + [f'{k}={describe(v)}' for k, v in kwargs.items()])})"
    return desc, (lambda: fn(*args, **kwargs)), check


def shape_check(shape: tuple[int, ...]) -> Callable[[Any], str | None]:
    def check(res: Any) -> str | None:
        if not isinstance(res, np.ndarray) or res.shape != shape:
            return f"shape {getattr(res, 'shape', type(res).__name__)} != {shape}"
        return None

    return check


# --- random -----------------------------------------------------------------------------------------------


def case_random(g: Gen, core: Any) -> list[Call]:
    m = core.random
    u64 = lambda: int(g.r.integers(0, 2**64, dtype=np.uint64))  # noqa: E731
    n = g.pick([0, 1, 7, 100])
    which = g.pick(["words", "uniform", "normal", "integers", "mix_seed"])
    if which == "words":
        spec = [("seed", "int", u64()), ("stream", "int", u64()), ("start", "int", u64()), ("n", "int", n)]
    elif which == "integers":
        spec = [("seed", "int", u64()), ("stream", "int", u64()), ("bound", "int", g.int(1, 2**63)), ("n", "int", n)]
    elif which == "mix_seed":
        spec = [("seed", "int", u64()), ("salt", "int", u64())]
    else:
        spec = [("seed", "int", u64()), ("stream", "int", u64()), ("n", "int", n)]
    args, kw = fuzz(g, spec, 0.6)
    vals = dict(zip([s[0] for s in spec], args)) if args else kw

    def check(res: Any) -> str | None:
        if which == "mix_seed":
            return None if isinstance(res, int) and 0 <= res < 2**64 else f"mix_seed gave {res!r}"
        nn = int(vals["n"])
        if not isinstance(res, np.ndarray) or res.shape != (nn,):
            return "wrong shape"
        if which == "uniform" and nn and not (np.all(res > 0) and np.all(res < 1)):
            return "uniform outside (0, 1)"
        if which == "normal" and not np.all(np.isfinite(res)):
            return "non-finite normal"
        if which == "integers" and nn and not np.all(res < np.uint64(int(vals["bound"]))):
            return "integer >= bound"
        return None

    return [call(f"random.{which}", getattr(m, which), args, kw, check)]


# --- elbo -------------------------------------------------------------------------------------------------


def case_elbo(g: Gen, core: Any) -> list[Call]:
    m = core.elbo
    which = g.pick(["plan", "plan", "plan", "reduce_terms", "reduce_terms", "stratum_l", "sobol_uniform",
                    "sobol_normal", "sobol_directions", "norm_ppf"])
    if which == "plan":
        batch = g.pick([0, 1, 3, 5])
        lengths = g.r.integers(0, 12, size=batch)
        pos_ptr = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(lengths, out=pos_ptr[1:])
        pos = np.concatenate([np.sort(g.r.choice(20, size=int(n_), replace=False)) for n_ in lengths]).astype(
            np.int64) if batch else np.zeros(0, dtype=np.int64)
        scheme = g.int(0, 6)
        mask = 0 if scheme in (3, 4, 6) else g.int(0, 1)
        budget = g.pick([1, 2, 5, 16])
        q = min(budget, 3)
        nodes = np.linspace(0.1, 0.9, q) if scheme == 5 else np.zeros(0)
        weights = np.full(q, 1.0 / q) if scheme == 5 else np.zeros(0)
        spec = [("row_ids", "array", np.arange(batch, dtype=np.uint64)), ("pos_ptr", "array", pos_ptr),
                ("pos", "array", pos), ("key", "int", g.int(0, 2**63)), ("scheme", "int", scheme),
                ("mask", "int", mask), ("budget", "int", budget), ("t_min", "float", 1e-3 if scheme < 3 else 0.0),
                ("nodes", "array", nodes), ("weights", "array", weights), ("nthreads", "int", g.pick([0, 1, 2]))]
        args, kw = fuzz(g, spec)
        return [call("elbo.plan", m.plan, args, kw)]
    if which == "reduce_terms":
        rows, L = g.pick([0, 1, 4]), g.pick([1, 5])
        counts = g.r.integers(0, L + 1, size=rows)
        indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = g.r.integers(0, L, size=int(indptr[-1])).astype(np.int64)
        spec = [("indptr", "array", indptr), ("indices", "array", indices), ("coef", "array", g.r.random(rows)),
                ("logp", "array", -g.r.random((rows, L)))]
        args, kw = fuzz(g, spec)
        return [call("elbo.reduce_terms", m.reduce_terms, args, kw)]
    if which == "stratum_l":
        k = g.pick([0, 1, 6])
        spec = [("v", "array", g.r.random(k)), ("k", "array", g.r.integers(0, 4, size=k).astype(np.int64)),
                ("n", "int", g.int(1, 30)), ("budget", "int", 4)]
        args, kw = fuzz(g, spec)
        return [call("elbo.stratum_l", m.stratum_l, args, kw)]
    if which in ("sobol_uniform", "sobol_normal"):
        n, d = g.pick([1, 8, 33]), g.pick([1, 3, 40])
        spec = [("n", "int", n), ("d", "int", d), ("key", "int", g.int(0, 2**64 - 1))]
        if which == "sobol_uniform":
            spec.append(("scramble", "bool", g.p(0.5)))
        args, kw = fuzz(g, spec, 0.7)
        return [call(f"elbo.{which}", getattr(m, which), args, kw)]
    if which == "sobol_directions":
        args, kw = fuzz(g, [("d", "int", g.pick([1, 5, 1111]))], 0.7)
        return [call("elbo.sobol_directions", m.sobol_directions, args, kw)]
    args, kw = fuzz(g, [("u", "array", g.r.random(g.pick([0, 3, 10])))])
    return [call("elbo.norm_ppf", m.norm_ppf, args, kw)]


# --- nested -----------------------------------------------------------------------------------------------


def _loglike_factory(g: Gen, d: int, vectorized: bool, holder: list[Any]) -> Callable[..., Any]:
    """A likelihood (or prior transform) that works, raises, returns garbage, or re-enters the sampler."""
    kind = g.pick(["ok", "ok", "ok", "raise", "kbint", "none", "str", "nan", "inf", "ninf", "huge_int", "complex",
                   "wrong_shape", "int_dtype", "object", "garbage", "strided", "bigendian", "list", "raise_late",
                   "reenter"])
    calls = [0]
    late = g.int(1, 400)
    reenter = g.pick(["set_sample", "set_loglike_builtin", "load_state", "set_live", "run", "set_transform_affine",
                      "evaluate", "state", "draw_above", "set_threads"])

    def good(x: np.ndarray) -> Any:
        r = np.asarray(x) - 0.5
        return -np.sum(r * r, axis=-1) / 0.02 if vectorized else float(-(r @ r) / 0.02)

    def fn(x: np.ndarray) -> Any:
        calls[0] += 1
        if kind == "ok":
            return good(x)
        if kind == "raise" or (kind == "raise_late" and calls[0] >= late):
            raise CallbackError("from the callback")
        if kind == "raise_late":
            return good(x)
        if kind == "kbint" and calls[0] >= late:
            raise KeyboardInterrupt
        if kind == "kbint":
            return good(x)
        if kind == "reenter" and calls[0] in (1, late):
            s = holder[0]
            if reenter == "set_sample":
                s.set_sample(g.pick(["unif", "slice", "auto"]))
            elif reenter == "set_loglike_builtin":
                s.set_loglike_builtin("gaussian")
            elif reenter == "load_state":
                s.load_state(holder[1] if len(holder) > 1 else b"")
            elif reenter == "set_live":
                s.set_live(np.full((3, d), 0.5), np.full((3, d), 0.5), np.zeros(3), np.full(3, -INF), 0.0)
            elif reenter == "run":
                s.run(0.5, 10, 100)
            elif reenter == "set_transform_affine":
                s.set_transform_affine([0.0] * d, [1.0] * d)
            elif reenter == "evaluate":
                s.evaluate(np.full((2, d), 0.5))
            elif reenter == "state":
                s.state()
            elif reenter == "draw_above":
                s.draw_above(-INF, 2)
            else:
                s.set_threads(2)
            return good(x)
        if kind == "reenter":
            return good(x)
        n = len(x) if vectorized else 1
        if kind == "none":
            return None
        if kind == "str":
            return "1.0"
        if kind == "nan":
            return np.full(n, NAN) if vectorized else NAN
        if kind == "inf":
            return np.full(n, INF) if vectorized else INF
        if kind == "ninf":
            return np.full(n, -INF) if vectorized else -INF
        if kind == "huge_int":
            return [10**400] * n if vectorized else 10**400
        if kind == "complex":
            return np.ones(n, complex) if vectorized else 1j
        if kind == "wrong_shape":
            return np.zeros(n + 1) if vectorized else np.zeros(3)
        if kind == "int_dtype":
            return np.zeros(n, dtype=np.int64) if vectorized else np.int64(0)
        if kind == "object":
            return np.array([Garbage()] * n, dtype=object) if vectorized else Garbage()
        if kind == "garbage":
            return Garbage()
        if kind == "strided":
            return np.zeros(2 * n)[::2] if vectorized else np.float32(0)
        if kind == "bigendian":
            return np.zeros(n, dtype=">f8") if vectorized else np.array(0.0, dtype=">f8")
        return [0.0] * n if vectorized else [0.0]

    fn.__name__ = f"loglike_{kind}" + (f"_{reenter}" if kind == "reenter" else "")
    return fn


def _transform_factory(g: Gen, d: int, vectorized: bool, holder: list[Any]) -> Callable[..., Any]:
    kind = g.pick(["ok", "ok", "raise", "nan", "wrong_shape", "none", "int", "object", "transposed", "reenter"])
    calls = [0]

    def fn(u: np.ndarray) -> Any:
        calls[0] += 1
        u = np.asarray(u)
        if kind == "ok":
            return 2.0 * u - 1.0
        if kind == "raise":
            raise CallbackError("transform")
        if kind == "nan":
            v = u.copy()
            v[..., 0] = NAN
            return v
        if kind == "wrong_shape":
            return u[..., :-1] if u.shape[-1] > 1 else np.zeros(u.shape[:-1] + (2,))
        if kind == "none":
            return None
        if kind == "int":
            return u.astype(np.int64)
        if kind == "object":
            return u.astype(object)
        if kind == "transposed":
            return np.asfortranarray(u) if u.ndim == 2 else u[::-1]
        if calls[0] == 2:
            holder[0].set_transform_affine([0.0] * d, [1.0] * d)
            holder[0].set_sample("slice")
        return u

    fn.__name__ = f"transform_{kind}"
    return fn


def _progress_factory(g: Gen, holder: list[Any]) -> Any:
    kind = g.pick(["ok", "raise", "kbint", "garbage_sig", "reenter", "none"])
    if kind == "none":
        return None

    def progress(*a: Any) -> Any:
        if kind == "raise":
            raise CallbackError("progress")
        if kind == "kbint":
            raise KeyboardInterrupt
        if kind == "reenter":
            holder[0].set_sample("unif")
            holder[0].set_loglike_builtin("gaussian")
        return Garbage()

    if kind == "garbage_sig":
        return lambda: None
    progress.__name__ = f"progress_{kind}"
    return progress


def case_nested(g: Gen, core: Any) -> list[Call]:
    m = core.nested
    which = g.pick(["sampler"] * 6 + ["simulate_logz", "deterministic_weights", "fit_bound", "builtin_loglike"])
    if which in ("simulate_logz", "deterministic_weights"):
        n, nfinal = g.pick([1, 5, 30]), g.pick([0, 1, 3])
        nfinal = min(nfinal, n - 1)
        logl = np.sort(g.r.standard_normal(n))
        nlive = np.full(n - nfinal, g.pick([1, 5, 50]), dtype=np.int32)
        spec = [("logl", "array", logl), ("nlive", "array", nlive), ("nfinal", "int", nfinal),
                ("logvol_end", "float", -float(n) / 5)]
        if which == "simulate_logz":
            spec += [("nsim", "int", g.pick([1, 10])), ("seed", "int", g.int(0, 99)), ("block", "int", 4)]
        args, kw = fuzz(g, spec)
        return [call(f"nested.{which}", getattr(m, which), args, kw)]
    if which == "fit_bound":
        npts, d = g.pick([1, 3, 30]), g.pick([1, 2, 4])
        spec = [("points", "array", g.r.random((npts, d))), ("logpointvol", "float", -3.0),
                ("multi", "bool", g.p(0.5)), ("enlarge", "float", 1.25)]
        args, kw = fuzz(g, spec)
        return [call("nested.fit_bound", m.fit_bound, args, kw)]
    if which == "builtin_loglike":
        d = g.pick([1, 2, 5])
        spec = [("name", "str", g.pick(["gaussian", "mixture", "correlated", "shells", "eggbox"])),
                ("x", "array", g.r.random((4, d)))]
        args, kw = fuzz(g, spec)
        return [call("nested.builtin_loglike", m.builtin_loglike, args, kw)]

    # A sampler and a short sequence of method calls.
    d = g.pick([1, 2, 3])
    holder: list[Any] = []
    spec = [("ndim", "int", d), ("nlive", "int", g.pick([5, 20, 40])), ("seed", "int", g.int(0, 2**64 - 1)),
            ("bound", "str", g.pick(["none", "single", "multi"])), ("enlarge", "float", 1.25),
            ("update_interval", "int", g.pick([1, 10, 50])), ("first_update_eff", "float", 0.5),
            ("batch_min", "int", 1), ("batch_max", "int", g.pick([1, 4]))]
    args, kw = fuzz(g, spec, 0.25)
    out: list[Call] = []

    def construct() -> Any:
        s = m.Sampler(*args, **kw)
        holder[:] = [s]
        return s

    out.append(call("nested.Sampler", lambda *a, **k: construct(), args, kw))

    def on(method: str) -> Callable[..., Any]:
        def f(*a: Any, **k: Any) -> Any:
            if not holder:
                raise SkipRest
            return getattr(holder[0], method)(*a, **k)

        f.__name__ = method
        return f

    first = []
    if g.p(0.85):  # most sequences start with a likelihood, so that runs get going
        first = [g.pick(["set_loglike_builtin", "set_loglike_python", "set_loglike_python"])]
    for j in range(g.int(1, 5) + len(first)):
        step = first[0] if j < len(first) else g.pick(["set_loglike_builtin", "set_loglike_python", "set_loglike_python", "set_transform_affine",
                       "set_transform_builtin", "set_transform_python", "set_sample", "set_threads", "run", "run",
                       "run", "run_until", "draw_above", "set_live", "evaluate", "dump_load", "load_garbage",
                       "state", "bound", "delta_logz", "set_loglike_cfunc"])
        if step == "set_loglike_builtin":
            a, k = fuzz(g, [("name", "str", g.pick(["gaussian", "mixture", "correlated", "shells", "eggbox"]))], 0.3)
        elif step == "set_loglike_python":
            vec = g.p(0.5)
            a, k = fuzz(g, [("fn", "obj", _loglike_factory(g, d, vec, holder)), ("vectorized", "bool", vec)], 0.15)
        elif step == "set_loglike_cfunc":
            # Only the address checks: any non-zero address is called as a function by design.
            a, k = fuzz(g, [("address", "int", 0), ("data", "int", 0)], 0.0)
            if g.p(0.5):
                a = [g.pick([0, -1, 2**64, None, "0x10"])]
        elif step == "set_transform_affine":
            a, k = fuzz(g, [("lo", "array", np.zeros(d)), ("hi", "array", np.ones(d))])
            a = [x.tolist() if isinstance(x, np.ndarray) and x.size < 100 and g.p(0.5) else x for x in a]
        elif step == "set_transform_python":
            vec = g.p(0.5)
            a, k = fuzz(g, [("fn", "obj", _transform_factory(g, d, vec, holder)), ("vectorized", "bool", vec)], 0.15)
        elif step == "set_sample":
            a, k = fuzz(g, [("kind", "str", g.pick(["unif", "slice", "auto"])), ("slice_steps", "int", g.pick([0, 3])),
                            ("chord_scale", "float", 1.5), ("slice_dim", "int", g.pick([1, 21])),
                            ("slice_start", "str", g.pick(["auto", "live"]))], 0.5)
        elif step == "set_threads":
            a, k = fuzz(g, [("n_threads", "int", g.pick([1, 2]))], 0.5)
        elif step == "run":
            a, k = fuzz(g, [("dlogz", "float", g.pick([0.5, 0.01])), ("maxiter", "int", g.pick([0, 5, 300])),
                            ("maxcall", "int", g.pick([0, 100, 3000])), ("progress", "obj", _progress_factory(g, holder)),
                            ("progress_every", "int", g.pick([0, 1, 10]))], 0.4)
        elif step == "run_until":
            a, k = fuzz(g, [("logl_stop", "float", g.pick([-10.0, 0.0, INF])), ("dlogz", "float", 0.5),
                            ("maxcall", "int", g.pick([0, 100, 2000]))], 0.5)
        elif step == "draw_above":
            a, k = fuzz(g, [("lstar", "float", g.pick([-INF, -50.0, -1.0])), ("m", "int", g.pick([0, 1, 4]))], 0.5)
        elif step == "set_live":
            nl = g.pick([0, 1, 3, 10])
            a, k = fuzz(g, [("u", "array", g.r.random((nl, d))), ("x", "array", g.r.random((nl, d))),
                            ("logl", "array", -np.sort(g.r.random(nl))), ("birth", "array", np.full(nl, -INF)),
                            ("logvol", "float", -1.0)])
        elif step == "evaluate":
            a, k = fuzz(g, [("u", "array", g.r.random((g.pick([0, 1, 5]), d)))])
        elif step in ("dump_load", "load_garbage"):
            def dump_load(flip: bool = step == "load_garbage", seed: int = g.int(0, 2**31)) -> Any:
                if not holder:
                    raise SkipRest
                data = holder[0].dump_state()
                if len(holder) < 2:
                    holder.append(data)
                if flip:
                    r = np.random.default_rng(seed)
                    b = bytearray(data)
                    how = r.integers(4)
                    if how == 0 and b:
                        b = b[: int(r.integers(len(b)))]
                    elif how == 1 and b:
                        for _ in range(int(r.integers(1, 8))):
                            b[int(r.integers(len(b)))] ^= 1 << int(r.integers(8))
                    elif how == 2:
                        b = bytearray(r.integers(0, 256, size=int(r.integers(0, 300)), dtype=np.uint8).tobytes())
                    elif b:
                        j = int(r.integers(max(len(b) - 8, 1)))
                        b[j:j + 8] = r.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f\xf8" + b"\x00" * 6])
                    data = bytes(b)
                return holder[0].load_state(data)

            out.append(call(f"nested.Sampler.{step}", dump_load, [], {}))
            continue
        else:  # state, bound, delta_logz
            a, k = [], {}
        out.append(call(f"nested.Sampler.{step}", on(step), a, k))
    return out


# --- cluster ----------------------------------------------------------------------------------------------


def _blobs(g: Gen, n: int, p: int, K: int) -> np.ndarray:
    centers = g.r.standard_normal((K, p)) * 4
    return centers[np.arange(n) % K] + g.r.standard_normal((n, p))


def _cluster_progress(g: Gen, core: Any) -> Any:
    kind = g.pick(["none", "none", "ok", "raise", "kbint", "garbage", "wrong_sig", "reenter"])
    if kind == "none":
        return None
    if kind == "wrong_sig":
        return lambda: None
    calls = [0]

    def progress(it: Any, infeas: Any, stat: Any) -> Any:
        calls[0] += 1
        if kind == "raise" and calls[0] >= 2:
            raise CallbackError("progress")
        if kind == "kbint" and calls[0] >= 2:
            raise KeyboardInterrupt
        if kind == "reenter" and calls[0] == 1:
            core.cluster.peng_wei(np.eye(4), 2, 2, 0, max_iter=5)
        return Garbage()

    progress.__name__ = f"progress_{kind}"
    return progress


def case_cluster(g: Gen, core: Any) -> list[Call]:
    m = core.cluster
    which = g.pick(["peng_wei", "peng_wei", "la_sdp", "round_factor", "kmeans", "kmeans", "cpu_has_avx2_fma"])
    n, p, K = g.pick([2, 12, 30]), g.pick([1, 2, 3]), g.pick([1, 2, 3])
    X = _blobs(g, n, p, K)
    if which == "peng_wei":
        spec = [("X", "array", X), ("n_clusters", "int", K), ("rank", "int", g.pick([K, K + 1])),
                ("seed", "int", g.int(0, 99)), ("tol", "float", 1e-4), ("max_iter", "int", g.pick([1, 50, 300])),
                ("beta0", "float", -1.0), ("threads", "int", g.pick([1, 2])), ("dual_c", "float", 1.0),
                ("dual_bb", "float", 100.0), ("isa", "str", g.pick(["auto", "baseline"])),
                ("progress", "obj", _cluster_progress(g, core)), ("progress_interval", "float", g.pick([0.0, 0.1]))]
        args, kw = fuzz(g, spec)
        return [call("cluster.peng_wei", m.peng_wei, args, kw)]
    if which == "la_sdp":
        covs = np.stack([np.eye(p)] * K)
        U0 = np.abs(g.r.standard_normal((n, K * 2))) / n
        spec = [("X", "array", X), ("covariances", "array", covs), ("U0", "array", U0), ("rank", "int", 2),
                ("tol", "float", 1e-4), ("max_iter", "int", g.pick([1, 50, 200])), ("beta0", "float", -1.0),
                ("threads", "int", 1), ("progress", "obj", _cluster_progress(g, core)),
                ("progress_interval", "float", g.pick([0.0, 0.1]))]
        args, kw = fuzz(g, spec)
        return [call("cluster.la_sdp", m.la_sdp, args, kw)]
    if which == "round_factor":
        spec = [("U", "array", np.abs(g.r.standard_normal((n, K + 1)))), ("n_clusters", "int", K)]
        args, kw = fuzz(g, spec)
        return [call("cluster.round_factor", m.round_factor, args, kw)]
    if which == "kmeans":
        spec = [("Y", "array", X), ("n_clusters", "int", K), ("n_init", "int", g.pick([1, 3])),
                ("max_iter", "int", g.pick([1, 20, 300])), ("seed", "int", g.int(0, 2**64 - 1)),
                ("n_threads", "int", g.pick([1, 2]))]
        args, kw = fuzz(g, spec)
        vals = dict(zip([s[0] for s in spec], args)) if args else kw

        def check(res: Any) -> str | None:
            lab, centers, inertia = res.labels, res.centers, res.inertia
            kk = int(vals["n_clusters"])
            if lab.size and (lab.min() < 0 or lab.max() >= kk):
                return "label out of range"
            if not math.isfinite(inertia) or inertia < 0:
                return f"inertia {inertia}"
            return None

        return [call("cluster.kmeans", m.kmeans, args, kw, check)]
    return [call("cluster.cpu_has_avx2_fma", m.cpu_has_avx2_fma, [], {})]


# --- spectra ----------------------------------------------------------------------------------------------


def _sym(g: Gen, n: int) -> np.ndarray:
    B = g.r.standard_normal((n, n))
    return (B + B.T) / 2


def _operator(g: Gen, core: Any, n: int) -> Any:
    sp = core.spectra
    kind = g.pick(["dense", "csr", "mlp"])
    if kind == "dense":
        return sp.DenseOperator(_sym(g, n))
    if kind == "csr":
        A = _sym(g, n) * (g.r.random((n, n)) < 0.3)
        A = A + A.T
        nz = np.nonzero(A)
        indptr = np.searchsorted(nz[0], np.arange(n + 1)).astype(np.int64)
        return sp.CsrOperator(A[nz].astype(np.float64), nz[1].astype(np.int64), indptr, n, g.pick([1, 2]))
    # an MLP whose parameter count is n is hard to arrange; use its own size
    net = sp.Mlp([2, 3, 2], "tanh", "squared")
    st = sp.MlpState(net, g.r.standard_normal(net.n_params), g.r.standard_normal((5, 2)), g.r.standard_normal((5, 2)))
    return sp.MlpOperator(st, g.p(0.5), 1)


def case_spectra(g: Gen, core: Any) -> list[Call]:
    sp = core.spectra
    which = g.pick(["tridiagonal_eigh", "rademacher", "dense", "csr", "mlp", "mlp", "lanczos", "lanczos", "slq",
                    "trace", "krylov"])
    if which == "tridiagonal_eigh":
        mm = g.pick([0, 1, 5])
        args, kw = fuzz(g, [("alpha", "array", g.r.standard_normal(mm)),
                            ("beta", "array", g.r.standard_normal(max(mm - 1, 0)))])
        return [call("spectra.tridiagonal_eigh", sp.tridiagonal_eigh, args, kw)]
    if which == "rademacher":
        args, kw = fuzz(g, [("seed", "int", g.int(0, 99)), ("stream", "int", 0), ("n", "int", g.pick([0, 5]))], 0.6)
        return [call("spectra.rademacher", sp.rademacher, args, kw)]
    n = g.pick([1, 2, 6, 20])
    holder: list[Any] = []

    def keep(make: Callable[..., Any]) -> Callable[..., Any]:
        def f(*a: Any, **k: Any) -> Any:
            holder.clear()
            obj = make(*a, **k)
            holder[:] = [obj]
            return obj

        f.__name__ = getattr(make, "__name__", "make")
        return f

    def on(attr: str, prop: bool = False) -> Callable[..., Any]:
        def f(*a: Any, **k: Any) -> Any:
            if not holder:
                raise SkipRest
            v = getattr(holder[0], attr)
            return v if prop else v(*a, **k)

        f.__name__ = attr
        return f

    def op_calls(label: str) -> list[Call]:
        out = []
        for _ in range(g.int(1, 3)):
            if g.p(0.5):
                a, k = fuzz(g, [("X", "array", g.r.standard_normal((n, g.pick([1, 3]))))])
                out.append(call(f"{label}.matmat", on("matmat"), a, k))
            else:
                a, k = fuzz(g, [("x", "array", g.r.standard_normal(n))])
                out.append(call(f"{label}.matvec", on("matvec"), a, k))
        out.append(call(f"{label}.n", on("n", True), [], {}))
        return out

    if which == "dense":
        a, k = fuzz(g, [("A", "array", _sym(g, n))], 0.6)
        return [call("spectra.DenseOperator", keep(sp.DenseOperator), a, k)] + op_calls("DenseOperator")
    if which == "csr":
        A = _sym(g, n) * (g.r.random((n, n)) < 0.4)
        nz = np.nonzero(A)
        indptr = np.searchsorted(nz[0], np.arange(n + 1)).astype(np.int64)
        a, k = fuzz(g, [("data", "array", A[nz].astype(np.float64)), ("indices", "array", nz[1].astype(np.int64)),
                        ("indptr", "array", indptr), ("n", "int", n), ("n_threads", "int", g.pick([1, 2]))], 0.7)
        return [call("spectra.CsrOperator", keep(sp.CsrOperator), a, k)] + op_calls("CsrOperator")
    if which == "mlp":
        sizes = [g.pick([1, 2, 3]), g.pick([1, 4]), g.pick([1, 2, 3])]
        loss = g.pick(["squared", "cross_entropy"])
        a, k = fuzz(g, [("layer_sizes", "obj", sizes), ("activation", "str", g.pick(["tanh", "relu"])),
                        ("loss", "str", loss)], 0.3)
        if g.p(0.2):
            a = [g.pick([[], [3], [2, 0, 2], [2, -1, 2], [2, 2**40, 2], [2**31, 2], [2.5, 2], "23"]), "tanh", loss]
        out = [call("spectra.Mlp", keep(sp.Mlp), a, k)]
        N = g.pick([0, 1, 6])
        try:
            net = sp.Mlp(sizes, "tanh", loss)
            npar = net.n_params
        except Exception:  # noqa: BLE001 - the valid spec cannot fail; guard anyway
            return out
        y = (g.r.integers(0, sizes[-1], size=N).astype(np.int64) if loss == "cross_entropy"
             else g.r.standard_normal((N, sizes[-1])))
        a, k = fuzz(g, [("net", "obj", net), ("params", "array", g.r.standard_normal(npar)),
                        ("X", "array", g.r.standard_normal((N, sizes[0]))), ("y", "array", y),
                        ("isa", "str", g.pick(["auto", "baseline"]))])
        out.append(call("spectra.MlpState", keep(sp.MlpState), a, k))
        for _ in range(g.int(1, 3)):
            st = g.pick(["product", "gradient", "loss", "isa", "operator"])
            if st == "product":
                a, k = fuzz(g, [("V", "array", g.r.standard_normal((npar, g.pick([1, 2])))),
                                ("gauss_newton", "bool", g.p(0.5)), ("n_threads", "int", g.pick([1, 2]))])
                out.append(call("MlpState.product", on("product"), a, k))
            elif st == "operator":
                def mk_op(gn: Any, nt: Any) -> Any:
                    if not holder:
                        raise SkipRest
                    o = sp.MlpOperator(holder[0], gn, nt)
                    return o.matvec(np.ones(o.n))

                a, k = fuzz(g, [("gauss_newton", "bool", g.p(0.5)), ("n_threads", "int", 1)], 0.5)
                out.append(call("spectra.MlpOperator", mk_op, a, {}))
            else:
                out.append(call(f"MlpState.{st}", on(st, True), [], {}))
        return out

    # reverse-communication engines
    if which == "lanczos":
        kk = max(1, min(g.pick([1, 2, 3]), n - 1))
        ncv = min(n, kk + g.pick([1, 3, 8]))
        v0 = g.r.standard_normal(n) if g.p(0.5) else None
        spec = [("n", "int", n), ("k", "int", kk), ("which", "str", g.pick(["LA", "SA", "LM", "BE"])),
                ("tol", "float", 1e-8), ("ncv", "int", ncv), ("max_matvec", "int", g.pick([ncv, 200])),
                ("seed", "int", g.int(0, 99)), ("v0", "array" if v0 is not None else "obj", v0)]
        label, make = "spectra.LanczosEigs", sp.LanczosEigs
        props = ["eigenvalues", "eigenvectors", "residuals", "converged", "n_restarts", "done", "n_matvec"]
    elif which == "slq":
        spec = [("n", "int", n), ("n_probes", "int", g.pick([1, 3])), ("n_steps", "int", g.pick([1, 4, n])),
                ("seed", "int", g.int(0, 99)), ("deflate", "bool", g.p(0.5)), ("deflate_tol", "float", 1e-8)]
        label, make = "spectra.Slq", sp.Slq
        props = ["nodes", "weights", "n_deflated", "done", "n_matvec"]
    elif which == "trace":
        spec = [("n", "int", n), ("method", "str", g.pick(["auto", "hutchinson", "hutch++", "exact"])),
                ("budget", "int", g.pick([1, 3, 12])), ("seed", "int", g.int(0, 99))]
        label, make = "spectra.TraceEstimator", sp.TraceEstimator
        props = ["value", "stderr", "method", "samples", "predicted_ratio", "done", "n_matvec"]
    else:
        spec = [("n", "int", n), ("budget", "int", g.pick([1, 3, 12])), ("seed", "int", g.int(0, 99)),
                ("fallback", "bool", g.p(0.5))]
        label, make = "spectra.KrylovTrace", sp.KrylovTrace
        props = ["value", "stderr", "method", "samples", "n_krylov", "krylov_value", "krylov_stderr", "done",
                 "n_matvec"]
    a, k = fuzz(g, spec, 0.5)
    out = [call(label, keep(make), a, k)]
    A = _sym(g, n)
    cls = label.split(".")[1]
    for _ in range(g.int(1, 6)):
        st = g.pick(["drive", "drive", "supply_bad", "request", "run", "prop", "probe"])
        if st == "drive":
            def drive(steps: int = g.int(1, 50), scale: float = g.pick([1.0, 1.0, 1e300, 1e-300])) -> Any:
                if not holder:
                    raise SkipRest
                e = holder[0]
                for _ in range(steps):
                    if e.done:
                        break
                    e.supply((A * scale) @ e.request())
                return e.done

            out.append(call(f"{cls}.drive", drive, [], {}))
        elif st == "supply_bad":
            def supply_bad(sub: int = g.int(0, 2**31)) -> Any:
                if not holder:
                    raise SkipRest
                req = holder[0].request()
                good = A @ req if req.shape[0] == n else np.zeros(req.shape)
                return holder[0].supply(mutate_array(Gen(sub, 0), good))

            out.append(call(f"{cls}.supply(bad)", supply_bad, [], {}))
        elif st == "request":
            out.append(call(f"{cls}.request", on("request"), [], {}))
        elif st == "run":
            nn = n if g.p(0.6) else g.pick([1, n + 1, 3])

            def run(nn: int = nn, sub: int = g.int(0, 2**31)) -> Any:
                if not holder:
                    raise SkipRest
                return holder[0].run(_operator(Gen(sub, 1), core, nn))

            out.append(call(f"{cls}.run(op n={nn})", run, [], {}))
            if g.p(0.3):
                out.append(call(f"{cls}.run(None)", on("run"), [g.pick(OBJ_BAD)], {}))
        elif st == "probe" and which == "slq":
            a2, k2 = fuzz(g, [("probe", "int", g.int(0, 2))], 0.6)
            out.append(call(f"{cls}.{g.pick(['alpha', 'beta'])}", on(g.pick(["alpha", "beta"])), a2, k2))
        else:
            pr = g.pick(props)
            out.append(call(f"{cls}.{pr}", on(pr, True), [], {}))
    return out


TARGETS: dict[str, Callable[[Gen, Any], list[Call]]] = {
    "random": case_random,
    "elbo": case_elbo,
    "nested": case_nested,
    "cluster": case_cluster,
    "spectra": case_spectra,
}


def target_of(seed: int, k: int, targets: list[str]) -> str:
    return targets[k % len(targets)]


def main(argv: list[str]) -> int:
    seed, start, stop = int(argv[1]), int(argv[2]), int(argv[3])
    targets = argv[4:] or list(TARGETS)
    limit_mb = int(os.environ.get("RIDGELINE_FUZZ_RLIMIT_MB", "0"))
    if limit_mb > 0:  # keep a "huge but possible" allocation from taking the machine's memory
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    import warnings

    warnings.simplefilter("ignore")  # numpy's casting warnings of the bad arguments
    from ridgeline import _core

    out = sys.stdout
    for k in range(start, stop):
        name = target_of(seed, k, targets)
        g = Gen(seed, k)
        try:
            calls = TARGETS[name](g, _core)
        except Exception as exc:  # noqa: BLE001 - a bug of the generator, not of _core
            msg = f"{type(exc).__name__}:{exc}"[:80].replace(" ", "_").replace("\n", "_")
            out.write(f"B {k} {name} <generator>\nE {k} GENERATOR:{msg}\n")
            out.flush()
            continue
        out.write(f"B {k} {name} " + " ; ".join(c[0] for c in calls).replace("\n", " ") + "\n")
        out.flush()
        outcomes = []
        for i, (_desc, thunk, check) in enumerate(calls):
            out.write(f"C {k} {i}\n")
            out.flush()
            try:
                res = thunk()
            except SkipRest:
                break
            except ALLOWED as exc:
                outcomes.append(type(exc).__name__ if not isinstance(exc, CallbackError) else "CallbackError")
            except BaseException as exc:  # noqa: BLE001 - report, do not die
                outcomes.append(f"BAD:{type(exc).__name__}:{str(exc)[:80]}".replace(" ", "_").replace("\n", "_"))
            else:
                why = None
                if check is not None:
                    try:
                        why = check(res)
                    except Exception as exc:  # noqa: BLE001
                        why = f"check raised {type(exc).__name__}: {exc}"
                outcomes.append("ok" if why is None else "INVALID:" + why.replace(" ", "_"))
            del thunk
        out.write(f"E {k} " + " ".join(outcomes) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
