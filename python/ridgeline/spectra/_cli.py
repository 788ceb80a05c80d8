"""``ridgeline spectra``: the Hessian spectrum of a small MLP trained on digits."""

from __future__ import annotations

import argparse
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
    acc = float(np.mean(np.argmax(_logits(net, params, X), axis=1) == y))
    print(f"MLP {list(net.layer_sizes)} ({args.activation}), P = {net.n_params}, digits N = {X.shape[0]}")
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.2f} s: loss {net.loss(params, X, y):.4g}, "
          f"train accuracy {acc:.3f}")
    H = net.hessian_operator(params, X, y)
    t0 = time.perf_counter()
    top = eigsh(H, k=args.k, rng=args.seed)
    print(f"\ntop-{args.k} eigenvalues ({top.n_matvec} HVPs, {time.perf_counter() - t0:.3f} s):")
    for lam, res in zip(top.eigenvalues[::-1], top.residuals[::-1]):
        print(f"  {lam: .10e}   residual {res:.1e}")
    t0 = time.perf_counter()
    tr = trace(H, rng=args.seed)
    print(f"\ntrace = {tr.value:.6g} +- {tr.stderr:.2g} ({tr.method}, {tr.n_matvec} HVPs, "
          f"{time.perf_counter() - t0:.3f} s)")
    out = outliers(H, rng=args.seed)
    print(f"outliers: {out.n_outliers} above the bulk edge {out.bulk_edge:.4g} (10 classes)")
    t0 = time.perf_counter()
    dens = density(H, rng=args.seed)
    print(f"density: SLQ 10 x 80 in {time.perf_counter() - t0:.3f} s ({dens.n_deflated} Ritz pairs deflated), "
          f"mass below 0: {float(dens.cdf(0.0)):.3f}")
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
