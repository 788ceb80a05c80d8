"""Clustering API: names, imports, progress and logging, reprs, save/load, the CLI's JSON."""

from __future__ import annotations

import inspect
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ridgeline
from ridgeline import _core
from ridgeline._bench.cluster import mixture
from ridgeline.cluster import ILAResult, SDPResult, ila_sdp, kmeans_sdp
from ridgeline.cluster import _api


def test_import_loads_neither_sklearn_nor_scipy() -> None:
    code = (
        "import sys, ridgeline.cluster\n"
        "from ridgeline.cluster import kmeans_sdp, ila_sdp, SDPResult\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_convergence_warning() -> None:
    import ridgeline.cluster as rc

    assert rc.ConvergenceWarning is ridgeline.ConvergenceWarning
    assert issubclass(rc.ConvergenceWarning, UserWarning)


def test_parameter_names() -> None:
    sklearn = pytest.importorskip("sklearn")
    del sklearn
    from ridgeline.cluster import ILASDP, SDPKMeans

    for fn in (kmeans_sdp, ila_sdp):
        names = set(inspect.signature(fn).parameters)
        assert {"rng", "n_threads", "max_iter", "tol", "progress"} <= names
        assert not names & {"random_state", "seed", "threads", "nthreads", "maxiter", "verbose"}
    for cls in (SDPKMeans, ILASDP):
        names = set(inspect.signature(cls).parameters)
        assert {"random_state", "n_threads", "max_iter", "tol", "verbose"} <= names
        assert not names & {"rng", "seed", "threads", "nthreads", "maxiter", "progress"}
        doc = cls.__doc__ or ""
        for name in names:  # every public parameter is described
            assert f"\n    {name} : " in doc, (cls.__name__, name)
    for fn in (kmeans_sdp, ila_sdp):
        doc = fn.__doc__ or ""
        for name in inspect.signature(fn).parameters:
            assert f"\n    {name} : " in doc, (fn.__name__, name)


# ---- progress ---------------------------------------------------------------------------------------


def test_core_progress_callback_every_16_iterations() -> None:
    X, _ = mixture(200, 6, 3, 1.0, 1)
    calls: list[tuple[int, float, float]] = []
    d = _core.cluster.peng_wei(X, 3, 6, 1, max_iter=200, progress=lambda *a: calls.append(a), progress_interval=0.0)
    assert [c[0] for c in calls] == list(range(16, d.n_iter + 1, 16))
    assert all(np.isfinite(c[1]) and c[1] >= 0 for c in calls)
    # the callback does not change the result
    e = _core.cluster.peng_wei(X, 3, 6, 1, max_iter=200)
    np.testing.assert_array_equal(d.U, e.U)


def test_core_progress_callback_error_propagates() -> None:
    X, _ = mixture(200, 6, 3, 1.0, 1)

    def boom(*args: object) -> None:
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        _core.cluster.peng_wei(X, 3, 6, 1, max_iter=200, progress=boom, progress_interval=0.0)

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    covs = np.stack([np.eye(6)] * 3)
    U0 = np.abs(np.random.default_rng(0).standard_normal((200, 6)))
    with pytest.raises(KeyboardInterrupt):
        _core.cluster.la_sdp(X, covs, U0, rank=2, max_iter=200, progress=interrupt, progress_interval=0.0)


def test_estimator_verbose_prints_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("sklearn")
    from ridgeline.cluster import SDPKMeans

    monkeypatch.setattr(_api, "_PROGRESS_INTERVAL", 0.0)
    X, _ = mixture(600, 10, 4, 0.9, 3)  # below the threshold: hundreds of iterations
    with caplog.at_level(logging.DEBUG, logger="ridgeline.cluster"):
        km = SDPKMeans(4, verbose=1, random_state=0).fit(X)
    err = capsys.readouterr().err
    assert "SDP K-means (n=600, K=4)" in err and f"iterations {km.n_iter_}" in err and "winner" in err
    records = [r for r in caplog.records if r.name == "ridgeline.cluster"]
    updates = [r for r in records if r.levelno == logging.DEBUG and "infeasibility" in r.getMessage()]
    assert len(updates) == km.n_iter_ // 16
    assert records[-1].levelno == logging.INFO
    # verbose=0: nothing on stderr
    SDPKMeans(4, random_state=0).fit(X)
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(_api, "_PROGRESS_INTERVAL", 0.0)
    X, _ = mixture(300, 6, 3, 0.9, 2)
    res = ila_sdp(X, 3, progress=True, rng=0)
    text = stream.getvalue()
    assert "iLA-SDP (n=300, K=3)" in text and f"rounds {res.n_rounds}" in text
    stream2 = Tty()
    monkeypatch.setattr(sys, "stderr", stream2)
    kmeans_sdp(X, 3, rng=0)  # progress=False: silent
    assert stream2.getvalue() == ""


# ---- results ----------------------------------------------------------------------------------------


def _assert_same(a: object, b: object) -> None:
    from dataclasses import fields

    assert type(a) is type(b)
    for f in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
            assert x.dtype == y.dtype
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y)
        else:
            assert x == y, f.name


def test_results_repr_save_load(tmp_path: Path) -> None:
    X, _ = mixture(300, 6, 3, 1.5, 4)
    res = kmeans_sdp(X, 3, rng=0)
    assert len(repr(res)) < 300 and repr(res).startswith("SDPResult(")
    res.save(tmp_path / "sdp.npz")
    _assert_same(res, SDPResult.load(tmp_path / "sdp.npz"))
    _assert_same(res, ridgeline.load(tmp_path / "sdp.npz"))
    sk = kmeans_sdp(X, 3, sketch=100, rng=0)
    sk.save(tmp_path / "sk.npz")
    _assert_same(sk, SDPResult.load(tmp_path / "sk.npz"))
    ila = ila_sdp(X, 3, rng=0)
    assert len(repr(ila)) < 300 and repr(ila).startswith("ILAResult(")
    ila.save(tmp_path / "ila.npz")
    _assert_same(ila, ILAResult.load(tmp_path / "ila.npz"))
    with pytest.raises(ValueError, match="not a cluster.ILAResult"):
        ILAResult.load(tmp_path / "sdp.npz")


# ---- the demo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["mixture", "iris", "two-scale", "wine"])
def test_cli_json_and_no_warning(problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scipy")
    if problem in ("iris", "wine"):
        pytest.importorskip("sklearn")
    from ridgeline import cli

    assert cli.main(["cluster", "--problem", problem, "-n", "200", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["problem"] == problem and 0.0 <= out["error"] <= 1.0
    if out["method"] == "ila-sdp":  # iris, two-scale
        assert out["converged"] is True
    else:  # the tight mixture is certified by the dual point; wine (not tight) stops once the rounding settles or stalls
        assert out["stop_reason"] in (("settled", "stalled") if problem == "wine" else ("certified",))
        assert out["converged"] is (out["stop_reason"] in ("converged", "certified"))
    assert "Warning" not in captured.err


def test_cli_text(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scipy")
    from ridgeline import cli

    assert cli.main(["cluster", "--problem", "mixture", "-n", "200", "--n-threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "error 0.0000" in out and "tight True" in out and "winner" in out


def test_ctrl_c_stops_a_long_solve_with_progress_on() -> None:
    import signal
    import time

    code = (
        "from ridgeline.cluster import kmeans_sdp\n"
        "from ridgeline._bench.cluster import mixture\n"
        "X, _ = mixture(20000, 20, 4, 0.7, 0)\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    kmeans_sdp(X, 4, max_iter=10**8, tol=1e-14, progress=True, rng=0, early_stop=False)\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.strip() == "interrupted"
