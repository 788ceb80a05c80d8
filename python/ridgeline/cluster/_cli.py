"""``ridgeline cluster``: SDP clustering on a built-in data set, with a short report."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np

PROBLEMS = ("mixture", "wine", "iris", "two-scale")


def _error(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)
    r, c = linear_sum_assignment(-C)
    return float(1.0 - C[r, c].sum() / len(a))


def load(problem: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(X, true labels, K) of a built-in problem."""
    rng = np.random.default_rng(seed)
    if problem == "mixture":
        K, p = 4, 20
        dbar = np.sqrt(4 * (1 + np.sqrt(1 + K * p / (n * np.log(n)))) * np.log(n))
        mu = np.zeros((K, p))
        mu[np.arange(K), np.arange(K)] = 1.2 * dbar / np.sqrt(2)
        lab = np.arange(n) * K // n
        return mu[lab] + rng.standard_normal((n, p)), lab, K
    if problem == "two-scale":
        h = n // 2
        X = np.r_[rng.standard_normal((h, 10)), 3.0 * rng.standard_normal((n - h, 10))]
        return X, np.repeat([0, 1], [h, n - h]), 2
    from sklearn import datasets

    if problem == "wine":
        d = datasets.load_wine()
        X = (d.data - d.data.mean(axis=0)) / d.data.std(axis=0)
        return X, d.target, 3
    d = datasets.load_iris()
    return d.data, d.target, 3


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie) from the contingency table."""
    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)

    def comb(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = x * (x - 1) / 2.0
        return out

    s_ij = float(np.sum(comb(C)))
    s_a = float(np.sum(comb(C.sum(axis=1))))
    s_b = float(np.sum(comb(C.sum(axis=0))))
    expected = s_a * s_b / (len(a) * (len(a) - 1) / 2.0)
    top = 0.5 * (s_a + s_b) - expected
    return 1.0 if top == 0 else (s_ij - expected) / top


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    p = argparse.ArgumentParser(prog="ridgeline cluster", description=__doc__)
    p.add_argument("--problem", choices=PROBLEMS, default="mixture")
    p.add_argument("--method", choices=("sdp", "ila"), default=None, help="default: ila for iris/two-scale")
    p.add_argument("-n", type=int, default=400, help="points for the synthetic problems (default 400)")
    p.add_argument("--sketch", type=int, default=None, help="sketch-and-lift subsample size")
    p.add_argument("--n-threads", "--threads", dest="n_threads", type=int, default=1,
                   help="solver threads (-1: all cores; --threads is the old spelling)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true", help="show the solver's progress on stderr")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = p.parse_args(argv)
    from ridgeline import ConvergenceWarning
    from ridgeline.cluster import ila_sdp, kmeans_sdp

    X, truth, K = load(args.problem, args.n, args.seed)
    method = args.method or ("ila" if args.problem in ("iris", "two-scale") else "sdp")
    t0 = time.perf_counter()
    # the demo reports convergence itself (converged field), so no warning is printed next to it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if method == "sdp":
            res = kmeans_sdp(X, K, sketch=args.sketch, n_threads=args.n_threads, progress=args.progress, rng=args.seed)
        else:
            res2 = ila_sdp(X, K, n_threads=args.n_threads, progress=args.progress, rng=args.seed)
    el = time.perf_counter() - t0
    if method == "sdp":
        err, ari = _error(truth, res.labels), _ari(truth, res.labels)
        out = {
            "problem": args.problem, "method": "peng-wei-sdp", "n": int(X.shape[0]), "p": int(X.shape[1]), "K": K,
            "error": err, "ari": ari, "time_s": el, "n_iter": res.n_iter, "converged": res.converged,
            "stop_reason": res.stop_reason,
            "infeasibility": res.infeasibility, "tight": res.tight, "tightness_gap": res.tightness_gap,
            "objective": res.objective, "inertia": res.inertia, "optimality_gap": _finite(res.optimality_gap),
            "winner": res.winner, "sdp_inertia": res.sdp_inertia, "kmeanspp_inertia": res.kmeanspp_inertia,
        }
        lines = [
            f"Peng-Wei SDP on {args.problem}: n={X.shape[0]} p={X.shape[1]} K={K}",
            f"  error {err:.4f}  ARI {ari:.4f}  time {el:.3f} s  iterations {res.n_iter}  converged {res.converged}"
            f" (stopped: {res.stop_reason})",
            f"  infeasibility {res.infeasibility:.2e}  tight {res.tight} (gap {res.tightness_gap:.1e})",
            f"  relaxed K-means cost {res.objective:.6g}  K-means cost of labels {res.inertia:.6g}"
            f"  (winner {res.winner}, optimality gap {res.optimality_gap:.2e})",
        ]
    else:
        err, ari = _error(truth, res2.labels), _ari(truth, res2.labels)
        out = {
            "problem": args.problem, "method": "ila-sdp", "n": int(X.shape[0]), "p": int(X.shape[1]), "K": K,
            "error": err, "ari": ari, "time_s": el, "n_rounds": res2.n_rounds, "n_iter": res2.n_iter,
            "converged": res2.converged, "infeasibility": res2.infeasibility,
            "log_likelihood": res2.log_likelihood,
        }
        lines = [
            f"iLA-SDP on {args.problem}: n={X.shape[0]} p={X.shape[1]} K={K}",
            f"  error {err:.4f}  ARI {ari:.4f}  time {el:.3f} s  rounds {res2.n_rounds}  iterations {res2.n_iter}",
            f"  infeasibility {res2.infeasibility:.2e}  converged {res2.converged}"
            f"  log-likelihood per point {res2.log_likelihood:.6g}",
        ]
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))
    return 0
