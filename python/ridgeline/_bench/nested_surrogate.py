"""``ridgeline bench nested surrogate``: true likelihood calls and time with and without the neural surrogate.

The likelihood is a built-in problem made artificially expensive
(:class:`ridgeline.nested._expensive.ExpensiveLoglike`, ``--cost`` seconds of busy
work per call), called as a scalar Python function.  For each problem and seed the
plain sampler and ``surrogate='mlp'`` run side by side (interleaved) with the same
nlive, seed and stopping rule; the table gives the true calls of each, their
ratio, the network's answers, log Z against the truth in units of the reported
error, and wall and CPU time (medians over seeds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from ridgeline._bench import format_table


def _one(name: str, ndim: int, nlive: int, seed: int, cost: float, surrogate: object, dlogz: float) -> dict:
    from ridgeline.nested import NestedSampler, problems
    from ridgeline.nested._expensive import ExpensiveLoglike

    p = problems.get(name, ndim)
    like = ExpensiveLoglike(name, ndim, cost)
    w0, c0 = time.perf_counter(), time.process_time()
    r = NestedSampler(like, p.prior_transform, ndim, nlive=nlive, rng=seed, surrogate=surrogate).run(dlogz=dlogz)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"ncall": r.ncall, "nsur": r.ncall_surrogate, "pull": (r.logz - p.logz_true) / r.logzerr,
            "logz": r.logz, "err": r.logzerr, "wall": wall, "cpu": cpu}


def surrogate_table(specs: Sequence[tuple[str, int]], nlive: int, seeds: int, cost: float, dlogz: float) -> str:
    """The comparison table (one row per problem and mode)."""
    rows = []
    for name, ndim in specs:
        runs: dict[str, list[dict]] = {"true likelihood": [], "surrogate='mlp'": []}
        for seed in range(seeds):
            runs["true likelihood"].append(_one(name, ndim, nlive, seed, cost, None, dlogz))
            runs["surrogate='mlp'"].append(_one(name, ndim, nlive, seed, cost, "mlp", dlogz))
        base = statistics.median(r["ncall"] for r in runs["true likelihood"])
        base_wall = statistics.median(r["wall"] for r in runs["true likelihood"])
        for mode, rs in runs.items():
            calls = statistics.median(r["ncall"] for r in rs)
            wall = statistics.median(r["wall"] for r in rs)
            rows.append([
                f"{name}({ndim})", mode, int(calls), f"{base / calls:.2f}x",
                int(statistics.median(r["nsur"] for r in rs)),
                " ".join(f"{r['pull']:+.2f}" for r in rs),
                f"{wall:.1f}", f"{base_wall / wall:.2f}x", f"{statistics.median(r['cpu'] for r in rs):.1f}",
            ])
    header = ["problem", "likelihood", "true calls (median)", "fewer calls", "surrogate answers",
              "(log Z - truth) / err per seed", "wall s", "wall speed-up", "CPU s"]
    return format_table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the surrogate table."""
    ap = argparse.ArgumentParser(prog="ridgeline bench nested surrogate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", default="gaussian-10,correlated-6",
                    help="comma-separated name-ndim (default gaussian-10,correlated-6)")
    ap.add_argument("--nlive", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--cost", type=float, default=0.002, help="seconds of busy work per true call (default 0.002)")
    ap.add_argument("--dlogz", type=float, default=0.5)
    args = ap.parse_args(list(argv) if argv is not None else None)
    specs = []
    for item in args.problems.split(","):
        name, _, nd = item.strip().partition("-")
        specs.append((name, int(nd) if nd else 2))
    print(f"neural surrogate: nlive={args.nlive}, dlogz={args.dlogz}, {args.seeds} seed(s), "
          f"{1e3 * args.cost:g} ms per true call (scalar Python likelihood)")
    print(surrogate_table(specs, args.nlive, args.seeds, args.cost, args.dlogz))
    return 0
