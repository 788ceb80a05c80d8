"""Saving and loading results, and short reprs.

The file format (``.npz``, readable without ridgeline)
-----------------------------------------------------
A result is saved as a numpy ``.npz`` archive (a zip of ``.npy`` files, see
``numpy.lib.format``) that needs no pickle to read:

- one ``.npy`` member per array field, named after the field;
- a member ``__ridgeline__`` holding a 0-d unicode array with a JSON object::

      {"format": "ridgeline-result", "format_version": 1,
       "kind": "<engine>.<ResultClass>", "ridgeline_version": "...",
       "scalars": {<field>: <number, string, bool, null or list>}}

``np.load(path, allow_pickle=False)`` reads every member.  Floats keep their
exact value (JSON numbers with 17 significant digits; ``NaN`` and
``Infinity`` as in Python's ``json`` module).  Files are written to a
temporary name and renamed, so a crash never leaves a half-written file under
the final name.  :func:`ridgeline.load` reads any result; each result class
also has ``save(path)`` and ``ClassName.load(path)``.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["save_result", "read_result", "load", "short_repr", "FORMAT_VERSION"]

FORMAT = "ridgeline-result"
FORMAT_VERSION = 1
_META = "__ridgeline__"

# kind -> "module:Class"; each class implements ``_from_saved(arrays, scalars)``.
_KINDS: dict[str, str] = {}


def register(kind: str, target: str) -> None:
    """Register the class that :func:`load` builds for ``kind`` ("module:Class")."""
    _KINDS[kind] = target


def _json_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(name, v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(name, v) for k, v in value.items()}
    msg = f"cannot save field {name!r} of type {type(value).__name__}"
    raise TypeError(msg)


def save_result(path: str | os.PathLike[str], kind: str, arrays: Mapping[str, Any], scalars: Mapping[str, Any]) -> None:
    """Write one result (see the module docstring for the format)."""
    from ridgeline import __version__

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "ridgeline_version": __version__,
        "scalars": {k: _json_value(k, v) for k, v in scalars.items()},
    }
    members: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if key == _META:
            msg = f"array field name {key!r} is reserved"
            raise ValueError(msg)
        arr = np.asarray(value)
        if arr.dtype.kind == "O":
            msg = f"cannot save field {key!r}: object arrays need pickle"
            raise TypeError(msg)
        members[key] = arr
    members[_META] = np.array(json.dumps(meta))
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".ridgeline-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **members)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_result(path: str | os.PathLike[str], kind: str | None = None) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
    """Read a saved result: ``(kind, arrays, scalars)``; checks ``kind`` when given."""
    target = os.fspath(path)
    if not os.path.isfile(target):
        msg = f"path={target!r} is not a file"
        raise (FileNotFoundError if not os.path.exists(target) else ValueError)(msg)
    try:
        with np.load(target, allow_pickle=False) as data:
            files = list(getattr(data, "files", []))
            meta = json.loads(str(data[_META][()])) if _META in files else None
            arrays = {k: data[k] for k in files if k != _META}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
        msg = f"{target!r} is not a readable ridgeline result file: {err}"
        raise ValueError(msg) from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{target!r} is not a ridgeline result file"
        raise ValueError(msg)
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        msg = f"{target!r} has format version {meta['format_version']}; this ridgeline reads <= {FORMAT_VERSION}"
        raise ValueError(msg)
    found = str(meta.get("kind"))
    if kind is not None and found != kind:
        msg = f"{target!r} holds a {found}, not a {kind}"
        raise ValueError(msg)
    return found, arrays, dict(meta.get("scalars", {}))


def load(path: str | os.PathLike[str]) -> Any:
    """Load any saved ridgeline result (the class is read from the file).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by the ``save(path)`` method of a ridgeline result.

    Returns
    -------
    object
        The result, an instance of the class that saved it.

    Raises
    ------
    ValueError
        When the file is not a ridgeline result or holds an unknown kind.
    """
    kind, arrays, scalars = read_result(path)
    if kind not in _KINDS:
        engine = kind.split(".", 1)[0]
        if engine in ("nested", "cluster", "elbo", "spectra"):
            importlib.import_module(f"ridgeline.{engine}")  # registers its kinds
    if kind not in _KINDS:
        msg = f"{os.fspath(path)!r} holds an unknown result kind {kind!r}"
        raise ValueError(msg)
    module, name = _KINDS[kind].split(":")
    cls = getattr(importlib.import_module(module), name)
    return cls._from_saved(arrays, scalars)


def _fmt(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"<array {value.dtype} {value.shape}>" if value.ndim else _fmt(value[()])
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:37] + "...")
    if isinstance(value, Mapping):
        return f"<dict of {len(value)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def short_repr(name: str, **fields: Any) -> str:
    """``Name(field=value, ...)`` with arrays as ``<array dtype shape>``; under 300 characters."""
    text = f"{name}(" + ", ".join(f"{k}={_fmt(v)}" for k, v in fields.items()) + ")"
    if len(text) >= 300:
        text = text[:292] + ", ...)"
    return text
