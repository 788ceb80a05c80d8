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

__all__ = ["load_checkpoint", "run_blocks", "save_checkpoint"]

_BLOCK = 100  # iterations per block


def _fingerprint(sampler: Any) -> dict[str, Any]:
    return dict(sampler._settings)


def save_checkpoint(sampler: Any, path: str) -> None:
    """Write the sampler's complete state to ``path`` (atomically)."""
    st = sampler._core.state()
    meta = _fingerprint(sampler)
    # a likelihood check at a stored point: detects a changed likelihood (stale
    # file); None before the first iteration (no point evaluated yet)
    meta["check"] = None
    if st["initialized"]:
        i = int(np.argmax(st["live_logl"]))
        meta["check"] = {"u": st["live_u"][i].tolist(), "logl": float(st["live_logl"][i])}
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


def load_checkpoint(sampler: Any, path: str) -> None:
    """Restore the sampler from ``path``; CheckpointError if the file cannot be used.

    Validation: the header, checksum and fingerprint (settings, seed,
    likelihood and transform names), a likelihood check at the best stored
    live point, and the consistency of the state (live and dead points inside
    the unit cube with finite coordinates, valid log-likelihoods, non-decreasing
    dead log-likelihoods, counters, volumes and log Z recomputed from the dead
    points).  A file that passes is trusted data (as a pickle would be):
    consistent values that the run did not compute cannot be detected.
    """
    meta, body = read_checkpoint(path)
    compare_fingerprint(path, meta, _fingerprint(sampler))
    check = _check_point(path, meta, sampler.ndim)
    try:
        backup = sampler._core.dump_state()
    except RuntimeError:  # in the middle of an iteration: the file's state replaces it
        backup = None
    try:
        sampler._core.load_state(body)
    except ValueError as err:
        msg = f"checkpoint {path!r} is corrupt: {err}"
        raise CheckpointError(msg) from None
    st = sampler._core.state()
    try:
        if check is None:
            if st["initialized"]:
                msg = f"checkpoint {path!r} is corrupt: the likelihood check field is empty for a started run"
                raise CheckpointError(msg)
            return
        u, logl_saved = check
        i = int(np.argmax(st["live_logl"])) if st["initialized"] else -1
        if i < 0 or not (np.array_equal(st["live_u"][i], u) and float(st["live_logl"][i]) == logl_saved):
            msg = f"checkpoint {path!r} is corrupt: the likelihood check does not match the stored live points"
            raise CheckpointError(msg)
        _, logl = sampler._core.evaluate(u.reshape(1, -1))
        if not (float(logl[0]) == logl_saved):
            msg = (
                f"checkpoint {path!r} is stale: the likelihood at a stored point is {float(logl[0])!r} now, "
                f"{logl_saved!r} in the file"
            )
            raise CheckpointError(msg)
    except BaseException:
        if backup is not None:
            sampler._core.load_state(backup)  # leave the sampler as it was before the load
        raise


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
    sampler: Any, dlogz: float, maxiter: int, maxcall: int, progress: bool, checkpoint: Any, every: Any
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
            load_checkpoint(sampler, path)
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
                niter, ncall, logz = core.counters()
                dl = float(core.delta_logz())
                frac, first = progress_fraction(first, dl, dlogz)
                rep.update(frac, iter=int(niter), ncall=int(ncall), logz=float(logz), dlogz=dl)
            done = stop != "maxiter" or (maxiter >= 0 and block_max >= maxiter)
            if path is not None and (done or time.monotonic() - last >= every):
                save_checkpoint(sampler, path)
                last = time.monotonic()
            if done:
                break
    niter, ncall, logz = core.counters()
    rep.close(f"stop: {stop}", iter=int(niter), ncall=int(ncall), logz=float(logz))
    return str(stop)


def core_niter(core: Any) -> int:
    """The current iteration count of a compiled sampler."""
    return int(core.niter())
