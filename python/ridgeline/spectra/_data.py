"""Small real test case: an MLP trained on scikit-learn's digits (used by tests, CLI and bench)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ridgeline.spectra._mlp import MLP

__all__ = ["digits", "train"]


def digits(n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Standardised digits pixels (N, 64) and integer labels, classes ``0 .. n_classes - 1``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "the digits case needs scikit-learn: pip install scikit-learn"
        raise ImportError(msg) from err
    data = load_digits()
    keep = data.target < n_classes
    X = data.data[keep].astype(np.float64)
    X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
    return np.ascontiguousarray(X), data.target[keep].astype(np.int64)


def train(net: MLP, X: Any, y: Any, rng: int = 0, steps: int = 500, lr: float = 0.5, momentum: float = 0.9) -> np.ndarray:
    """Full-batch gradient descent with heavy-ball momentum from ``net.init_params(rng)``."""
    p = net.init_params(rng)
    vel = np.zeros_like(p)
    for _ in range(steps):
        _, g = net.loss_and_grad(p, X, y)
        vel = momentum * vel - lr * g
        p = p + vel
    return p
