"""Argument checks shared by every engine: one vocabulary of errors.

Every public function validates its arguments here before any work starts, so
a bad value gives a ``TypeError`` (wrong kind) or ``ValueError`` (right kind,
wrong value) whose message starts with ``name=value`` and says what is
expected.  Nothing here imports anything beyond numpy.

Deprecated spellings of an argument go through :func:`renamed`, which maps
the old keyword to the new one with a ``DeprecationWarning`` naming both.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

from ridgeline._random import seed_from

__all__ = [
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_array",
    "check_rng",
    "check_n_threads",
    "check_callable",
    "renamed",
    "pop_renamed",
]

T = TypeVar("T")
_INT_MAX = 2**63 - 1


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(value: object, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]`` (bools and floats are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        msg = f"{name}={_short(value)} must be an integer"
        raise TypeError(msg)
    v = int(value)
    if low is not None and v < low:
        msg = f"{name}={v} must be >= {low}"
        raise ValueError(msg)
    hi = _INT_MAX if high is None else high
    if v > hi:
        msg = f"{name}={v} must be <= {hi}"
        raise ValueError(msg)
    return v


def check_float(
    value: object,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_inf: bool = False,
) -> float:
    """``value`` as a finite float in the given interval (NaN always refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        msg = f"{name}={_short(value)} must be a real number"
        raise TypeError(msg)
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        msg = f"{name}={v} must be finite"
        raise ValueError(msg)
    if low is not None and (v < low or (v == low and not low_inclusive)):
        msg = f"{name}={v} must be {'>=' if low_inclusive else '>'} {low}"
        raise ValueError(msg)
    if high is not None and (v > high or (v == high and not high_inclusive)):
        msg = f"{name}={v} must be {'<=' if high_inclusive else '<'} {high}"
        raise ValueError(msg)
    return v


def check_bool(value: object, name: str) -> bool:
    """``value`` as a bool (Python or numpy bool only)."""
    if not isinstance(value, (bool, np.bool_)):
        msg = f"{name}={_short(value)} must be True or False"
        raise TypeError(msg)
    return bool(value)


def check_choice(value: object, name: str, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices`` (compared with ``==``), else a ValueError listing them."""
    options = list(choices)
    for c in options:
        if type(value) is type(c) and value == c:
            return c
    listed = ", ".join(repr(c) for c in options)
    if options and all(isinstance(c, str) for c in options) and not isinstance(value, str):
        msg = f"{name}={_short(value)} must be a string, one of {listed}"
        raise TypeError(msg)
    msg = f"{name}={_short(value)} must be one of {listed}"
    raise ValueError(msg)


def check_array(
    value: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: Any = np.float64,
    finite: bool = True,
    min_size: int = 1,
    copy: bool = False,
) -> np.ndarray:
    """A C-contiguous array of ``dtype`` with the given dimensions; refuses strings,
    objects and complex numbers (for real dtypes), NaN/inf (``finite=True``) and
    arrays with fewer than ``min_size`` elements."""
    if isinstance(value, (str, bytes)):
        msg = f"{name} must be an array of numbers, got a {type(value).__name__}"
        raise TypeError(msg)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested sequences
        msg = f"{name} must be a rectangular array of numbers: {err}"
        raise ValueError(msg) from err
    if arr.dtype.kind in "OUSVMm":
        msg = f"{name} must be an array of numbers, got dtype {arr.dtype}"
        raise TypeError(msg)
    target = np.dtype(dtype)
    if arr.dtype.kind == "c" and target.kind != "c":
        msg = f"{name} must be real, got complex dtype {arr.dtype}"
        raise TypeError(msg)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            msg = f"{name} must be {want}-dimensional, got shape {arr.shape}"
            raise ValueError(msg)
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            msg = f"{name} must have shape {want}, got {arr.shape}"
            raise ValueError(msg)
    if arr.size < min_size:
        msg = f"{name} must have at least {min_size} element{'s' if min_size != 1 else ''}, got shape {arr.shape}"
        raise ValueError(msg)
    out = np.array(arr, dtype=target, order="C", copy=True) if copy else np.ascontiguousarray(arr, dtype=target)
    if finite and out.dtype.kind in "fc" and not np.all(np.isfinite(out)):
        msg = f"{name} contains NaN or infinite values"
        raise ValueError(msg)
    return out


def check_rng(rng: object, name: str = "rng") -> int:
    """A 64-bit seed for the C++ kernels from ``int >= 0 | numpy Generator | SeedSequence | None``."""
    try:
        return seed_from(rng)
    except (TypeError, ValueError) as err:
        text = str(err).replace("rng=", f"{name}=", 1)
        raise type(err)(text) from None


def check_n_threads(value: object, name: str = "n_threads") -> int:
    """``n_threads``: a positive int, or ``None`` / ``-1`` for all cores (returned as 0)."""
    if value is None:
        return 0
    v = check_int(value, name, low=-1, high=4096)
    if v == 0:
        msg = f"{name}=0 must be >= 1, or -1 / None for all cores"
        raise ValueError(msg)
    return 0 if v == -1 else v


def check_callable(value: object, name: str) -> Callable[..., Any]:
    """``value`` if it is callable."""
    if not callable(value):
        msg = f"{name}={_short(value)} must be callable"
        raise TypeError(msg)
    return value


def renamed(old: str, new: str, value: object, where: str) -> object:
    """Warn that ``old`` is deprecated in favour of ``new`` and return ``value`` unchanged."""
    warnings.warn(
        f"{where}: the argument {old!r} is deprecated and will be removed in ridgeline 0.3; use {new!r}",
        DeprecationWarning,
        stacklevel=3,
    )
    return value


def pop_renamed(kwargs: dict[str, Any], aliases: Mapping[str, str], where: str, current: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve deprecated keyword spellings.

    ``aliases`` maps old name -> new name; ``current`` holds the values the new
    names were given (``None`` when not given).  Returns ``{new: value}`` for
    every old spelling found in ``kwargs`` (which must then be empty), raising
    ``TypeError`` for unknown keywords or for both spellings given at once.
    """
    out: dict[str, Any] = {}
    for old, new in aliases.items():
        if old in kwargs:
            if current.get(new) is not None:
                msg = f"{where}: got both {old!r} (deprecated) and {new!r}; pass only {new!r}"
                raise TypeError(msg)
            out[new] = renamed(old, new, kwargs.pop(old), where)
    if kwargs:
        msg = f"{where}() got an unexpected keyword argument {next(iter(kwargs))!r}"
        raise TypeError(msg)
    return out
