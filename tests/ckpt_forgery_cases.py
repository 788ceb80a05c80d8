"""Checkpoint forgery and corruption campaign (run as a script by tests/test_nested_checkpoint_campaigns.py).

``python ckpt_forgery_cases.py DIR MODE COUNT SEED VERIFY`` (VERIFY: ``checkpoint_verify``, ``default`` for None) writes source checkpoints of three runs into DIR
(built-in likelihood with a multi-ellipsoid bound, a vectorised Python likelihood with a queue of evaluated
candidates, slice sampling), then makes COUNT files from them and resumes a fresh sampler from each (in this
process, each under a 60 s alarm), printing one JSON line per file and a summary line:

- MODE ``forge``: the payload parsed, one field edited at random (a value set to NaN, +-inf, a point outside
  the cube, a scaled or shifted value, another element's value, a counter moved, a flag flipped, an element
  dropped or appended), written back with a valid checksum;
- MODE ``targeted``: sources saved at several moments of the runs; one field of the kinds that only a check of
  the random stream against its last batch of candidates, the derived counters or the re-evaluation of every
  live point can refuse (counters since the last refit, the stream position, the cached normal deviate and its
  flag, the count of deviates, the record of the last batch, a live log-likelihood moved within every ordering
  invariant) edited by a small amount;
- MODE ``corrupt``: the file truncated at a random offset, random bytes flipped, another problem's file,
  another run's file, a FIFO, /dev/zero, a directory, a symlink to a device, random payload bytes with a
  recomputed checksum.

Each record says whether the file was refused with CheckpointError, whether the C++ reader can draw the
source's last batch of candidates again (``replayable``), raised anything else, hung (alarm), or
ran; a run that ran is compared with the resume of the untouched file (identical or not) and with the true
log Z (``z`` = deviation in units of logzerr).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import stat
import sys
import time

import numpy as np

from ridgeline.nested import CheckpointError, NestedSampler, problems
from ridgeline.nested._checkpoint import read_checkpoint, write_checkpoint
from ridgeline.nested._checkpoint_check import parse_state, serialize_state


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang


def sources():
    g = problems.gaussian(3)
    sh = problems.shells()
    return {
        "builtin-multi": (sh, lambda: NestedSampler(sh.loglike, sh.prior_transform, sh.ndim, nlive=80, rng=3,
                                                     sample="unif")),
        "vectorized": (g, lambda: NestedSampler(g.loglike_vectorized, g.prior_transform, g.ndim, nlive=60, rng=3,
                                                vectorized=True)),
        "slice": (g, lambda: NestedSampler(g.loglike, g.prior_transform, g.ndim, nlive=60, rng=3, sample="slice")),
    }


RUN = {"dlogz": 0.5, "maxcall": 200_000}


def make_sources(d, stops=(250,)):
    """Source checkpoints of each run saved after each of `stops` iterations (named "run" for 250, else
    "run@stop"), with the result of resuming each untouched."""
    out = {}
    for stop in stops:
        for name, (p, mk) in sources().items():
            label = name if stop == 250 else f"{name}@{stop}"
            ck = os.path.join(d, f"src-{label}.ckpt")
            if os.path.exists(ck):
                os.unlink(ck)
            mk().run(dlogz=0.5, maxiter=stop, checkpoint=ck, checkpoint_every=0)
            ref = mk().run(checkpoint=ck, **RUN)  # resumes (and rewrites) it; rewrite the partial state again
            os.unlink(ck)
            mk().run(dlogz=0.5, maxiter=stop, checkpoint=ck, checkpoint_every=0)
            out[label] = (p, mk, ck, ref)
    return out


# MODE "targeted": sources saved at several moments of the runs (before and after the first bound, the
# vectorised queue before or after a refit, ...), more of them drawn from the campaign's seed
TARGETED_STOPS = (60, 250)


_FLOAT_EDITS = ["nan", "+inf", "-inf", "1.5", "-0.25", "1e300", "-1e300", "zero", "x*1.001", "x+1", "x-1", "-x",
                "other", "x*1.1"]
_INT_EDITS = ["+1", "-1", "+1000", "negative", "2**40", "zero"]


def _float_value(edit, x, arr, rng):
    return {
        "nan": float("nan"), "+inf": float("inf"), "-inf": float("-inf"), "1.5": 1.5, "-0.25": -0.25,
        "1e300": 1e300, "-1e300": -1e300, "zero": 0.0, "x*1.001": x * 1.001, "x+1": x + 1.0, "x-1": x - 1.0,
        "-x": -x, "x*1.1": x * 1.1,
        "other": float(arr.reshape(-1)[int(rng.integers(arr.size))]) if arr.size else x,
    }[edit]


def _int_value(edit, v):
    return {"+1": v + 1, "-1": v - 1, "+1000": v + 1000, "negative": -v - 1, "2**40": 2**40, "zero": 0}[edit]


_ARRAYS = ["live_u", "live_x", "live_logl", "live_birth", "dead_u", "dead_x", "dead_logl", "dead_birth",
           "dead_logvol", "queue_u", "queue_x", "queue_logl", "cumprob", "slice_stats"]
_ELL = ["center", "shape", "precision", "axes", "major", "logvol"]
_FLOATS = ["logvol_sum", "spare", "logvol", "logz", "batch_spare"]
_INTS = ["iter_at_update", "updates_since_search", "last_search_nell", "queue_head", "seed", "stream", "position",
         "niter", "ncall", "accepted_since_update", "evaluated_since_update", "accepted_total", "evaluated_total",
         "slice_calls", "slice_replacements", "slice_nsteps", "normals", "batch_position", "batch_normals",
         "batch_size", "evaluated_at_update"]
_FLAGS = ["use_bound", "has_spare", "initialized", "slice_active", "batch_has_spare", "batch_bound_saved",
          "batch_use_bound"]
_INT_LIMITS = {"last_search_nell": (-(2**31), 2**31 - 1), "slice_nsteps": (-(2**31), 2**31 - 1)}
_UNSIGNED = ("queue_head", "seed", "stream", "position", "normals", "batch_position", "batch_normals")
# MODE "targeted": the kinds the random campaign let through before the random stream was checked against its
# last batch of candidates and every live point re-evaluated, and the new fields that check relies on
_TARGETED_INTS = ["evaluated_since_update", "evaluated_at_update", "position", "normals", "batch_position",
                  "batch_normals", "batch_size"]
_TARGETED_FLAGS = ["has_spare", "batch_has_spare", "batch_bound_saved", "batch_use_bound"]
_TARGETED_FLOATS = ["spare", "batch_spare"]
_TARGETED_INT_EDITS = ["+1", "-1", "+1000", "-1000", "+2", "-2"]


def replayable(t):
    """Whether the C++ reader can draw the state's last batch of candidates again (checkpoint.hpp)."""
    return t.batch_size > 0 and not (t.slice_active and t.use_bound)


def forge_targeted(t, rng):
    """One edit of a targeted kind; returns (kind, new state) or None when it changes nothing."""
    t = copy.deepcopy(t)
    group = rng.choice(["int", "flag", "float", "live_logl"], p=[0.5, 0.15, 0.1, 0.25])
    if group == "int":
        field = str(rng.choice(_TARGETED_INTS))
        edit = str(rng.choice(_TARGETED_INT_EDITS))
        v = getattr(t, field)
        nv = v + int(edit)
        if nv < 0:
            return None
        setattr(t, field, nv)
        return f"{field}:{edit}", t
    if group == "flag":
        field = str(rng.choice(_TARGETED_FLAGS))
        setattr(t, field, not getattr(t, field))
        return f"{field}:flip", t
    if group == "float":
        field = str(rng.choice(_TARGETED_FLOATS))
        edit = str(rng.choice(["x*1.001", "-x", "other", "x+1"]))
        old = getattr(t, field)
        new = _float_value(edit, old, t.live_u, rng) if edit != "other" else float(rng.standard_normal())
        if new == old:
            return None
        setattr(t, field, new)
        return f"{field}:{edit}", t
    # a live log-likelihood changed within every ordering invariant: above the last dead point and the point's
    # birth, below the best other live point (any live point, also those the default 32 would not re-evaluate)
    arr = t.live_logl.copy()
    i = int(rng.integers(arr.size))
    others = np.delete(arr, i)
    lo = max(float(t.live_birth[i]), float(t.dead_logl[-1]) if t.dead_logl.size else -np.inf)
    hi = float(others.max())
    if not (np.isfinite(lo) and lo < arr[i] < hi):
        return None
    edit = str(rng.choice(["towards best", "towards contour", "x*1.001"]))
    arr[i] = {"towards best": (arr[i] + hi) / 2, "towards contour": (arr[i] + lo) / 2,
              "x*1.001": arr[i] * (1.001 if arr[i] > 0 else 0.999)}[edit]
    if not lo < arr[i] < hi or arr[i] == t.live_logl[i]:
        return None
    t.live_logl = arr
    return f"live_logl:{edit}", t


def forge(t, rng):
    """One random field edit of a parsed state; returns (kind, new state) or None when it changes nothing."""
    t = copy.deepcopy(t)
    group = rng.choice(["array", "ell", "float", "int", "flag", "dead_nlive", "structure"],
                       p=[0.45, 0.12, 0.06, 0.2, 0.05, 0.04, 0.08])
    if group == "array" or group == "ell" or group == "float":
        if group == "array":
            field = str(rng.choice(_ARRAYS))
            arr = getattr(t, field)
        elif group == "ell":
            if not t.ells:
                return None
            k = int(rng.integers(len(t.ells)))
            field = f"ell.{rng.choice(_ELL)}"
            name = field.split(".")[1]
            if name == "logvol":
                arr = np.array([t.ells[k].logvol])
            else:
                arr = getattr(t.ells[k], name)
        else:
            field = str(rng.choice(_FLOATS))
            arr = np.array([getattr(t, field)])
        if arr.size == 0:
            return None
        arr = np.array(arr, dtype=np.float64, order="C")
        i = int(rng.integers(arr.size))
        edit = str(rng.choice(_FLOAT_EDITS))
        flat = arr.reshape(-1)
        old = float(flat[i])
        flat[i] = _float_value(edit, old, arr, rng)
        if np.array_equal(np.array([old]).view(np.int64), flat[i : i + 1].view(np.int64)):
            return None
        if group == "array":
            setattr(t, field, arr)
        elif group == "ell":
            if name == "logvol":
                t.ells[k].logvol = float(arr[0])
            else:
                setattr(t.ells[k], name, arr)
        else:
            setattr(t, field, float(arr[0]))
        return f"{field}:{edit}", t
    if group == "int":
        field = str(rng.choice(_INTS))
        edit = str(rng.choice(_INT_EDITS))
        v = getattr(t, field)
        nv = _int_value(edit, v)
        lo, hi = _INT_LIMITS.get(field, (-(2**63), 2**63 - 1))
        if field in _UNSIGNED:
            lo, hi = 0, 2**64 - 1
        if nv == v or not lo <= nv <= hi:
            return None
        setattr(t, field, nv)
        return f"{field}:{edit}", t
    if group == "flag":
        field = str(rng.choice(_FLAGS))
        setattr(t, field, not getattr(t, field))
        return f"{field}:flip", t
    if group == "dead_nlive":
        if t.dead_nlive.size == 0:
            return None
        i = int(rng.integers(t.dead_nlive.size))
        edit = str(rng.choice(["+1", "-1", "zero"]))
        nv = _int_value(edit, int(t.dead_nlive[i]))
        if nv == t.dead_nlive[i]:
            return None
        t.dead_nlive = t.dead_nlive.copy()
        t.dead_nlive[i] = nv
        return f"dead_nlive:{edit}", t
    # structure: drop the last dead point (all its arrays), or one element of an array
    edit = str(rng.choice(["drop last dead point", "drop live row", "drop array element", "append array element"]))
    if edit == "drop last dead point":
        if t.dead_logl.size == 0:
            return None
        t.dead_u, t.dead_x = t.dead_u[:-1], t.dead_x[:-1]
        for f in ("dead_logl", "dead_birth", "dead_logvol", "dead_nlive"):
            setattr(t, f, getattr(t, f)[:-1])
        return f"structure:{edit}", t
    if edit == "drop live row":
        for f in ("live_u", "live_x", "live_logl", "live_birth"):
            setattr(t, f, getattr(t, f)[:-1])
        return f"structure:{edit}", t
    field = str(rng.choice(["live_logl", "live_birth", "dead_logl", "dead_birth", "dead_logvol", "cumprob",
                            "queue_logl", "slice_stats"]))
    arr = getattr(t, field)
    if edit == "drop array element":
        if arr.size == 0:
            return None
        setattr(t, field, arr[:-1])
    else:
        setattr(t, field, np.append(arr, arr[-1] if arr.size else 0.5))
    return f"structure:{edit} {field}", t


def resume(mk, path, verify):
    s = mk()
    signal.setitimer(signal.ITIMER_REAL, 60.0)
    try:
        r = s.run(checkpoint=path, checkpoint_verify=verify, **RUN)
        return "ran", r, None
    except CheckpointError as err:
        return "refused", None, str(err)
    except Hang:
        return "hang", None, None
    except BaseException as err:  # noqa: BLE001 - everything else is a finding
        return "error", None, f"{type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)


def compare(r, ref, p):
    same = (r.logz == ref.logz and r.ncall == ref.ncall and r.samples.shape == ref.samples.shape
            and np.array_equal(r.samples, ref.samples) and np.array_equal(r.logl, ref.logl))
    z = (r.logz - p.logz_true) / r.logzerr if np.isfinite(r.logz) and r.logzerr > 0 else float("inf")
    return same, float(z)


def corrupt_cases(d, srcs, count, rng):
    """(kind, path, source name) for `count` corrupted files."""
    names = sorted(srcs)
    kinds = ["truncated", "flipped bytes", "another problem's file", "another run's file", "fifo", "dev-zero",
             "directory", "symlink to a device", "random payload bytes (checksum recomputed)"]
    for j in range(count):
        kind = kinds[j % len(kinds)] if j < len(kinds) else str(rng.choice(kinds))
        name = names[int(rng.integers(len(names)))]
        src = srcs[name][2]
        path = os.path.join(d, f"case-{j}.ckpt")
        data = open(src, "rb").read()
        if kind == "truncated":
            with open(path, "wb") as fh:
                fh.write(data[: int(rng.integers(0, len(data)))])
        elif kind == "flipped bytes":
            b = bytearray(data)
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(len(b)))
                b[i] ^= int(rng.integers(1, 256))
            with open(path, "wb") as fh:
                fh.write(bytes(b))
        elif kind == "another problem's file":
            other = srcs[names[(names.index(name) + 1) % len(names)]][2]
            with open(path, "wb") as fh:
                fh.write(open(other, "rb").read())
        elif kind == "another run's file":  # the same problem and settings, another seed
            name = "slice"
            p, _ = sources()[name]
            NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=60, rng=4, sample="slice").run(
                dlogz=0.5, maxiter=int(rng.integers(1, 300)), checkpoint=path, checkpoint_every=0)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "dev-zero":
            path = "/dev/zero"
        elif kind == "directory":
            os.mkdir(path)
        elif kind == "symlink to a device":
            os.symlink(str(rng.choice(["/dev/zero", "/dev/null", "/dev/urandom"])), path)
        else:
            meta, body = read_checkpoint(src)
            b = bytearray(body)
            for _ in range(int(rng.integers(1, 4))):
                off = int(rng.integers(0, len(b) - 8))
                v = float(rng.choice([np.nan, np.inf, -np.inf, 2.0, -1.0, 1e300, 0.0, 0.5]))
                b[off : off + 8] = np.float64(v).tobytes()
            write_checkpoint(path, meta, bytes(b))
        yield kind, path, name


def main(argv):
    d, mode, count, seed = argv[0], argv[1], int(argv[2]), int(argv[3])
    verify = None if argv[4] == "default" else int(argv[4])
    signal.signal(signal.SIGALRM, _alarm)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    stops = (250,)
    if mode == "targeted":
        stops = tuple(sorted({*TARGETED_STOPS, *(int(v) for v in rng.integers(20, 400, size=3))}))
    srcs = make_sources(d, stops)
    replay = {name: replayable(parse_state(read_checkpoint(v[2])[1], v[0].ndim)) for name, v in srcs.items()}
    summary = {"refused": 0, "ran": 0, "error": 0, "hang": 0, "ran_identical": 0, "ran_different": 0,
               "ran_wrong": 0, "seconds_max": 0.0}
    if mode in ("forge", "targeted"):
        parsed = {name: parse_state(read_checkpoint(v[2])[1], v[0].ndim) for name, v in srcs.items()}
        make = forge if mode == "forge" else forge_targeted

        def cases():
            names = sorted(srcs)
            j = 0
            while j < count:
                name = names[j % len(names)]
                f = make(parsed[name], rng)
                if f is None:
                    continue
                kind, t = f
                meta, _ = read_checkpoint(srcs[name][2])
                path = os.path.join(d, "forged.ckpt")
                write_checkpoint(path, meta, serialize_state(t))
                j += 1
                yield kind, path, name
        it = cases()
    else:
        it = corrupt_cases(d, srcs, count, rng)
    for kind, path, name in it:
        p, mk, _, ref = srcs[name]
        t0 = time.monotonic()
        outcome, r, msg = resume(mk, path, verify)
        dt = time.monotonic() - t0
        summary["seconds_max"] = max(summary["seconds_max"], round(dt, 2))
        summary[outcome] += 1
        rec = {"source": name, "kind": kind, "outcome": outcome, "seconds": round(dt, 2),
               "replayable": replay[name]}
        if outcome == "ran":
            same, z = compare(r, ref, p)
            rec.update(identical=same, z=round(z, 2), logz=r.logz)
            summary["ran_identical" if same else "ran_different"] += 1
            if abs(z) > 5:
                summary["ran_wrong"] += 1
        elif msg is not None:
            rec["message"] = msg[:200]
        print(json.dumps(rec), flush=True)
        try:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)
            elif path != "/dev/zero":
                os.unlink(path)
        except OSError:
            pass
        leftovers = [f for f in os.listdir(d) if ".tmp-" in f]
        assert not leftovers, leftovers
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
