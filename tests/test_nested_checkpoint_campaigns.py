"""Checkpoint campaigns: kills at random moments, corrupted files, forged states.

The forgery and corruption cases are made and run by ``tests/ckpt_forgery_cases.py`` in a child process
(each resume under a 60 s alarm there, the whole child under a timeout here).  The default suite runs a
small version of each campaign; ``-m slow`` runs 100 kills, 100 corrupted files, 300 + 100 random forgeries and
600 targeted ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import ridgeline

CASES_SCRIPT = Path(__file__).with_name("ckpt_forgery_cases.py")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(ridgeline.__file__)),
                                         env.get("PYTHONPATH", "")])
    env.pop("RIDGELINE_CHECKPOINT_KILL", None)
    return env


def _campaign(tmp_path, mode, count, seed, verify, timeout):
    out = subprocess.run([sys.executable, "-W", "ignore", str(CASES_SCRIPT), str(tmp_path / "campaign"), mode,
                          str(count), str(seed), str(verify)], capture_output=True, text=True, timeout=timeout,
                         env=_env())
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    summary = lines[-1]["summary"]
    records = lines[:-1]
    assert len(records) == count
    return records, summary


# Forgeries that validation cannot detect (documented in ridgeline.nested._checkpoint_check and the user
# guide): counters and decayed statistics that only steer the sampler's choices within their ranges (when to
# search for more ellipsoids, slice-sampling statistics), a bound moved consistently; a live log-likelihood
# not among the re-evaluated points when checkpoint_verify is an int (the default re-evaluates every live one).
_UNDETECTABLE = {"updates_since_search", "slice_stats", "ell.center"}
# The random stream's state and the record of the last batch of candidates: refused when the C++ reader can
# draw that batch again ("replayable": no slice chain since it, i.e. not slice sampling with a bound); else only
# their ranges, the parity of the count of normal deviates and the cached deviate's origin are checked (a moved
# position is then a different valid continuation, the batch record and the count are used by checks only).
_STREAM = {"position", "spare", "normals", "batch_position", "batch_spare", "batch_normals", "batch_size",
           "batch_bound_saved", "batch_use_bound"}


def _must_refuse(rec, verify_all):
    field, edit = rec["kind"].split(":", 1)
    if edit in ("nan", "+inf", "-inf"):
        return True  # non-finite values
    if field == "live_logl":
        return verify_all is not False  # every live point is re-evaluated (None: the default, or -1)
    if field in _STREAM:
        return rec["replayable"]
    return field not in _UNDETECTABLE


def _check_forgeries(records, summary, verify_all):
    assert summary["error"] == 0 and summary["hang"] == 0, [r for r in records if r["outcome"] in ("error", "hang")]
    passed = [r for r in records if r["outcome"] != "refused"]
    # a stream state moved so little that drawing the last batch again resynchronises with the stored stream
    # (a draw abandoned at its first coordinate outside the cube uses a varying number of words, so a start
    # moved by one word can end on the same words) is the same state in effect: it continues identically
    wrong = [r for r in passed if _must_refuse(r, verify_all)
             and not (r["kind"].split(":")[0] in _STREAM and r.get("identical"))]
    assert not wrong, wrong
    # what passes runs to a valid result (within 5 sigma of the true log Z)
    assert all(abs(r["z"]) < 5 for r in passed), passed
    return passed


def test_forgeries_small(tmp_path):
    records, summary = _campaign(tmp_path, "forge", 30, 11, "default", timeout=600)
    _check_forgeries(records, summary, verify_all=None)
    assert summary["refused"] >= 20


def _check_targeted(records, summary):
    passed = _check_forgeries(records, summary, verify_all=None)
    # every kind the earlier campaign let through is refused: counters since the refit, the cached deviate's
    # flag, a live log-likelihood; the stream's state whenever the last batch can be drawn again
    always = {"evaluated_since_update", "evaluated_at_update", "has_spare", "batch_has_spare", "live_logl"}
    for r in records:
        if r["kind"].split(":")[0] in always:
            assert r["outcome"] == "refused", r
        if r["kind"].split(":")[0] in _STREAM and r["replayable"]:  # or the same state in effect (see above)
            assert r["outcome"] == "refused" or r.get("identical"), r
    return passed


def test_forgeries_targeted_small(tmp_path):
    records, summary = _campaign(tmp_path, "targeted", 30, 13, "default", timeout=900)
    _check_targeted(records, summary)
    assert any(r["replayable"] and r["kind"].split(":")[0] in _STREAM for r in records)


@pytest.mark.slow
def test_forgeries_targeted_600(tmp_path):
    """600 targeted forgeries over two campaign seeds (each with its own source checkpoints)."""
    out = []
    for seed in (101, 102):
        records, summary = _campaign(tmp_path / str(seed), "targeted", 300, seed, "default", timeout=3600)
        passed = _check_targeted(records, summary)
        out += records
        print(f"targeted forgeries (seed {seed}):", summary)
        print("not refused:", sorted((r["source"], r["kind"], r["identical"], r["z"]) for r in passed))
    kinds = {}
    for r in out:
        key = (r["kind"].split(":")[0], r["replayable"])
        kinds.setdefault(key, [0, 0])
        kinds[key][0] += r["outcome"] == "refused"
        kinds[key][1] += 1
    print("refused / cases by (field, replayable):", dict(sorted(kinds.items())))
    assert sum(n for (f, rep), (_, n) in kinds.items() if f == "position" and rep) >= 20


@pytest.mark.slow
def test_forgeries_300(tmp_path):
    records, summary = _campaign(tmp_path, "forge", 300, 1, "default", timeout=1800)
    passed = _check_forgeries(records, summary, verify_all=None)
    print("forgeries (default checkpoint_verify):", summary)
    print("not refused:", sorted((r["kind"], r["identical"], r["z"]) for r in passed))


@pytest.mark.slow
def test_forgeries_100_verify_all(tmp_path):
    records, summary = _campaign(tmp_path, "forge", 100, 2, -1, timeout=1800)
    passed = _check_forgeries(records, summary, verify_all=True)
    print("forgeries (verify=-1):", summary)
    print("not refused:", sorted((r["kind"], r["identical"], r["z"]) for r in passed))


@pytest.mark.slow
def test_corruptions_100(tmp_path):
    records, summary = _campaign(tmp_path, "corrupt", 100, 3, "default", timeout=1800)
    print("corruptions:", summary)
    assert summary["refused"] == 100, [r for r in records if r["outcome"] != "refused"]


# --- kills at random moments ----------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ridgeline.nested import NestedSampler, problems
    p = problems.gaussian(8)
    s = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=300, rng=11, sample=sys.argv[3])
    print("go", flush=True)  # the run starts (the parent's clock for a kill at a random moment)
    r = s.run(dlogz=0.01, checkpoint=sys.argv[1], checkpoint_every=0)
    np.savez(sys.argv[2], logz=r.logz, logzerr=r.logzerr, samples=r.samples, logl=r.logl, ncall=r.ncall,
             niter=r.niter)
    """
)


def _start(tmp_path, ck, out, sample):
    script = tmp_path / "child.py"
    if not script.exists():
        script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(ck), str(out), sample], env=_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.stdout.close()  # the child prints nothing else
    assert line.strip() == "go", line
    return proc


def _kills(tmp_path, trials, seed):
    """Per trial: 1-3 SIGKILLs at uniform random moments of a run (after its start) saving after every block,
    then a resume
    to the end; every resume compared with the uninterrupted run, no temporary file left."""
    rng = np.random.default_rng(seed)
    refs, durations = {}, {}
    for sample in ("unif", "slice"):
        ck, out = tmp_path / f"ref-{sample}.ckpt", tmp_path / f"ref-{sample}.npz"
        proc = _start(tmp_path, ck, out, sample)
        t0 = time.monotonic()
        assert proc.wait(timeout=300) == 0
        durations[sample] = time.monotonic() - t0  # of the run alone (after "go")
        refs[sample] = dict(np.load(out))
    kills = landed_in_save = after_first_save = 0
    for trial in range(trials):
        sample = ("unif", "slice")[trial % 2]
        ck, out = tmp_path / f"run-{trial}.ckpt", tmp_path / f"run-{trial}.npz"
        for _ in range(int(rng.integers(1, 4))):
            proc = _start(tmp_path, ck, out, sample)
            time.sleep(float(rng.uniform(0.0, durations[sample])))
            if proc.poll() is None:
                after_first_save += ck.exists()
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(timeout=60) == -signal.SIGKILL
                kills += 1
                landed_in_save += bool(list(tmp_path.glob(f"run-{trial}.ckpt.tmp-*")))
            else:
                assert proc.returncode == 0
        if out.exists():
            out.unlink()
        assert _start(tmp_path, ck, out, sample).wait(timeout=300) == 0  # resume to the end
        leftovers = list(tmp_path.glob("*.tmp-*"))
        assert not leftovers, leftovers
        got, ref = dict(np.load(out)), refs[sample]
        for key in ("logz", "logzerr", "ncall", "niter", "samples", "logl"):
            np.testing.assert_array_equal(got[key], ref[key], err_msg=f"trial {trial} {key}")
        ck.unlink()
        out.unlink()
    return kills, landed_in_save, after_first_save


def test_kills_small(tmp_path):
    kills, _, _ = _kills(tmp_path, 2, 21)
    assert kills >= 1  # (a kill drawn near the end of a run can miss it)


@pytest.mark.slow
def test_kills_100(tmp_path):
    kills = landed_in_save = after_first_save = 0
    trial_seed = 22
    while kills < 100:
        k, s, a = _kills(tmp_path, 10, trial_seed)
        kills, landed_in_save, after_first_save = kills + k, landed_in_save + s, after_first_save + a
        trial_seed += 1
    print(f"{10 * (trial_seed - 22)} runs each resumed to the end after 1-3 kills; kills: {kills} ({after_first_save} after the first checkpoint was written, {landed_in_save} inside a "
          "save: a temporary file was left), every resume bit-identical, no temporary file left after a resume")
    assert after_first_save >= 80


# --- the validation itself --------------------------------------------------------------------------


def _quadratic(x):
    r = x - 0.5
    return float(-0.5 * (r @ r) / 0.01)


class _Counted:
    """The quadratic log-likelihood (scalar or row by row on a batch), counting its calls."""

    def __init__(self, vectorized):
        self.vectorized, self.calls = vectorized, 0

    def __call__(self, x):
        self.calls += 1
        return np.array([_quadratic(r) for r in x]) if self.vectorized else _quadratic(x)


@pytest.mark.parametrize("opts", [{"sample": "unif"}, {"sample": "slice"}, {"vectorized": True}])
def test_real_checkpoints_pass_and_verification_costs_no_counted_call(tmp_path, opts):
    from ridgeline.nested import NestedSampler
    from ridgeline.nested._checkpoint import read_checkpoint
    from ridgeline.nested._checkpoint_check import check_state, parse_state, serialize_state, verify_points

    vec = opts.get("vectorized", False)

    def make(fn):
        return NestedSampler(fn, None, 3, nlive=60, rng=6, **opts)

    ref = make(_Counted(vec)).run(dlogz=0.5)
    ck = tmp_path / "run.ckpt"
    make(_Counted(vec)).run(dlogz=0.5, maxiter=ref.niter // 2, checkpoint=ck, checkpoint_every=0)
    body = read_checkpoint(ck)[1]
    t = parse_state(body, 3)
    assert serialize_state(t) == body  # the parser reads the C++ layout exactly
    s = make(_Counted(vec))
    check_state(t, s)
    assert verify_points(t, s, -1) is None
    like = _Counted(vec)
    res = make(like).run(dlogz=0.5, checkpoint=ck, checkpoint_verify=-1)  # every stored point re-evaluated
    assert res.logz == ref.logz and res.ncall == ref.ncall and res.niter == ref.niter
    np.testing.assert_array_equal(res.samples, ref.samples)
    if not vec:  # the verification calls (one per stored point) are not counted in ncall
        assert like.calls == t.live_logl.size + t.dead_logl.size + t.queue_logl.size + (ref.ncall - t.ncall)


def test_verify_budget_trades_calls_for_coverage(tmp_path):
    from ridgeline.nested import CheckpointError, NestedSampler, problems
    from ridgeline.nested._checkpoint import read_checkpoint, write_checkpoint
    from ridgeline.nested._checkpoint_check import parse_state, serialize_state, verify_indices

    p = problems.gaussian(3)
    ck = tmp_path / "run.ckpt"

    def make():
        return NestedSampler(p.loglike, p.prior_transform, 3, nlive=100, rng=2)

    make().run(dlogz=0.5, maxiter=300, checkpoint=ck, checkpoint_every=0)
    meta, body = read_checkpoint(ck)
    t = parse_state(body, 3)
    live, dead, _ = verify_indices(t, 32)
    assert t.live_logl.argmax() in live and t.live_logl.argmin() in live and t.dead_logl.size - 1 in dead
    # raise a live log-likelihood the default budget does not re-evaluate, keeping every invariant
    j = next(i for i in np.argsort(t.live_logl) if i not in live)
    t.live_logl = t.live_logl.copy()
    t.live_logl[j] = (t.live_logl[j] + np.sort(t.live_logl)[-2]) / 2  # still below the best point
    forged = tmp_path / "forged.ckpt"
    write_checkpoint(forged, meta, serialize_state(t))
    with pytest.raises(CheckpointError, match="forged.ckpt.*stale or forged: the log-likelihood"):
        make().run(dlogz=0.5, checkpoint=forged, checkpoint_verify=-1)
    with pytest.raises(CheckpointError, match="stale or forged: the log-likelihood"):
        make().run(dlogz=0.5, checkpoint=forged)  # the default re-evaluates every live point
    res = make().run(dlogz=0.5, checkpoint=forged, checkpoint_verify=32)  # documented: not among the 32
    assert abs(res.logz - p.logz_true) < 5 * res.logzerr
    with pytest.raises(ValueError, match="checkpoint_verify=-2"):
        make().run(checkpoint_verify=-2)
