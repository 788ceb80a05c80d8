"""``ridgeline cluster``: SDP clustering on a built-in data set, with a short report."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

PROBLEMS = ("mixture", "wine", "iris", "two-scale")


def _error(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)
    r, c = linear_sum_assignment(-C)
    return 1.0 - C[r, c].sum() / len(a)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    p = argparse.ArgumentParser(prog="ridgeline cluster", description=__doc__)
    p.add_argument("--problem", choices=PROBLEMS, default="mixture")
    p.add_argument("--method", choices=("sdp", "ila"), default=None, help="default: ila for iris/two-scale")
    p.add_argument("-n", type=int, default=400, help="points for the synthetic problems (default 400)")
    p.add_argument("--sketch", type=int, default=None, help="sketch-and-lift subsample size")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from ridgeline.cluster import ila_sdp, kmeans_sdp

    X, truth, K = load(args.problem, args.n, args.seed)
    method = args.method or ("ila" if args.problem in ("iris", "two-scale") else "sdp")
    t0 = time.perf_counter()
    if method == "sdp":
        res = kmeans_sdp(X, K, sketch=args.sketch, n_threads=args.threads, rng=args.seed)
        el = time.perf_counter() - t0
        print(f"Peng-Wei SDP on {args.problem}: n={X.shape[0]} p={X.shape[1]} K={K}")
        print(f"  error {_error(truth, res.labels):.4f}  time {el:.3f} s  iterations {res.n_iter}")
        print(f"  infeasibility {res.infeasibility:.2e}  tight {res.tight} (gap {res.tightness_gap:.1e})")
        print(f"  relaxed K-means cost {res.objective:.6g}  K-means cost of labels {res.inertia:.6g}")
    else:
        res2 = ila_sdp(X, K, n_threads=args.threads, rng=args.seed)
        el = time.perf_counter() - t0
        print(f"iLA-SDP on {args.problem}: n={X.shape[0]} p={X.shape[1]} K={K}")
        print(f"  error {_error(truth, res2.labels):.4f}  time {el:.3f} s  rounds {res2.n_rounds}")
        print(f"  infeasibility {res2.infeasibility:.2e}  converged {res2.converged}")
    return 0
