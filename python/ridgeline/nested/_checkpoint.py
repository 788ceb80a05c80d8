"""Crash-safe checkpoints of a nested-sampling run.

File layout (all integers little-endian)::

    magic     16 bytes  b"RIDGELINE-NS-CK\\n"
    version    4 bytes  FORMAT_VERSION
    meta_len   8 bytes  length of the JSON fingerprint
    body_len   8 bytes  length of the sampler state
    sha256    32 bytes  of meta + body
    meta      meta_len  JSON: settings, seed, likelihood kind, a likelihood check
    body      body_len  the complete C++ sampler state (live and dead points,
                        bound, random-stream position, counters)

A checkpoint is written to a temporary file in the same directory, flushed and
fsync'ed, renamed over the old one (atomic on POSIX), and the directory is
fsync'ed, so a kill at any moment leaves either the old or the new checkpoint,
never a mixture.  Every problem with a checkpoint file raises
:class:`CheckpointError` naming the path.  The checksum detects accidents
only (anyone can recompute it); the state itself is validated field by field
before use by :mod:`ridgeline.nested._checkpoint_check`, whose docstring says
what that does and does not protect.

For tests, the environment variable ``RIDGELINE_CHECKPOINT_KILL`` set to one of
``after_temp_write``, ``before_rename`` or ``after_rename`` makes the save kill
its own process with SIGKILL at that point.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import signal
import stat
import struct
from typing import Any

__all__ = ["FORMAT_VERSION", "CheckpointError", "read_checkpoint", "remove_stale_temporaries", "write_checkpoint"]

MAGIC = b"RIDGELINE-NS-CK\n"
# A checkpoint holds the live and dead points of one run: far below this.
MAX_SIZE = 1 << 36
FORMAT_VERSION = 1
_HEADER = struct.Struct("<16sIQQ32s")
KILL_ENV = "RIDGELINE_CHECKPOINT_KILL"
KILL_POINTS = ("after_temp_write", "before_rename", "after_rename")


class CheckpointError(ValueError):
    """A checkpoint file is missing pieces, corrupt, truncated, foreign or stale.

    The message names the path and the reason; the file is never used then.
    """


def _maybe_kill(point: str) -> None:
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _temporary_name(path: str) -> str:
    return f"{path}.tmp-{os.getpid()}"


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Delete temporary files a killed save left next to ``path`` (``<path>.tmp-<pid>``).

    Only regular files whose writing process no longer exists are removed
    (a save in progress in another live process is left alone).  Returns the
    removed paths.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = os.path.basename(path) + ".tmp-"
    pattern = re.compile(re.escape(prefix) + r"(\d+)")
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and _alive(pid):
            continue
        full = os.path.join(directory, name)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(full)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def write_checkpoint(path: str | os.PathLike[str], meta: dict[str, Any], body: bytes) -> None:
    """Atomically write a checkpoint (temp file, fsync, rename, fsync directory)."""
    path = os.fspath(path)
    meta_b = json.dumps(meta, sort_keys=True, allow_nan=True).encode()
    digest = hashlib.sha256(meta_b + body).digest()
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(meta_b), len(body), digest)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        msg = f"checkpoint {path!r} is not a regular file"
        raise CheckpointError(msg)
    tmp = _temporary_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(meta_b)
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        _maybe_kill("after_temp_write")
        _maybe_kill("before_rename")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _maybe_kill("after_rename")
    _fsync_dir(directory)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes]:
    """Read and verify a checkpoint; returns (meta, body) or raises CheckpointError."""
    path = os.fspath(path)
    # only regular files: a FIFO would block the open, a device never ends
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        msg = f"checkpoint {path!r} cannot be read: {err}"
        raise CheckpointError(msg) from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            msg = f"checkpoint {path!r} is not a regular file"
            raise CheckpointError(msg)
        if info.st_size > MAX_SIZE:
            msg = f"checkpoint {path!r} is too large ({info.st_size} bytes)"
            raise CheckpointError(msg)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(info.st_size + 1)
    except OSError as err:
        msg = f"checkpoint {path!r} cannot be read: {err}"
        raise CheckpointError(msg) from err
    finally:
        os.close(fd)
    if len(data) < _HEADER.size:
        msg = f"checkpoint {path!r} is truncated ({len(data)} bytes, header needs {_HEADER.size})"
        raise CheckpointError(msg)
    magic, version, meta_len, body_len, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        msg = f"checkpoint {path!r} is not a ridgeline nested-sampling checkpoint (bad magic)"
        raise CheckpointError(msg)
    if version != FORMAT_VERSION:
        msg = f"checkpoint {path!r} has format version {version}; this ridgeline reads version {FORMAT_VERSION}"
        raise CheckpointError(msg)
    end = _HEADER.size + meta_len + body_len
    if len(data) != end:
        msg = f"checkpoint {path!r} is truncated or has trailing bytes ({len(data)} bytes, expected {end})"
        raise CheckpointError(msg)
    payload = data[_HEADER.size :]
    if hashlib.sha256(payload).digest() != digest:
        msg = f"checkpoint {path!r} is corrupt (checksum mismatch)"
        raise CheckpointError(msg)
    try:
        meta = json.loads(payload[:meta_len].decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        msg = f"checkpoint {path!r} is corrupt (bad metadata)"
        raise CheckpointError(msg) from err
    if not isinstance(meta, dict):
        msg = f"checkpoint {path!r} is corrupt (the metadata is not a JSON object)"
        raise CheckpointError(msg)
    return meta, bytes(payload[meta_len:])


def compare_fingerprint(path: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise CheckpointError when a saved fingerprint does not match the current sampler."""
    for key in sorted(set(saved) | set(current)):
        if key == "check":
            continue
        a, b = saved.get(key), current.get(key)
        if a != b:
            msg = f"checkpoint {path!r} belongs to a different run: {key}={a!r} in the file, {b!r} now"
            raise CheckpointError(msg)


def same_value(a: float, b: float) -> bool:
    """Bitwise-equal floats (with -inf == -inf)."""
    if math.isnan(a) or math.isnan(b):
        return False
    return a == b
