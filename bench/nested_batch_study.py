"""Do speculative candidate batches change the statistics of the nested sampler?

Compiled likelihoods are evaluated in batches of 16..4096 candidates (``_COMPILED_BATCH``);
this script compares them with one candidate at a time (batch (1, 1)) on the same seeds.

``ks D NSEED [SEED0 [SAMPLE]]``: gaussian(D) at nlive=500, where the prior volume inside a contour is
analytic while the likelihood ball lies inside the cube (R <= 5 sigma).  Prints, for each batch setting:
u = X(L)/X(L_birth) of every replacement (must be U(0, 1)), t^nlive for consecutive dead points
(t ~ Beta(nlive, 1), so t^nlive ~ U(0, 1)), with KS statistics; the accumulated error of log X
between the first and last dead points inside the ball, standardised by its Beta(nlive, 1) spread
(RMS must be 1: catches correlated shrinkage that the marginal KS test cannot); the lag-1
autocorrelation of -nlive log t; and the RMS of z = (logZ - truth)/logzerr.

``calib SEED0 SEED1 [BATCH]``: z on the six problems of tests/test_nested_slow.py for seeds
SEED0..SEED1-1, per problem and pooled.

Run from a checkout with the extension built: ``PYTHONPATH=python python bench/nested_batch_study.py ks 2 200``.
Results: bench/results/nested_batch_calibration.md.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats
from scipy.special import gammaln

import ridgeline.nested._sampler as smod
from ridgeline.nested import NestedSampler, problems

BATCHES = [(1, 1), (16, 4096)]


def _logx(logl: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """log X(L) of gaussian(d) (valid for R <= 5) and R, the distance from the peak in sigmas."""
    r2 = -2.0 * (logl + d * (math.log(0.1) + 0.5 * math.log(2 * math.pi)))
    r = np.sqrt(np.maximum(r2, 0.0))
    with np.errstate(divide="ignore"):
        lv = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1) + d * np.log(0.1 * r)
    return lv, r


def ks(d: int, seeds: range, sample: str, nlive: int = 500) -> None:
    p = problems.gaussian(d)
    for batch in BATCHES:
        smod._COMPILED_BATCH = batch
        us, ts, walks, lag1, zs = [], [], [], [], []
        t0 = time.time()
        for seed in seeds:
            res = NestedSampler(p.loglike, p.prior_transform, d, nlive=nlive, rng=seed, sample=sample).run(dlogz=0.5)
            zs.append((res.logz - p.logz_true) / res.logzerr)
            lx, r = _logx(res.logl, d)
            lxb, rb = _logx(res.logl_birth, d)
            ok = np.isfinite(res.logl_birth) & (r <= 5) & (rb <= 5)
            us.append(np.exp(lx[ok] - lxb[ok]))
            nd = res.logl.size - nlive
            lxd, rd = lx[:nd], r[:nd]
            inside = (rd[1:] <= 5) & (rd[:-1] <= 5)
            ts.append(np.exp(nlive * np.diff(lxd))[inside])
            idx = np.flatnonzero(rd <= 5)
            i0, i1 = idx[0], idx[-1]
            dev = (lxd[i1] - res.logvol[i1]) - (lxd[i0] - res.logvol[i0])
            walks.append(dev / math.sqrt((i1 - i0) / nlive**2))
            y = nlive * np.diff(lxd)[inside]
            y = y - y.mean()
            lag1.append(float((y[1:] * y[:-1]).mean() / (y * y).mean()))
        u, t, w, ac, z = (np.concatenate(us), np.concatenate(ts), np.array(walks), np.array(lag1), np.array(zs))
        ku, kt = stats.kstest(u, "uniform"), stats.kstest(t, "uniform")
        print(f"gaussian({d}) {sample} batch={batch} seeds {seeds.start}..{seeds.stop - 1}: "
              f"u n={u.size} KS D={ku.statistic:.4f} p={ku.pvalue:.3g} mean={u.mean():.4f}; "
              f"t^n KS D={kt.statistic:.4f} p={kt.pvalue:.3g} E[-log t^n]={-np.log(t).mean():.4f}; "
              f"log X walk rms={np.sqrt(np.mean(w**2)):.3f} mean={w.mean():+.3f}; "
              f"lag-1 {ac.mean():+.4f}+-{ac.std() / math.sqrt(ac.size):.4f}; "
              f"z rms={np.sqrt(np.mean(z**2)):.3f} mean={z.mean():+.3f} ({time.time() - t0:.0f} s)", flush=True)


def calib(seeds: range, batches: list[tuple[int, int]]) -> None:
    probs = [problems.gaussian(2), problems.gaussian(10), problems.gaussian(20), problems.shells(),
             problems.eggbox(), problems.mixture(10)]
    for batch in batches:
        smod._COMPILED_BATCH = batch
        pooled = []
        for p in probs:
            z = np.array([(r.logz - p.logz_true) / r.logzerr for r in (
                NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=500, rng=s).run(dlogz=0.5) for s in seeds)])
            pooled.extend(z)
            print(f"batch={batch} {p.name:13s} rms {np.sqrt(np.mean(z**2)):.3f} mean {z.mean():+.3f} "
                  f"max|z| {np.abs(z).max():.2f}", flush=True)
        zp = np.array(pooled)
        print(f"batch={batch} seeds {seeds.start}..{seeds.stop - 1} pooled ({zp.size} runs): "
              f"rms {np.sqrt(np.mean(zp**2)):.3f} (spread of the RMS of {zp.size} unit normals "
              f"{1 / math.sqrt(2 * zp.size):.3f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("ks")
    a.add_argument("d", type=int)
    a.add_argument("nseed", type=int)
    a.add_argument("seed0", type=int, nargs="?", default=0)
    a.add_argument("sample", nargs="?", default="auto")
    b = sub.add_parser("calib")
    b.add_argument("seed0", type=int)
    b.add_argument("seed1", type=int)
    b.add_argument("batch", nargs="?", default=None, help="e.g. 16,4096 (default: both settings)")
    args = ap.parse_args()
    if args.cmd == "ks":
        ks(args.d, range(args.seed0, args.seed0 + args.nseed), args.sample)
    else:
        batches = [tuple(map(int, args.batch.split(",")))] if args.batch else BATCHES
        calib(range(args.seed0, args.seed1), batches)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
