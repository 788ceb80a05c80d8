"""A dynesty drop-in: dynesty's sampler signatures on ridgeline's compiled nested sampler.

A dynesty script keeps working after changing its import::

    from ridgeline.nested import dynesty           # instead of: import dynesty
    sampler = dynesty.NestedSampler(loglike, prior_transform, ndim, nlive=500,
                                    bound="multi", sample="rwalk", rstate=np.random.default_rng(0))
    sampler.run_nested(dlogz=0.1, print_progress=False)
    res = sampler.results
    res.logz[-1], res.logzerr[-1], res.importance_weights(), res.samples_equal()

What maps to what:

- ``bound``: 'none', 'single' and 'multi' are ridgeline's own bounds; 'balls' and
  'cubes' (dynesty's neighbourhood bounds) run as 'multi' (a union of ellipsoids
  serves the same purpose: it follows curved and multimodal contours).
- ``bound='none'`` with an MCMC ``sample`` (or 'auto') runs slice moves scaled by
  one ellipsoid ('single', 'slice'); with 'unif' it is rejection from the prior.
- ``sample``: 'auto' and 'unif' map to themselves; the MCMC moves 'rwalk',
  'slice', 'rslice' and 'hslice' run as ridgeline's whitened slice sampling
  ('slice').  A callable sampling function is refused.
- ``rstate`` (a ``numpy.random.Generator``) seeds the run; the same generator
  state gives the same run.
- ``logl_args``/``logl_kwargs``/``ptform_args``/``ptform_kwargs`` are bound to the
  functions; ``pool``/``queue_size`` run the likelihood through ``pool.map``
  (any object with ``map``, e.g. ``multiprocessing.Pool``) in batches.
- ``periodic`` (dimension indices or a boolean mask) goes to ridgeline's own
  ``periodic=``: the bound is fitted in a frame that cuts each periodic
  dimension at the largest gap between the live points, so a mode wrapping
  around the faces is one ellipsoid, and bound draws and slice moves wrap
  around the faces.  ``reflective`` is checked and recorded: ridgeline never
  evaluates outside the unit cube (draws outside cost no call, slice
  intervals are clipped to the cube), so reflecting would change nothing.
- ``blob=True``: the likelihood returns ``(logl, blob)``; ``results.blob`` has the
  blob of every point (kept in this process, also with a pool), as dynesty's.
- Likelihoods finite on a small part of the prior: prior points are drawn until
  ``nlive`` of them have a finite log-likelihood (at most ``max_initial_draws``,
  then a ValueError that suggests a narrower prior); the finite fraction ``f``
  and its negative-binomial uncertainty ``(1 - f) / nlive`` enter ``logz`` and
  ``logzerr`` (dynesty's ``test_edge`` case).

``results`` is a :class:`Results`: dynesty's cumulative arrays (``logz[-1]`` is the
final log evidence), item access (``res['logz']``), ``importance_weights()``,
``samples_equal()``, per-point ``ncall`` that sums to the calls made, thread
ids for :func:`resample_run`, and :func:`merge_runs`, :func:`jitter_run`,
:func:`runplot`, :func:`cornerplot`.  dynesty's own ``dynesty.utils``
(``resample_run``, ``jitter_run``, ``merge_runs``, ``mean_and_cov``) and
``dynesty.plotting`` accept it as it is; ``res.to_dynesty()`` gives a real
``dynesty.results.Results`` when dynesty is installed.  dynesty itself is not
needed to run.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ridgeline import _core
from ridgeline._progress import Progress, get_logger
from ridgeline._random import mix_seed
from ridgeline.nested import _dynamic
from ridgeline.nested._results import NestedResult
from ridgeline.nested._sampler import NestedSampler as _NestedSampler
from ridgeline.nested._sampler import check_dims

__all__ = [
    "DynamicNestedSampler",
    "NestedSampler",
    "Results",
    "cornerplot",
    "jitter_run",
    "mean_and_cov",
    "merge_runs",
    "resample_run",
    "simulate_run",
    "runplot",
]

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class SupportsMap(Protocol):
    """A pool: anything with ``map(function, iterable)`` (``multiprocessing.Pool``, an executor, ...)."""

    def map(self, func: Callable[[Any], Any], iterable: Any, /) -> Any:
        """Apply ``func`` to every item of ``iterable``."""


_BOUND_MAP = {"none": "none", "single": "single", "multi": "multi", "balls": "multi", "cubes": "multi"}
_SAMPLE_MAP = {"auto": "auto", "unif": "unif", "rwalk": "slice", "slice": "slice", "rslice": "slice", "hslice": "slice"}
_BLOCK = 50  # iterations per block of the run loop (per-block call counts)


def _register() -> None:
    from ridgeline._io import register

    register("nested.dynesty.Results", "ridgeline.nested.dynesty:Results")


# ---------------------------------------------------------------------------- helpers
def _rng_from_rstate(rstate: Any) -> np.random.Generator:
    if rstate is None:
        return np.random.default_rng()
    if isinstance(rstate, np.random.Generator):
        return rstate
    if isinstance(rstate, (int, np.integer)) and not isinstance(rstate, bool):
        return np.random.default_rng(int(rstate))
    msg = f"rstate={rstate!r} must be a numpy.random.Generator (np.random.default_rng(seed)) or None"
    raise TypeError(msg)


def _dims(value: Any, name: str, ndim: int) -> np.ndarray | None:
    """dynesty's ``periodic``/``reflective`` (indices or a boolean mask) as a sorted index array, or None."""
    return None if value is None else np.array(check_dims(value, name, ndim), dtype=int)


class _Bound:
    """A picklable ``f(x, *args, **kwargs)`` (for process pools)."""

    def __init__(self, fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> None:
        self.fn, self.args, self.kwargs = fn, tuple(args), dict(kwargs)

    def __call__(self, x: np.ndarray) -> Any:
        return self.fn(x, *self.args, **self.kwargs)


class _BlobStore:
    """The blobs of ``blob=True`` likelihoods (``loglike(x) -> (logl, blob)``), keyed by the point's bytes.

    A point whose log-likelihood is below ``floor`` (the worst live point at the end
    of an earlier block: no later dead or live point lies below it) is not kept.
    """

    def __init__(self) -> None:
        self.blobs: dict[bytes, Any] = {}
        self.floor = -math.inf

    def record(self, x: Any, value: Any) -> float:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            msg = f"loglikelihood returned {type(value).__name__}; with blob=True it must return (logl, blob)"
            raise ValueError(msg)
        logl = float(value[0])
        if logl >= self.floor and not math.isnan(logl):
            self.blobs[np.asarray(x, dtype=np.float64).tobytes()] = value[1]
        return logl

    def array(self, x: np.ndarray) -> np.ndarray:
        """The blobs of the rows of ``x``, as dynesty stores them (``numpy.array`` of the list when it can)."""
        found = [self.blobs.get(np.asarray(xi, dtype=np.float64).tobytes()) for xi in x]
        out = np.empty(len(found), dtype=object)
        for i, b in enumerate(found):
            out[i] = b
        if found and all(b is not None for b in found):
            try:
                dense = np.asarray(found)
            except ValueError:
                return out
            if dense.dtype != object and dense.shape[0] == len(found):
                return dense
        return out


class _BlobLoglike:
    """``loglike(x) -> (logl, blob)`` as a plain log-likelihood; the blob goes to the store."""

    def __init__(self, loglike: Callable[..., Any], store: _BlobStore) -> None:
        self.loglike, self.store = loglike, store

    def __call__(self, x: np.ndarray) -> float:
        return self.store.record(x, self.loglike(x))


class _PoolLoglike:
    """A vectorised log-likelihood that maps a batch over ``pool.map`` (blobs recorded in this process)."""

    def __init__(self, loglike: Callable[..., Any], ptform: Callable[..., Any], pool: Any,
                 store: _BlobStore | None = None) -> None:
        self.loglike, self.ptform, self.pool, self.store = loglike, ptform, pool, store

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows = list(x)
        out = self.pool.map(self.loglike, rows)
        if self.store is not None:
            return np.array([self.store.record(xi, r) for xi, r in zip(rows, out)], dtype=np.float64)
        return np.fromiter(out, dtype=np.float64, count=len(x))


class _PoolTransform:
    def __init__(self, ptform: Callable[..., Any]) -> None:
        self.ptform = ptform

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.array([np.asarray(self.ptform(ui), dtype=np.float64) for ui in u]).reshape(u.shape)


def _cumulative(logwt: np.ndarray, logl: np.ndarray, nlive: np.ndarray, logzerr: float) -> dict[str, np.ndarray]:
    """dynesty's running log Z, information and error arrays (the error scaled to end at ``logzerr``)."""
    logz_cum = np.logaddexp.accumulate(logwt)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = np.exp(logwt - logz_cum[-1])
        ll = np.where(np.isfinite(logl), logl, 0.0)
        h_cum = np.cumsum(p * ll) * np.exp(logz_cum[-1] - logz_cum) - logz_cum
    h_cum = np.where(np.isfinite(h_cum), np.maximum(h_cum, 0.0), 0.0)
    classic = np.sqrt(h_cum / np.maximum(nlive, 1))
    if classic[-1] > 0 and math.isfinite(logzerr):
        err = classic * (logzerr / classic[-1])
    else:
        err = np.full(classic.shape, logzerr)
    return {"logz": logz_cum, "logzerr": err, "information": h_cum}


def _threads(logl: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """Thread id of each point (points sorted by logl): a point continues the thread of
    the point that died at its birth contour, or starts a new thread."""
    n = logl.size
    ids = np.empty(n, dtype=np.int64)
    free: dict[float, list[int]] = {}
    nxt = 0
    for i in range(n):
        b = float(birth[i])
        slot = free.get(b)
        if slot:
            ids[i] = ids[slot.pop()]
        else:
            ids[i] = nxt
            nxt += 1
        free.setdefault(float(logl[i]), []).append(i)
    return ids


def _weigh(logl: np.ndarray, birth: np.ndarray, nsim: int, seed: int) -> dict[str, Any]:
    """Volumes, weights and evidence of any set of points given their birth contours.

    The number of live points at point i (sorted by logl) is the number of points
    born below its likelihood and not yet dead: ``#{j >= i} - #{j: birth_j >= L_i}``.
    """
    order = np.lexsort((birth, logl))
    ll, bb = logl[order], birth[order]
    total = ll.size
    births_sorted = np.sort(bb)
    n = (total - np.arange(total)) - (total - np.searchsorted(births_sorted, ll, side="left"))
    n = n.astype(np.int64)
    tail_ok = n == total - np.arange(total)
    bad = np.flatnonzero(~tail_ok)
    s = int(bad[-1]) + 1 if bad.size else 0
    if np.any(n[:s] < 1):
        msg = "the points do not form a nested-sampling run (a point with no live points)"
        raise ValueError(msg)
    nl = n[:s].astype(np.int32)
    logvol_end = float(-np.sum(1.0 / n[:s])) if s else 0.0
    w = _core.nested.deterministic_weights(ll, nl, total - s, logvol_end)
    logvol, logwt = w.logvol, w.logwt
    sims = _core.nested.simulate_logz(ll, nl, total - s, logvol_end, nsim, seed)
    return {"order": order, "logl": ll, "birth": bb, "n": n, "logvol": logvol, "logwt": logwt,
            "logzerr": float(np.std(sims, ddof=1)), "nfinal": total - s}


# ---------------------------------------------------------------------------- results
# the keys of dynesty's own Results (dynesty.results.Results accepts no others)
_DYNESTY_KEYS = frozenset((
    "nlive", "niter", "ncall", "eff", "samples", "samples_id", "samples_batch", "samples_it", "samples_n",
    "samples_u", "samples_v", "samples_bound", "logwt", "logl", "logvol", "logz", "logzerr", "information", "bound",
    "bound_iter", "scale", "blob", "proposal_stats", "batch_nlive", "batch_logl_bounds",
))


class Results:
    """dynesty-style results of a run (static or dynamic), read-only.

    Every array has one entry per point, in order of increasing likelihood
    (dead points, then the final live points).  ``logz``, ``logzerr`` and
    ``information`` are cumulative as in dynesty (use ``[-1]`` for the final
    value).  Keys: ``nlive`` (static runs), ``niter``, ``ncall`` (calls spent on
    each point; the sum is the total), ``eff``, ``samples``, ``samples_u``,
    ``samples_id`` (thread), ``samples_it``, ``samples_n`` (live points when the
    point died), ``logwt``, ``logl``, ``logl_birth``, ``logvol``, ``logz``,
    ``logzerr``, ``information``, ``blob``; dynamic runs add ``batch_nlive`` and
    ``batch_logl_bounds``.

    Parameters
    ----------
    items : dict or sequence of (str, value) pairs
        The keys and values (the arrays are not copied).
    """

    def __init__(self, items: dict[str, Any] | Sequence[tuple[str, Any]]) -> None:
        d = dict(items)
        object.__setattr__(self, "_d", d)

    def __getattr__(self, name: str) -> Any:
        d = object.__getattribute__(self, "_d")
        if name in d:
            return d[name]
        if name == "proposal_stats":  # dynesty's inner-sampler statistics: none recorded
            return None
        msg = f"'Results' object has no attribute {name!r}"
        raise AttributeError(msg)

    def __setattr__(self, name: str, value: Any) -> None:
        msg = "Results is read-only"
        raise AttributeError(msg)

    def __getitem__(self, name: str) -> Any:
        return self._d[name]

    def __contains__(self, name: object) -> bool:
        return name in self._d

    def keys(self) -> list[str]:
        """The keys dynesty's ``Results`` knows (the extras ``logl_birth`` and ``finite_fraction`` are attributes
        and in :meth:`asdict`), so that ``dynesty.utils`` functions that rebuild a ``Results`` accept this one."""
        return [k for k in self._d if k in _DYNESTY_KEYS]

    def items(self) -> list[tuple[str, Any]]:
        """(key, value) pairs of :meth:`keys`."""
        return [(k, self._d[k]) for k in self.keys()]

    def asdict(self) -> dict[str, Any]:
        """A dict copy of the results."""
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self._d.items()}

    def copy(self) -> Results:
        """A copy (arrays copied)."""
        return Results(self.asdict())

    def isdynamic(self) -> bool:
        """Whether the run had a varying number of live points (dynamic sampler or merged runs)."""
        return "nlive" not in self._d

    def importance_weights(self) -> np.ndarray:
        """Normalised importance weights ``exp(logwt - logz[-1])``."""
        w = np.exp(np.asarray(self.logwt) - float(self.logz[-1]))
        out: np.ndarray = w / w.sum()
        return out

    def samples_equal(self, rstate: np.random.Generator | int | None = None, ordering: object = None) -> np.ndarray:
        """Equally weighted posterior samples (systematic resampling, as many as points).

        Parameters
        ----------
        rstate : numpy Generator, optional
            Randomness of the resampling offset and of the shuffle.
        ordering : None
            Accepted for dynesty compatibility; must be None.
        """
        if ordering is not None:
            msg = "ordering= is not supported; pass None"
            raise ValueError(msg)
        gen = _rng_from_rstate(rstate)
        w = self.importance_weights()
        n = w.size
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
        idx = np.minimum(np.searchsorted(cdf, (gen.random() + np.arange(n)) / n, side="right"), n - 1)
        gen.shuffle(idx)
        out: np.ndarray = np.asarray(self.samples)[idx].copy()
        return out

    def summary(self) -> str:
        """dynesty's one-paragraph summary (also printed)."""
        text = (
            f"Summary\n=======\nniter: {self.niter}\nncall: {int(np.sum(self.ncall))}\n"
            f"eff(%): {self.eff:6.3f}\nlogz: {self.logz[-1]:6.3f} +/- {self.logzerr[-1]:6.3f}"
        )
        print(text)
        return text

    def to_dynesty(self) -> Any:
        """A real ``dynesty.results.Results`` with the same arrays (needs dynesty)."""
        try:
            from dynesty.results import Results as DyResults
        except ImportError as err:
            msg = "to_dynesty() needs dynesty; install it with `pip install dynesty`"
            raise ImportError(msg) from err
        keep = ("nlive", "niter", "ncall", "eff", "samples", "samples_id", "samples_it", "samples_u", "samples_n",
                "logwt", "logl", "logvol", "logz", "logzerr", "information", "blob", "batch_nlive", "batch_logl_bounds",
                "samples_batch")
        return DyResults([(k, self._d[k]) for k in keep if k in self._d])

    _KIND = "nested.dynesty.Results"

    @classmethod
    def from_nested(cls, result: NestedResult) -> Results:
        """dynesty-style results of a :class:`ridgeline.nested.NestedResult` (its per-point ``ncall``
        spreads the calls evenly, with the exact total)."""
        return _check_results(result)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save in ridgeline's ``.npz`` result format (``Results.load`` / ``ridgeline.load`` read it).

        Parameters
        ----------
        path : str or os.PathLike
            File to write.
        """
        from ridgeline._io import save_result

        arrays, scalars = {}, {}
        for k, v in self._d.items():
            if k == "blob":
                continue
            if isinstance(v, np.ndarray):
                arrays[k] = v
            elif k == "_finite":
                scalars[k] = [int(v[0]), int(v[1])]
            else:
                scalars[k] = v
        save_result(path, self._KIND, arrays, scalars)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Results:
        """Read a file written by :meth:`save`."""
        from ridgeline._io import read_result

        _, arrays, scalars = read_result(path, cls._KIND)
        return cls._from_saved(arrays, scalars)

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> Results:
        d: dict[str, Any] = {}
        d.update(scalars)
        d.update(arrays)
        if "_finite" in d:
            d["_finite"] = (int(d["_finite"][0]), int(d["_finite"][1]))
        d["blob"] = np.full(np.asarray(d["logl"]).size, None, dtype=object)
        return cls(d)

    def __repr__(self) -> str:
        from ridgeline._io import short_repr

        return short_repr("Results", logz=float(self.logz[-1]), logzerr=float(self.logzerr[-1]), niter=self.niter,
                          ncall=int(np.sum(self.ncall)), npoints=int(self.logl.size))


def _results_from_points(
    x: np.ndarray, u: np.ndarray, logl: np.ndarray, birth: np.ndarray, ncall: np.ndarray, *,
    finite: tuple[int, int] = (0, 0), nlive: int | None = None, nsim: int = 100, seed: int = 0,
    extra: dict[str, Any] | None = None, logzerr: float | None = None, weighed: dict[str, Any] | None = None,
) -> Results:
    """Build Results from points (any order) and their birth contours."""
    w = _weigh(logl, birth, nsim, seed) if weighed is None else weighed
    order = w["order"]
    k, ndraw = finite
    offset, var_f = 0.0, 0.0
    if ndraw > k > 0:
        f = k / ndraw
        offset, var_f = math.log(f), (1.0 - f) / k
    err = w["logzerr"] if logzerr is None else logzerr
    err = math.sqrt(err * err + var_f)
    logwt = w["logwt"] + offset
    logvol = w["logvol"] + offset
    ll = w["logl"]
    cum = _cumulative(logwt, ll, w["n"], err)
    npts = ll.size
    ncall = np.asarray(ncall, dtype=np.int64)[order]
    tid = _threads(ll, w["birth"])
    d: dict[str, Any] = {}
    if nlive is not None:
        d["nlive"] = int(nlive)
    d.update({
        "niter": int(npts - w["nfinal"]),
        "ncall": ncall,
        "eff": 100.0 * npts / max(int(ncall.sum()), 1),
        "samples": x[order],
        "samples_id": tid,
        "samples_it": np.arange(npts),
        "samples_u": u[order],
        "samples_n": w["n"],
        "logwt": logwt,
        "logl": ll,
        "logl_birth": w["birth"],
        "logvol": logvol,
        "logz": cum["logz"],
        "logzerr": cum["logzerr"],
        "information": cum["information"],
        "blob": np.full(npts, None, dtype=object),
        "finite_fraction": (k / ndraw) if ndraw > 0 else 1.0,
        "_finite": (k, ndraw),
    })
    if extra:
        d.update(extra)
    return Results(d)


_register()


# ---------------------------------------------------------------------------- samplers
class _Common:
    """Argument mapping shared by the static and dynamic drop-ins."""

    def _setup(
        self, loglikelihood: Any, prior_transform: Any, ndim: int, *, bound: str, sample: str, periodic: Any,
        reflective: Any, update_interval: Any, first_update: Any, rstate: Any, queue_size: Any, pool: Any,
        use_pool: Any, logl_args: Any, logl_kwargs: Any, ptform_args: Any, ptform_kwargs: Any, enlarge: Any,
        max_initial_draws: int, blob: bool, kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        if not callable(loglikelihood):
            msg = f"loglikelihood={loglikelihood!r} must be callable"
            raise TypeError(msg)
        if not callable(prior_transform):
            msg = f"prior_transform={prior_transform!r} must be callable"
            raise TypeError(msg)
        given: dict[str, object] = {"ndim": ndim, "bound": bound, "sample": sample,
                                    "max_initial_draws": max_initial_draws}  # checked as any object
        if isinstance(given["ndim"], bool) or not isinstance(given["ndim"], (int, np.integer)) or ndim < 1:
            msg = f"ndim={ndim!r} must be an int >= 1"
            raise ValueError(msg)
        if callable(sample):
            msg = "sample= as a custom function is not supported; use 'auto', 'unif', 'rwalk', 'slice', 'rslice' or 'hslice'"
            raise ValueError(msg)
        if not isinstance(given["bound"], str) or bound not in _BOUND_MAP:
            msg = f"bound={bound!r} is not supported; expected one of {', '.join(map(repr, _BOUND_MAP))}"
            raise ValueError(msg)
        if not isinstance(given["sample"], str) or sample not in _SAMPLE_MAP:
            msg = f"sample={sample!r} is not supported; expected one of {', '.join(map(repr, _SAMPLE_MAP))}"
            raise ValueError(msg)
        given["blob"] = blob
        if not isinstance(given["blob"], (bool, np.bool_)):
            msg = f"blob={blob!r} must be a bool"
            raise TypeError(msg)
        self._blobs = _BlobStore() if blob else None
        unsupported = {"gradient", "grad_args", "grad_kwargs", "compute_jac", "walks", "facc", "slices", "fmove",
                       "max_move", "bootstrap", "ncdim", "live_points", "update_func", "save_history", "history_filename"}
        for key in list(kwargs):
            if key in unsupported:
                if kwargs[key] is None or key in ("walks", "slices", "facc", "fmove", "max_move", "bootstrap"):
                    kwargs.pop(key)  # proposal tuning: ridgeline adapts its own
                    continue
                msg = f"{key}= is not supported by ridgeline.nested.dynesty"
                raise ValueError(msg)
        if kwargs:
            msg = f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}"
            raise TypeError(msg)
        ndim = int(ndim)
        self.ndim = ndim
        self.periodic = _dims(periodic, "periodic", ndim)
        self.reflective = _dims(reflective, "reflective", ndim)
        if self.periodic is not None and self.reflective is not None and np.intersect1d(self.periodic, self.reflective).size:
            msg = "a dimension cannot be both periodic and reflective"
            raise ValueError(msg)
        loglike = _Bound(loglikelihood, logl_args or (), logl_kwargs or {}) if (logl_args or logl_kwargs) else loglikelihood
        ptform = _Bound(prior_transform, ptform_args or (), ptform_kwargs or {}) if (ptform_args or ptform_kwargs) else prior_transform
        self._loglike_scalar, self._ptform_scalar = loglike, ptform
        self._gen = _rng_from_rstate(rstate)
        self._seed = int(self._gen.integers(0, 2**63 - 1))
        mid = given["max_initial_draws"]
        if isinstance(mid, bool) or not isinstance(mid, (int, np.integer)) or max_initial_draws < 1:
            msg = f"max_initial_draws={max_initial_draws!r} must be an int >= 1"
            raise ValueError(msg)
        self.max_initial_draws = int(max_initial_draws)
        opts: dict[str, Any] = {"bound": _BOUND_MAP[bound], "sample": _SAMPLE_MAP[sample]}
        if self.periodic is not None and self.periodic.size:
            opts["periodic"] = self.periodic.tolist()
        if self.reflective is not None and self.reflective.size:
            opts["reflective"] = self.reflective.tolist()
        if bound == "none" and opts["sample"] != "unif":
            # dynesty's MCMC moves without a bound step from a live point; ridgeline's slice moves take
            # their scale and directions from one ellipsoid around the live points
            opts["bound"] = "single"
            opts["sample"] = "slice"
        if update_interval is not None:
            # dynesty: a float is a fraction of nlive (set later), an int is iterations
            opts["_update_interval"] = update_interval
        if enlarge is not None:
            opts["enlarge"] = float(enlarge)
        self._pool = pool if (pool is not None and (use_pool is None or use_pool.get("loglikelihood", True))) else None
        self.first_update = first_update
        self.queue_size = queue_size
        return opts

    def _engine_args(self) -> tuple[Any, Any, bool]:
        if self._pool is not None:
            return (_PoolLoglike(self._loglike_scalar, self._ptform_scalar, self._pool, self._blobs),
                    _PoolTransform(self._ptform_scalar), True)
        if self._blobs is not None:
            return _BlobLoglike(self._loglike_scalar, self._blobs), self._ptform_scalar, False
        return self._loglike_scalar, self._ptform_scalar, False

    def _blob_array(self, x: np.ndarray) -> np.ndarray:
        if self._blobs is None:
            return np.full(len(x), None, dtype=object)
        return self._blobs.array(x)

    def _initial_points(self, nlive: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Prior draws until ``nlive`` have a finite log-likelihood; returns u, x, logl and the number of draws."""
        gen = np.random.default_rng(seed)
        us, xs, ls = [], [], []
        nfin = ndraw = 0
        while nfin < nlive:
            if ndraw >= self.max_initial_draws:
                msg = (
                    f"only {nfin} of {ndraw} prior draws have a finite log-likelihood (max_initial_draws="
                    f"{self.max_initial_draws}, nlive={nlive}); narrow the prior to the region where the "
                    "likelihood is finite, or raise max_initial_draws"
                )
                raise ValueError(msg)
            m = min(max(nlive, 2 * (nlive - nfin) * max(ndraw, 1) // max(nfin, 1)), self.max_initial_draws - ndraw, 100_000)
            u = gen.random((m, self.ndim))
            x = np.array([np.asarray(self._ptform_scalar(ui), dtype=np.float64) for ui in u]).reshape(m, -1)
            if self._pool is not None:
                logl = _PoolLoglike(self._loglike_scalar, self._ptform_scalar, self._pool, self._blobs)(x)
            elif self._blobs is not None:
                logl = np.array([self._blobs.record(xi, self._loglike_scalar(xi)) for xi in x])
            else:
                logl = np.array([float(self._loglike_scalar(xi)) for xi in x])
            if np.any(np.isnan(logl)):
                i = int(np.flatnonzero(np.isnan(logl))[0])
                msg = f"loglikelihood returned NaN at x={x[i].tolist()!r}"
                raise ValueError(msg)
            if np.any(logl == np.inf):
                msg = "loglikelihood returned +inf"
                raise ValueError(msg)
            ok = np.isfinite(logl)
            # keep the draws in order up to the nlive-th finite one (the draw count is then exact)
            cum = np.cumsum(ok)
            need = nlive - nfin
            stop = int(np.searchsorted(cum, need)) + 1 if cum[-1] >= need else m
            ok[stop:] = False
            us.append(u[ok])
            xs.append(x[ok])
            ls.append(logl[ok])
            nfin += int(ok.sum())
            ndraw += stop
        return np.concatenate(us), np.concatenate(xs), np.concatenate(ls), ndraw


class NestedSampler(_Common):
    """dynesty's ``NestedSampler`` on ridgeline's compiled static sampler.

    Parameters
    ----------
    loglikelihood, prior_transform : callable
        ``loglikelihood(x) -> float`` and ``prior_transform(u) -> x`` (scalar, as in dynesty).
    ndim : int
        Number of parameters.
    nlive : int, default=500
        Live points.
    bound : {'multi', 'single', 'none', 'balls', 'cubes'}, default='multi'
    sample : {'auto', 'unif', 'rwalk', 'slice', 'rslice', 'hslice'}, default='auto'
    periodic, reflective : sequence of int, optional
        Dimensions that are periodic (the bound and moves wrap around their faces) / reflective
        (checked, recorded); see the module notes.
    update_interval : int or float, optional
        Refit the bound every this many iterations (a float: this fraction of ``nlive``).
    first_update : dict, optional
        Accepted for compatibility (ridgeline bounds from the first iteration).
    rstate : numpy.random.Generator, optional
        Randomness of the run.
    queue_size : int, optional
        Accepted; with ``pool`` the batch size follows the sampler's needs.
    pool : object with ``map``, optional
        Evaluate the likelihood in batches through ``pool.map``.
    use_pool : dict, optional
        dynesty's switch; ``{'loglikelihood': False}`` keeps evaluation in-process.
    logl_args, logl_kwargs, ptform_args, ptform_kwargs
        Extra arguments bound to the functions.
    enlarge : float, optional
        Volume enlargement of the bounding ellipsoids (default ridgeline's).
    max_initial_draws : int, default=10_000_000
        Most prior draws made to find ``nlive`` points with a finite likelihood.
    blob : bool, default=False
        As in dynesty: ``loglikelihood(x)`` returns ``(logl, blob)`` and ``results.blob`` holds the blob of every
        point (a numeric array when the blobs stack, an object array otherwise).
    **kwargs
        dynesty's proposal tuning (``walks``, ``slices``, ``facc``, ``fmove``, ``max_move``, ``bootstrap``) is
        accepted and ignored (ridgeline adapts its own); its other options (``gradient``, ``live_points``,
        ``save_history``, ...) raise a ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.nested import dynesty
    >>> s = dynesty.NestedSampler(lambda x: -0.5 * np.sum(x**2), lambda u: 20 * u - 10, 2, nlive=100,
    ...                           rstate=np.random.default_rng(0))
    >>> s.run_nested(dlogz=0.5, print_progress=False)
    >>> res = s.results
    >>> bool(abs(res.logz[-1] - np.log(2 * np.pi / 400)) < 4 * res.logzerr[-1])
    True
    """

    def __init__(
        self,
        loglikelihood: Callable[..., Any],
        prior_transform: Callable[..., Any],
        ndim: int,
        nlive: int = 500,
        bound: str = "multi",
        sample: str = "auto",
        periodic: Sequence[int] | None = None,
        reflective: Sequence[int] | None = None,
        update_interval: int | float | None = None,
        first_update: dict[str, Any] | None = None,
        rstate: np.random.Generator | int | None = None,
        queue_size: int | None = None,
        pool: SupportsMap | None = None,
        use_pool: dict[str, bool] | None = None,
        logl_args: Sequence[Any] | None = None,
        logl_kwargs: dict[str, Any] | None = None,
        ptform_args: Sequence[Any] | None = None,
        ptform_kwargs: dict[str, Any] | None = None,
        enlarge: float | None = None,
        max_initial_draws: int = 10_000_000,
        blob: bool = False,
        **kwargs: Any,
    ) -> None:
        opts = self._setup(
            loglikelihood, prior_transform, ndim, bound=bound, sample=sample, periodic=periodic,
            reflective=reflective, update_interval=update_interval, first_update=first_update, rstate=rstate,
            queue_size=queue_size, pool=pool, use_pool=use_pool, logl_args=logl_args, logl_kwargs=logl_kwargs,
            ptform_args=ptform_args, ptform_kwargs=ptform_kwargs, enlarge=enlarge,
            max_initial_draws=max_initial_draws, blob=blob, kwargs=kwargs,
        )
        if isinstance(nlive, bool) or not isinstance(nlive, (int, np.integer)):
            msg = f"nlive={nlive!r} must be an int"
            raise TypeError(msg)
        self.nlive = int(nlive)
        ui = opts.pop("_update_interval", None)
        if isinstance(ui, float):
            ui = max(1, int(round(ui * self.nlive)))
        if ui is not None:
            opts["update_interval"] = ui
        self._engine_opts = opts
        self._new_engine()
        self._results: Results | None = None

    def _new_engine(self) -> None:
        loglike, ptform, vec = self._engine_args()
        self._sampler = _NestedSampler(loglike, ptform, self.ndim, nlive=self.nlive, rng=self._seed, vectorized=vec,
                                       **self._engine_opts)
        self._started = False
        self._set_live = False  # True when the live set came from prior draws made here
        self._finite = (0, 0)
        self._init_calls = 0
        self._block_calls: list[tuple[int, int]] = []  # (niter at the end of a block, calls in the block)

    # ---- state
    @property
    def ncall(self) -> int:
        """Likelihood calls so far."""
        return self._init_calls + int(self._sampler._core.state().ncall) if self._started else 0

    def _start(self) -> None:
        """Draw the initial live points: the engine's own start (its calls, -inf points die first), or,
        when every one of its nlive draws has log L = -inf, prior draws until nlive are finite."""
        core = self._sampler._core
        try:
            core.run(0.0, 0, -1, None, 0)  # initialise only
            self._block_calls.append((0, int(core.state().ncall)))
        except ValueError as err:
            if "initial points" not in str(err):
                raise
            u, x, logl, ndraw = self._initial_points(self.nlive, mix_seed(self._seed, 0x1A17))
            # the expected volume of the live set sizes the first bound
            core.set_live(u, x, logl, np.full(self.nlive, -math.inf), math.log(self.nlive / (ndraw + self.nlive)))
            self._finite = (self.nlive, ndraw + self.nlive)  # the engine's nlive draws were all -inf
            self._init_calls = ndraw + self.nlive
            self._set_live = True
        self._started = True

    def _sidecar(self, path: str) -> str:
        return path + ".dynesty.json"

    def _save(self, path: str) -> None:
        from ridgeline.nested._runloop import save_checkpoint

        if self._set_live:
            # the engine cannot restore a live set it did not draw itself (its call count is checked)
            get_logger("nested").info("no checkpoint written: the live set was drawn from the finite region")
            return

        save_checkpoint(self._sampler, path)
        tmp = self._sidecar(path) + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"finite": list(self._finite), "init_calls": self._init_calls,
                       "blocks": self._block_calls}, fh)
        os.replace(tmp, self._sidecar(path))

    def _load(self, path: str) -> None:
        from ridgeline.nested._runloop import load_checkpoint

        with open(self._sidecar(path)) as fh:
            side = json.load(fh)
        load_checkpoint(self._sampler, path)
        self._finite = (int(side["finite"][0]), int(side["finite"][1]))
        self._init_calls = int(side["init_calls"])
        self._block_calls = [(int(b[0]), int(b[1])) for b in side["blocks"]]
        self._started = True

    def run_nested(
        self,
        maxiter: int | None = None,
        maxcall: int | None = None,
        dlogz: float | None = None,
        logl_max: float = math.inf,
        n_effective: Any = None,
        add_live: bool = True,
        print_progress: bool = True,
        print_func: Any = None,
        save_bounds: Any = None,
        checkpoint_file: str | os.PathLike[str] | None = None,
        checkpoint_every: float = 60.0,
        resume: bool = False,
        stop_flag: Callable[[], bool] | None = None,
    ) -> None:
        """Run until the remaining evidence is below ``dlogz`` or a limit is hit; results in :attr:`results`.

        Parameters
        ----------
        maxiter, maxcall : int, optional
            Limits on iterations and likelihood calls (calls include the initial draws).
        dlogz : float, optional
            Remaining-evidence tolerance (default 0.01, dynesty's with ``add_live=True``).
        logl_max : float, default=inf
            Stop when the worst live point's log-likelihood exceeds this.
        add_live : bool, default=True
            Must be True: the final live points are always added.
        print_progress : bool, default=True
            A progress bar on stderr (when it is a terminal) and log records.
        checkpoint_file : path, optional
            Save the state there every ``checkpoint_every`` seconds and at the end.
        resume : bool, default=False
            Continue from ``checkpoint_file``.
        stop_flag : callable, optional
            Checked after each block of iterations; when it returns True the state is
            saved (with ``checkpoint_file``) and the run returns early.
        n_effective : None
            Must be None (use :class:`DynamicNestedSampler` for a target effective sample size).
        print_func : callable, optional
            Accepted for compatibility and not called (progress goes to the bar and the
            ``ridgeline.nested`` logger).
        save_bounds : bool, optional
            Accepted for compatibility (bounds are not stored).
        checkpoint_every : float, default=60
            Seconds between saves to ``checkpoint_file``.
        """
        if not add_live:
            msg = "add_live=False is not supported (the final live points are always added)"
            raise ValueError(msg)
        if n_effective is not None:
            msg = "n_effective= is not supported by the static sampler; use DynamicNestedSampler"
            raise ValueError(msg)
        dlogz = 0.01 if dlogz is None else float(dlogz)
        if not dlogz >= 0:
            msg = f"dlogz={dlogz} must be >= 0"
            raise ValueError(msg)
        mi = -1 if maxiter is None else int(maxiter)
        mc = -1 if maxcall is None else int(maxcall)
        path = None if checkpoint_file is None else os.fspath(checkpoint_file)
        if resume:
            if path is None:
                msg = "resume=True needs checkpoint_file="
                raise ValueError(msg)
            if os.path.exists(path) and not self._started:
                self._load(path)
        if not self._started:
            self._start()
        core = self._sampler._core
        last = time.monotonic()
        stop = "maxiter"
        with Progress("nested", "dynesty drop-in", None, progress=bool(print_progress)) as bar:
            while True:
                st_niter = int(core.niter())
                target = st_niter + _BLOCK
                if mi >= 0:
                    target = min(target, mi)
                if mi >= 0 and st_niter >= mi:
                    stop = "maxiter"
                    break
                remaining = -1 if mc < 0 else max(mc - self._init_calls, 0)
                stop = core.run(dlogz, target, remaining, None, 0)
                st = core.state()
                done_calls = sum(c for _, c in self._block_calls)
                self._block_calls.append((int(st.niter), int(st.ncall) - done_calls))
                live_worst = float(np.min(st.live_logl))
                if self._blobs is not None:
                    self._blobs.floor = max(self._blobs.floor, live_worst)
                if print_progress:
                    bar.update(None, iter=int(st.niter), ncall=int(st.ncall) + self._init_calls,
                               logz=float(st.logz), dlogz=float(core.delta_logz()))
                finished = stop != "maxiter" or (mi >= 0 and int(st.niter) >= mi) or live_worst > logl_max
                if path is not None and (finished or time.monotonic() - last >= checkpoint_every):
                    self._save(path)
                    last = time.monotonic()
                if finished:
                    break
                if stop_flag is not None and stop_flag():
                    if path is not None:
                        self._save(path)
                    stop = "interrupted"
                    break
        from ridgeline.nested._runloop import check_resolved

        check_resolved(core, str(stop))
        self.stop = stop
        self._results = self._make_results()

    def _make_results(self) -> Results:
        st = self._sampler._core.state()
        order = np.argsort(st.live_logl, kind="stable")
        nfin = order.size
        logl = np.concatenate([st.dead_logl, st.live_logl[order]])
        birth = np.concatenate([st.dead_birth, st.live_birth[order]])
        n_dead = st.dead_nlive.astype(np.int32)
        # volumes from the start of the run (the finite fraction is applied in _results_from_points)
        logvol_end = float(-np.sum(1.0 / n_dead)) if n_dead.size else 0.0
        w = _core.nested.deterministic_weights(logl, n_dead, nfin, logvol_end)
        logvol, logwt = w.logvol, w.logwt
        sims = _core.nested.simulate_logz(logl, n_dead, nfin, logvol_end, 100, mix_seed(self._seed, 0xE77))
        npts = logl.size
        niter = n_dead.size
        ncall = np.zeros(npts, dtype=np.int64)
        init_calls = self._init_calls
        # calls of each block spread over its iterations (exact sums per block)
        lo = 0
        for hi, c in self._block_calls:
            hi = min(hi, niter)
            k = hi - lo
            if k > 0:
                base, rem = divmod(max(c, 0), k)
                ncall[lo:hi] = base
                ncall[lo:lo + rem] += 1
            elif c > 0 and lo > 0:
                ncall[lo - 1] += c
            elif c > 0:
                init_calls += c  # the engine's initial draws
            lo = hi
        # the initial prior draws (finite or not) are shared by the points drawn from the prior
        roots = np.flatnonzero(np.isneginf(birth))
        if roots.size:
            base, rem = divmod(init_calls, roots.size)
            ncall[roots] += base
            ncall[roots[:rem]] += 1
        nl = np.concatenate([n_dead, np.arange(nfin, 0, -1)]).astype(np.int64)
        weighed = {
            "order": np.arange(npts), "logl": logl, "birth": birth, "n": nl, "logvol": logvol,
            "logwt": logwt, "logzerr": float(np.std(sims, ddof=1)), "nfinal": nfin,
        }
        x = np.concatenate([st.dead_x, st.live_x[order]])
        u = np.concatenate([st.dead_u, st.live_u[order]])
        return _results_from_points(x, u, logl, birth, ncall, finite=self._finite, nlive=self.nlive, weighed=weighed,
                                    extra={"blob": self._blob_array(x)})

    @property
    def results(self) -> Results:
        """The results of the last ``run_nested``."""
        if self._results is None:
            msg = "no results yet; call run_nested() first"
            raise RuntimeError(msg)
        return self._results

    def add_live_points(self) -> None:
        """No-op: the final live points are always part of the results."""

    def reset(self) -> None:
        """Start afresh (a new run with new randomness from ``rstate``)."""
        self._seed = int(self._gen.integers(0, 2**63 - 1))
        self._new_engine()
        self._results = None


class DynamicNestedSampler(_Common):
    """dynesty's ``DynamicNestedSampler`` on ridgeline's dynamic sampler.

    Construct as :class:`NestedSampler` (``nlive`` is the baseline's default),
    then ``run_nested(nlive_init=..., nlive_batch=..., dlogz_init=...,
    n_effective=..., maxbatch=..., maxcall=..., wt_kwargs={'pfrac': ..})``.
    Batches stop when the Kish effective sample size reaches ``n_effective``
    (default ``10 * nlive_init``).

    Parameters
    ----------
    loglikelihood, prior_transform, ndim, nlive, bound, sample, periodic, reflective, update_interval, first_update
        As for :class:`NestedSampler`.
    rstate, queue_size, pool, use_pool, logl_args, logl_kwargs, ptform_args, ptform_kwargs, enlarge
        As for :class:`NestedSampler`.
    max_initial_draws, blob, **kwargs
        As for :class:`NestedSampler`.
    """

    def __init__(
        self,
        loglikelihood: Callable[..., Any],
        prior_transform: Callable[..., Any],
        ndim: int,
        nlive: int = 500,
        bound: str = "multi",
        sample: str = "auto",
        periodic: Sequence[int] | None = None,
        reflective: Sequence[int] | None = None,
        update_interval: int | float | None = None,
        first_update: dict[str, Any] | None = None,
        rstate: np.random.Generator | int | None = None,
        queue_size: int | None = None,
        pool: SupportsMap | None = None,
        use_pool: dict[str, bool] | None = None,
        logl_args: Sequence[Any] | None = None,
        logl_kwargs: dict[str, Any] | None = None,
        ptform_args: Sequence[Any] | None = None,
        ptform_kwargs: dict[str, Any] | None = None,
        enlarge: float | None = None,
        max_initial_draws: int = 10_000_000,
        blob: bool = False,
        **kwargs: Any,
    ) -> None:
        self._opts = self._setup(
            loglikelihood, prior_transform, ndim, bound=bound, sample=sample, periodic=periodic,
            reflective=reflective, update_interval=update_interval, first_update=first_update, rstate=rstate,
            queue_size=queue_size, pool=pool, use_pool=use_pool, logl_args=logl_args, logl_kwargs=logl_kwargs,
            ptform_args=ptform_args, ptform_kwargs=ptform_kwargs, enlarge=enlarge,
            max_initial_draws=max_initial_draws, blob=blob, kwargs=kwargs,
        )
        self.nlive = int(nlive)
        self._dyn: Any = None
        self._base_stop: str | None = None
        self._finite = (0, 0)
        self._init_calls = 0
        self._results: Results | None = None

    def run_nested(
        self,
        nlive_init: int | None = None,
        maxiter_init: Any = None,
        maxcall_init: Any = None,
        dlogz_init: float = 0.01,
        logl_max_init: Any = None,
        n_effective_init: Any = None,
        nlive_batch: int | None = None,
        wt_function: Any = None,
        wt_kwargs: dict[str, Any] | None = None,
        maxiter_batch: Any = None,
        maxcall_batch: Any = None,
        maxiter: Any = None,
        maxcall: int | None = None,
        maxbatch: int | None = None,
        n_effective: float | None = None,
        stop_function: Any = None,
        stop_kwargs: Any = None,
        use_stop: bool = True,
        save_bounds: Any = None,
        print_progress: bool = True,
        print_func: Any = None,
        live_points: Any = None,
        resume: bool = False,
        checkpoint_file: Any = None,
        checkpoint_every: Any = None,
    ) -> None:
        """Baseline run, then batches until ``n_effective`` (see the class notes).

        Parameters
        ----------
        nlive_init : int, optional
            Live points of the baseline (default ``nlive``).
        dlogz_init : float, default=0.01
            Remaining-evidence tolerance of the baseline.
        nlive_batch : int, optional
            Live points of each batch (default ``nlive_init``).
        wt_kwargs : dict, optional
            ``{'pfrac': ..., 'maxfrac': ...}``: the posterior's share of the importance (default 0.8)
            and the fraction of the peak importance that bounds a batch (default 0.8).
        maxcall : int, optional
            Limit on likelihood calls in total (initial draws included).
        maxbatch : int, optional
            Largest number of batches.
        n_effective : float, optional
            Target Kish effective sample size (default ``10 * nlive_init``).
        print_progress : bool, default=True
            Progress bars on stderr (when it is a terminal) and log records.
        maxiter_init, logl_max_init, wt_function, maxiter, stop_function, live_points, checkpoint_file : None
            Must be None (not supported; a ValueError otherwise).
        resume : bool, default=False
            Must be False (not supported).
        maxcall_init, n_effective_init, maxiter_batch, maxcall_batch, stop_kwargs, use_stop : optional
            Accepted for compatibility and ignored.
        save_bounds, print_func, checkpoint_every : optional
            Accepted for compatibility and ignored.
        """
        for name, value in (("wt_function", wt_function), ("stop_function", stop_function),
                            ("live_points", live_points), ("checkpoint_file", checkpoint_file),
                            ("maxiter_init", maxiter_init), ("maxiter", maxiter), ("logl_max_init", logl_max_init)):
            if value is not None:
                msg = f"{name}= is not supported by ridgeline.nested.dynesty.DynamicNestedSampler"
                raise ValueError(msg)
        if resume:
            msg = "resume=True is not supported by the dynamic drop-in"
            raise ValueError(msg)
        wt = dict(wt_kwargs or {})
        pfrac = float(wt.pop("pfrac", 0.8))
        maxfrac = float(wt.pop("maxfrac", 0.8))
        if wt:
            msg = f"wt_kwargs keys {sorted(wt)} are not supported; expected 'pfrac', 'maxfrac'"
            raise ValueError(msg)
        if self._dyn is None:
            nl = self.nlive if nlive_init is None else int(nlive_init)
            opts = dict(self._opts)
            ui = opts.pop("_update_interval", None)
            if isinstance(ui, float):
                ui = max(1, int(round(ui * nl)))
            if ui is not None:
                opts["update_interval"] = ui
            loglike, ptform, vec = self._engine_args()
            self._dyn = _dynamic.DynamicNestedSampler(loglike, ptform, self.ndim, nlive=nl, nlive_batch=nlive_batch,
                                                      rng=self._seed, vectorized=vec, **opts)
            try:
                self._dyn._base._core.run(0.0, 0, -1, None, 0)  # the engine's own start
            except ValueError as err:
                if "initial points" not in str(err):
                    raise
                u, x, logl, ndraw = self._initial_points(nl, mix_seed(self._seed, 0x1A17))
                self._dyn._base._core.set_live(u, x, logl, np.full(nl, -math.inf), math.log(nl / (ndraw + nl)))
                self._finite = (nl, ndraw + nl)
                self._init_calls = ndraw + nl
        mc = None if maxcall is None else max(int(maxcall) - self._init_calls, 1)
        if not self._dyn._runs:
            # the baseline alone first: a run that ended on a likelihood plateau gets no batches
            # (every point above its last contour has the same likelihood)
            res = self._dyn.run(target_ess=n_effective, dlogz_init=dlogz_init, maxbatch=0, maxcall=mc,
                                pfrac=pfrac, maxfrac=maxfrac, progress=bool(print_progress))
            self._base_stop = self._dyn._base.results.stop
        if self._base_stop == "plateau":
            res = self._dyn._merged("plateau")
        else:
            res = self._run_batches(n_effective, dlogz_init, maxbatch, mc, pfrac, maxfrac, print_progress)
        self._finish(res)

    def _run_batches(self, n_effective: Any, dlogz_init: float, maxbatch: Any, mc: Any, pfrac: float,
                     maxfrac: float, print_progress: bool) -> NestedResult:
        try:
            res = self._dyn.run(target_ess=n_effective, dlogz_init=dlogz_init, maxbatch=maxbatch, maxcall=mc,
                                pfrac=pfrac, maxfrac=maxfrac, progress=bool(print_progress))
        except RuntimeError as err:
            # a batch cannot start on a likelihood plateau (no live point above the contour):
            # keep the runs made so far (baseline and finished batches)
            if "too few live points" not in str(err) or not self._dyn._runs:
                raise
            get_logger("nested").info("dynamic sampler: %s; keeping the %d runs made", err, len(self._dyn._runs))
            self._dyn._runs = self._dyn._runs[: len(self._dyn.batches) + 1]
            res = self._dyn._merged("plateau")
        out: NestedResult = res
        return out

    def _finish(self, res: NestedResult) -> None:
        self.stop = res.stop
        total = int(res.ncall) + self._init_calls
        npts = res.logl.size
        runs = self._dyn._runs
        rid = np.concatenate([np.full(r["logl"].size, k, dtype=np.int64) for k, r in enumerate(runs)])
        if rid.size == npts and len(runs) == len(self._dyn.batches) + 1:
            # each run's calls (baseline: the rest) spread over its own points; the sum is exact
            rid = rid[_dynamic.merge_runs(runs)["order"]]
            per_run = [int(b["ncall"]) for b in self._dyn.batches]
            per_run.insert(0, total - sum(per_run))
        else:
            rid = np.zeros(npts, dtype=np.int64)
            per_run = [total]
        ncall = np.zeros(npts, dtype=np.int64)
        for k, c in enumerate(per_run):
            idx = np.flatnonzero(rid == k)
            if idx.size:
                base, rem = divmod(max(c, 0), idx.size)
                ncall[idx] = base
                ncall[idx[:rem]] += 1
        if int(ncall.sum()) != total:  # a run without points kept (cannot happen): the calls go to the first point
            ncall[0] += total - int(ncall.sum())
        nl_all = np.concatenate([res.nlive_it, np.arange(res.nlive, 0, -1)]).astype(np.int64)
        weighed = {
            "order": np.arange(npts), "logl": res.logl, "birth": res.logl_birth, "n": nl_all,
            "logvol": res.logvol, "logwt": res.logwt, "logzerr": res.logzerr, "nfinal": res.nlive,
        }
        bnl = [self._dyn.nlive] + [b["nlive"] for b in self._dyn.batches]
        bb = [(-math.inf, math.inf)] + [(b["logl_low"], b["logl_high"]) for b in self._dyn.batches]
        self._results = _results_from_points(
            res.samples, res.samples_u, res.logl, res.logl_birth, ncall, finite=self._finite, weighed=weighed,
            extra={"batch_nlive": np.array(bnl), "batch_logl_bounds": np.array(bb), "samples_batch": rid,
                   "blob": self._blob_array(res.samples)},
        )

    @property
    def results(self) -> Results:
        """The results of the last ``run_nested``."""
        if self._results is None:
            msg = "no results yet; call run_nested() first"
            raise RuntimeError(msg)
        return self._results


# ---------------------------------------------------------------------------- utilities
def _check_results(res: Any, name: str = "results") -> Results:
    if isinstance(res, Results):
        return res
    if isinstance(res, NestedResult):
        n = res.logl.size
        per = np.full(n, res.ncall // max(n, 1), dtype=np.int64)
        per[: res.ncall % max(n, 1)] += 1
        nl = np.concatenate([res.nlive_it, np.arange(res.nlive, 0, -1)]).astype(np.int64)
        weighed = {"order": np.arange(n), "logl": res.logl, "birth": res.logl_birth, "n": nl, "logvol": res.logvol,
                   "logwt": res.logwt, "logzerr": res.logzerr, "nfinal": res.nlive}
        return _results_from_points(res.samples, res.samples_u, res.logl, res.logl_birth, per, weighed=weighed)
    msg = f"{name} must be a ridgeline.nested.dynesty.Results or a NestedResult, got {type(res).__name__}"
    raise TypeError(msg)


def resample_run(
    results: Results | NestedResult, rstate: np.random.Generator | int | None = None, return_idx: bool = False
) -> Results | tuple[Results, np.ndarray]:
    """Bootstrap a run over its threads (dynesty's ``resample_run``).

    The run is split into threads (chains of points each replacing the previous
    one), as many threads are drawn with replacement, and their points are
    re-weighted as one run with a varying number of live points.  The spread
    of ``logz[-1]`` over resampled runs estimates the sampling error.

    Parameters
    ----------
    results : Results or NestedResult
        A finished run.
    rstate : numpy.random.Generator or int, optional
        Randomness of the bootstrap (None: fresh entropy).
    return_idx : bool, default=False
        Also return the indices of the drawn points in ``results``.

    Returns
    -------
    Results, or (Results, ndarray of int) with ``return_idx=True``
    """
    out, idx = _resample(results, _rng_from_rstate(rstate))
    return (out, idx) if return_idx else out


def _resample(results: Results | NestedResult, gen: np.random.Generator) -> tuple[Results, np.ndarray]:
    res = _check_results(results)
    tid = res.samples_id
    uniq = np.unique(tid)
    pick = gen.choice(uniq, size=uniq.size, replace=True)
    members = {t: np.flatnonzero(tid == t) for t in uniq}
    idx = np.concatenate([members[t] for t in pick])
    out = _results_from_points(
        res.samples[idx], res.samples_u[idx], res.logl[idx], res.logl_birth[idx], res.ncall[idx],
        finite=res._finite, seed=int(gen.integers(0, 2**63 - 1)),
    )
    return out, idx


def jitter_run(
    results: Results | NestedResult, rstate: np.random.Generator | int | None = None, approx: bool = False
) -> Results:
    """Redraw the prior-volume shrinkage of a run (dynesty's ``jitter_run``): ``t_i ~ Beta(n_i, 1)``.

    Parameters
    ----------
    results : Results or NestedResult
        A finished run.
    rstate : numpy.random.Generator or int, optional
        Randomness of the redraw (None: fresh entropy).
    approx : bool, default=False
        Accepted for compatibility (the redraw is exact).

    Returns
    -------
    Results
    """
    res = _check_results(results)
    gen = _rng_from_rstate(rstate)
    n = res.samples_n.astype(np.float64)
    logt = np.log(gen.random(n.size)) / n
    logvol = np.cumsum(logt)
    if res._finite[1] > res._finite[0] > 0:
        logvol = logvol + math.log(res._finite[0] / res._finite[1])
    prev = np.concatenate([[logvol[0] - logt[0]], logvol[:-1]])
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        logdv = prev + np.log1p(-np.exp(logvol - prev))
        ll_prev = np.concatenate([[res.logl[0]], res.logl[:-1]])
        logwt = logdv + np.logaddexp(res.logl, ll_prev) - math.log(2.0)
    logwt = np.where(np.isfinite(res.logl), logwt, -np.inf)
    d = res.asdict()
    cum = _cumulative(logwt, res.logl, res.samples_n, float(res.logzerr[-1]))
    d.update({"logvol": logvol, "logwt": logwt, "logz": cum["logz"], "logzerr": cum["logzerr"],
              "information": cum["information"]})
    return Results(d)


def simulate_run(
    results: Results | NestedResult, rstate: np.random.Generator | int | None = None, return_idx: bool = False,
    approx: bool = False,
) -> Results | tuple[Results, np.ndarray]:
    """A bootstrap over threads followed by a redraw of the shrinkage (dynesty's ``simulate_run``).

    Parameters
    ----------
    results : Results or NestedResult
        A finished run.
    rstate : numpy.random.Generator or int, optional
        Randomness of the redraw (None: fresh entropy).
    return_idx : bool, default=False
        Also return the indices of the drawn points in ``results``.
    approx : bool, default=False
        Accepted for compatibility (the redraw is exact).

    Returns
    -------
    Results, or (Results, ndarray of int) with ``return_idx=True``
    """
    gen = _rng_from_rstate(rstate)
    new, idx = _resample(results, gen)
    new = jitter_run(new, rstate=gen)
    return (new, idx) if return_idx else new


def mean_and_cov(samples: ArrayLike, weights: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and (unbiased, reliability-weights) covariance.

    Parameters
    ----------
    samples : array-like of shape (n, ndim)
        Points.
    weights : array-like of shape (n,)
        Non-negative weights (normalised here).

    Returns
    -------
    mean : ndarray of shape (ndim,)
    cov : ndarray of shape (ndim, ndim)
    """
    x = np.asarray(samples, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = w @ x
    r = x - mean
    cov = (r * w[:, None]).T @ r / max(1.0 - float(np.sum(w * w)), 1e-300)
    return mean, cov


def merge_runs(res_list: Sequence[Results | NestedResult]) -> Results:
    """Merge independent runs (static or dynamic) into one run with more live points.

    Parameters
    ----------
    res_list : sequence of Results or NestedResult
        The runs, at least one.

    Returns
    -------
    Results
    """
    runs = [_check_results(r, "res_list[i]") for r in res_list]
    if not runs:
        msg = "res_list must hold at least one run"
        raise ValueError(msg)
    cat = {k: np.concatenate([getattr(r, k) for r in runs]) for k in ("samples", "samples_u", "logl", "logl_birth", "ncall")}
    k = sum(r._finite[0] for r in runs)
    nd = sum(r._finite[1] for r in runs)
    return _results_from_points(cat["samples"], cat["samples_u"], cat["logl"], cat["logl_birth"], cat["ncall"],
                                finite=(k, nd))


def runplot(results: Results | NestedResult, fig: Figure | None = None, **kwargs: Any) -> tuple[Figure, Any]:
    """Run plot (log L, importance weight, cumulative evidence against log X); returns (fig, axes).

    Parameters
    ----------
    results : Results or NestedResult
        A finished run.
    fig : matplotlib Figure, optional
        A figure with three axes to draw into; a new one by default.
    **kwargs
        dynesty's styling options, accepted for compatibility and ignored.

    Returns
    -------
    (matplotlib.figure.Figure, axes)
    """
    res = _check_results(results)
    from ridgeline.nested.plotting import _pyplot

    plt = _pyplot()
    if fig is None:
        fig, axes = plt.subplots(3, 1, figsize=(6, 7), sharex=True)
    else:
        axes = fig.axes
    logx = res.logvol
    finite = np.isfinite(res.logl)
    w = res.importance_weights()
    axes[0].plot(logx[finite], res.logl[finite], lw=1)
    axes[0].set_ylabel("log L")
    axes[1].plot(logx, w / max(w.max(), 1e-300), lw=1)
    axes[1].set_ylabel("importance weight")
    axes[2].plot(logx, np.exp(res.logz - res.logz[-1]), lw=1)
    axes[2].set_ylabel("evidence (fraction)")
    axes[2].set_xlabel("log X")
    axes[0].set_title(f"log Z = {res.logz[-1]:.3f} +/- {res.logzerr[-1]:.3f}")
    return fig, axes


def cornerplot(
    results: Results | NestedResult, dims: Sequence[int] | None = None, labels: Sequence[str] | None = None,
    **kwargs: Any,
) -> tuple[Figure, np.ndarray]:
    """Weighted corner plot of the posterior; returns (fig, axes).

    Parameters
    ----------
    results : Results or NestedResult
        A finished run.
    dims : sequence of int, optional
        Parameters to show (default: all).
    labels : sequence of str, optional
        Axis labels, one per shown parameter.
    **kwargs
        Passed to :func:`ridgeline.nested.plotting.cornerplot` (``bins``).

    Returns
    -------
    (matplotlib.figure.Figure, ndarray of axes)
    """
    res = _check_results(results)
    from ridgeline.nested.plotting import cornerplot as _corner

    class _View:
        samples = res.samples
        weights = res.importance_weights()

    fig = _corner(_View(), dims, labels=labels, **kwargs)
    return fig, np.asarray(fig.axes)
