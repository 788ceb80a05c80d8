"""``ridgeline bench cluster``: the SDP engine against scikit-learn and CVXPY+SCS.

Side by side in one run, on isotropic Gaussian mixtures (p=20, K=4, separation
1.2 x the exact-recovery threshold): our Peng-Wei SDP, scikit-learn KMeans
(n_init=10), GaussianMixture (full) and, where installed, the exact SDP by
CVXPY+SCS (default eps 1e-4; n <= 400 by default, n = 1200 with --full).
Times are process CPU seconds on one thread (OMP/BLAS threads set to 1).
Also: n = 50,000 without sketching in a fresh process, reporting time,
infeasibility and peak memory (ru_maxrss).

``--users`` runs the users'-data rows instead (issue 17): SDPKMeans against
KMeans(n_init=10) on iris, wine (standardised), breast_cancer (standardised),
digits and ``make_blobs(50000, 20, centers=4, cluster_std=1, 2, 4)`` (CPU ratio,
K-means cost ratio, which candidate won, the certificate), iLA-SDP against
GaussianMixture(full) on the heterogeneous sets, and n = 10^6 with ``sketch=2000``
(``--million`` adds the runs without sketching and with ``sketch="auto"``, each in a fresh process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import numpy as np

from ridgeline._bench import format_table, have


def mixture(n: int, p: int = 20, K: int = 4, ratio: float = 1.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dbar = np.sqrt(4 * (1 + np.sqrt(1 + K * p / (n * np.log(n)))) * np.log(n))
    mu = np.zeros((K, p))
    mu[np.arange(K), np.arange(K)] = ratio * dbar / np.sqrt(2)
    lab = np.arange(n) * K // n
    return mu[lab] + rng.standard_normal((n, p)), lab


def error(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)
    r, c = linear_sum_assignment(-C)
    return 1.0 - C[r, c].sum() / len(a)


def scs_solve(X: np.ndarray, K: int, eps: float = 1e-4) -> tuple[np.ndarray, float]:
    """Exact Peng-Wei SDP by CVXPY+SCS; returns (labels by spectral rounding, <A, Z>)."""
    import cvxpy as cp
    from sklearn.cluster import KMeans

    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    A = Xc @ Xc.T
    Z = cp.Variable((n, n), PSD=True)
    cons = [Z >= 0, cp.sum(Z, axis=1) == 1, cp.trace(Z) == K]
    prob = cp.Problem(cp.Maximize(cp.trace(A @ Z)), cons)
    prob.solve(solver=cp.SCS, eps=eps)
    Zv = np.asarray(Z.value)
    w, V = np.linalg.eigh((Zv + Zv.T) / 2)
    L = V[:, -K:]
    lab = KMeans(K, n_init=10, random_state=0).fit(L).labels_
    return lab, float(np.sum(A * Zv))


def _large(n: int) -> None:
    import resource

    from ridgeline.cluster import kmeans_sdp

    X, lab = mixture(n)
    t0 = time.process_time()
    res = kmeans_sdp(X, 4, n_threads=1, rng=0, max_iter=200000)
    el = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{el:.3f} {res.infeasibility:.3e} {peak:.1f} {error(lab, res.labels):.5f} {res.n_iter} {res.tight}")


def _scs_child(n: int, out: str) -> None:
    """Solve the n-point mixture with CVXPY+SCS; save labels and print CPU s, wall s, peak MB, <A, Z>."""
    import resource

    X, _ = mixture(n)
    w0 = time.perf_counter()
    t0 = time.process_time()
    lab, val = scs_solve(X, 4)
    el = time.process_time() - t0
    wall = time.perf_counter() - w0
    np.save(out, lab)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{el:.3f} {wall:.3f} {peak:.1f} {val!r}")


def _scs_row(n: int) -> list[object]:
    """Ours (median CPU s of 5 runs) against CVXPY+SCS in a fresh single-threaded process, same data."""
    import statistics
    import tempfile
    import warnings

    from ridgeline.cluster import kmeans_sdp

    X, _ = mixture(n)
    times = []
    for _ in range(5):
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = kmeans_sdp(X, 4, rng=0)
        times.append(time.process_time() - t0)
    t_sdp = statistics.median(times)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "labels.npy")
        code = f"from ridgeline._bench.cluster import _scs_child; _scs_child({n}, {path!r})"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        lab_scs = np.load(path)
    cpu, wall, peak, val = (float(v) for v in out.stdout.split())
    same = error(res.labels, lab_scs) == 0.0
    rel = abs(res.sdp_value - val) / abs(val)
    return [n, f"{t_sdp:.3f}", f"{cpu:.2f}", f"{wall:.2f}", f"{peak:.0f}", f"{cpu / t_sdp:.0f}", f"{rel:.1e}", str(same)]


def _one_thread() -> object:
    """OpenMP/BLAS pools at one thread (scikit-learn's KMeans is OpenMP-threaded); a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _cpu(fn: object) -> tuple[object, float]:
    t0 = time.process_time()
    out = fn()  # type: ignore[operator]
    return out, time.process_time() - t0


def _users_data() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    from sklearn import datasets

    def std(X: np.ndarray) -> np.ndarray:
        return (X - X.mean(axis=0)) / X.std(axis=0)

    out = {}
    d = datasets.load_iris()
    out["iris"] = (d.data, d.target, 3)
    d = datasets.load_wine()
    out["wine (std)"] = (std(d.data), d.target, 3)
    d = datasets.load_breast_cancer()
    out["breast_cancer (std)"] = (std(d.data), d.target, 2)
    d = datasets.load_digits()
    out["digits"] = (d.data, d.target, 10)
    return out


def _million_child(sketch: int) -> None:
    import resource

    from ridgeline.cluster import kmeans_sdp

    X, lab = mixture(1_000_000)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    res = kmeans_sdp(X, 4, rng=0, sketch=sketch if sketch > 0 else ("auto" if sketch < 0 else None))
    el = time.process_time() - t0
    extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024 / X.shape[0]
    print(f"{el:.2f} {extra:.0f} {error(lab, res.labels):.5f} {res.n_iter} {res.winner} {res.stop_reason} "
          f"{res.certified_gap:.2e}")


def users(million: bool) -> None:
    """The users'-data rows (issue 17); one run each, one thread, CPU seconds."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    from sklearn.mixture import GaussianMixture

    from ridgeline.cluster import SDPKMeans, ila_sdp
    from ridgeline.cluster._lloyd import cost

    limit = _one_thread()
    rows = []
    sets = list(_users_data().items())
    for std_ in (1.0, 2.0, 4.0):
        Xb, yb = make_blobs(n_samples=50000, n_features=20, centers=4, cluster_std=std_, random_state=0)
        sets.append((f"blobs n=50000 std={std_:g}", (Xb, yb, 4)))
    for name, (X, y, K) in sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd, t_sd = _cpu(lambda: SDPKMeans(K, random_state=0).fit(X))
        km, t_km = _cpu(lambda: KMeans(K, n_init=10, random_state=0).fit(X))
        c_sd, c_km = cost(X, sd.labels_, K), cost(X, km.labels_, K)
        rows.append([name, f"{t_sd:.2f}", f"{t_km:.2f}", f"{t_sd / t_km:.1f}", f"{c_sd / c_km:.6f}", sd.winner_,
                     str(sd.tight_), sd.stop_reason_, f"{sd.optimality_gap_:.2e}", f"{sd.certified_gap_:.2e}",
                     sd.n_iter_, f"{error(y, sd.labels_):.4f}", f"{error(y, km.labels_):.4f}"])
    print("SDPKMeans vs KMeans(n_init=10), seed 0, one thread, CPU s")
    print("(gap: optimality_gap_ against the factored SDP objective, NaN when sketched; certified: certified_gap_,"
          " the proved distance to the optimal K-means cost from the dual bound)")
    print(format_table(["data", "SDP s", "KMeans s", "ratio", "cost ratio", "winner", "tight", "stop", "gap",
                        "certified", "iters", "SDP err", "KMeans err"], rows))
    rng = np.random.default_rng(0)
    two = np.r_[rng.standard_normal((100, 10)), 3.0 * rng.standard_normal((100, 10))]
    ila_sets = list(_users_data().items())
    ila_sets.append(("two-scale (I, 9I)", (two, np.repeat([0, 1], 100), 2)))
    irows = []
    for name, (X, y, K) in ila_sets:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res, t = _cpu(lambda: ila_sdp(X, K, rng=0))
        gm, t_gm = _cpu(lambda: GaussianMixture(K, covariance_type="full", random_state=0).fit(X))
        irows.append([name, f"{t:.2f}", res.n_rounds, str(res.converged), len(caught), f"{error(y, res.labels):.4f}",
                      f"{error(y, gm.predict(X)):.4f}", f"{t_gm:.3f}"])
    print("\niLA-SDP vs GaussianMixture(full), seed 0, one thread, CPU s")
    print(format_table(["data", "iLA s", "rounds", "converged", "warnings", "iLA err", "GMM err", "GMM s"], irows))
    limit.__exit__(None, None, None)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mrows = []
    for sketch in [2000] + ([0, -1] if million else []):
        code = f"from ridgeline._bench.cluster import _million_child; _million_child({sketch})"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        el, extra, err, nit, win, stop, cgap = out.stdout.split()
        mrows.append([{0: "none", -1: "auto"}.get(sketch, sketch), el, extra, err, nit, win, stop, cgap])
    print("\nn=10^6, p=20, K=4 (1.2 x threshold), one thread, fresh process; bytes/point = peak RSS growth / n")
    print(format_table(["sketch", "CPU s", "bytes/point", "error", "iterations", "winner", "stop", "certified"],
                       mrows))


def tight_mixtures() -> None:
    """The early exit on tight problems: 20 mixtures at 1.1-1.5 x the threshold, how many end certified tight."""
    from ridgeline import _core
    from ridgeline.cluster._api import _unit_scale, tightness

    cases = [(n, p, K, ra, s) for n in (1000, 2000) for (p, K, ra) in
             ((20, 4, 1.2), (10, 3, 1.1), (30, 5, 1.3), (20, 4, 1.5), (5, 2, 1.2)) for s in (1, 2)]
    its, tight = [], 0
    for n, p, K, ra, s in cases:
        Xu, _ = _unit_scale(mixture(n, p, K, ra, s)[0])
        out = _core.cluster.peng_wei(Xu, K, 2 * K, 0, tol=1e-6, max_iter=50000, settle_n_init=10, settle_seed=1,
                                     settle_infeas=0.1)
        lab = _core.cluster.kmeans(_core.cluster.round_factor(out.U, K), K, 10, 300, 1, 1).labels.astype(np.intp)
        gap, _ = tightness(np.asarray(out.U), lab, K)
        tight += bool(out.converged and gap < 1e-3)
        its.append(out.n_iter)
    print(f"certified tight {tight}/{len(cases)}; iterations median {np.median(its)} max {max(its)}: {its}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print tables."""
    p = argparse.ArgumentParser(prog="ridgeline bench cluster", description=__doc__)
    p.add_argument("--full", action="store_true", help="add n=1200 for CVXPY+SCS (minutes)")
    p.add_argument("--sizes", default="400,1000,2000", help="n for the KMeans/GMM comparison")
    p.add_argument("--large", type=int, default=50000, help="n of the large single-thread run (0 skips)")
    p.add_argument("--no-scs", action="store_true")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats of the KMeans/GMM comparison (medians)")
    p.add_argument("--users", action="store_true", help="the users'-data rows (real data sets, blobs, iLA-SDP)")
    p.add_argument("--million", action="store_true", help="with --users: n=10^6 without sketching too (minutes)")
    p.add_argument("--tight-mixtures", action="store_true", help="how often the early exit keeps the certificate")
    p.add_argument("--_large-child", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tight_mixtures:
        tight_mixtures()
        return 0
    if args.users:
        users(args.million)
        return 0
    if args._large_child:
        _large(args._large_child)
        return 0
    import warnings

    from ridgeline.cluster import kmeans_sdp

    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    sk = have("sklearn")
    for n in sizes:
        X, lab = mixture(n)
        # medians of interleaved repeats (the machine may be shared)
        ts: dict[str, list[float]] = {"sdp": [], "km": [], "gm": []}
        for _ in range(args.repeats):
            limit = _one_thread()
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = kmeans_sdp(X, 4, rng=0)
            ts["sdp"].append(time.process_time() - t0)
            if sk:
                from sklearn.cluster import KMeans
                from sklearn.mixture import GaussianMixture

                t0 = time.process_time()
                km = KMeans(4, n_init=10, random_state=0).fit(X)
                ts["km"].append(time.process_time() - t0)
                t0 = time.process_time()
                gm = GaussianMixture(4, random_state=0).fit(X)
                ts["gm"].append(time.process_time() - t0)
            limit.__exit__(None, None, None)
        t_sdp = float(np.median(ts["sdp"]))
        row = [n, f"{t_sdp:.3f}", f"{error(lab, res.labels):.4f}", f"{res.infeasibility:.1e}", str(res.tight)]
        if sk:
            t_km, t_gm = float(np.median(ts["km"])), float(np.median(ts["gm"]))
            row += [f"{t_km:.3f}", f"{t_sdp / t_km:.1f}", f"{error(lab, km.labels_):.4f}"]
            row += [f"{t_gm:.3f}", f"{error(lab, gm.predict(X)):.4f}"]
        rows.append(row)
    head = ["n", "SDP s", "SDP err", "infeas", "tight"]
    if sk:
        head += ["KMeans s", "SDP/KMeans", "KMeans err", "GMM s", "GMM err"]
    print(f"Peng-Wei SDP vs scikit-learn (p=20, K=4, 1.2 x threshold; CPU s, medians of {args.repeats} interleaved runs)")
    print(format_table(head, rows))

    if have("cvxpy") and sk and not args.no_scs:
        scs_sizes = [400] + ([1200] if args.full else [])
        srows = []
        for n in scs_sizes:
            srows.append(_scs_row(n))
        print("\nPeng-Wei SDP vs CVXPY+SCS (eps=1e-4), same data; CPU s (ours: median of 5 runs; SCS: one run in a")
        print("fresh process, with its wall s and peak RSS)")
        print(format_table(["n", "ours CPU s", "SCS CPU s", "SCS wall s", "SCS peak MB", "CPU speed-up",
                            "rel. obj diff", "same labels"], srows))

    if args.large:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        code = f"from ridgeline._bench.cluster import main; main(['--_large-child', '{args.large}'])"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        el, inf, peak, err, nit, tight = out.stdout.split()
        print(f"\nn={args.large}, p=20, K=4, no sketching, 1 thread (fresh process)")
        print(format_table(["CPU s", "infeasibility", "peak MB", "error", "iterations", "tight"],
                           [[el, inf, peak, err, nit, tight]]))
    return 0
