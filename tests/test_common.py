"""The pieces shared by every engine: argument checks, progress/logging, result files."""

from __future__ import annotations

import io
import json
import logging
import zipfile

import numpy as np
import pytest

import ridgeline
from ridgeline import _validation as v
from ridgeline._io import read_result, save_result, short_repr
from ridgeline._progress import Progress


def test_check_int_and_float_name_the_argument():
    assert v.check_int(np.int64(3), "k", 1) == 3
    for bad, err in [(True, TypeError), (2.0, TypeError), ("3", TypeError), (0, ValueError), (2**64, ValueError)]:
        with pytest.raises(err, match=r"^k="):
            v.check_int(bad, "k", 1)
    assert v.check_float(2, "tol", 0.0, low_inclusive=False) == 2.0
    for bad, err in [(float("nan"), ValueError), (float("inf"), ValueError), (0.0, ValueError), (1j, TypeError), (None, TypeError)]:
        with pytest.raises(err, match=r"^tol="):
            v.check_float(bad, "tol", 0.0, low_inclusive=False)
    assert v.check_float(float("inf"), "x", allow_inf=True) == float("inf")


def test_check_choice_bool_callable():
    assert v.check_choice("LA", "which", ["LA", "SA"]) == "LA"
    with pytest.raises(ValueError, match=r"which='XX' must be one of 'LA', 'SA'"):
        v.check_choice("XX", "which", ["LA", "SA"])
    with pytest.raises(TypeError, match="which=3 must be a string"):
        v.check_choice(3, "which", ["LA", "SA"])
    with pytest.raises(TypeError, match="flag"):
        v.check_bool(1, "flag")
    with pytest.raises(TypeError, match="f=3 must be callable"):
        v.check_callable(3, "f")


def test_check_array():
    out = v.check_array([[1, 2], [3, 4]], "X", ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    cases = [
        ("abc", TypeError, "X must be an array"),
        ([[1, 2], [3]], ValueError, "rectangular"),
        (np.array([1j]), TypeError, "complex"),
        (np.array(["a"]), TypeError, "dtype"),
        (np.zeros(3), ValueError, "2-dimensional"),
        (np.zeros((0, 2)), ValueError, "at least 1"),
        (np.array([[np.nan, 1.0]]), ValueError, "NaN"),
    ]
    for bad, err, text in cases:
        with pytest.raises(err, match=text):
            v.check_array(bad, "X", ndim=2)
    with pytest.raises(ValueError, match=r"shape \(any, 3\)"):
        v.check_array(np.zeros((2, 2)), "X", shape=(None, 3))


def test_check_rng_and_threads():
    assert v.check_rng(5) == v.check_rng(np.int32(5))
    assert v.check_rng(np.random.default_rng(1)) == v.check_rng(np.random.default_rng(1))
    with pytest.raises(TypeError, match="random_state="):
        v.check_rng("a", "random_state")
    with pytest.raises(ValueError, match="rng=-1"):
        v.check_rng(-1)
    assert v.check_n_threads(None) == 0 and v.check_n_threads(-1) == 0 and v.check_n_threads(2) == 2
    with pytest.raises(ValueError, match="n_threads=0"):
        v.check_n_threads(0)


def test_pop_renamed_warns_and_refuses_both():
    kw = {"nthreads": 2}
    with pytest.warns(DeprecationWarning, match="'nthreads' is deprecated.*'n_threads'"):
        assert v.pop_renamed(kw, {"nthreads": "n_threads"}, "f", {"n_threads": None}) == {"n_threads": 2}
    with pytest.raises(TypeError, match="both"):
        v.pop_renamed({"nthreads": 2}, {"nthreads": "n_threads"}, "f", {"n_threads": 1})
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        v.pop_renamed({"bogus": 1}, {"nthreads": "n_threads"}, "f", {})


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only_and_logging(caplog):
    tty, plain = _Tty(), io.StringIO()
    for stream in (tty, plain):
        with Progress("cluster", "fit", total=10, progress=True, stream=stream, interval=0) as p:
            for i in range(10):
                p.update(i + 1, iter=i)
    assert "[########################] 100.0%" in tty.getvalue()
    assert plain.getvalue() == ""  # nothing when stderr is not a terminal
    lines = io.StringIO()
    with caplog.at_level(logging.DEBUG, logger="ridgeline.cluster"):
        with Progress("cluster", "fit", total=4, verbose=1, stream=lines, interval=0) as p:
            for i in range(4):
                p.update(i + 1, objective=1.5)
    assert lines.getvalue().count("\n") >= 2 and "objective 1.5" in lines.getvalue()
    records = [r for r in caplog.records if r.name == "ridgeline.cluster"]
    assert sum(r.levelno == logging.DEBUG for r in records) == 4
    assert records[-1].levelno == logging.INFO


def test_result_file_round_trip_and_format(tmp_path):
    f = tmp_path / "r.npz"
    arrays = {"x": np.linspace(0, 1, 7), "i": np.arange(3, dtype=np.int32)}
    scalars = {"logz": -1.0 / 3.0, "inf": float("-inf"), "name": "a", "flag": True, "none": None, "lst": [1, 2.5]}
    save_result(f, "nested.Demo", arrays, scalars)
    kind, a, s = read_result(f, "nested.Demo")
    assert kind == "nested.Demo" and s == scalars
    np.testing.assert_array_equal(a["x"], arrays["x"])
    assert a["i"].dtype == np.int32
    # readable without ridgeline and without pickle
    with np.load(f, allow_pickle=False) as raw:
        meta = json.loads(str(raw["__ridgeline__"][()]))
    assert meta["format"] == "ridgeline-result" and meta["format_version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]  # no temporary left
    with pytest.raises(ValueError, match="not a nested.Other"):
        read_result(f, "nested.Other")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable ridgeline result"):
        read_result(tmp_path / "bad.npz")
    with zipfile.ZipFile(tmp_path / "plain.npz", "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(ValueError):
        ridgeline.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        ridgeline.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="object"):
        save_result(tmp_path / "o.npz", "x.Y", {"o": np.array([object()])}, {})


def test_short_repr_is_short():
    text = short_repr("Big", **{f"f{i}": np.zeros((1000, 1000)) for i in range(40)})
    assert len(text) < 300 and text.endswith("...)")


def test_one_convergence_warning():
    assert issubclass(ridgeline.ConvergenceWarning, UserWarning)
