"""``ridgeline bench nested executor``: wall time of a run on an expensive likelihood, serial vs 2 workers.

The same run (problem, seed, nlive, dlogz, proposal) with the same scalar Python
likelihood is timed three ways: serial (``executor=None``: one call at a time in
the sampler's process), through ``concurrent.futures.ProcessPoolExecutor(2)``
and through a Dask ``LocalCluster`` with 2 single-threaded worker processes
(when ``distributed`` is installed).  Low dimension, so the sampler is in its
bounded-rejection regime: the executor gets batches of candidate points (32 or
more, about 1/efficiency) split into ``executor_chunks`` tasks.

A fourth row runs the executor path in one thread (``ThreadPoolExecutor(1)``):
the very same run as the pools (same candidate batches, calls and log Z), so
"speed-up vs batched" isolates what the second worker gives; "speed-up" is
against the plain serial run (which draws one candidate at a time and so spends
slightly fewer calls).

Two likelihood costs, reported separately:

- ``sleep``: ``time.sleep(cost)`` per call.  It measures the parallel structure
  of the sampler (batching, pickling, scheduling) without needing free CPUs, so
  it is meaningful on a loaded machine;
- ``cpu``: a busy loop of ``cost`` seconds per call.  Its speed-up needs two
  idle cores; on a shared machine it shows what the cores give at that moment.

Times are wall-clock medians over ``--repeats`` interleaved rounds (pool start-up
excluded: the pools are created once and warmed up).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ridgeline._bench import format_table, have


class SleepLoglike:
    """A built-in problem's log-likelihood that sleeps ``cost`` seconds per call (picklable)."""

    def __init__(self, name: str, ndim: int, cost: float) -> None:
        self.name = name
        self.ndim = ndim
        self.cost = float(cost)
        self._fn: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "ndim": self.ndim, "cost": self.cost}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["ndim"], state["cost"])  # type: ignore[misc]

    def __call__(self, x: np.ndarray) -> float:
        if self._fn is None:
            from ridgeline.nested import problems

            self._fn = problems.get(self.name, self.ndim).loglike.batch
        time.sleep(self.cost)
        return float(self._fn(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])


def _make_like(kind: str, name: str, ndim: int, cost: float) -> Any:
    if kind == "sleep":
        return SleepLoglike(name, ndim, cost)
    from ridgeline.nested._expensive import ExpensiveLoglike

    return ExpensiveLoglike(name, ndim, cost)


def _run(
    like: Any, ndim: int, nlive: int, dlogz: float, seed: int, executor: Any, chunks: int | None
) -> tuple[float, float, Any]:
    from ridgeline.nested import NestedSampler

    s = NestedSampler(like, None, ndim, nlive=nlive, rng=seed, executor=executor, executor_chunks=chunks,
                      sample="unif")
    t0, c0 = time.perf_counter(), time.process_time()
    r = s.run(dlogz=dlogz)
    return time.perf_counter() - t0, time.process_time() - c0, r


def _warm(ex: Any, like: Any, ndim: int) -> None:
    from ridgeline.nested._executor import _eval_chunk

    x = np.full((4, ndim), 0.5)
    futs = [ex.submit(_eval_chunk, like, x, False, i, False) for i in range(4)]
    for f in futs:
        f.result()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the executor table and print it."""
    ap = argparse.ArgumentParser(prog="ridgeline bench nested executor", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="gaussian", help="built-in problem (default gaussian)")
    ap.add_argument("--ndim", type=int, default=3)
    ap.add_argument("--nlive", type=int, default=100)
    ap.add_argument("--dlogz", type=float, default=0.5)
    ap.add_argument("--cost", type=float, default=0.003, help="seconds per likelihood call (default 0.003)")
    ap.add_argument("--kinds", default="sleep,cpu", help="likelihood costs to run: sleep, cpu")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--chunks", type=int, default=None,
                    help="executor_chunks: tasks per batch (default: one per worker)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    args = ap.parse_args(argv)
    use_dask = have("distributed") and not args.no_dask
    print(f"executor speed-up: {args.problem}({args.ndim}), nlive={args.nlive}, dlogz={args.dlogz}, sample='unif', "
          f"cost {args.cost * 1e3:.1f} ms per call, executor_chunks={'auto' if args.chunks is None else args.chunks}, seed 0, {args.repeats} interleaved rounds; "
          f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    pool = cf.ProcessPoolExecutor(2)
    one = cf.ThreadPoolExecutor(1)  # the executor's batching in one thread: the same run as the pools
    cluster = client = None
    if use_dask:
        import logging

        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    rows = []
    try:
        for kind in [k for k in args.kinds.split(",") if k]:
            like = _make_like(kind, args.problem, args.ndim, args.cost)
            contenders: dict[str, Any] = {"serial": None, "serial, batched: ThreadPoolExecutor(1)": one,
                                          "ProcessPoolExecutor(2)": pool}
            if client is not None:
                contenders["dask LocalCluster(2 workers)"] = client
            for ex in contenders.values():
                if ex is not None:
                    _warm(ex, like, args.ndim)
            wall: dict[str, list[float]] = {k: [] for k in contenders}
            cpu: dict[str, list[float]] = {k: [] for k in contenders}
            res: dict[str, Any] = {}
            for _ in range(args.repeats):
                for cname, ex in contenders.items():
                    w, c, r = _run(like, args.ndim, args.nlive, args.dlogz, 0, ex, args.chunks)
                    wall[cname].append(w)
                    cpu[cname].append(c)
                    res[cname] = r
            base = statistics.median(wall["serial"])
            batched = statistics.median(wall["serial, batched: ThreadPoolExecutor(1)"])
            for cname in contenders:
                med = statistics.median(wall[cname])
                r = res[cname]
                rows.append([
                    kind, cname, f"{r.ncall}", f"{med:.2f}", f"{statistics.median(cpu[cname]):.2f}",
                    f"{med / base:.3f}", f"{base / med:.2f}x", f"{batched / med:.2f}x", f"{r.logz:.3f} +/- {r.logzerr:.3f}",
                ])
    finally:
        pool.shutdown()
        one.shutdown()
        if client is not None:
            client.close()
            cluster.close()
    header = ["cost", "executor", "calls", "wall s (median)", "main-process CPU s", "wall / serial", "speed-up",
              "speed-up vs batched", "log Z"]
    print(format_table(header, rows))
    print(f"(loadavg at the end {os.getloadavg()[0]:.1f}; the 'cpu' rows need 2 idle cores to show the speed-up)")
    return 0
