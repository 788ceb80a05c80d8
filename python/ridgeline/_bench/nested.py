"""``ridgeline bench nested``: likelihood calls and CPU against nestle, dynesty and UltraNest.

Every contender runs the same problems with the same scalar Python likelihood and
prior transform, 500 live points and the peers' stopping rule dlogz = 0.5
(nestle ``method='multi'``; dynesty's defaults, i.e. ``bound='multi'``,
``sample='auto'``; UltraNest's ``ReactiveNestedSampler``).  CPU is process time.
Peers that are not installed are skipped.

Tables:

1. calls, CPU and log Z per problem (mean over seeds), with ratios to ridgeline;
2. gaussian(10) with the scalar likelihood ``r = x - 0.5; -0.5 * r @ r / 0.01``:
   CPU medians over interleaved seeds and the ratios;
3. per-call overhead of the C++ loop: scalar Python callback and vectorised
   callback against the same likelihood compiled in C++, minus the callback's own
   time.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from ridgeline._bench import format_table, have

NLIVE = 500
DLOGZ = 0.5


def _ours(loglike: Callable, transform: Callable, ndim: int, seed: int) -> tuple[int, float, float]:
    from ridgeline.nested import NestedSampler

    r = NestedSampler(loglike, transform, ndim, nlive=NLIVE, rng=seed).run(dlogz=DLOGZ)
    return r.ncall, r.logz, r.logzerr


def _nestle(loglike: Callable, transform: Callable, ndim: int, seed: int) -> tuple[int, float, float]:
    import nestle

    r = nestle.sample(loglike, transform, ndim, method="multi", npoints=NLIVE, dlogz=DLOGZ,
                      rstate=np.random.RandomState(seed))  # noqa: NPY002 - nestle requires a RandomState
    return int(r.ncall), float(r.logz), float(r.logzerr)


def _dynesty(loglike: Callable, transform: Callable, ndim: int, seed: int) -> tuple[int, float, float]:
    import dynesty

    s = dynesty.NestedSampler(loglike, transform, ndim, nlive=NLIVE, rstate=np.random.default_rng(seed))
    s.run_nested(dlogz=DLOGZ, print_progress=False)
    r = s.results
    return int(np.sum(r.ncall)), float(r.logz[-1]), float(r.logzerr[-1])


def _ultranest(loglike: Callable, transform: Callable, ndim: int, seed: int) -> tuple[int, float, float]:
    import logging

    import ultranest

    logging.getLogger("ultranest").setLevel(logging.WARNING)
    s = ultranest.ReactiveNestedSampler([f"p{i}" for i in range(ndim)], loglike, transform)
    r = s.run(min_num_live_points=NLIVE, dlogz=DLOGZ, show_status=False, viz_callback=False)
    return int(r["ncall"]), float(r["logz"]), float(r["logzerr"])


PEERS: dict[str, Callable[..., tuple[int, float, float]]] = {
    "nestle": _nestle,
    "dynesty": _dynesty,
    "ultranest": _ultranest,
}


def _available(names: Sequence[str]) -> list[str]:
    return [n for n in names if have(n)]


def _problem_table(problem_names: Sequence[str], peers: Sequence[str], seeds: int, ultranest_max_ndim: int) -> str:
    from ridgeline.nested import problems

    rows = []
    for name in problem_names:
        base, _, arg = name.partition("-")
        p = problems.get(base, int(arg) if arg else None)
        like = p.loglike.__call__  # the same scalar Python callable for everyone
        transform = p.prior_transform.__call__
        contenders = {"ridgeline": _ours, **{k: PEERS[k] for k in peers}}
        if p.ndim > ultranest_max_ndim:
            contenders.pop("ultranest", None)
        stats: dict[str, list[tuple[int, float, float, float]]] = {k: [] for k in contenders}
        for seed in range(seeds):
            for cname, fn in contenders.items():
                t0 = time.process_time()
                ncall, logz, err = fn(like, transform, p.ndim, seed)
                stats[cname].append((ncall, time.process_time() - t0, logz, err))
        ours_calls = np.mean([s[0] for s in stats["ridgeline"]])
        ours_cpu = np.mean([s[1] for s in stats["ridgeline"]])
        for cname, st in stats.items():
            calls = float(np.mean([s[0] for s in st]))
            cpu = float(np.mean([s[1] for s in st]))
            logz = float(np.mean([s[2] for s in st]))
            err = float(np.mean([s[3] for s in st]))
            z = np.array([(s[2] - p.logz_true) / s[3] for s in st])
            rows.append([
                p.name, cname, f"{calls:.0f}", f"{calls / ours_calls:.2f}", f"{cpu:.2f}", f"{cpu / ours_cpu:.1f}",
                f"{logz:.3f} +/- {err:.3f}", f"{float(np.sqrt(np.mean(z**2))):.2f}",
            ])
    header = ["problem", "sampler", "calls", "calls / ours", "CPU s", "CPU / ours", "log Z (mean)", "rms z"]
    return format_table(header, rows)


def _gauss10_like(x: np.ndarray) -> float:
    r = x - 0.5
    return -0.5 * float(r @ r) / 0.01


def _identity(u: np.ndarray) -> np.ndarray:
    return u


def _gauss10_table(peers: Sequence[str], seeds: int) -> str:
    contenders = {"ridgeline": _ours, **{k: PEERS[k] for k in peers}}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    calls: dict[str, list[int]] = {k: [] for k in contenders}
    for seed in range(seeds):  # interleaved: A B C A B C ...
        for cname, fn in contenders.items():
            t0 = time.process_time()
            ncall, _, _ = fn(_gauss10_like, _identity, 10, 100 + seed)
            cpu[cname].append(time.process_time() - t0)
            calls[cname].append(ncall)
    ours = statistics.median(cpu["ridgeline"])
    rows = []
    for cname in contenders:
        med = statistics.median(cpu[cname])
        rows.append([cname, f"{statistics.median(calls[cname]):.0f}", f"{med:.3f}", f"{med / ours:.1f}",
                     f"{med / statistics.median(calls[cname]) * 1e6:.1f}"])
    return format_table(["sampler", "calls (median)", "CPU s (median)", "CPU / ours", "CPU us per call"], rows)


def _overhead_table(repeats: int) -> str:
    from ridgeline.nested import NestedSampler, problems

    p = problems.gaussian(10)
    norm = -10 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    def scalar(x: np.ndarray) -> float:
        r = x - 0.5
        return -0.5 * float(r @ r) / 0.01 + norm

    def vector(x: np.ndarray) -> np.ndarray:
        r = x - 0.5
        return -0.5 * np.einsum("ij,ij->i", r, r) / 0.01 + norm

    def run(kind: str) -> tuple[float, int]:
        if kind == "builtin":
            s = NestedSampler(p.loglike, p.prior_transform, 10, nlive=NLIVE, rng=1)
        elif kind == "scalar":
            s = NestedSampler(scalar, None, 10, nlive=NLIVE, rng=1)
        else:
            s = NestedSampler(vector, None, 10, nlive=NLIVE, rng=1, vectorized=True)
        t0 = time.process_time()
        r = s.run(dlogz=DLOGZ)
        return time.process_time() - t0, r.ncall

    res: dict[str, list[tuple[float, int]]] = {"builtin": [], "scalar": [], "vector": []}
    for _ in range(repeats):
        for k in res:
            res[k].append(run(k))
    per = {k: statistics.median(t / n for t, n in v) for k, v in res.items()}
    # the callbacks' own cost, timed directly
    x1 = np.random.default_rng(0).random(10)
    n = 20000
    t0 = time.process_time()
    for _ in range(n):
        scalar(x1)
    t_scalar = (time.process_time() - t0) / n
    xb = np.random.default_rng(0).random((32, 10))
    t0 = time.process_time()
    for _ in range(n // 10):
        vector(xb)
    t_vector = (time.process_time() - t0) / (n // 10) / 32
    over_s = per["scalar"] - per["builtin"] - t_scalar
    over_v = per["vector"] - per["builtin"] - t_vector
    rows = [
        ["compiled C++ likelihood (whole sampler)", f"{per['builtin'] * 1e6:.2f}", "-", "-"],
        ["scalar Python callback", f"{per['scalar'] * 1e6:.2f}", f"{t_scalar * 1e6:.2f}", f"{over_s * 1e6:.2f} (target <= 2)"],
        ["vectorised Python callback", f"{per['vector'] * 1e6:.2f}", f"{t_vector * 1e6:.2f}",
         f"{over_v * 1e6:.2f} (target <= 0.5)"],
    ]
    return format_table(["gaussian(10), nlive=500", "CPU us per call", "callback alone us", "loop overhead us per call"],
                        rows)


# --- slice sampling at d = 30 against dynesty (rslice) and UltraNest (SliceSampler) ---------------

_LOG2PI = math.log(2.0 * math.pi)


def _scale_problem(name: str) -> tuple[Callable[[np.ndarray], float], int, float]:
    """A plain scalar numpy likelihood (the same callable for every contender), ndim and the true log Z."""
    from ridgeline.nested import problems

    base, _, arg = name.partition("-")
    d = int(arg)
    truth = problems.get(base, d).logz_true
    if base == "gaussian":
        norm = -d * (math.log(0.1) + 0.5 * _LOG2PI)

        def like(x: np.ndarray) -> float:
            r = x - 0.5
            return -50.0 * float(r @ r) + norm

    elif base == "correlated":
        s, rho = 0.05, 0.9
        a = rho / (1.0 + (d - 1) * rho)
        logdet = d * math.log(s * s) + (d - 1) * math.log1p(-rho) + math.log1p((d - 1) * rho)
        c = -0.5 * logdet - 0.5 * d * _LOG2PI
        inv = 1.0 / (s * s * (1.0 - rho))

        def like(x: np.ndarray) -> float:
            r = x - 0.5
            t = float(r.sum())
            return -0.5 * (float(r @ r) - a * t * t) * inv + c

    else:
        msg = f"problem={name!r} is not a scale problem; expected gaussian-<d> or correlated-<d>"
        raise ValueError(msg)
    return like, d, truth


def _scale_ours(like: Callable, ndim: int, seed: int, nlive: int, dlogz: float) -> tuple[int, float, float]:
    from ridgeline.nested import NestedSampler

    r = NestedSampler(like, None, ndim, nlive=nlive, rng=seed, sample="slice").run(dlogz=dlogz)
    return r.ncall, r.logz, r.logzerr


def _scale_ours_live(like: Callable, ndim: int, seed: int, nlive: int, dlogz: float) -> tuple[int, float, float]:
    from ridgeline.nested import NestedSampler

    r = NestedSampler(like, None, ndim, nlive=nlive, rng=seed, sample="slice", slice_start="live").run(dlogz=dlogz)
    return r.ncall, r.logz, r.logzerr


def _scale_dynesty(like: Callable, ndim: int, seed: int, nlive: int, dlogz: float) -> tuple[int, float, float]:
    import dynesty

    # rslice with dynesty's default number of slices (3 + ndim) and default bound ('multi')
    s = dynesty.NestedSampler(like, _identity, ndim, nlive=nlive, sample="rslice",
                              rstate=np.random.default_rng(seed))
    s.run_nested(dlogz=dlogz, print_progress=False)
    r = s.results
    return int(np.sum(r.ncall)), float(r.logz[-1]), float(r.logzerr[-1])


def _scale_ultranest(like: Callable, ndim: int, seed: int, nlive: int, dlogz: float) -> tuple[int, float, float]:
    import logging

    import ultranest
    import ultranest.stepsampler as uss

    logging.getLogger("ultranest").setLevel(logging.WARNING)
    # UltraNest draws from numpy's global random state, which this package never touches: its runs are
    # not seeded (the seed argument only orders the interleaving)
    del seed
    s = ultranest.ReactiveNestedSampler([f"p{i}" for i in range(ndim)], like, _identity)
    # nsteps = 2 ndim: the UltraNest high-dimensional tutorial's setting (its FAQ: double nsteps until
    # log Z stops changing; its calibrator starts at ndim and doubles)
    s.stepsampler = uss.SliceSampler(nsteps=2 * ndim, generate_direction=uss.generate_mixture_random_direction)
    # the same stopping rule as ours and dynesty's: remaining evidence ln(Z + Lmax X) - ln Z < dlogz,
    # i.e. remainder fraction < 1 - exp(-dlogz); no live-point increases (dlogz goal, dKL, ESS off)
    r = s.run(min_num_live_points=nlive, cluster_num_live_points=0, frac_remain=-math.expm1(-dlogz),
              dlogz=1e6, dKL=1e6, min_ess=0, max_num_improvement_loops=0, show_status=False, viz_callback=False)
    return int(r["ncall"]), float(r["logz"]), float(r["logzerr"])


SCALE_CONTENDERS: dict[str, Callable[..., tuple[int, float, float]]] = {
    "ridgeline": _scale_ours,
    "ridgeline-live": _scale_ours_live,
    "dynesty": _scale_dynesty,
    "ultranest": _scale_ultranest,
}


def scale_table(problem_names: Sequence[str], seeds: int, nlive: int, dlogz: float,
                peers: Sequence[str] = ("dynesty", "ultranest"), verbose: bool = True) -> str:
    """Calls, CPU and log Z of slice samplers in high dimension (interleaved seeds); ratios to ridgeline."""
    rows = []
    for name in problem_names:
        like, d, truth = _scale_problem(name)
        contenders = {"ridgeline": _scale_ours, "ridgeline-live": _scale_ours_live,
                      **{k: SCALE_CONTENDERS[k] for k in peers if have(k)}}
        stats: dict[str, list[tuple[int, float, float, float]]] = {k: [] for k in contenders}
        for seed in range(seeds):
            for cname, fn in contenders.items():
                t0 = time.process_time()
                ncall, logz, err = fn(like, d, seed, nlive, dlogz)
                stats[cname].append((ncall, time.process_time() - t0, logz, err))
                if verbose:
                    print(f"  {name} {cname} seed {seed}: ncall {ncall} cpu {stats[cname][-1][1]:.1f}s "
                          f"logz {logz:.3f} +- {err:.3f} (truth {truth:.3g})", flush=True)
        ours_calls = float(np.mean([s[0] for s in stats["ridgeline"]]))
        ours_cpu = float(np.mean([s[1] for s in stats["ridgeline"]]))
        for cname, st in stats.items():
            calls = float(np.mean([s[0] for s in st]))
            cpu = float(np.mean([s[1] for s in st]))
            z = np.array([(s[2] - truth) / s[3] for s in st])
            per_seed = ", ".join(f"{s[2] - truth:+.2f}+-{s[3]:.2f}" for s in st)
            rows.append([name, cname, f"{calls:.0f}", f"{calls / ours_calls:.1f}", f"{cpu:.1f}",
                         f"{cpu / ours_cpu:.1f}", per_seed, f"{float(np.sqrt(np.mean(z**2))):.2f}"])
    header = ["problem", "sampler", "calls (mean)", "calls / ours", "CPU s (mean)", "CPU / ours",
              "log Z - truth +- err, per seed", "rms z"]
    return format_table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the tables (``executor`` / ``surrogate`` / ``speed`` first: only that table)."""
    if argv and argv[0] == "executor":
        from ridgeline._bench.nested_executor import main as executor_main

        return executor_main(argv[1:])
    if argv and argv[0] == "speed":
        from ridgeline._bench.nested_speed import main as speed_main

        return speed_main(argv[1:])
    if argv and argv[0] == "surrogate":
        from ridgeline._bench.nested_surrogate import main as surrogate_main

        return surrogate_main(argv[1:])
    ap = argparse.ArgumentParser(prog="ridgeline bench nested", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per problem (default 3)")
    ap.add_argument("--peers", default="nestle,dynesty,ultranest", help="comma-separated peers to run")
    ap.add_argument("--problems", default="gaussian-10,gaussian-20,shells,eggbox,mixture-10")
    ap.add_argument("--ultranest-max-ndim", type=int, default=10,
                    help="skip UltraNest above this dimension (it takes minutes there)")
    ap.add_argument("--quick", action="store_true", help="1 seed, nestle only, small problems")
    ap.add_argument("--scale", action="store_true",
                    help="only the high-dimensional slice table: ridgeline against dynesty rslice and "
                         "UltraNest SliceSampler (slow: minutes per UltraNest run)")
    ap.add_argument("--scale-problems", default="gaussian-30", help="problems of --scale (gaussian-<d>, correlated-<d>)")
    ap.add_argument("--scale-nlive", type=int, default=200, help="live points of every contender in --scale")
    args = ap.parse_args(argv)
    if args.scale:
        peers = [p for p in ("dynesty", "ultranest") if p in args.peers.split(",")]
        print(f"slice sampling in high dimension: nlive={args.scale_nlive}, stopping rule ln(Z + Lmax X) - ln Z < "
              f"{DLOGZ} for all, {args.seeds} seed(s), scalar numpy likelihood, CPU = process time")
        print("dynesty: sample='rslice' (slices = 3 + ndim, its default); UltraNest: SliceSampler(nsteps=2 ndim, "
              "generate_mixture_random_direction); ridgeline: sample='slice' (adaptive steps; fresh starts from the "
              "bound when they save calls); ridgeline-live: the same with slice_start='live' (every chain from a "
              "live-point copy)\n")
        print(scale_table(args.scale_problems.split(","), args.seeds, args.scale_nlive, DLOGZ, peers))
        return 0
    peers = _available([s for s in args.peers.split(",") if s])
    problem_names = args.problems.split(",")
    seeds = args.seeds
    if args.quick:
        peers = _available(["nestle"])
        problem_names = ["gaussian-10", "shells"]
        seeds = 1
    missing = sorted(set(PEERS) - set(peers))
    print(f"nested sampling, nlive={NLIVE}, dlogz={DLOGZ}, {seeds} seed(s); peers: {', '.join(peers) or 'none'}"
          + (f" (not run: {', '.join(missing)})" if missing else ""))
    print("\n1. likelihood calls and CPU (same scalar Python likelihood for everyone)\n")
    print(_problem_table(problem_names, peers, seeds, args.ultranest_max_ndim))
    print("\n2. gaussian(10), scalar likelihood r = x - 0.5; -0.5 * float(r @ r) / 0.01 (medians, interleaved)\n")
    print(_gauss10_table(peers, max(seeds, 3)))
    print("\n3. per-call overhead of the C++ loop\n")
    print(_overhead_table(5 if not args.quick else 3))
    return 0
