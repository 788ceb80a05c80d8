"""``ridgeline nested``: run the nested sampler on a built-in problem and report."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ridgeline nested``; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="ridgeline nested",
        description="Run the nested sampler on a built-in problem and compare log Z with the truth.",
    )
    p.add_argument("--problem", choices=["gaussian", "shells", "eggbox", "mixture"], default="shells")
    p.add_argument("--ndim", type=int, default=None, help="dimension (gaussian: 2, mixture: 10 by default)")
    p.add_argument("--nlive", type=int, default=500)
    p.add_argument("--dlogz", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--likelihood",
        choices=["builtin", "python", "vectorized"],
        default="builtin",
        help="run the likelihood as compiled C++ (default), scalar Python or vectorised Python",
    )
    p.add_argument("--target-ess", type=float, default=None,
                   help="dynamic nested sampling: add batches of live points until this effective sample size")
    p.add_argument("--n-threads", type=int, default=1,
                   help="threads evaluating the compiled likelihood on a batch (-1: all cores; same result)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (log Z, error, truth, calls, iterations, timing, ...) instead of text")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr (when it is a terminal)")
    args = p.parse_args(argv)

    from ridgeline.nested import DynamicNestedSampler, NestedSampler, problems

    prob = problems.get(args.problem, args.ndim)
    like: Any
    if args.likelihood == "builtin":
        like, vec = prob.loglike, False
    elif args.likelihood == "python":
        builtin = prob.loglike

        def _python_like(x: Any) -> float:
            return float(builtin(x))

        like = _python_like

        vec = False
    else:
        like, vec = prob.loglike_vectorized, True
    t0, c0 = time.perf_counter(), time.process_time()
    if args.target_ess is None:
        sampler = NestedSampler(like, prob.prior_transform, prob.ndim, nlive=args.nlive, rng=args.seed, vectorized=vec,
                                n_threads=args.n_threads)
        res = sampler.run(dlogz=args.dlogz, progress=args.progress)
    else:
        dyn = DynamicNestedSampler(like, prob.prior_transform, prob.ndim, nlive=args.nlive, rng=args.seed,
                                   vectorized=vec, n_threads=args.n_threads)
        res = dyn.run(target_ess=args.target_ess, dlogz_init=args.dlogz, progress=args.progress)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    dev = (res.logz - prob.logz_true) / res.logzerr if res.logzerr > 0 else math.nan
    left = None
    if prob.name.startswith("mixture"):
        left = float(res.weights[res.samples.mean(axis=1) < 0.5].sum())
    if args.json:
        out = {
            "problem": prob.name,
            "ndim": prob.ndim,
            "nlive": args.nlive,
            "dlogz": args.dlogz,
            "seed": args.seed,
            "likelihood": args.likelihood,
            "logz": res.logz,
            "logzerr": res.logzerr,
            "logz_true": prob.logz_true,
            "deviation_sigma": dev,
            "ncall": res.ncall,
            "niter": res.niter,
            "eff_percent": res.eff,
            "information": res.information,
            "ess": res.ess,
            "stop": res.stop,
            "wall_s": wall,
            "cpu_s": cpu,
        }
        if args.target_ess is not None:
            out["target_ess"] = args.target_ess
            out["batches"] = len(dyn.batches)
        if left is not None:
            out["mode_weights"] = [left, 1.0 - left]
        # strict JSON (no NaN/Infinity tokens): non-finite numbers become null
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
        sys.stdout.write(json.dumps(clean, allow_nan=False) + "\n")
        return 0
    print(f"problem: {prob.name}  (nlive={args.nlive}, dlogz={args.dlogz}, seed={args.seed}, likelihood={args.likelihood})")
    print(f"log Z = {res.logz:.4f} +/- {res.logzerr:.4f}   truth {prob.logz_true:.6f}   deviation {dev:+.2f} sigma")
    print(f"ncall {res.ncall}  niter {res.niter}  eff {res.eff:.1f}%  information {res.information:.2f} nats")
    if args.target_ess is not None:
        print(f"dynamic: {len(dyn.batches)} batches, effective sample size {res.ess:.0f} (target {args.target_ess:.0f})")
    print(f"time {wall:.3f} s wall, {cpu:.3f} s CPU")
    if left is not None:
        print(f"mode weights: {left:.3f} / {1.0 - left:.3f} (truth 0.5 / 0.5)")
    return 0
