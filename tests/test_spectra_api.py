"""spectra's public API: names, progress and logging, short reprs, save/load, sample data, bad input table."""

from __future__ import annotations

import io
import json
import logging
import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import ridgeline
from ridgeline import spectra
from ridgeline.spectra import MLP, aslinearoperator, density, eigsh, outliers, trace


def _sym(n: int, seed: int = 0) -> np.ndarray:
    B = np.random.default_rng(seed).standard_normal((n, n))
    return (B + B.T) / 2


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# ------------------------------------------------------------------ names and shared pieces
def test_convergence_warning_is_the_shared_one() -> None:
    assert spectra.ConvergenceWarning is ridgeline.ConvergenceWarning
    assert issubclass(spectra.ConvergenceWarning, UserWarning)


def test_public_datasets_module() -> None:
    pytest.importorskip("sklearn")
    from ridgeline.spectra import _data, datasets

    assert _data.digits is datasets.digits and _data.train is datasets.train
    X, y = datasets.digits(n_classes=3)
    assert X.shape[1] == 64 and set(np.unique(y)) == {0, 1, 2}
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    net = MLP([64, 4, 3])
    p0 = net.init_params(0)
    p = datasets.train(net, X, y, rng=0, steps=20, lr=0.1)
    assert net.loss(p, X, y) < net.loss(p0, X, y)
    with pytest.raises(ValueError, match="n_classes=1 must be >= 2"):
        datasets.digits(1)
    with pytest.raises(TypeError, match="net="):
        datasets.train("net", X, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="momentum=1.0 must be < 1"):
        datasets.train(net, X, y, momentum=1.0)


def test_max_matvec_is_deprecated_for_maxiter() -> None:
    A = _sym(60)
    with pytest.warns(DeprecationWarning, match="'max_matvec' is deprecated.*'maxiter'"):
        r = eigsh(A, k=2, max_matvec=500, rng=0)
    assert r.converged and r.n_matvec <= 500
    with pytest.raises(TypeError, match="unexpected keyword argument 'maxmatvec'"):
        eigsh(A, k=2, maxmatvec=5)


# ------------------------------------------------------------------ progress and logging
def test_density_shows_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    A = _sym(200)
    d = density(A, n_probes=4, n_steps=30, rng=0, progress=True)
    out = tty.getvalue()
    assert "density 4x30" in out and "n_matvec" in out and out.endswith("\n")
    # same result with and without progress (the loop then runs from Python)
    d2 = density(A, n_probes=4, n_steps=30, rng=0)
    np.testing.assert_array_equal(d.nodes, d2.nodes)
    # nothing on a non-terminal stream
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    density(A, n_probes=2, n_steps=10, rng=0, progress=True)
    assert plain.getvalue() == ""


def test_eigsh_and_trace_log_to_ridgeline_spectra(caplog: pytest.LogCaptureFixture) -> None:
    A = _sym(100)
    with caplog.at_level(logging.DEBUG, logger="ridgeline.spectra"):
        r = eigsh(A, k=3, rng=0)
        t = trace(A, budget=30, rng=0)
    names = {rec.name for rec in caplog.records}
    assert names == {"ridgeline.spectra"}
    text = caplog.text
    assert "eigsh k=3" in text and "trace auto" in text and f"n_matvec {r.n_matvec}" in text
    assert sum(rec.levelno == logging.DEBUG for rec in caplog.records) >= 10
    assert t.n_matvec == 30
    # logging-driven runs give the same numbers as the C++-driven ones
    np.testing.assert_array_equal(r.eigenvalues, eigsh(A, k=3, rng=0).eigenvalues)


# ------------------------------------------------------------------ reprs and save/load
def _results() -> list[Any]:
    A = _sym(120, 1)
    return [
        eigsh(A, k=4, rng=0),
        trace(A, budget=40, rng=0),
        density(A, n_probes=10, n_steps=80, rng=0),
        outliers(A, max_outliers=5, rng=0),
    ]


def test_reprs_are_short() -> None:
    for res in _results():
        text = repr(res)
        assert len(text) < 300 and text.startswith(type(res).__name__ + "("), text


def test_save_load_round_trip(tmp_path: Any) -> None:
    for res in _results():
        path = tmp_path / f"{type(res).__name__}.npz"
        res.save(path)
        for back in (type(res).load(path), ridgeline.load(path)):
            assert type(back) is type(res)
            for field in res.__dataclass_fields__:
                a, b = getattr(res, field), getattr(back, field)
                if isinstance(a, np.ndarray):
                    np.testing.assert_array_equal(a, b)
                else:
                    assert a == b, field
        with np.load(path, allow_pickle=False) as raw:  # readable without ridgeline or pickle
            assert json.loads(str(raw["__ridgeline__"][()]))["kind"] == f"spectra.{type(res).__name__}"
    r = eigsh(_sym(50), k=2, rng=0, return_eigenvectors=False)
    r.save(tmp_path / "novec.npz")
    assert spectra.EigshResult.load(tmp_path / "novec.npz").eigenvectors is None
    with pytest.raises(ValueError, match="not a spectra.EigshResult"):
        spectra.EigshResult.load(tmp_path / "TraceResult.npz")


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    from ridgeline import cli

    assert cli.main(["spectra", "--hidden", "3", "--steps", "5", "--k", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["network"]["n_params"] == 64 * 3 + 3 + 3 * 10 + 10
    assert len(report["eigsh"]["eigenvalues"]) == 2 and report["eigsh"]["converged"] is True
    assert report["trace"]["n_matvec"] == 99 and math.isfinite(report["trace"]["value"])


# ------------------------------------------------------------------ bad input table
A20 = _sym(30, 3)
NET = MLP([4, 3, 2])
P = NET.init_params(0)
XS = np.random.default_rng(0).standard_normal((6, 4))
YS = np.array([0, 1, 0, 1, 1, 0])


def _garbage(value: Any) -> Callable[[np.ndarray], Any]:
    return lambda v: value


def _raise(v: np.ndarray) -> np.ndarray:
    raise KeyError("boom")


BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # operators
    ("nan matrix", lambda: eigsh(np.full((30, 30), np.nan)), ValueError, "NaN"),
    ("inf matrix", lambda: trace(np.diag([1.0, np.inf, 2.0])), ValueError, "NaN or inf"),
    ("non-square", lambda: eigsh(np.zeros((3, 4))), ValueError, "square"),
    ("3-D", lambda: eigsh(np.zeros((3, 3, 3))), ValueError, "square"),
    ("empty", lambda: eigsh(np.zeros((0, 0))), ValueError, "non-empty"),
    ("scalar", lambda: eigsh(np.float64(3.0)), ValueError, "square"),
    ("strings", lambda: eigsh(np.array([["a", "b"], ["b", "a"]])), TypeError, "numeric"),
    ("object", lambda: eigsh(np.array([[None, 1], [1, None]], dtype=object)), TypeError, "numeric"),
    ("complex dense", lambda: eigsh(np.eye(30) * (1 + 1j)), TypeError, "complex"),
    ("str A", lambda: eigsh("matrix"), TypeError, "cannot make a linear operator"),
    ("None A", lambda: trace(None), TypeError, "cannot make a linear operator"),
    ("non-symmetric", lambda: eigsh(np.triu(np.ones((30, 30)))), ValueError, "symmetric"),
    ("callable no n", lambda: eigsh(lambda v: v), ValueError, "n is required"),
    ("callable n=0", lambda: aslinearoperator(lambda v: v, n=0), ValueError, "n=0"),
    ("callable n str", lambda: aslinearoperator(lambda v: v, n="5"), TypeError, "n="),
    ("callable n float", lambda: aslinearoperator(lambda v: v, n=5.0), TypeError, "n="),
    ("matmat not callable", lambda: aslinearoperator(lambda v: v, n=5, matmat=3), TypeError, "matmat="),
    ("check_symmetric str", lambda: aslinearoperator(A20, check_symmetric="yes"), TypeError, "check_symmetric="),
    ("n_threads 0", lambda: aslinearoperator(A20, n_threads=0), ValueError, "n_threads=0"),
    ("n_threads huge", lambda: aslinearoperator(A20, n_threads=2**40), ValueError, "n_threads="),
    # callbacks
    ("callback raises", lambda: eigsh(aslinearoperator(_raise, n=30), k=2), KeyError, "boom"),
    ("callback None", lambda: eigsh(aslinearoperator(_garbage(None), n=30), k=2), TypeError, "matvec returned"),
    ("callback str", lambda: eigsh(aslinearoperator(_garbage("x"), n=30), k=2), TypeError, "matvec returned"),
    ("callback short", lambda: eigsh(aslinearoperator(lambda v: v[:-1], n=30), k=2), ValueError, "shape"),
    ("callback nan", lambda: eigsh(aslinearoperator(lambda v: v * np.nan, n=30), k=2), ValueError, "NaN or inf"),
    ("callback inf", lambda: density(aslinearoperator(lambda v: v * np.inf, n=30)), ValueError, "NaN or inf"),
    ("callback complex", lambda: density(aslinearoperator(lambda v: v + 1j, n=30)), TypeError, "complex"),
    ("callback matrix out", lambda: trace(aslinearoperator(lambda v: np.eye(30), n=30)), ValueError, "shape"),
    ("matmat wrong shape", lambda: trace(aslinearoperator(lambda v: v, n=30, matmat=lambda V: V[:, :1])), ValueError, "shape"),
    # eigsh options
    ("k=0", lambda: eigsh(A20, k=0), ValueError, "k=0 must be >= 1"),
    ("k>n", lambda: eigsh(A20, k=31), ValueError, "k=31 must be <= n=30"),
    ("k float", lambda: eigsh(A20, k=2.0), TypeError, "k=2.0 must be an integer"),
    ("k str", lambda: eigsh(A20, k="2"), TypeError, "k='2' must be an integer"),
    ("k bool", lambda: eigsh(A20, k=True), TypeError, "k=True must be an integer"),
    ("k huge", lambda: eigsh(A20, k=2**70), ValueError, "k="),
    ("which bad", lambda: eigsh(A20, which="XX"), ValueError, "which='XX' must be one of"),
    ("which lower", lambda: eigsh(A20, which="la"), ValueError, "which='la'"),
    ("which int", lambda: eigsh(A20, which=1), TypeError, "which=1"),
    ("tol negative", lambda: eigsh(A20, tol=-1.0), ValueError, "tol=-1.0 must be >= 0"),
    ("tol nan", lambda: eigsh(A20, tol=float("nan")), ValueError, "tol=nan must be finite"),
    ("tol inf", lambda: eigsh(A20, tol=float("inf")), ValueError, "tol=inf must be finite"),
    ("tol str", lambda: eigsh(A20, tol="1e-3"), TypeError, "tol='1e-3' must be a real number"),
    ("tol complex", lambda: eigsh(A20, tol=1e-3j), TypeError, "tol="),
    ("ncv <= k", lambda: eigsh(A20, k=3, ncv=3), ValueError, "ncv=3 must satisfy"),
    ("ncv > n", lambda: eigsh(A20, k=3, ncv=31), ValueError, "ncv=31 must satisfy"),
    ("ncv float", lambda: eigsh(A20, k=3, ncv=10.5), TypeError, "ncv=10.5"),
    ("maxiter 0", lambda: eigsh(A20, maxiter=0), ValueError, "maxiter=0 must be >= 1"),
    ("maxiter str", lambda: eigsh(A20, maxiter="10"), TypeError, "maxiter='10'"),
    ("maxiter huge", lambda: eigsh(A20, maxiter=2**80), ValueError, "maxiter="),
    ("v0 shape", lambda: eigsh(A20, v0=np.ones(3)), ValueError, r"v0 must have shape \(30\)"),
    ("v0 zero", lambda: eigsh(A20, v0=np.zeros(30)), ValueError, "v0 must be nonzero"),
    ("v0 nan", lambda: eigsh(A20, v0=np.full(30, np.nan)), ValueError, "v0 contains NaN"),
    ("v0 complex", lambda: eigsh(A20, v0=np.ones(30) * 1j), TypeError, "v0 must be real"),
    ("v0 str", lambda: eigsh(A20, v0="ones"), TypeError, "v0 must be an array"),
    ("v0 empty", lambda: eigsh(A20, v0=[]), ValueError, "v0 must have shape"),
    ("rng negative", lambda: eigsh(A20, rng=-1), ValueError, "rng="),
    ("rng str", lambda: eigsh(A20, rng="seed"), TypeError, "rng="),
    ("rng float", lambda: eigsh(A20, rng=1.5), TypeError, "rng="),
    ("return_eigenvectors", lambda: eigsh(A20, return_eigenvectors="no"), TypeError, "return_eigenvectors="),
    ("progress int", lambda: eigsh(A20, progress=2), TypeError, "progress=2"),
    ("unknown kw", lambda: eigsh(A20, sigma_=1.0), TypeError, "unexpected keyword argument 'sigma_'"),
    ("sigma nan", lambda: eigsh(A20, sigma=float("nan")), ValueError, "sigma=nan must be finite"),
    ("sigma str", lambda: eigsh(A20, sigma="0"), TypeError, "sigma='0' must be a real number"),
    ("sigma matrix-free", lambda: eigsh(aslinearoperator(lambda v: A20 @ v, n=30), sigma=0.0), ValueError, "OPinv"),
    ("OPinv without sigma", lambda: eigsh(A20, OPinv=np.eye(30)), ValueError, "OPinv is used only with sigma"),
    ("OPinv wrong size", lambda: eigsh(A20, sigma=0.0, OPinv=np.eye(5)), ValueError, "OPinv has dimension 5"),
    ("sigma singular", lambda: eigsh(np.diag(np.arange(40.0)), k=2, sigma=3.0), ValueError, "sigma=3.0 is an eigenvalue"),
    # trace options
    ("trace method", lambda: trace(A20, method="nope"), ValueError, "method='nope' must be one of"),
    ("trace method None", lambda: trace(A20, method=None), TypeError, "method=None"),
    ("trace budget 0", lambda: trace(A20, budget=0), ValueError, "budget=0 must be >= 1"),
    ("trace budget float", lambda: trace(A20, budget=10.0), TypeError, "budget=10.0"),
    ("trace budget str", lambda: trace(A20, budget="99"), TypeError, "budget='99'"),
    ("trace exact small", lambda: trace(A20, method="exact", budget=10), ValueError, "budget"),
    ("trace hutch++ small", lambda: trace(A20, method="hutch++", budget=5), ValueError, "budget"),
    ("trace krylov small", lambda: trace(A20, method="krylov", budget=7), ValueError, "budget"),
    ("trace rng", lambda: trace(A20, rng="x"), TypeError, "rng="),
    ("trace progress", lambda: trace(A20, progress="yes"), TypeError, "progress="),
    # density options
    ("density n_probes 0", lambda: density(A20, n_probes=0), ValueError, "n_probes=0 must be >= 1"),
    ("density n_probes huge", lambda: density(A20, n_probes=10**12), ValueError, "n_probes="),
    ("density n_steps -1", lambda: density(A20, n_steps=-1), ValueError, "n_steps=-1"),
    ("density n_steps float", lambda: density(A20, n_steps=8.0), TypeError, "n_steps=8.0"),
    ("density deflate_tol 0", lambda: density(A20, deflate_tol=0.0), ValueError, "deflate_tol=0.0"),
    ("density deflate_tol nan", lambda: density(A20, deflate_tol=float("nan")), ValueError, "deflate_tol=nan"),
    ("density deflate str", lambda: density(A20, deflate="yes"), TypeError, "deflate="),
    ("pdf sigma", lambda: density(A20, n_steps=5).pdf([0.0], sigma=-1.0), ValueError, "sigma=-1.0"),
    # outliers options
    ("outliers max 0", lambda: outliers(A20, max_outliers=0), ValueError, "max_outliers=0"),
    ("outliers n_bulk 1", lambda: outliers(A20, n_bulk=1), ValueError, "n_bulk=1 must be >= 2"),
    ("outliers threshold 0", lambda: outliers(A20, threshold=0.0), ValueError, "threshold=0.0"),
    ("outliers threshold str", lambda: outliers(A20, threshold="2"), TypeError, "threshold='2'"),
    ("outliers tiny", lambda: outliers(np.eye(3)), ValueError, "too small"),
    # MLP
    ("mlp sizes str", lambda: MLP("64,10"), TypeError, "layer_sizes="),
    ("mlp sizes float", lambda: MLP([4.5, 2]), TypeError, r"layer_sizes\[0\]=4.5"),
    ("mlp sizes 0", lambda: MLP([4, 0, 2]), ValueError, r"layer_sizes\[1\]=0 must be >= 1"),
    ("mlp sizes huge", lambda: MLP([4, 2**40]), ValueError, r"layer_sizes\[1\]="),
    ("mlp one layer", lambda: MLP([4]), ValueError, "at least 2 entries"),
    ("mlp activation", lambda: MLP([4, 2], activation="sigmoid"), ValueError, "activation='sigmoid'"),
    ("mlp loss", lambda: MLP([4, 2], loss=None), TypeError, "loss=None"),
    ("mlp isa", lambda: MLP([4, 2], isa="sse"), ValueError, "isa='sse'"),
    ("mlp n_threads", lambda: MLP([4, 2], n_threads=0), ValueError, "n_threads=0"),
    ("mlp params short", lambda: NET.loss(np.zeros(3), XS, YS), ValueError, "params has shape"),
    ("mlp params nan", lambda: NET.loss(np.full(P.size, np.nan), XS, YS), ValueError, "params contains NaN"),
    ("mlp params str", lambda: NET.loss("p", XS, YS), TypeError, "params must be an array"),
    ("mlp params complex", lambda: NET.loss(P + 0j, XS, YS), TypeError, "params must be an array of real"),
    ("mlp X shape", lambda: NET.loss(P, XS[:, :3], YS), ValueError, "X has shape"),
    ("mlp X empty", lambda: NET.loss(P, XS[:0], YS[:0]), ValueError, "X has shape"),
    ("mlp X inf", lambda: NET.loss(P, XS * np.inf, YS), ValueError, "X contains NaN or inf"),
    ("mlp X complex", lambda: NET.loss(P, XS + 1j, YS), TypeError, "X must be an array of real"),
    ("mlp X strings", lambda: NET.loss(P, XS.astype(str), YS), TypeError, "X must be an array of real"),
    ("mlp y labels", lambda: NET.loss(P, XS, YS + 5), ValueError, "labels in"),
    ("mlp y negative", lambda: NET.loss(P, XS, YS - 3), ValueError, "labels in"),
    ("mlp y fraction", lambda: NET.loss(P, XS, YS + 0.5), ValueError, "integer class labels"),
    ("mlp y shape", lambda: NET.loss(P, XS, YS[:3]), ValueError, "y has shape"),
    ("mlp y str", lambda: NET.loss(P, XS, "labels"), TypeError, "y must be an array"),
    ("mlp v shape", lambda: NET.hvp(P, XS, YS, np.ones(3)), ValueError, "v has shape"),
    ("mlp v nan", lambda: NET.hvp(P, XS, YS, np.full(P.size, np.nan)), ValueError, "v contains NaN"),
    ("mlp v complex", lambda: NET.hvp(P, XS, YS, np.ones(P.size) * 1j), TypeError, "v must be an array of real"),
]


@pytest.mark.parametrize(("name", "call", "exc", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_table(name: str, call: Callable[[], Any], exc: type[Exception], match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning or RuntimeWarning on the way
        with pytest.raises(exc, match=match):
            call()


def test_core_bindings_refuse_bad_buffers() -> None:
    from ridgeline import _core

    sp = _core.spectra
    ok_data, ok_ix, ok_ptr = np.ones(2), np.array([0, 1], dtype=np.int64), np.array([0, 1, 2], dtype=np.int64)
    sp.CsrOperator(ok_data, ok_ix, ok_ptr, 2)
    bad = [
        (ok_data, np.array([0, 7], dtype=np.int64), ok_ptr, 2, "out of range"),
        (ok_data, np.array([0, -1], dtype=np.int64), ok_ptr, 2, "out of range"),
        (ok_data, ok_ix, np.array([0, 1], dtype=np.int64), 2, "indptr has length"),
        (ok_data, ok_ix, np.array([0, 2, 1], dtype=np.int64), 2, "non-decreasing|indptr"),
        (ok_data, ok_ix, np.array([1, 1, 2], dtype=np.int64), 2, r"indptr\[0\]"),
        (ok_data, ok_ix, np.array([0, 1, 5], dtype=np.int64), 2, r"indptr\[n\]"),
        (np.ones(3), ok_ix, ok_ptr, 2, "indices has length"),
        (ok_data, ok_ix, ok_ptr, 0, "n=0"),
        (ok_data, ok_ix, ok_ptr, -5, "n=-5"),
    ]
    for data, ix, ptr, n, match in bad:
        with pytest.raises(ValueError, match=match):
            sp.CsrOperator(data, ix, ptr, n)
    with pytest.raises(ValueError, match="n_threads=0"):
        sp.CsrOperator(ok_data, ok_ix, ok_ptr, 2, 0)
    for arr in (np.ones((3, 4)), np.ones(3), np.ones((0, 0)), np.ones((2, 2, 2))):
        with pytest.raises(ValueError, match="A must be"):
            sp.DenseOperator(arr)
    with pytest.raises(ValueError, match="v0 has length"):
        sp.LanczosEigs(10, 2, "LA", 1e-8, 5, 100, 0, np.ones(3))
    op = sp.DenseOperator(np.eye(3))
    with pytest.raises(ValueError, match="rows"):
        op.matmat(np.ones((4, 2)))
