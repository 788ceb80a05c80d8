"""SDPKMeans(K, random_state=0) against KMeans(K, n_init=10, random_state=0): CPU s, one thread, medians of 5 interleaved runs.

The data sets of ``ridgeline bench cluster --users`` (iris, wine and breast_cancer standardised, digits,
``make_blobs(50000, 20, centers=4, cluster_std=1, 2, 4)``).  Run from the repository root:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python bench/cluster_users_median.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from ridgeline._bench.cluster import _users_data
from ridgeline.cluster import SDPKMeans


def main() -> None:
    sets = list(_users_data().items())
    for std in (1.0, 2.0, 4.0):
        Xb, yb = make_blobs(n_samples=50000, n_features=20, centers=4, cluster_std=std, random_state=0)
        sets.append((f"blobs n=50000 std={std:g}", (Xb, yb, 4)))
    t_sdp: dict[str, list[float]] = {name: [] for name, _ in sets}
    t_km: dict[str, list[float]] = {name: [] for name, _ in sets}
    with threadpool_limits(1):
        for _ in range(5):
            for name, (X, _y, K) in sets:
                t0 = time.process_time()
                SDPKMeans(K, random_state=0).fit(X)
                t_sdp[name].append(time.process_time() - t0)
                t0 = time.process_time()
                KMeans(K, n_init=10, random_state=0).fit(X)
                t_km[name].append(time.process_time() - t0)
    print("| data | SDPKMeans s | KMeans s | ratio of medians | median of ratios |")
    print("|---|---|---|---|---|")
    for name, _ in sets:
        a, b = float(np.median(t_sdp[name])), float(np.median(t_km[name]))
        r = float(np.median(np.array(t_sdp[name]) / np.array(t_km[name])))
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f} | {r:.2f} |")


if __name__ == "__main__":
    main()
