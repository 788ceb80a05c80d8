"""Sample data for the spectra engine: a small real case to compute Hessian spectra on.

- :func:`digits`: scikit-learn's 8x8 digits, standardised (needs scikit-learn).
- :func:`train`: full-batch momentum gradient descent of a :class:`~ridgeline.spectra.MLP`.

Examples
--------
>>> from ridgeline.spectra import MLP
>>> from ridgeline.spectra.datasets import digits, train
>>> X, y = digits(n_classes=3)  # doctest: +SKIP
>>> net = MLP([64, 16, 3])  # doctest: +SKIP
>>> params = train(net, X, y, rng=0, steps=100)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ridgeline._validation import check_float, check_int
from ridgeline.spectra._mlp import MLP

__all__ = ["digits", "train"]


def digits(n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Standardised pixels and labels of scikit-learn's digits data set.

    Parameters
    ----------
    n_classes : int, default=10
        Keep the images of classes ``0 .. n_classes - 1`` (between 2 and 10).

    Returns
    -------
    X : ndarray of shape (n_samples, 64)
        Pixels, each column standardised to mean 0 and standard deviation 1
        (constant columns stay 0).
    y : ndarray of shape (n_samples,)
        Integer labels in ``0 .. n_classes - 1``.

    Raises
    ------
    ImportError
        When scikit-learn is not installed.
    """
    n_classes = check_int(n_classes, "n_classes", low=2, high=10)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "the digits data set needs scikit-learn: pip install scikit-learn"
        raise ImportError(msg) from err
    data = load_digits()
    keep = data.target < n_classes
    X = data.data[keep].astype(np.float64)
    X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
    return np.ascontiguousarray(X), data.target[keep].astype(np.int64)


def train(
    net: MLP,
    X: Any,
    y: Any,
    rng: int | np.random.Generator | None = 0,
    steps: int = 500,
    lr: float = 0.5,
    momentum: float = 0.9,
) -> np.ndarray:
    """Train ``net`` by full-batch gradient descent with heavy-ball momentum.

    Parameters
    ----------
    net : MLP
        The network (its loss is used).
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like
        Labels (cross-entropy) or targets (squared loss), as :meth:`MLP.loss` takes.
    rng : int, Generator or None, default=0
        Seeds the initial parameters (``net.init_params(rng)``).
    steps : int, default=500
        Gradient steps.
    lr : float, default=0.5
        Step size.
    momentum : float, default=0.9
        Heavy-ball coefficient in ``[0, 1)``.

    Returns
    -------
    ndarray of shape (net.n_params,)
        The trained parameters.
    """
    if not isinstance(net, MLP):
        msg = f"net={type(net).__name__} must be a ridgeline.spectra.MLP"
        raise TypeError(msg)
    steps = check_int(steps, "steps", low=0)
    lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
    momentum = check_float(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
    p = net.init_params(rng)
    vel = np.zeros_like(p)
    for _ in range(steps):
        _, g = net.loss_and_grad(p, X, y)
        vel = momentum * vel - lr * g
        p = p + vel
    return p
