"""NestedSampler: the public driver of the compiled nested-sampling core."""

from __future__ import annotations

import concurrent.futures as _cf
import ctypes
import math
import os
from typing import TYPE_CHECKING, Any, Callable, Literal, cast

import numpy as np

from ridgeline import _core
from ridgeline._random import mix_seed
from ridgeline._validation import check_bool, check_choice, check_float, check_int, check_n_threads, check_rng, pop_renamed
from ridgeline.nested._results import NestedResult, _logsumexp
from ridgeline.nested.problems import BoxTransform, BuiltinLoglike

if TYPE_CHECKING:
    from ridgeline.nested._surrogate import SurrogateOptions

__all__ = ["CLikelihood", "NestedSampler", "sample"]

_BOUNDS = ("none", "single", "multi")
_SAMPLES = ("auto", "unif", "slice")


class CLikelihood:
    """A compiled log-likelihood ``double f(const double* x, int64_t ndim, void* data)``.

    The sampler calls it from C++ without the GIL and without any Python per call.

    Parameters
    ----------
    address : int, ctypes function pointer or object with an ``address`` attribute
        The function's address, e.g. ``numba.cfunc(sig)(f).address`` or a ctypes
        ``CFUNCTYPE`` object / function from a shared library.
    data : None, int, ctypes pointer/object or ndarray, optional
        Passed as the ``void* data`` argument.  An array is kept alive by this
        object and its buffer address is passed.

    Notes
    -----
    An exception raised inside a ctypes callback or a numba ``cfunc`` stops the
    run and is raised (ctypes and numba themselves only print it and return 0);
    after a numba exception the sampler refuses to continue (make a new one).

    Examples
    --------
    >>> import ctypes
    >>> proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64, ctypes.c_void_p)
    >>> f = proto(lambda x, n, data: -0.5 * sum(x[i] ** 2 for i in range(n)))
    >>> CLikelihood(f).address > 0
    True
    """

    def __init__(self, address: object, data: object = None) -> None:
        self._keep: list[Any] = []
        self._errors: list[BaseException] = []
        self._watch_unraisable = False
        self.address = self._to_address(address, "address")
        if self.address == 0:
            msg = "address=0 is not a valid function pointer"
            raise ValueError(msg)
        self.data = 0 if data is None else self._to_address(data, "data")

    def _to_address(self, obj: Any, name: str) -> int:
        if isinstance(obj, bool):
            msg = f"{name}={obj!r} must be an address (int), a ctypes object or have an 'address' attribute"
            raise TypeError(msg)
        if isinstance(obj, (int, np.integer)):
            if obj < 0:
                msg = f"{name}={obj} must be >= 0"
                raise ValueError(msg)
            if obj >= 2**64:
                msg = f"{name}={obj} must be < 2**64 (an address)"
                raise ValueError(msg)
            return int(obj)
        if isinstance(obj, np.ndarray):
            self._keep.append(obj)
            return int(obj.ctypes.data)
        if isinstance(obj, ctypes._CFuncPtr):  # type: ignore[attr-defined]
            obj = self._guard_python_callback(obj)
            self._keep.append(obj)
            return int(ctypes.cast(obj, ctypes.c_void_p).value or 0)
        if isinstance(obj, (ctypes._Pointer, ctypes.c_void_p)):
            self._keep.append(obj)
            return int(ctypes.cast(obj, ctypes.c_void_p).value or 0)
        if isinstance(obj, ctypes._SimpleCData) or hasattr(obj, "_b_base_"):  # other ctypes objects
            self._keep.append(obj)
            return int(ctypes.addressof(obj))
        addr = getattr(obj, "address", None)
        if isinstance(addr, (int, np.integer)) and not isinstance(addr, bool):
            self._keep.append(obj)
            # a numba cfunc prints an exception of its body ("Exception ignored") and returns 0: the run
            # watches for those reports (_GuardedCore) and stops on the first
            self._watch_unraisable = self._watch_unraisable or type(obj).__module__.startswith("numba")
            return int(addr)
        msg = f"{name}={obj!r} must be an address (int), a ctypes object or have an 'address' attribute"
        raise TypeError(msg)

    def _guard_python_callback(self, fn: Any) -> Any:
        """A ctypes callback around a Python function, re-made so that an exception stops the run.

        ctypes prints an exception raised in a callback and returns 0 to C, so a
        raising likelihood would silently give a result.  The Python function is
        called through a new callback of the same prototype that records the
        exception and returns NaN, which the sampler refuses at once; the run
        then re-raises the recorded exception (:meth:`_reraise`).  Functions from
        compiled code (shared libraries, numba) are used as they are.
        """
        import gc

        thunk = (getattr(fn, "_objects", None) or {}).get("0")
        if thunk is None or type(thunk).__name__ != "CThunkObject":
            return fn
        py_callable = next((r for r in gc.get_referents(thunk) if callable(r) and not isinstance(r, type)), None)
        if py_callable is None or type(fn)._restype_ not in (ctypes.c_double, ctypes.c_float):
            return fn
        errors = self._errors

        def guarded(*args: Any) -> float:
            try:
                return float(py_callable(*args))
            except BaseException as err:  # noqa: BLE001 - re-raised by the run (_reraise)
                errors.append(err)
                return math.nan

        return type(fn)(guarded)

    def _reraise(self, err: BaseException) -> None:
        """Raise the first exception a guarded callback recorded (the run stopped on its NaN)."""
        if self._errors:
            first = self._errors[0]
            self._errors.clear()
            raise first from err

    def __repr__(self) -> str:
        return f"CLikelihood(address={self.address:#x}, data={self.data:#x})"


class _GuardedCore:
    """The compiled sampler of a CLikelihood: an exception its Python callback raised is re-raised.

    The guarded callback returns NaN after recording the exception; the core
    refuses the NaN (ValueError) before changing any state, and this wrapper
    raises the recorded exception instead, chained to that ValueError.

    A numba ``cfunc`` cannot return NaN instead: numba reports an exception of
    its body through ``sys.unraisablehook`` and returns 0.  While a method of the
    core runs, a hook records such reports and asks the core to stop at its
    next poll (every few milliseconds, as for Ctrl-C); the recorded exception
    is raised.  Values the function returned between the exception and the
    stop may be in the state, so the sampler refuses to continue afterwards
    (a new sampler starts clean).
    """

    def __init__(self, core: Any, loglike: CLikelihood) -> None:
        self._wrapped = core
        self._loglike = loglike
        self._broken: str | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._wrapped, name)
        if not callable(attr):
            return attr
        loglike = self._loglike

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._broken is not None:
                raise RuntimeError(self._broken)
            if not loglike._watch_unraisable:
                try:
                    return attr(*args, **kwargs)
                except ValueError as err:
                    loglike._reraise(err)
                    raise
            return self._watched(attr, args, kwargs)

        return call

    def _watched(self, attr: Any, args: Any, kwargs: Any) -> Any:
        import sys

        loglike = self._loglike
        previous = sys.unraisablehook
        reported: list[BaseException] = []

        def hook(unraisable: Any) -> None:
            exc = unraisable.exc_value
            # numba's reports name its CPU context (other unraisable errors are not the likelihood's)
            if exc is not None and "numba" in repr(unraisable.object):
                if not reported:
                    _core._request_stop()
                reported.append(exc)
            previous(unraisable)  # numba's report stays visible

        _core._request_stop(False)
        sys.unraisablehook = hook
        try:
            out = attr(*args, **kwargs)
        except (ValueError, KeyboardInterrupt) as err:
            if reported:
                self._break()
                raise reported[0] from err
            if isinstance(err, ValueError):
                loglike._reraise(err)
            raise
        finally:
            sys.unraisablehook = previous
            _core._request_stop(False)
        if reported:  # reported in the last calls, after the core's final poll
            self._break()
            raise reported[0]
        return out

    def _break(self) -> None:
        self._broken = (
            "the compiled likelihood raised an exception during this sampler's run (numba reported it and returned 0), "
            "so its state may hold values from failed calls; create a new sampler"
        )


def _describe(fn: Any) -> str:
    """A process-independent description of a likelihood or transform (checkpoint fingerprint)."""
    if fn is None:
        return "identity"
    if isinstance(fn, (BuiltinLoglike, BoxTransform)):
        return repr(fn)
    if isinstance(fn, CLikelihood):
        return "CLikelihood"
    mod = getattr(fn, "__module__", None) or type(fn).__module__
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{mod}.{name}"


# Largest sizes accepted (they bound the memory of the live and dead points).
_MAX_NDIM = 100_000
_MAX_NLIVE = 10_000_000
# Candidate batch sizes (smallest, largest) for compiled likelihoods: speculative
# batches that the n_threads threads share (never a function of n_threads).
_COMPILED_BATCH = (16, 4096)
# Largest volume enlargement of the bounding ellipsoids (dynesty's default is 1.25;
# beyond this the bound no longer bounds anything and rejection sampling stalls).
_MAX_ENLARGE = 1000.0


def check_dims(value: Any, name: str, ndim: int) -> list[int]:
    """Dimension indices from a sequence of ints or a boolean mask of length ndim (sorted, unique)."""
    if value is None:
        return []
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1:
        msg = f"{name} must be a 1-d sequence of dimension indices or a boolean mask"
        raise ValueError(msg)
    if arr.dtype == bool:
        if arr.size != ndim:
            msg = f"{name} is a boolean mask of length {arr.size}, expected ndim={ndim}"
            raise ValueError(msg)
        arr = np.flatnonzero(arr)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        msg = f"{name}={value!r} must be a sequence of dimension indices (ints) or a boolean mask"
        raise TypeError(msg)
    arr = arr.astype(np.int64)
    if np.any((arr < 0) | (arr >= ndim)):
        msg = f"{name}={value!r} has an index outside [0, {ndim - 1}]"
        raise ValueError(msg)
    return [int(i) for i in np.unique(arr)]



class NestedSampler:
    """Static nested sampler with multi-ellipsoid bounded rejection sampling.

    Parameters
    ----------
    loglike : callable or CLikelihood
        Log-likelihood.  A scalar callable ``loglike(x) -> float`` with x of shape
        (ndim,); with ``vectorized=True`` a callable taking (m, ndim) and returning
        (m,); a :class:`CLikelihood` (compiled, no GIL); or a built-in problem's
        ``loglike`` (:mod:`ridgeline.nested.problems`, run as C++).  ``-inf`` is a
        legal value; NaN is an error.
    prior_transform : callable or None
        Maps a point u of the unit cube to parameter space, ``(ndim,) -> (ndim,)``
        (batches ``(m, ndim) -> (m, ndim)`` with ``vectorized=True``).  None means
        the identity.  A built-in problem's transform runs as C++.
    ndim : int
        Number of parameters.
    nlive : int, default=500
        Number of live points.
    bound : {'multi', 'single', 'none'}, default='multi'
        Bounding region for new points: a union of ellipsoids, one ellipsoid, or
        the whole unit cube.
    sample : {'auto', 'unif', 'slice'}, default='auto'
        How new points are drawn inside the bound: 'unif' is uniform rejection
        sampling; 'slice' is slice sampling along random directions in the
        coordinates whitened by the bounding ellipsoid (PolyChord style, the
        initial interval of each step is the chord of the enlarged bound, so no
        calls go to stepping out); 'auto' uses slice sampling from the start when
        ``ndim >= slice_dim`` and otherwise switches from rejection to slice
        sampling once rejection needs more calls per replacement than slice
        sampling (measured at every refit of the bound).
    vectorized : bool, default=False
        Whether ``loglike`` (and a Python ``prior_transform``) take batches.
    rng : int, numpy Generator or None
        Seed of the run; the same seed gives the same run.
    enlarge : float, default=1.25
        Volume enlargement of each bounding ellipsoid.
    update_interval : int, optional
        Refit the bound every this many iterations (default ``round(0.15 * nlive)``, at least 1).  A refit
        costs O(nlive ndim^2); more frequent refits save a few likelihood calls (about 1% at ``nlive // 10``
        on gaussian(10) and correlated(10)) at up to 1.5x the sampler's own CPU.
    nsim : int, default=100
        Number of simulated volume-shrinkage sequences behind ``logzerr``.
    slice_steps : int, optional
        Slice-sampling steps per replacement (default adaptive: it starts at
        ``max(4, ceil(ndim / 2))`` when ``nlive >= 15 * ndim`` and at ``max(4, ndim)``
        otherwise, and doubles while the new point's log-likelihood rank stays
        measurably correlated with its starting live point's).
    chord_scale : float, default=1.5
        Radius enlargement of the bounding ellipsoids that give the initial
        interval of a slice step.
    slice_dim : int, default=21
        With ``sample='auto'``: the dimension from which slice sampling is used
        from the start.
    slice_start : {'auto', 'live'}, default='auto'
        Where a slice-sampling chain starts.  'live': a copy of a random live
        point, then ``slice_steps`` steps.  'auto': first a few uniform draws
        from the bound (as in rejection sampling, no call for draws outside the
        unit cube); the first one above the threshold starts a chain of only 2
        steps (which reach what the bound misses), otherwise the chain starts
        from a live-point copy.  The number of draws follows their measured
        acceptance: they are made while a draw saves more calls than it costs.
    executor : concurrent.futures.Executor, optional
        Evaluate batches of candidates of a Python ``loglike`` on this executor
        (a process pool, ``mpi4py.futures``, a Dask client's executor).
    executor_chunks : int or None, default=None
        Tasks per batch sent to the executor.  None: one per worker of the
        executor (``max_workers`` of a process, thread or ``mpi4py.futures``
        pool, the worker threads of a Dask client), or 8 when that cannot be
        read.  A ``loglike`` that accepts ``seed=`` gets one seed per task,
        so for it None means a fixed 8, never read from the executor: the
        result for a seed is then the same on every executor.
    n_threads : int or None, default=1
        Threads evaluating a compiled likelihood (built-in or
        :class:`CLikelihood`) on a batch; -1 or None for all cores.  The result
        does not depend on it.  (``nthreads`` is the deprecated spelling.)
    periodic : sequence of int or boolean mask, optional
        Dimensions (indices into the unit cube) that are periodic, such as
        angles: the faces 0 and 1 are the same point.  The bound is fitted in a
        frame where each periodic dimension is cut at the largest gap between
        the live points (not at 0), so a mode that wraps around the faces is
        one cluster with one ellipsoid, and draws and slice moves wrap around
        the faces.  The prior transform still receives coordinates in [0, 1).
    reflective : sequence of int or boolean mask, optional
        Dimensions whose faces are walls (dynesty's option of that name).
        Checked and recorded: ridgeline never evaluates a point outside the
        unit cube (bound draws outside it cost no call and slice intervals are
        clipped to it), so reflecting a proposal at a face would change no
        distribution and save no call.  A dimension cannot be both.
    surrogate : {None, 'mlp', 'ga'}, dict or SurrogateOptions, optional
        Replace most true likelihood calls by small neural networks (one per
        cluster of the live points) trained on the true evaluations during the
        run (for expensive likelihoods), with validation, spot checks, fallback
        to the true likelihood and a final bias correction of log Z; 'ga' also
        chooses the architecture by a genetic algorithm; a dict or
        :class:`SurrogateOptions` sets the options.  ``ncall`` then counts true calls only and
        ``ncall_surrogate`` the network's answers.  See
        :mod:`ridgeline.nested._surrogate`.
    **kwargs
        Deprecated spellings, accepted for one release with a ``DeprecationWarning``:
        ``nthreads`` (now ``n_threads``).

    Examples
    --------
    >>> from ridgeline.nested import NestedSampler, problems
    >>> p = problems.gaussian(2)
    >>> res = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=200, rng=1).run(dlogz=0.5)
    >>> abs(res.logz - p.logz_true) < 4 * res.logzerr
    True
    """

    def __init__(
        self,
        loglike: Callable[..., Any] | CLikelihood,
        prior_transform: Callable[..., Any] | None,
        ndim: int,
        *,
        nlive: int = 500,
        bound: str = "multi",
        sample: str = "auto",
        vectorized: bool = False,
        rng: int | np.random.Generator | None = None,
        enlarge: float = 1.25,
        update_interval: int | None = None,
        nsim: int = 100,
        slice_steps: int | None = None,
        chord_scale: float = 1.5,
        slice_dim: int = 21,
        slice_start: str = "auto",
        executor: _cf.Executor | None = None,
        executor_chunks: int | None = None,
        n_threads: int | None = 1,
        surrogate: str | dict[str, Any] | SurrogateOptions | Literal[False] | None = None,
        periodic: Any = None,
        reflective: Any = None,
        **kwargs: Any,
    ) -> None:
        given = {"n_threads": None if n_threads == 1 else n_threads}  # 1 is the default
        n_threads = pop_renamed(kwargs, {"nthreads": "n_threads"}, "NestedSampler", given).get("n_threads", n_threads)
        ndim = check_int(ndim, "ndim", low=1, high=_MAX_NDIM)
        nlive = check_int(nlive, "nlive", low=2, high=_MAX_NLIVE)
        if nlive <= ndim:
            msg = f"nlive={nlive} must be > ndim={ndim}"
            raise ValueError(msg)
        bound = check_choice(bound, "bound", _BOUNDS)
        sample = check_choice(sample, "sample", _SAMPLES)
        vectorized = check_bool(vectorized, "vectorized")
        enlarge = check_float(enlarge, "enlarge", 1.0, _MAX_ENLARGE)
        if update_interval is None:
            update_interval = max(1, round(0.15 * nlive))
        update_interval = check_int(update_interval, "update_interval", low=1, high=2**31 - 1)
        self._nsim = check_int(nsim, "nsim", low=2, high=10_000_000)
        slice_steps = 0 if slice_steps is None else check_int(slice_steps, "slice_steps", low=1, high=1 << 20)
        slice_dim = check_int(slice_dim, "slice_dim", low=1, high=2**31 - 1)
        slice_start = check_choice(slice_start, "slice_start", ("auto", "live"))
        chord_scale = check_float(chord_scale, "chord_scale", 1.0, 1000.0)
        given_transform: object = prior_transform  # checked as any object: callers need not be typed
        if given_transform is not None and not callable(given_transform):
            msg = f"prior_transform={prior_transform!r} must be callable or None"
            raise TypeError(msg)
        given_loglike: object = loglike
        if not (callable(given_loglike) or isinstance(given_loglike, CLikelihood)):
            msg = f"loglike={loglike!r} must be callable or a CLikelihood"
            raise TypeError(msg)
        n_threads = check_n_threads(n_threads) or (os.cpu_count() or 1)
        chunks = None if executor_chunks is None else check_int(executor_chunks, "executor_chunks", low=1, high=1 << 20)
        periodic_dims = check_dims(periodic, "periodic", ndim)
        reflective_dims = check_dims(reflective, "reflective", ndim)
        if set(periodic_dims) & set(reflective_dims):
            msg = f"dimension(s) {sorted(set(periodic_dims) & set(reflective_dims))} cannot be both periodic and reflective"
            raise ValueError(msg)
        self.periodic = periodic_dims
        self.reflective = reflective_dims

        seed = check_rng(rng)
        self._seed = seed
        self.ndim = ndim
        self.nlive = nlive
        self.vectorized = bool(vectorized)
        self.loglike = loglike
        self.prior_transform = prior_transform
        python_like = not isinstance(loglike, (CLikelihood, BuiltinLoglike))
        self._executor_loglike = None
        if executor is not None:
            from ridgeline.nested._executor import ExecutorLoglike, check_picklable

            if isinstance(loglike, (CLikelihood, BuiltinLoglike)):
                msg = "executor= needs a Python loglike (compiled likelihoods use n_threads= instead)"
                raise TypeError(msg)
            if not isinstance(executor, _cf.ThreadPoolExecutor):
                check_picklable(loglike, "loglike")
            self._executor_loglike = ExecutorLoglike(loglike, executor, self.vectorized, chunks, seed)
        batch_min, batch_max = (32, 4096) if ((self.vectorized or executor is not None) and python_like) else (1, 1)
        if not python_like:
            # compiled likelihoods: speculative batches (the n_threads threads share each
            # batch; the size never depends on n_threads)
            batch_min, batch_max = _COMPILED_BATCH
        self._surrogate = None
        if surrogate is not None and surrogate is not False:
            from ridgeline.nested._surrogate import surrogate_loglike

            self._surrogate = surrogate_loglike(
                surrogate, loglike, self._executor_loglike, self.vectorized, ndim, nlive, seed
            )
            batch_min, batch_max = 1, 4096
        self._settings = {
            "ndim": ndim, "nlive": nlive, "seed": seed, "bound": bound, "sample": sample, "enlarge": enlarge,
            "update_interval": update_interval, "slice_steps": slice_steps, "chord_scale": chord_scale,
            "slice_dim": slice_dim, "slice_start": slice_start, "vectorized": self.vectorized, "batch": [batch_min, batch_max],
            "loglike": _describe(loglike), "prior_transform": _describe(prior_transform),
            "periodic": periodic_dims, "reflective": reflective_dims,
        }
        self._core = _core.nested.Sampler(
            ndim, nlive, seed, bound, enlarge, update_interval, 0.5, batch_min, batch_max, periodic=periodic_dims
        )
        self.sample = sample
        self._core.set_sample(sample, slice_steps, chord_scale, slice_dim, slice_start)
        if isinstance(loglike, BuiltinLoglike):
            if loglike.ndim != ndim:
                msg = f"ndim={ndim} does not match the built-in problem's ndim={loglike.ndim}"
                raise ValueError(msg)
            if self._surrogate is None:
                self._core.set_loglike_builtin(loglike.name)
            else:
                self._core.set_loglike_python(self._surrogate, True)
        elif self._surrogate is not None:
            self._core.set_loglike_python(self._surrogate, True)
        elif isinstance(loglike, CLikelihood):
            self._core.set_loglike_cfunc(loglike.address, loglike.data)
            self._core = cast("_core.nested.Sampler", _GuardedCore(self._core, loglike))  # the same methods
        elif self._executor_loglike is not None:
            self._core.set_loglike_python(self._executor_loglike, True)
        else:
            self._core.set_loglike_python(loglike, self.vectorized)
        self.n_threads = n_threads
        self._core.set_threads(n_threads)
        if prior_transform is None:
            self._core.set_transform_affine([0.0] * ndim, [1.0] * ndim)
        elif isinstance(prior_transform, BoxTransform):
            if prior_transform.lo.size != ndim:
                msg = f"ndim={ndim} does not match the prior_transform's ndim={prior_transform.lo.size}"
                raise ValueError(msg)
            self._core.set_transform_affine(prior_transform.lo.tolist(), prior_transform.hi.tolist())
        else:
            self._core.set_transform_python(prior_transform, self.vectorized)
        self._result: NestedResult | None = None

    def run(
        self,
        dlogz: float = 0.01,
        maxiter: int | None = None,
        maxcall: int | None = None,
        progress: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: float = 60.0,
        checkpoint_verify: int | None = None,
    ) -> NestedResult:
        """Run until the remaining evidence is below ``dlogz`` (or a limit is hit).

        Calling ``run`` again continues the same run with new limits.

        Parameters
        ----------
        dlogz : float, default=0.01
            Stop when log(Z + L_max X) - log Z < dlogz (L_max: best live point,
            X: remaining prior volume).
        maxiter, maxcall : int, optional
            Limits on iterations and likelihood calls.
        progress : bool, default=False
            Show a progress bar on stderr (iterations, calls, log Z and the
            remaining-evidence criterion against ``dlogz``).
        checkpoint : path, optional
            Save the complete state to this file (atomically: temporary file,
            fsync, rename, fsync of the directory) every ``checkpoint_every``
            seconds and at the end.  If the file exists, the run resumes from it;
            the resumed run is bit-identical to an uninterrupted one with the
            same seed (for deterministic likelihoods).  A corrupt, truncated,
            foreign or stale file raises :class:`CheckpointError` naming the path.
            Before it is used, every field of the saved state is validated
            (shapes, ranges, the invariants of the run, the bound,
            ``prior_transform(u)`` at every stored point, the likelihood at
            every live point and ``checkpoint_verify`` others, the random
            stream against the last candidates drawn); the user guide's section on checkpoints
            says what this does and does not protect.  A file that passes is
            trusted, as a pickle would be.
        checkpoint_every : float, default=60
            Seconds between saves (0: after every block of iterations).
        checkpoint_verify : int or None, default=None
            When resuming, the stored points at which the likelihood is
            evaluated again and compared with the file (a changed likelihood or
            a forged value is refused).  None: every live point (the run
            continues from them; ``nlive`` calls) and 32 dead points (the last
            ones first); an int k >= 0: k points shared between the live and
            dead sets (the best and worst live points, the last dead points,
            points spread over both), a cheaper check for an expensive
            likelihood; -1 for every stored point.  Every queued candidate is
            re-evaluated in all cases.  These calls are not counted and draw no
            random numbers, so the resumed run stays bit-identical; the
            likelihood must be deterministic.

        Returns
        -------
        NestedResult

        Raises
        ------
        CheckpointError
            When ``checkpoint`` names a file that cannot be used.
        """
        dlogz = check_float(dlogz, "dlogz", 0.0, allow_inf=True)
        mi = -1 if maxiter is None else check_int(maxiter, "maxiter", low=0)
        mc = -1 if maxcall is None else check_int(maxcall, "maxcall", low=0)
        progress = check_bool(progress, "progress")
        if checkpoint_verify is not None:
            checkpoint_verify = check_int(checkpoint_verify, "checkpoint_verify", low=-1)
        given_checkpoint: object = checkpoint
        if given_checkpoint is not None and not isinstance(given_checkpoint, (str, os.PathLike)):
            msg = f"checkpoint={checkpoint!r} must be a path (str or os.PathLike) or None"
            raise TypeError(msg)
        if self._surrogate is not None:
            from ridgeline.nested._surrogate import run_surrogate

            if checkpoint is not None:
                msg = "checkpoint= cannot be combined with surrogate= (the network and its training set are not saved)"
                raise ValueError(msg)
            stop = run_surrogate(self, dlogz, mi, mc, progress)
        else:
            from ridgeline.nested._runloop import run_blocks

            stop = run_blocks(self, dlogz, mi, mc, progress, checkpoint, checkpoint_every, checkpoint_verify)
        self._result = self._make_result(stop)
        if self._surrogate is not None:
            self._result = self._surrogate.finish(self._result)
        return self._result

    run_nested = run

    def __repr__(self) -> str:
        from ridgeline._io import short_repr

        return short_repr("NestedSampler", ndim=self.ndim, nlive=self.nlive, bound=self._settings["bound"],
                          sample=self.sample, niter=int(self._core.niter()))

    @property
    def results(self) -> NestedResult:
        """The result of the last ``run``."""
        if self._result is None:
            msg = "no results yet; call run() first"
            raise RuntimeError(msg)
        return self._result

    def _make_result(self, stop: str) -> NestedResult:
        # dead points then the final live points sorted by logl, built once in C++
        # (no copy of the whole state first)
        ra = self._core.run_arrays()
        c = self._core.counters()
        nfinal = int(ra.nfinal)
        logl = ra.logl
        nlive_it = ra.nlive
        w = _core.nested.deterministic_weights(logl, nlive_it, nfinal, ra.logvol_end)
        logvol, logwt = w.logvol, w.logwt
        logz = _logsumexp(logwt)
        sims = _core.nested.simulate_logz(logl, nlive_it, nfinal, ra.logvol_end, self._nsim,
                                          mix_seed(self._seed, 0xE77))
        logzerr = float(np.std(sims, ddof=1))
        weights = np.exp(logwt - logz)
        finite = weights > 0
        information = float(np.sum(weights[finite] * (logl[finite] - logz)))
        return NestedResult(
            logz=logz,
            logzerr=logzerr,
            samples=ra.x,
            samples_u=ra.u,
            logl=logl,
            logwt=logwt,
            logvol=logvol,
            logl_birth=ra.birth,
            weights=weights,
            information=max(information, 0.0),
            ncall=int(c.ncall),
            niter=int(c.niter),
            nlive=self.nlive,
            logz_sim=sims,
            stop=stop,
            nlive_it=nlive_it,
        )


def sample(
    loglike: Callable[..., Any] | CLikelihood,
    prior_transform: Callable[..., Any] | None,
    ndim: int,
    *,
    nlive: int = 500,
    bound: str = "multi",
    sample: str = "auto",
    vectorized: bool = False,
    rng: int | np.random.Generator | None = None,
    dlogz: float = 0.01,
    maxiter: int | None = None,
    maxcall: int | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> NestedResult:
    """Create a :class:`NestedSampler` and run it; returns the :class:`NestedResult`.

    Parameters
    ----------
    loglike : callable or CLikelihood
        Log-likelihood (see :class:`NestedSampler`).
    prior_transform : callable or None
        Map from the unit cube to parameter space; None for the identity.
    ndim : int
        Number of parameters.
    nlive : int, default=500
        Number of live points.
    bound : {'multi', 'single', 'none'}, default='multi'
        Bounding region for new points.
    sample : {'auto', 'unif', 'slice'}, default='auto'
        How new points are drawn inside the bound.
    vectorized : bool, default=False
        Whether ``loglike`` (and a Python ``prior_transform``) take batches.
    rng : int, numpy Generator or None
        Seed of the run; the same seed gives the same run.
    dlogz : float, default=0.01
        Stop when the remaining evidence estimate falls below this (see :meth:`NestedSampler.run`).
    maxiter : int, optional
        Limit on iterations.
    maxcall : int, optional
        Limit on likelihood calls.
    progress : bool, default=False
        Show a progress bar on stderr.
    **kwargs
        Further keyword arguments of :class:`NestedSampler` (``enlarge``, ``slice_steps``,
        ``n_threads``, ``surrogate``, ...).

    Returns
    -------
    NestedResult
        The run's samples, weights and evidence.

    Examples
    --------
    >>> from ridgeline.nested import problems, sample
    >>> p = problems.shells()
    >>> res = sample(p.loglike, p.prior_transform, p.ndim, nlive=300, rng=0, dlogz=0.5)
    >>> abs(res.logz - p.logz_true) < 4 * res.logzerr
    True
    """
    s = NestedSampler(
        loglike, prior_transform, ndim, nlive=nlive, bound=bound, sample=sample, vectorized=vectorized, rng=rng, **kwargs
    )
    return s.run(dlogz=dlogz, maxiter=maxiter, maxcall=maxcall, progress=progress)
