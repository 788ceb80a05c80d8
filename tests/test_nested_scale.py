"""Nested sampling at scale: slice sampling, checkpoint/resume, executors, progress bar."""

from __future__ import annotations

import concurrent.futures as cf
import gc
import io
import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ridgeline.nested import CheckpointError, NestedSampler, problems


def _sampler(p, **kw):
    kw.setdefault("nlive", 200)
    kw.setdefault("rng", 3)
    return NestedSampler(p.loglike, p.prior_transform, p.ndim, **kw)


# --- slice sampling -----------------------------------------------------------


@pytest.mark.parametrize(("p", "sample"), [(problems.gaussian(30), "auto"), (problems.correlated(12), "slice")],
                         ids=["gaussian30-auto", "correlated12-slice"])
def test_slice_logz_within_3p5_sigma(p, sample):
    s = _sampler(p, sample=sample)
    res = s.run(dlogz=0.5)
    assert res.stop == "dlogz"
    assert abs(res.logz - p.logz_true) < 3.5 * res.logzerr
    st = s._core.state()
    assert st.slice_active  # auto switches to slice sampling at d >= 21
    assert st.slice_replacements > 0
    # calls per slice replacement: ~2-3 per step (a random direction and a radial move),
    # ndim steps from a live-point copy, 2 from an accepted draw from the bound
    per = st.slice_calls / st.slice_replacements
    assert per < 8 * p.ndim
    fresh = st.slice_stats.fresh_starts / st.slice_replacements
    print(f"{p.name}: calls per replacement {per:.1f}, fresh starts {fresh:.3f}")
    assert per < (1.0 - fresh) * 8 * p.ndim + fresh * 4 * p.ndim


def test_auto_keeps_rejection_in_low_dimension():
    p = problems.gaussian(3)
    s = _sampler(p)
    s.run(dlogz=0.5)
    assert not s._core.state().slice_active


def test_correlated_problem_truth():
    p = problems.correlated(4)
    # the normalised density integrates to 1 over the cube: Monte Carlo check of log Z = 0
    rng = np.random.default_rng(0)
    cov = 0.05**2 * (0.1 * np.eye(4) + 0.9 * np.ones((4, 4)))
    x = rng.multivariate_normal(np.full(4, 0.5), cov, size=2000)
    # density values agree with the closed form
    r = x - 0.5
    want = -0.5 * np.einsum("ij,jk,ik->i", r, np.linalg.inv(cov), r) - 0.5 * np.log(np.linalg.det(2 * np.pi * cov))
    np.testing.assert_allclose(p.loglike.batch(x), want, rtol=1e-10, atol=1e-9)
    from ridgeline import _core

    np.testing.assert_allclose(_core.nested.builtin_loglike("correlated", x), want, rtol=1e-10, atol=1e-9)
    assert p.logz_true == 0.0


def test_slice_bad_arguments():
    p = problems.gaussian(2)
    with pytest.raises(ValueError, match="sample='walk' must be one of"):
        _sampler(p, sample="walk")
    with pytest.raises(ValueError, match="slice_steps=0"):
        _sampler(p, sample="slice", slice_steps=0)
    with pytest.raises(ValueError, match="chord_scale=0.5"):
        _sampler(p, sample="slice", chord_scale=0.5)
    with pytest.raises(ValueError, match="n_threads=0"):
        _sampler(p, n_threads=0)
    with pytest.warns(DeprecationWarning, match="'nthreads' is deprecated.*'n_threads'"):
        s = _sampler(p, nthreads=2)
    assert s.n_threads == 2
    with pytest.raises(TypeError, match="both 'nthreads'"):
        _sampler(p, nthreads=2, n_threads=3)


# --- checkpoint and resume ----------------------------------------------------


def _same(a, b):
    assert a.logz == b.logz and a.logzerr == b.logzerr and a.ncall == b.ncall and a.niter == b.niter
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.logl, b.logl)


@pytest.mark.parametrize("sample", ["unif", "slice"])
def test_checkpoint_resume_in_process_is_bit_identical(tmp_path, sample):
    p = problems.gaussian(4)
    ref = _sampler(p, sample=sample).run(dlogz=0.5)
    ck = tmp_path / "run.ckpt"
    part = _sampler(p, sample=sample).run(dlogz=0.5, maxiter=ref.niter // 2, checkpoint=ck, checkpoint_every=0)
    assert part.stop == "maxiter" and ck.exists()
    res = _sampler(p, sample=sample).run(dlogz=0.5, checkpoint=ck)  # a fresh sampler resumes
    _same(ref, res)


_CHILD = textwrap.dedent(
    """
    import sys
    from ridgeline.nested import NestedSampler, problems
    p = problems.gaussian(3)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=200, rng=11, sample=sys.argv[3])
    r = s.run(dlogz=0.01, checkpoint=sys.argv[1], checkpoint_every=0)
    import numpy as np
    np.savez(sys.argv[2], logz=r.logz, samples=r.samples, logl=r.logl, ncall=r.ncall)
    """
)


def _child(tmp_path, ck, out, sample, env_extra=None):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ)
    env.pop("RIDGELINE_CHECKPOINT_KILL", None)
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, str(script), str(ck), str(out), sample], env=env)


@pytest.mark.parametrize("point", ["after_temp_write", "before_rename", "after_rename"])
def test_sigkill_inside_save_then_resume_is_bit_identical(tmp_path, point):
    ref_ck, ref_out = tmp_path / "ref.ckpt", tmp_path / "ref.npz"
    assert _child(tmp_path, ref_ck, ref_out, "slice").wait() == 0
    ck, out = tmp_path / "run.ckpt", tmp_path / "run.npz"
    # the first save kills the process at the named point
    proc = _child(tmp_path, ck, out, "slice", {"RIDGELINE_CHECKPOINT_KILL": point})
    assert proc.wait() == -signal.SIGKILL
    assert not out.exists()
    if point != "after_rename":
        assert list(tmp_path.glob("run.ckpt.tmp-*"))  # the kill left a temporary file
    assert _child(tmp_path, ck, out, "slice").wait() == 0  # resume in a fresh process
    assert not list(tmp_path.glob("*.tmp-*"))  # removed at the start of the resumed run
    a, b = np.load(ref_out), np.load(out)
    assert float(a["logz"]) == float(b["logz"]) and int(a["ncall"]) == int(b["ncall"])
    np.testing.assert_array_equal(a["samples"], b["samples"])


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    import time

    ref_ck, ref_out = tmp_path / "ref.ckpt", tmp_path / "ref.npz"
    assert _child(tmp_path, ref_ck, ref_out, "unif").wait() == 0
    ck, out = tmp_path / "run.ckpt", tmp_path / "run.npz"
    rng = np.random.default_rng(5)
    kills = 0
    for _ in range(3):
        proc = _child(tmp_path, ck, out, "unif")
        # wait for the run to be under way (its first checkpoint), then kill at a random moment
        deadline = time.monotonic() + 60.0
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.15)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
            kills += 1
        proc.wait()
    assert kills >= 1  # at least one kill landed mid-run, so the final run really resumed
    if out.exists():  # a round may have finished the run; the last one then resumes a finished checkpoint
        out.unlink()
    assert _child(tmp_path, ck, out, "unif").wait() == 0
    assert not list(tmp_path.glob("*.tmp-*"))
    a, b = np.load(ref_out), np.load(out)
    assert float(a["logz"]) == float(b["logz"]) and int(a["ncall"]) == int(b["ncall"])
    np.testing.assert_array_equal(a["samples"], b["samples"])
    np.testing.assert_array_equal(a["logl"], b["logl"])


def test_bad_checkpoints_raise_one_error_naming_the_path(tmp_path):
    p = problems.gaussian(3)
    ck = tmp_path / "run.ckpt"
    _sampler(p).run(dlogz=0.5, maxiter=300, checkpoint=ck, checkpoint_every=0)
    data = ck.read_bytes()

    def bad(content, match, **kw):
        f = tmp_path / "bad.ckpt"
        f.write_bytes(content)
        with pytest.raises(CheckpointError, match=match) as info:
            _sampler(kw.pop("problem", p), **kw).run(dlogz=0.5, checkpoint=f)
        assert str(f) in str(info.value)

    bad(data[:40], "truncated")
    bad(data[: len(data) // 2], "truncated")
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    bad(bytes(corrupt), "corrupt")
    bad(b"PK\x03\x04" + data[4:], "not a ridgeline")
    bad(data, "different run: seed", rng=4)  # foreign: another seed
    bad(data, "different run: nlive", nlive=250)
    bad(data, "different run: loglike", problem=problems.mixture(3))
    # stale: same fingerprint but the likelihood changed
    q = problems.gaussian(3)
    f = tmp_path / "stale.ckpt"
    NestedSampler(lambda x: float(-np.sum((x - 0.5) ** 2)), None, 3, nlive=200, rng=3).run(
        dlogz=0.5, maxiter=300, checkpoint=f, checkpoint_every=0
    )
    with pytest.raises(CheckpointError, match="stale"):
        NestedSampler(lambda x: float(-2 * np.sum((x - 0.5) ** 2)), None, 3, nlive=200, rng=3).run(
            dlogz=0.5, checkpoint=f
        )
    assert q.ndim == 3
    assert issubclass(CheckpointError, ValueError)


# --- executors and threads ----------------------------------------------------


def loglike_quadratic(x):
    r = x - 0.5
    return float(-0.5 * (r @ r) / 0.01)


def loglike_quadratic_batch(x):
    # the same function row by row: a bitwise comparison is only meaningful for one computation
    return np.array([loglike_quadratic(row) for row in x])


def _runs_on_pools(loglike, **kw):
    """The same run on process pools of 1 and 2 workers."""
    res = []
    for workers in (1, 2):
        with cf.ProcessPoolExecutor(workers) as ex:
            res.append(NestedSampler(loglike, None, 3, sample="unif", executor=ex, **kw).run(dlogz=0.5))
    return res


def test_executor_process_pool_same_result_for_any_worker_count():
    res = _runs_on_pools(loglike_quadratic, nlive=100, rng=2)
    serial = NestedSampler(loglike_quadratic_batch, None, 3, nlive=100, rng=2, sample="unif", vectorized=True).run(
        dlogz=0.5
    )
    _same(res[0], res[1])
    _same(res[0], serial)  # batches are the same as the vectorised serial run's
    assert abs(res[0].logz - (3 * np.log(np.sqrt(2 * np.pi) * 0.1))) < 4 * res[0].logzerr


def loglike_noisy_seeded(x, seed):
    # a stochastic likelihood: its value depends on the per-task seed
    return float(-0.5 * np.sum((x - 0.5) ** 2) / 0.01 + 1e-3 * np.random.default_rng(seed).standard_normal())


def test_executor_default_chunks_one_task_per_worker():
    from ridgeline.nested._executor import ExecutorLoglike, executor_workers

    with cf.ProcessPoolExecutor(3) as ex:
        assert executor_workers(ex) == 3
        assert ExecutorLoglike(loglike_quadratic, ex, False, None, 0).chunks == 3
        assert ExecutorLoglike(loglike_quadratic, ex, False, 5, 0).chunks == 5  # explicit wins
        # per-task seeds follow the split: for a seeded likelihood the default never reads the executor
        assert ExecutorLoglike(loglike_noisy_seeded, ex, False, None, 0).chunks == 8
    with cf.ThreadPoolExecutor(2) as ex:
        assert ExecutorLoglike(loglike_quadratic, ex, False, None, 0).chunks == 2
    assert executor_workers(object()) is None


def test_executor_seeded_likelihood_same_result_for_any_worker_count():
    res = _runs_on_pools(loglike_noisy_seeded, nlive=60, rng=5)
    _same(res[0], res[1])


def test_executor_refuses_unpicklable_loglike_at_construction():
    with cf.ProcessPoolExecutor(1) as ex, pytest.raises(TypeError, match="cannot be pickled"):
        NestedSampler(lambda x: 0.0, None, 2, nlive=50, executor=ex)
    with pytest.raises(TypeError, match="executor="):
        NestedSampler(loglike_quadratic, None, 2, nlive=50, executor=object())


def test_executor_thread_pool_allows_closures():
    scale = 0.01
    with cf.ThreadPoolExecutor(2) as ex:
        s = NestedSampler(lambda x: float(-0.5 * np.sum((x - 0.5) ** 2) / scale), None, 2, nlive=100, rng=1,
                          executor=ex)
        res = s.run(dlogz=0.5)
    assert res.ncall > 0


# Dask's comm layer can leave a socket to the garbage collector on a loaded machine: not our resource
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_dask_local_cluster_same_result():
    distributed = pytest.importorskip("distributed")
    from ridgeline.nested._expensive import ExpensiveLoglike

    f = ExpensiveLoglike("gaussian", 3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        a = NestedSampler(f, None, 3, nlive=60, rng=2, sample="unif", executor=client).run(dlogz=0.5)
        b = NestedSampler(f.batch, None, 3, nlive=60, rng=2, sample="unif", vectorized=True,
                          executor=client.get_executor()).run(dlogz=0.5)
    gc.collect()  # collect Dask's leftovers here, under this test's warning filters
    serial = NestedSampler(f.batch, None, 3, nlive=60, rng=2, sample="unif", vectorized=True).run(dlogz=0.5)
    _same(a, serial)
    _same(b, serial)


def test_threads_for_compiled_likelihood_same_result():
    p = problems.gaussian(5)
    a = _sampler(p, n_threads=1).run(dlogz=0.5)
    b = _sampler(p, n_threads=2).run(dlogz=0.5)
    _same(a, b)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    p = problems.gaussian(2)
    ref = _sampler(p).run(dlogz=0.5)
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    res = _sampler(p).run(dlogz=0.5, progress=True)
    err = term.getvalue()
    assert "nested sampling [" in err and "logz" in err and "ncall" in err and "stop: dlogz" in err
    _same(ref, res)  # reporting in blocks changes nothing
    monkeypatch.undo()
    _sampler(p).run(dlogz=0.5, progress=True)  # not a terminal: nothing
    assert capsys.readouterr().err == ""


def test_progress_goes_to_the_logger(caplog):
    p = problems.gaussian(2)
    with caplog.at_level(logging.DEBUG, logger="ridgeline.nested"):
        res = _sampler(p).run(dlogz=0.5)
    recs = [r for r in caplog.records if r.name == "ridgeline.nested"]
    assert any(r.levelno == logging.DEBUG and "ncall" in r.getMessage() for r in recs)
    final = [r for r in recs if r.levelno == logging.INFO]
    assert len(final) == 1 and "stop: dlogz" in final[0].getMessage() and f"ncall {res.ncall}" in final[0].getMessage()
