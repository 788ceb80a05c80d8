"""Likelihood evaluation through a ``concurrent.futures.Executor`` (process pools, Dask, MPI).

The sampler hands over batches of candidate points; a batch is split into at
most ``chunks`` contiguous tasks (never one task per point), each task evaluates
its rows and the results are put back in order, so the run is the same for any
number of workers.  Every task carries its own 64-bit seed (from the run seed,
the batch counter and the chunk index): it makes every task distinct, so a
scheduler that de-duplicates identical calls (Dask's ``pure=True``) can never
merge two of them, and a stochastic likelihood that accepts ``seed=`` gets an
independent, reproducible stream per task.

The number of tasks per batch (``chunks=None``, the default) is the
executor's number of workers when it can be read (``max_workers`` of the
standard pools and of ``mpi4py.futures``, the summed worker threads of a Dask
client), else 8: one task per worker keeps the per-task cost (pickling, a
round trip) as low as the parallelism allows.  A deterministic likelihood
gives the same values however a batch is split, so the run does not depend on
the executor.  A likelihood that accepts ``seed=`` is the exception: its
per-task seeds follow the split, so for it the default is a fixed 8 tasks
(never read from the executor) and the run is again the same on any executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import pickle
from typing import Any, Callable

import numpy as np

from ridgeline._random import mix_seed

__all__ = ["ExecutorLoglike", "check_picklable"]


def check_picklable(obj: Any, name: str) -> None:
    """Refuse, before the run starts, a callable that a process pool could not send."""
    try:
        pickle.dumps(obj)
    except Exception as err:  # noqa: BLE001 - any pickling failure
        msg = (
            f"{name}={obj!r} cannot be pickled ({type(err).__name__}: {err}), so it cannot be sent to the "
            "executor's workers; define it at module level (not a lambda or closure), or use a thread pool"
        )
        raise TypeError(msg) from err


def _accepts_seed(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return "seed" in sig.parameters


def _eval_chunk(fn: Callable[..., Any], x: np.ndarray, vectorized: bool, seed: int, pass_seed: bool) -> np.ndarray:
    """Evaluate one task (runs in the worker)."""
    kw = {"seed": seed} if pass_seed else {}
    if vectorized:
        out = np.asarray(fn(x, **kw), dtype=np.float64).reshape(-1)
    else:
        out = np.array([float(fn(row, **kw)) for row in x], dtype=np.float64)
    if out.shape != (x.shape[0],):
        msg = f"loglike returned {out.shape[0]} values for a batch of {x.shape[0]} points"
        raise ValueError(msg)
    return out


def _is_dask_client(ex: Any) -> bool:
    return type(ex).__name__ == "Client" and type(ex).__module__.startswith("distributed")


_DEFAULT_CHUNKS = 8


def executor_workers(executor: Any) -> int | None:
    """The number of workers of ``executor``, or None when it cannot be read."""
    if _is_dask_client(executor):
        try:
            n = sum(int(v) for v in executor.nthreads().values())
        except Exception:  # noqa: BLE001 - a client that cannot answer: fall back
            return None
        return n if n > 0 else None
    workers: object = getattr(executor, "_max_workers", None)  # concurrent.futures pools, mpi4py.futures
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0:
        return workers
    return None


class ExecutorLoglike:
    """A vectorised log-likelihood that evaluates batches through an executor.

    Parameters
    ----------
    loglike : callable
        The user's likelihood (scalar, or batch with ``vectorized=True``).
    executor : concurrent.futures.Executor or dask.distributed.Client
        Where to run the tasks.  A Dask ``Client`` is used through
        ``client.submit(..., pure=False)``.
    vectorized : bool
        Whether ``loglike`` takes (m, ndim) batches.
    chunks : int or None
        Largest number of tasks per batch; None: the executor's number of
        workers (a fixed 8 when it cannot be read or when ``loglike`` accepts
        ``seed=``).
    seed : int
        Run seed (per-task seeds are derived from it).
    """

    def __init__(
        self, loglike: Callable[..., Any], executor: Any, vectorized: bool, chunks: int | None, seed: int
    ) -> None:
        if not (isinstance(executor, cf.Executor) or _is_dask_client(executor) or hasattr(executor, "submit")):
            msg = f"executor={executor!r} must be a concurrent.futures.Executor or a dask.distributed.Client"
            raise TypeError(msg)
        self.loglike = loglike
        self.executor = executor
        self.vectorized = vectorized
        self.seed = seed
        self.batches = 0
        self.tasks = 0
        self._pass_seed = _accepts_seed(loglike)
        self._dask = _is_dask_client(executor)
        if chunks is None:
            workers = None if self._pass_seed else executor_workers(executor)
            chunks = workers if workers is not None else _DEFAULT_CHUNKS
        self.chunks = max(1, int(chunks))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        m = x.shape[0]
        k = min(self.chunks, m)
        bounds = [m * i // k for i in range(k + 1)]
        futures = []
        for i in range(k):
            part = x[bounds[i] : bounds[i + 1]]
            seed = mix_seed(mix_seed(self.seed, 0x5EED + self.batches), i)
            args = (_eval_chunk, self.loglike, part, self.vectorized, seed, self._pass_seed)
            if self._dask:
                futures.append(self.executor.submit(*args, pure=False))
            else:
                futures.append(self.executor.submit(*args))
        out = np.empty(m, dtype=np.float64)
        try:
            for i, fut in enumerate(futures):
                out[bounds[i] : bounds[i + 1]] = fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        # counted only once the batch succeeded: after an error the sampler asks
        # for the same batch again, which must get the same per-task seeds
        self.batches += 1
        self.tasks += k
        return out
