"""Nested sampling reliability: continuation after a callback error, bounded loops, checkpoints that refuse
what they cannot trust, saved results."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import threading
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ridgeline
from ridgeline import _core
from ridgeline.nested import CheckpointError, NestedResult, NestedSampler, problems
from ridgeline.nested._checkpoint import read_checkpoint, write_checkpoint


def _quadratic(x):
    r = x - 0.5
    return float(-0.5 * (r @ r) / 0.01)


def _quadratic_batch(x):
    # the same function row by row (a bitwise comparison needs one computation)
    return np.array([_quadratic(row) for row in x])


class Flaky:
    """``fn`` that raises ``exc`` at its ``fail_at``-th call (never when fail_at is 0); counts calls."""

    def __init__(self, fn, fail_at=0, exc=RuntimeError):
        self.fn, self.fail_at, self.exc, self.calls = fn, fail_at, exc, 0
        self.lock = threading.Lock()

    def __call__(self, x):
        with self.lock:
            self.calls += 1
            fail = self.calls == self.fail_at
        if fail:
            raise self.exc(f"flaky call {self.fail_at}")
        return self.fn(x)


_PATHS = {
    # name: (loglike, vectorized, sampler options)
    "scalar-unif": (_quadratic, False, {"sample": "unif"}),
    "scalar-slice": (_quadratic, False, {"sample": "slice"}),
    "vectorized-unif": (_quadratic_batch, True, {"sample": "unif"}),
    "vectorized-slice": (_quadratic_batch, True, {"sample": "slice"}),
    "executor": (_quadratic_batch, True, {"sample": "auto", "executor_chunks": 2}),
}
_POOL = cf.ThreadPoolExecutor(2)


def _run(path, fail_at, exc=RuntimeError, seed=0):
    fn, vec, opts = _PATHS[path]
    like = Flaky(fn, fail_at, exc)
    if path == "executor":
        opts = {**opts, "executor": _POOL}
    s = NestedSampler(like, None, 3, nlive=60, rng=seed, vectorized=vec, **opts)
    failed = False
    try:
        res = s.run(dlogz=0.5)
    except exc:
        failed = True
        res = s.run(dlogz=0.5)  # continue after the error
    return res, like.calls, failed


def _assert_same(a, b):
    assert a.logz == b.logz and a.logzerr == b.logzerr
    assert (a.ncall, a.niter, a.stop) == (b.ncall, b.niter, b.stop)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.logl, b.logl)
    np.testing.assert_array_equal(a.logl_birth, b.logl_birth)


def _continuation(path, seeds):
    for seed in seeds:
        ref, ncalls, _ = _run(path, 0, seed=seed)
        fail_at = int(np.random.default_rng(1000 + seed).integers(1, ncalls + 1))
        exc = KeyboardInterrupt if seed % 3 == 2 and path != "executor" else RuntimeError
        res, _, failed = _run(path, fail_at, exc, seed=seed)
        assert failed, (path, seed, fail_at)
        _assert_same(ref, res)


@pytest.mark.parametrize("path", list(_PATHS))
def test_continuation_after_an_error_is_bit_identical(path):
    # an error (or Ctrl-C) at a random call of the likelihood, then run() again:
    # the same run as without the error, for 3 seeds per likelihood path
    _continuation(path, range(3))


@pytest.mark.slow
@pytest.mark.parametrize("path", list(_PATHS))
def test_continuation_after_an_error_is_bit_identical_20_seeds(path):
    _continuation(path, range(20))


def test_continuation_after_a_prior_transform_error():
    def transform(u):
        return u.copy()

    counter = Flaky(transform)
    ref = NestedSampler(_quadratic, counter, 2, nlive=50, rng=1).run(dlogz=0.5)
    k = counter.calls // 2
    flaky = Flaky(transform, k)
    s = NestedSampler(_quadratic, flaky, 2, nlive=50, rng=1)
    with pytest.raises(RuntimeError, match=f"flaky call {k}"):
        s.run(dlogz=0.5)
    _assert_same(ref, s.run(dlogz=0.5))


def test_continuation_with_checkpoint_and_progress(tmp_path):
    ck = tmp_path / "run.ckpt"
    counter = Flaky(_quadratic)
    ref = NestedSampler(counter, None, 3, nlive=60, rng=2).run(dlogz=0.5)
    s = NestedSampler(Flaky(_quadratic, counter.calls // 2), None, 3, nlive=60, rng=2)
    with pytest.raises(RuntimeError):
        s.run(dlogz=0.5, checkpoint=ck, checkpoint_every=0)
    _assert_same(ref, s.run(dlogz=0.5, checkpoint=ck, checkpoint_every=0))


# --- bounded loops -------------------------------------------------------------


def _child(code, timeout=60.0):
    """Run ``code`` in a fresh interpreter with a timeout (for cases that could hang)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(ridgeline.__file__)),
                                         env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_huge_enlarge_is_refused_and_the_core_loop_is_bounded():
    with pytest.raises(ValueError, match=r"enlarge=1000000.0 must be <= 1000"):
        NestedSampler(_quadratic, None, 2, nlive=50, enlarge=1e6)
    # through the private core the value is accepted, but the draws outside the
    # cube are bounded: the run honours maxcall and finishes
    out = _child(
        """
        from ridgeline import _core
        s = _core.nested.Sampler(2, 50, 1, "multi", 1e6, 5)
        s.set_loglike_builtin("gaussian")
        s.set_transform_affine([0.0, 0.0], [1.0, 1.0])
        print(s.run(0.01, -1, 1000))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "maxcall"


def test_core_sampler_refuses_nlive_below_ndim():
    with pytest.raises(ValueError, match="nlive=3 must be > ndim=5"):
        _core.nested.Sampler(5, 3, 0)


# --- checkpoints ---------------------------------------------------------------

# Offsets in the state payload (checkpoint.hpp): version u32 + settings (44 bytes),
# then live_u as (rows i64, cols i64, doubles).
_LIVE_U = 44 + 16


def _checkpoint(tmp_path, name="run.ckpt", maxiter=300):
    p = problems.gaussian(3)
    ck = tmp_path / name
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3)
    s.run(dlogz=0.5, maxiter=maxiter, checkpoint=ck, checkpoint_every=0)
    return p, ck, s._core.state()


def _offsets(body, st):
    """Offsets of fields in the payload, from its layout in checkpoint.hpp."""
    n, d = st.live_u.shape
    off = {"live_u": _LIVE_U}
    off["live_x"] = off["live_u"] + 8 * n * d + 16
    off["live_logl"] = off["live_x"] + 8 * n * d + 8
    off["live_birth"] = off["live_logl"] + 8 * n + 8
    nd = st.dead_logl.size
    off["dead_u"] = off["live_birth"] + 8 * n + 8
    off["dead_x"] = off["dead_u"] + 8 * nd * d + 8
    off["dead_logl"] = off["dead_x"] + 8 * nd * d + 8
    ss = st.slice_stats  # stored as the header (13 doubles) and 3 doubles per step count, or nothing
    k = 13 + ss.moments.size if ss.recorded else 0
    # version 5: normals count, the last batch's record, evaluated_at_update, the kept bound of the last batch
    from ridgeline.nested._checkpoint_check import parse_state

    parsed = parse_state(bytes(body), d)
    kept = parsed.batch_ells
    ell_bytes = (8 + 8 * d) * 2 + 3 * (16 + 8 * d * d) + 8
    tail = 8 + 8 + 1 + 8 + 8 + 8 + 8 + 2 + 8 + len(kept) * ell_bytes + 8 + 8 * len(kept) + 8
    # version 6: the frames of the two bounds (periodic dimensions; empty here)
    tail += 8 + 8 * parsed.frame.size + 8 + 8 * parsed.batch_frame.size
    end = len(body) - tail - 8 * (k + 1)  # start of slice_stats
    off["logz"] = end - 4 - 8 - 8 - 1 - 8
    off["logvol"] = off["logz"] - 8
    off["ncall"] = off["logvol"] - 8 * 5
    off["niter"] = off["ncall"] - 8
    return off


def _forge(src, dst, meta_edit=None, body_edit=None):
    meta, body = read_checkpoint(src)
    if meta_edit is not None:
        meta_edit(meta)
    body = bytearray(body)
    if body_edit is not None:
        body_edit(body)
    write_checkpoint(dst, meta, bytes(body))  # a valid checksum over the forged contents


def _put(body, offset, value, fmt="<d"):
    import struct

    struct.pack_into(fmt, body, offset, value)


def test_forged_checkpoints_are_refused(tmp_path):
    p, ck, st = _checkpoint(tmp_path)
    _, body = read_checkpoint(ck)
    off = _offsets(body, st)
    # the layout read here matches the state
    import struct

    assert struct.unpack_from("<d", body, off["live_u"])[0] == st.live_u[0, 0]
    assert struct.unpack_from("<d", body, off["dead_logl"])[0] == st.dead_logl[0]
    assert struct.unpack_from("<d", body, off["logz"])[0] == st.logz
    assert struct.unpack_from("<q", body, off["ncall"])[0] == st.ncall
    assert struct.unpack_from("<q", body, off["niter"])[0] == st.niter
    j = int(np.argmin(st.live_logl))  # not the point of the likelihood check
    cases = {
        "live point outside the cube": lambda b: _put(b, off["live_u"] + 8 * 3 * j, 1.5),
        "negative live coordinate": lambda b: _put(b, off["live_u"] + 8 * 3 * j + 8, -0.25),
        "nan live coordinate": lambda b: _put(b, off["live_u"] + 8 * 3 * j, float("nan")),
        "nan live x": lambda b: _put(b, off["live_x"] + 8 * 3 * j, float("nan")),
        "nan live logl": lambda b: _put(b, off["live_logl"] + 8 * j, float("nan")),
        "+inf live logl": lambda b: _put(b, off["live_logl"] + 8 * j, float("inf")),
        "huge live logl": lambda b: _put(b, off["live_logl"] + 8 * j, 1e300),
        "dead point outside the cube": lambda b: _put(b, off["dead_u"], 2.0),
        "inf dead x": lambda b: _put(b, off["dead_x"], float("inf")),
        "dead logl not monotone": lambda b: _put(b, off["dead_logl"] + 8 * 10, 1e9),
        "log Z forged": lambda b: _put(b, off["logz"], 154.3),
        "log volume forged": lambda b: _put(b, off["logvol"], -1.0),
        "ncall below the points": lambda b: _put(b, off["ncall"], 5, "<q"),
        "negative ncall": lambda b: _put(b, off["ncall"], -1, "<q"),
        "niter inconsistent": lambda b: _put(b, off["niter"], st.niter + 7, "<q"),
    }
    for name, edit in cases.items():
        f = tmp_path / "forged.ckpt"
        _forge(ck, f, body_edit=edit)
        s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3)
        with pytest.raises(CheckpointError, match="forged.ckpt") as info:
            s.run(dlogz=0.5, checkpoint=f)
        assert type(info.value) is CheckpointError, name
    # the untouched file resumes
    NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3).run(dlogz=0.5, checkpoint=ck)


def test_checkpoint_metadata_check_field_is_required(tmp_path):
    p, ck, _ = _checkpoint(tmp_path)
    edits = {
        "removed": lambda m: m.pop("check"),
        "emptied": lambda m: m.update(check=None),
        "wrong type": lambda m: m.update(check="x"),
        "wrong length": lambda m: m.update(check={"u": [0.5], "logl": 0.0}),
        "outside the cube": lambda m: m.update(check={"u": [0.5, 3.0, 0.5], "logl": 0.0}),
        "another point": lambda m: m.update(check={"u": [0.5, 0.5, 0.5], "logl": 1.0}),
        "nan logl": lambda m: m.update(check={"u": m["check"]["u"], "logl": float("nan")}),
        "not an object": None,
    }
    for name, edit in edits.items():
        f = tmp_path / "forged.ckpt"
        if edit is None:
            meta, body = read_checkpoint(ck)
            import hashlib
            import struct

            from ridgeline.nested._checkpoint import _HEADER, FORMAT_VERSION, MAGIC

            mb = json.dumps([1, 2]).encode()
            f.write_bytes(_HEADER.pack(MAGIC, FORMAT_VERSION, len(mb), len(body), hashlib.sha256(mb + body).digest())
                          + mb + body)
            assert struct  # noqa: used for the header only
        else:
            _forge(ck, f, meta_edit=edit)
        s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3)
        with pytest.raises(CheckpointError, match="forged.ckpt"):
            s.run(dlogz=0.5, checkpoint=f)
        assert s._core.state().niter == 0, name  # a refused file leaves the sampler untouched


def test_random_forgeries_are_refused(tmp_path):
    # write doubles at random places of the payload, with a recomputed checksum:
    # every file is refused with CheckpointError; nothing else (no ValueError,
    # no hang: the whole loop runs in a child under a timeout)
    p, ck, _ = _checkpoint(tmp_path, maxiter=200)
    out = _child(
        f"""
        import numpy as np, struct
        from ridgeline.nested import NestedSampler, CheckpointError, problems
        from ridgeline.nested._checkpoint import read_checkpoint, write_checkpoint
        p = problems.gaussian(3)
        meta, body = read_checkpoint({str(ck)!r})
        rng = np.random.default_rng(7)
        counts = {{"refused": 0, "ran": 0}}
        for t in range(40):
            b = bytearray(body)
            off = int(rng.integers(4, len(b) - 8))
            struct.pack_into("<d", b, off, float(rng.choice([np.nan, np.inf, -np.inf, 2.0, -1.0, 1e300, 0.0])))
            f = {str(tmp_path / "rand.ckpt")!r}
            write_checkpoint(f, meta, bytes(b))
            s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3)
            try:
                r = s.run(dlogz=0.5, maxcall=20000, checkpoint=f)
                assert np.isfinite(r.logz) and np.isfinite(r.logzerr), (off, r.logz)
                counts["ran"] += 1
            except CheckpointError:
                counts["refused"] += 1
        print(counts)
        """,
        timeout=300.0,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    counts = eval(out.stdout.strip())  # noqa: S307 - our own child's dict
    # every one is refused: a NaN, an infinity, 2, -1, 1e300 or 0 written over any
    # 8 bytes breaks a range, an invariant of the run, prior_transform(u) or a
    # re-evaluated likelihood (the field-by-field campaigns are in
    # test_nested_checkpoint_campaigns.py)
    assert counts == {"refused": 40, "ran": 0}, counts


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "dangling-symlink"])
def test_checkpoint_path_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    path = tmp_path / "ck"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "directory":
        path.mkdir()
    else:
        os.symlink(tmp_path / "missing", path)
    out = _child(
        f"""
        from ridgeline.nested import NestedSampler, CheckpointError, problems
        p = problems.gaussian(2)
        try:
            NestedSampler(p.loglike, p.prior_transform, 2, nlive=50, rng=0).run(dlogz=0.5, checkpoint={str(path)!r})
        except CheckpointError as err:
            print("refused:", err)
        """,
        timeout=60.0,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("refused:") and str(path) in out.stdout


def test_stale_temporaries_are_removed_and_none_is_left(tmp_path):
    p, ck, _ = _checkpoint(tmp_path)
    # a temporary of a killed save (a pid that does not exist any more)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"run.ckpt.tmp-{dead.pid}"
    stale.write_bytes(b"half-written")
    other = tmp_path / "other.ckpt.tmp-1"  # another checkpoint's file: not touched
    other.write_bytes(b"x")
    NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=3).run(dlogz=0.5, checkpoint=ck,
                                                                              checkpoint_every=0)
    assert not stale.exists()
    assert other.exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["other.ckpt.tmp-1", "run.ckpt"]


# --- results: repr, save and load ----------------------------------------------


def test_result_repr_is_short_and_save_load_round_trip(tmp_path):
    p = problems.gaussian(2)
    res = NestedSampler(p.loglike, p.prior_transform, 2, nlive=80, rng=0).run(dlogz=0.5)
    text = repr(res)
    assert len(text) < 300 and text.startswith("NestedResult(logz=") and "ncall=" in text
    big = NestedSampler(problems.gaussian(50).loglike, None, 50, nlive=60, rng=0)
    assert repr(big) == "NestedSampler(ndim=50, nlive=60, bound='multi', sample='auto', niter=0)"
    from ridgeline.nested import DynamicNestedSampler

    assert len(repr(DynamicNestedSampler(_quadratic, None, 3, nlive=60))) < 300
    path = tmp_path / "res.npz"
    res.save(path)
    for back in (NestedResult.load(path), ridgeline.load(path)):
        assert type(back) is NestedResult
        for name in ("logz", "logzerr", "information", "ncall", "niter", "nlive", "stop", "ncall_surrogate"):
            assert getattr(back, name) == getattr(res, name), name
        for name in ("samples", "samples_u", "logl", "logwt", "logvol", "logl_birth", "weights", "logz_sim",
                     "nlive_it"):
            np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
        np.testing.assert_array_equal(back.posterior(rng=1), res.posterior(rng=1))
        assert back.summary() == res.summary()
        assert back.ess == res.ess and back.eff == res.eff
        d = back.to_dynesty()
        np.testing.assert_array_equal(d["logz"], res.to_dynesty()["logz"])
    # readable without ridgeline and without pickle
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["logl"], res.logl)
    with pytest.raises(ValueError, match="not a ridgeline result file"):
        bad = tmp_path / "bad.npz"
        np.savez(bad, x=np.zeros(2))
        NestedResult.load(bad)


def test_cli_json_parses(capsys):
    from ridgeline.nested._cli import main

    assert main(["--problem", "gaussian", "--nlive", "100", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert captured.err == ""
    assert out["problem"].startswith("gaussian") and out["stop"] == "dlogz"
    assert abs(out["logz"] - out["logz_true"]) < 4 * out["logzerr"]
    assert out["ncall"] > out["niter"] > 0 and out["deviation_sigma"] == pytest.approx(
        (out["logz"] - out["logz_true"]) / out["logzerr"])


@pytest.mark.parametrize("sample_kind", ["unif", "slice"])
def test_ctrl_c_at_random_moments_then_run_again_is_bit_identical(sample_kind):
    # SIGINT lands wherever the compiled loop happens to be (it checks for it
    # between iterations, between candidate batches and inside slice chains)
    import signal as _signal

    import time

    p = problems.gaussian(8)
    opts = {"nlive": 400, "rng": 4, "sample": sample_kind}
    t0 = time.perf_counter()
    ref = NestedSampler(p.loglike, p.prior_transform, p.ndim, **opts).run(dlogz=0.1)
    # timers drawn as fractions of the uninterrupted run's own wall time (a few
    # ms on a fast machine), so that interrupts land whatever the machine's speed
    t_ref = max(time.perf_counter() - t0, 1e-3)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, **opts)
    rng = np.random.default_rng(11)
    interrupts = 0
    res = None

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = _signal.signal(_signal.SIGALRM, handler)
    try:
        for _ in range(200):
            _signal.setitimer(_signal.ITIMER_REAL, float(rng.uniform(0.05, 0.5)) * t_ref)
            try:
                res = s.run(dlogz=0.1)
                _signal.setitimer(_signal.ITIMER_REAL, 0.0)
            except KeyboardInterrupt:
                _signal.setitimer(_signal.ITIMER_REAL, 0.0)
                interrupts += 1
                continue
            break
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0.0)
        _signal.signal(_signal.SIGALRM, old)
    if res is None:  # a loaded machine: every attempt was interrupted; finish without a timer
        res = s.run(dlogz=0.1)
    _assert_same(ref, res)
    assert interrupts >= 1


def test_convergence_warning_is_the_shared_class():
    import ridgeline.nested

    assert ridgeline.nested.ConvergenceWarning is ridgeline.ConvergenceWarning
    assert "ConvergenceWarning" in dir(ridgeline.nested)


def test_dynamic_sampler_continues_after_an_error():
    from ridgeline.nested import DynamicNestedSampler

    for seed in range(3):
        counter = Flaky(_quadratic)
        ref = DynamicNestedSampler(counter, None, 3, nlive=60, rng=seed).run(target_ess=1500, dlogz_init=0.5)
        fail_at = int(np.random.default_rng(seed).integers(1, counter.calls + 1))
        s = DynamicNestedSampler(Flaky(_quadratic, fail_at), None, 3, nlive=60, rng=seed)
        with pytest.raises(RuntimeError, match="flaky"):
            s.run(target_ess=1500, dlogz_init=0.5)
        _assert_same(ref, s.run(target_ess=1500, dlogz_init=0.5))


def test_bound_must_enclose_the_live_points_it_was_fitted_to(tmp_path):
    """A bound moved away from the live points it was fitted to is refused; real checkpoints of nearly degenerate
    bounds (a correlation of 0.9999, no enlargement) pass the same check."""
    import copy

    from ridgeline.nested._checkpoint_check import parse_state, serialize_state

    rho = 0.9999
    cov = (np.full((3, 3), rho) + (1 - rho) * np.eye(3)) * 0.01
    prec = np.linalg.inv(cov)

    def ll(u):
        r = u - 0.5
        return -0.5 * float(r @ prec @ r)

    for enlarge, stop in ((1.0, 400), (1.0, 1500), (1.25, 1500)):
        ck = tmp_path / f"deg{enlarge}-{stop}.ckpt"

        def mk(enlarge=enlarge):
            return NestedSampler(ll, None, 3, nlive=100, rng=1, enlarge=enlarge)

        mk().run(dlogz=0.1, maxiter=stop, checkpoint=ck, checkpoint_every=0)
        meta, body = read_checkpoint(ck)
        t = parse_state(body, 3)
        assert t.use_bound
        forged = copy.deepcopy(t)
        e = forged.ells[0]
        e.center = np.clip(e.center + np.array([0.3, -0.3, 0.3]) * np.sign(0.5 - e.center), 0.01, 0.99)
        f = tmp_path / "moved.ckpt"
        write_checkpoint(f, meta, serialize_state(forged))
        with pytest.raises(CheckpointError):
            mk().run(dlogz=0.1, checkpoint=f)
        mk().run(dlogz=0.1, checkpoint=ck)  # the real one passes
