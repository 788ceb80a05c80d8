"""``ridgeline spectra``: the Hessian spectrum of a small MLP trained on digits."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np


def main(argv: Sequence[str] | None = None) -> int:
    """Train a small MLP on digits; print top eigenvalues, trace, outliers; save a density plot."""
    p = argparse.ArgumentParser(prog="ridgeline spectra", description=__doc__)
    p.add_argument("--hidden", type=int, default=32, help="hidden units (default 32: P = 2410)")
    p.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
    p.add_argument("--steps", type=int, default=300, help="full-batch momentum GD steps (default 300)")
    p.add_argument("--k", type=int, default=5, help="top eigenvalues to print (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="spectra_density.png", help="density plot path ('' to skip)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results (no plot)")
    args = p.parse_args(argv)
    if args.hidden < 1 or args.steps < 0 or args.k < 1:
        p.error("--hidden and --k must be >= 1, --steps >= 0")
    try:
        from ridgeline.spectra.datasets import digits, train
    except ImportError as err:  # pragma: no cover
        print(f"ridgeline spectra: {err}")
        return 1
    from ridgeline.spectra import MLP, density, eigsh, outliers, trace

    X, y = digits()
    net = MLP([64, args.hidden, 10], activation=args.activation)
    t0 = time.perf_counter()
    params = train(net, X, y, rng=args.seed, steps=args.steps, lr=0.1, momentum=0.9)
    t_train = time.perf_counter() - t0
    acc = float(np.mean(np.argmax(_logits(net, params, X), axis=1) == y))
    loss = float(net.loss(params, X, y))
    H = net.hessian_operator(params, X, y)
    t0 = time.perf_counter()
    top = eigsh(H, k=args.k, rng=args.seed)
    t_top = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr = trace(H, rng=args.seed)
    t_tr = time.perf_counter() - t0
    out = outliers(H, rng=args.seed)
    t0 = time.perf_counter()
    dens = density(H, rng=args.seed)
    t_dens = time.perf_counter() - t0
    below = float(dens.cdf(0.0))
    if args.json:
        report = {
            "network": {"layer_sizes": list(net.layer_sizes), "activation": args.activation, "n_params": net.n_params},
            "data": {"name": "digits", "n_samples": int(X.shape[0])},
            "training": {"steps": args.steps, "loss": loss, "accuracy": acc, "seconds": t_train},
            "eigsh": {"k": args.k, "eigenvalues": top.eigenvalues[::-1].tolist(),
                      "residuals": top.residuals[::-1].tolist(), "n_matvec": top.n_matvec,
                      "converged": top.converged, "seconds": t_top},
            "trace": {"value": tr.value, "stderr": tr.stderr, "method": tr.method, "n_matvec": tr.n_matvec,
                      "seconds": t_tr},
            "outliers": {"n_outliers": out.n_outliers, "outliers": out.outliers.tolist(),
                         "bulk_edge": out.bulk_edge},
            "density": {"n_probes": 10, "n_steps": 80, "n_matvec": dens.n_matvec, "n_deflated": dens.n_deflated,
                        "mass_below_zero": below, "seconds": t_dens},
        }
        print(json.dumps(report))
        return 0
    print(f"MLP {list(net.layer_sizes)} ({args.activation}), P = {net.n_params}, digits N = {X.shape[0]}")
    print(f"trained {args.steps} steps in {t_train:.2f} s: loss {loss:.4g}, train accuracy {acc:.3f}")
    print(f"\ntop-{args.k} eigenvalues ({top.n_matvec} HVPs, {t_top:.3f} s):")
    for lam, res in zip(top.eigenvalues[::-1], top.residuals[::-1]):
        print(f"  {lam: .10e}   residual {res:.1e}")
    print(f"\ntrace = {tr.value:.6g} +- {tr.stderr:.2g} ({tr.method}, {tr.n_matvec} HVPs, {t_tr:.3f} s)")
    print(f"outliers: {out.n_outliers} above the bulk edge {out.bulk_edge:.4g} (10 classes)")
    print(f"density: SLQ 10 x 80 in {t_dens:.3f} s ({dens.n_deflated} Ritz pairs deflated), mass below 0: {below:.3f}")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: no plot (pip install 'ridgeline[plot]')")
            return 0
        fig, ax = plt.subplots(figsize=(6, 3.5))
        dens.plot(ax=ax)
        ax.set_title(f"Hessian spectral density, MLP {list(net.layer_sizes)} on digits")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
        print(f"saved {args.plot}")
    return 0


def _logits(net: object, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    layers = net.unflatten(params)  # type: ignore[attr-defined]
    h = X
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i + 1 < len(layers):
            h = np.tanh(h) if net.activation == "tanh" else np.maximum(h, 0.0)  # type: ignore[attr-defined]
    return h
