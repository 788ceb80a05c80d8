"""The run loop in blocks of iterations: checkpoints and the progress bar.

The compiled run is resumable at any iteration (its whole state is plain data),
so running it in blocks and saving between blocks changes nothing in the result.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from ridgeline._validation import check_float
from ridgeline.nested._checkpoint import (
    CheckpointError,
    compare_fingerprint,
    read_checkpoint,
    remove_stale_temporaries,
    write_checkpoint,
)
from ridgeline.nested._checkpoint_check import (
    StateFormatError,
    check_state,
    parse_state,
    transform_mismatch,
    verify_points,
)

__all__ = ["load_checkpoint", "run_blocks", "save_checkpoint"]

_BLOCK = 100  # iterations per block
# Stored points whose likelihood is re-evaluated when a checkpoint is loaded
# (None: every live point and queued candidate and 32 dead points).
DEFAULT_VERIFY: int | None = None


def _fingerprint(sampler: Any) -> dict[str, Any]:
    return dict(sampler._settings)


def save_checkpoint(sampler: Any, path: str) -> None:
    """Write the sampler's complete state to ``path`` (atomically)."""
    st = sampler._core.state()
    meta = _fingerprint(sampler)
    # a likelihood check at a stored point: detects a changed likelihood (stale
    # file); None before the first iteration (no point evaluated yet)
    meta["check"] = None
    if st.initialized:
        i = int(np.argmax(st.live_logl))
        meta["check"] = {"u": st.live_u[i].tolist(), "logl": float(st.live_logl[i])}
    write_checkpoint(path, meta, sampler._core.dump_state())


def _check_point(path: str, meta: dict[str, Any], ndim: int) -> tuple[np.ndarray, float] | None:
    """The likelihood check stored in the metadata (validated), or None."""
    if "check" not in meta:
        msg = f"checkpoint {path!r} is corrupt: its metadata has no likelihood check field"
        raise CheckpointError(msg)
    check = meta["check"]
    if check is None:
        return None
    try:
        if not isinstance(check, dict) or set(check) != {"u", "logl"}:
            raise TypeError("not a {'u', 'logl'} record")
        u = np.asarray(check["u"], dtype=np.float64)
        if isinstance(check["logl"], bool):
            raise TypeError("logl is a bool")
        logl = float(check["logl"])
    except (TypeError, ValueError) as err:
        msg = f"checkpoint {path!r} is corrupt: bad likelihood check field ({err})"
        raise CheckpointError(msg) from None
    if u.shape != (ndim,) or not np.all((u >= 0.0) & (u <= 1.0)) or math.isnan(logl) or logl == math.inf:
        msg = f"checkpoint {path!r} is corrupt: the likelihood check point is not a point of the unit cube with a valid log-likelihood"
        raise CheckpointError(msg)
    return u, logl


def load_checkpoint(sampler: Any, path: str, verify: int | None = DEFAULT_VERIFY) -> None:
    """Restore the sampler from ``path``; CheckpointError if the file cannot be used.

    Validation: the header, checksum and fingerprint (settings, seed,
    likelihood and transform names), then every field of the state
    (:mod:`ridgeline.nested._checkpoint_check`: shapes, ranges, the run's
    invariants, the bound, ``prior_transform(u)`` at every point and the
    likelihood re-evaluated at every live point and 32 dead points, or
    ``verify`` points, -1 for all), then the C++ reader's own checks (the last
    batch of candidates drawn again from the recorded random-stream state).  A file that passes is trusted data (as a pickle
    would be): consistent values that the run did not compute cannot be
    detected.
    """
    meta, body = read_checkpoint(path)
    compare_fingerprint(path, meta, _fingerprint(sampler))
    check = _check_point(path, meta, sampler.ndim)
    try:
        parsed = parse_state(body, sampler.ndim)
        check_state(parsed, sampler)
    except StateFormatError as err:
        msg = f"checkpoint {path!r} is corrupt: {err}"
        raise CheckpointError(msg) from None
    if check is None:
        if parsed.initialized:
            msg = f"checkpoint {path!r} is corrupt: the likelihood check field is empty for a started run"
            raise CheckpointError(msg)
    else:
        u, logl_saved = check
        i = int(np.argmax(parsed.live_logl)) if parsed.initialized else -1
        if i < 0 or not (np.array_equal(parsed.live_u[i], u) and float(parsed.live_logl[i]) == logl_saved):
            msg = f"checkpoint {path!r} is corrupt: the likelihood check does not match the stored live points"
            raise CheckpointError(msg)
    # the prior transform at every point, the likelihood at `verify` points (the
    # best live point first): a changed likelihood (stale file) or forged values
    problem = transform_mismatch(parsed, sampler) or verify_points(parsed, sampler, verify)
    if problem is not None:
        msg = f"checkpoint {path!r} is stale or forged: {problem}"
        raise CheckpointError(msg)
    try:
        sampler._core.load_state(body)  # checks again; leaves the sampler untouched on an error
    except ValueError as err:
        msg = f"checkpoint {path!r} is corrupt: {err}"
        raise CheckpointError(msg) from None


def progress_fraction(first: float | None, dl: float, target: float) -> tuple[float, float | None]:
    """Progress as log(dlogz_0 / dlogz_now) / log(dlogz_0 / target) in [0, 1]; returns (fraction, first)."""
    target = max(target, 1e-300)
    if math.isfinite(dl) and dl > 0:
        if first is None:
            first = max(dl, target * 1.0001)
        span = math.log(first / target)
        frac = min(max(math.log(first / max(dl, target)) / span, 0.0), 1.0) if span > 0 else 1.0
        return frac, first
    return (1.0 if dl == 0 else 0.0), first


def run_blocks(
    sampler: Any, dlogz: float, maxiter: int, maxcall: int, progress: bool, checkpoint: Any, every: Any,
    verify: int | None = DEFAULT_VERIFY,
) -> str:
    """Run the compiled sampler, in blocks when saving checkpoints or reporting progress.

    Progress goes through :class:`ridgeline._progress.Progress`: a bar on stderr
    when ``progress`` is true and stderr is a terminal, DEBUG records on the
    ``ridgeline.nested`` logger per block when that level is enabled, and one
    INFO record at the end.
    """
    from ridgeline._progress import Progress

    path = None
    if checkpoint is not None:
        path = os.fspath(checkpoint)
        every = check_float(every, "checkpoint_every", 0.0)
        remove_stale_temporaries(path)
        if os.path.lexists(path):
            load_checkpoint(sampler, path, verify)
    core = sampler._core
    rep = Progress("nested", "nested sampling", total=1.0, progress=progress)
    first: float | None = None
    last = time.monotonic()
    stop = "maxiter"
    if path is None and not rep.active:
        stop = core.run(dlogz, maxiter, maxcall, None, 0)
    else:
        while True:
            target = core_niter(core) + _BLOCK
            block_max = target if maxiter < 0 else min(target, maxiter)
            stop = core.run(dlogz, block_max, maxcall, None, 0)
            if rep.active:
                c = core.counters()
                dl = float(core.delta_logz())
                frac, first = progress_fraction(first, dl, dlogz)
                rep.update(frac, iter=c.niter, ncall=c.ncall, logz=c.logz, dlogz=dl)
            done = stop != "maxiter" or (maxiter >= 0 and block_max >= maxiter)
            if path is not None and (done or time.monotonic() - last >= every):
                save_checkpoint(sampler, path)
                last = time.monotonic()
            if done:
                break
    c = core.counters()
    rep.close(f"stop: {stop}", iter=c.niter, ncall=c.ncall, logz=c.logz)
    check_resolved(core, str(stop))
    return str(stop)


def check_resolved(core: Any, stop: str) -> None:
    """Refuse a run whose live points collapsed onto one point of the unit cube.

    A 'plateau' stop where every live point has the same unit-cube coordinates
    (to a few units in the last place) means the likelihood changes on scales
    that double precision cannot resolve around its peak (a log-likelihood of
    magnitude 1e100 or 1e300 times a distance, for instance): the run could
    neither shrink further nor tell points apart, and its log Z would be wrong.
    A real plateau keeps its live points spread over the flat region.
    """
    if stop != "plateau":
        return
    st = core.state()
    u = np.asarray(st.live_u, dtype=np.float64)
    if u.shape[0] < 2:
        return
    tol = 8.0 * np.finfo(np.float64).eps * np.maximum(np.abs(u).max(axis=0), 1e-300)
    if np.all(np.ptp(u, axis=0) <= tol):
        x = np.asarray(st.live_x, dtype=np.float64)[0]
        msg = (
            f"loglike changes on scales below double-precision resolution: all {u.shape[0]} live points collapsed "
            f"onto x={x.tolist()!r} (log L = {float(st.live_logl[0])!r}); a log-likelihood of absurd magnitude "
            "(such as 1e300 times a distance) gives a wrong log Z: rescale the log-likelihood or narrow the prior"
        )
        raise ValueError(msg)


def core_niter(core: Any) -> int:
    """The current iteration count of a compiled sampler."""
    return int(core.niter())
