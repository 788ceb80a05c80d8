"""The run loop in blocks of iterations: checkpoints and the progress bar.

The compiled run is resumable at any iteration (its whole state is plain data),
so running it in blocks and saving between blocks changes nothing in the result.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

import numpy as np

from ridgeline.nested._checkpoint import CheckpointError, compare_fingerprint, read_checkpoint, write_checkpoint

__all__ = ["load_checkpoint", "run_blocks", "save_checkpoint"]

_BLOCK = 100  # iterations per block


def _fingerprint(sampler: Any) -> dict[str, Any]:
    return dict(sampler._settings)


def save_checkpoint(sampler: Any, path: str) -> None:
    """Write the sampler's complete state to ``path`` (atomically)."""
    st = sampler._core.state()
    meta = _fingerprint(sampler)
    if st["initialized"]:
        # a likelihood check at a stored point: detects a changed likelihood (stale file)
        i = int(np.argmax(st["live_logl"]))
        meta["check"] = {"u": st["live_u"][i].tolist(), "logl": float(st["live_logl"][i])}
    write_checkpoint(path, meta, sampler._core.dump_state())


def load_checkpoint(sampler: Any, path: str) -> None:
    """Restore the sampler from ``path``; CheckpointError if the file cannot be used."""
    meta, body = read_checkpoint(path)
    compare_fingerprint(path, meta, _fingerprint(sampler))
    check = meta.get("check")
    if check is not None:
        u = np.asarray(check["u"], dtype=np.float64).reshape(1, -1)
        _, logl = sampler._core.evaluate(u)
        if not (float(logl[0]) == float(check["logl"])):
            msg = (
                f"checkpoint {path!r} is stale: the likelihood at a stored point is {float(logl[0])!r} now, "
                f"{check['logl']!r} in the file"
            )
            raise CheckpointError(msg)
    try:
        sampler._core.load_state(body)
    except ValueError as err:
        msg = f"checkpoint {path!r} is corrupt: {err}"
        raise CheckpointError(msg) from err


class _Bar:
    """A one-line progress bar on stderr: progress measured as log(dlogz_0 / dlogz_now)."""

    def __init__(self, target: float) -> None:
        self.target = max(target, 1e-300)
        self.first: float | None = None
        self.stream = sys.stderr

    def update(self, niter: int, ncall: int, logz: float, dl: float) -> None:
        frac = 0.0
        if math.isfinite(dl) and dl > 0:
            if self.first is None:
                self.first = max(dl, self.target * 1.0001)
            span = math.log(self.first / self.target)
            frac = min(max(math.log(self.first / max(dl, self.target)) / span, 0.0), 1.0) if span > 0 else 1.0
        elif dl == 0:
            frac = 1.0
        n = 24
        k = int(round(frac * n))
        bar = "#" * k + "-" * (n - k)
        self.stream.write(
            f"\r[{bar}] {100 * frac:5.1f}% | iter {niter:8d} | ncall {ncall:10d} | log Z {logz:11.4f} | dlogz {dl:9.3g}"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run_blocks(
    sampler: Any, dlogz: float, maxiter: int, maxcall: int, progress: bool, checkpoint: Any, every: Any
) -> str:
    """Run the compiled sampler in blocks, saving checkpoints and drawing the progress bar."""
    path = None
    if checkpoint is not None:
        path = os.fspath(checkpoint)
        try:
            every = float(every)
        except (TypeError, ValueError) as err:
            msg = f"checkpoint_every={every!r} must be a float"
            raise TypeError(msg) from err
        if not (every >= 0.0) or math.isinf(every):
            msg = f"checkpoint_every={every} must be a finite float >= 0"
            raise ValueError(msg)
        if os.path.exists(path):
            load_checkpoint(sampler, path)
    bar = _Bar(dlogz) if progress else None
    core = sampler._core
    last = time.monotonic()
    try:
        while True:
            target = core_niter(core) + _BLOCK
            block_max = target if maxiter < 0 else min(target, maxiter)
            stop = core.run(dlogz, block_max, maxcall, None, 0)
            if bar is not None:
                s = core.state()
                bar.update(int(s["niter"]), int(s["ncall"]), float(s["logz"]), float(core.delta_logz()))
            done = stop != "maxiter" or (maxiter >= 0 and block_max >= maxiter)
            if path is not None and (done or time.monotonic() - last >= every):
                save_checkpoint(sampler, path)
                last = time.monotonic()
            if done:
                return stop
    finally:
        if bar is not None:
            bar.close()


def core_niter(core: Any) -> int:
    """The current iteration count of a compiled sampler."""
    return int(core.niter())
