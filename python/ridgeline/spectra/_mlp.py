"""Built-in multilayer perceptrons with exact Hessian-vector products (C++)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ridgeline import _core
from ridgeline._random import seed_from
from ridgeline._validation import check_choice, check_int, check_n_threads
from ridgeline.spectra._operators import LinearOperator

__all__ = ["MLP", "MLPOperator"]

_ACTIVATIONS = ("tanh", "relu")
_LOSSES = ("cross_entropy", "squared")
def _real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers (TypeError for strings, objects, complex)."""
    if isinstance(value, (str, bytes)):
        msg = f"{name} must be an array of numbers, got a {type(value).__name__}"
        raise TypeError(msg)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        msg = f"{name} must be a rectangular array of numbers: {err}"
        raise ValueError(msg) from err
    if arr.dtype.kind not in "biuf":
        msg = f"{name} must be an array of real numbers, got dtype {arr.dtype}"
        raise TypeError(msg)
    return arr


class MLPOperator(LinearOperator):
    """Hessian (or Gauss-Newton matrix) of an :class:`MLP` loss at fixed (params, X, y).

    The forward and backward passes are cached when the operator is made; each
    product is one R-forward and one R-backward pass in C++ (GIL released).
    Made by :meth:`MLP.hessian_operator` and :meth:`MLP.gauss_newton_operator`.

    Parameters
    ----------
    state : ridgeline._core.spectra.MlpState
        The cached forward and backward passes at (params, X, y).
    gauss_newton : bool
        Products with the Gauss-Newton matrix instead of the Hessian.
    n_threads : int
        Threads of each product (the result does not depend on it).

    Attributes
    ----------
    loss : float
        Loss at the parameters.
    grad : ndarray of shape (n_params,)
        Its gradient.
    gauss_newton : bool
        Whether products are with the Gauss-Newton matrix.
    """

    def __init__(self, state: _core.spectra.MlpState, gauss_newton: bool, n_threads: int) -> None:
        core = _core.spectra.MlpOperator(state, bool(gauss_newton), int(n_threads))
        super().__init__(core.n, core=core)
        self._state = state
        self.gauss_newton = bool(gauss_newton)
        if state.dtype == "float32":
            gn, nt = self.gauss_newton, int(n_threads)

            def matmat32(X: np.ndarray) -> np.ndarray:
                # float32 in and out: eigsh keeps a float32 basis for this operator
                return np.asarray(state.product32(np.asfortranarray(X, dtype=np.float32), gn, nt))

            self._matmat32 = matmat32

    @property
    def loss(self) -> float:
        """Loss at the operator's parameters."""
        return float(self._state.loss)

    @property
    def grad(self) -> np.ndarray:
        """Gradient at the operator's parameters."""
        return np.asarray(self._state.gradient)


class MLP:
    """A dense feed-forward network with exact Hessian-vector products.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(d_in, h_1, ..., d_out)``; at least two entries.
    activation : {"tanh", "relu"}, default="tanh"
        Hidden-layer activation (the output layer is linear).
    loss : {"cross_entropy", "squared"}, default="cross_entropy"
        Mean over samples of softmax cross-entropy with integer labels, or of
        ``0.5 * ||output - y||^2`` with targets of shape (n_samples, d_out).
    n_threads : int, default=1
        Threads for blocks of products (columns split statically, so results
        do not depend on the count).
    isa : {"auto", "avx2", "baseline"}, default="auto"
        Instruction set of the kernels: "auto" picks the AVX2+FMA build when
        the CPU has it (GCC x86-64 builds), else the baseline one.
    dtype : {"float64", "float32"}, default="float64"
        Arithmetic of the loss, gradient and products.  With float32 the
        parameters and data are rounded to float32 when the state is made,
        products are computed in float32 (about twice as fast), :meth:`hvp`,
        :meth:`gnvp` and :meth:`grad` return float32 arrays, and
        :func:`eigsh` keeps a float32 Lanczos basis for the operators (the
        loss is still accumulated in float64).

    Notes
    -----
    Parameters are one flat vector, layer by layer, each weight of shape
    (out, in) in row-major order followed by its bias: the order of
    ``torch.nn.utils.parameters_to_vector`` for a stack of ``nn.Linear``.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.spectra import MLP
    >>> net = MLP([4, 3, 2])
    >>> net.n_params
    23
    >>> X = np.ones((5, 4)); y = np.array([0, 1, 0, 1, 1])
    >>> H = net.hessian_operator(net.init_params(rng=0), X, y)
    >>> H.shape
    (23, 23)
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "tanh",
        loss: str = "cross_entropy",
        *,
        n_threads: int = 1,
        isa: str = "auto",
        dtype: DTypeLike = "float64",
    ) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
            msg = f"layer_sizes={layer_sizes!r} must be a sequence of integers"
            raise TypeError(msg)
        sizes = [check_int(s, f"layer_sizes[{i}]", low=1, high=2**31 - 1) for i, s in enumerate(layer_sizes)]
        if len(sizes) < 2:
            msg = f"layer_sizes={list(layer_sizes)} must have at least 2 entries"
            raise ValueError(msg)
        activation = check_choice(activation, "activation", _ACTIVATIONS)
        loss = check_choice(loss, "loss", _LOSSES)
        isa = check_choice(isa, "isa", ("auto", "avx2", "baseline"))
        try:
            dt = np.dtype(dtype)
        except TypeError as err:
            msg = f"dtype={dtype!r} must be 'float64' or 'float32'"
            raise TypeError(msg) from err
        if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
            msg = f"dtype={dtype!r} must be 'float64' or 'float32'"
            raise ValueError(msg)
        n_threads = check_n_threads(n_threads) or (os.cpu_count() or 1)
        self.layer_sizes = tuple(sizes)
        self.activation = activation
        self.loss_name = loss
        self.n_threads = int(n_threads)
        self.isa = isa
        self.dtype = dt
        self._net = _core.spectra.Mlp(sizes, activation, loss)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray, _core.spectra.MlpState] | None = None

    @property
    def n_params(self) -> int:
        """Total number of parameters."""
        return int(self._net.n_params)

    def __repr__(self) -> str:
        extra = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"MLP({list(self.layer_sizes)}, activation={self.activation!r}, loss={self.loss_name!r}{extra})"

    def init_params(self, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """Random parameters as ``nn.Linear`` initialises them: U(-1/sqrt(in), 1/sqrt(in)).

        Parameters
        ----------
        rng : int, numpy Generator or None
            Seed (None: fresh entropy).

        Returns
        -------
        ndarray of shape (n_params,)
        """
        gen = np.random.default_rng(seed_from(rng))
        parts = []
        for d_in, d_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            bound = 1.0 / math.sqrt(d_in)
            parts.append(gen.uniform(-bound, bound, size=d_out * d_in))
            parts.append(gen.uniform(-bound, bound, size=d_out))
        return np.concatenate(parts)

    def unflatten(self, params: ArrayLike) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split flat parameters into [(W of shape (out, in), b of shape (out,)), ...].

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters.

        Returns
        -------
        list of (ndarray, ndarray)
        """
        p = self._check_params(params)
        out, o = [], 0
        for d_in, d_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            W = p[o : o + d_in * d_out].reshape(d_out, d_in)
            o += d_in * d_out
            out.append((W, p[o : o + d_out]))
            o += d_out
        return out

    # ----------------------------------------------------------------- checks
    def _check_params(self, params: Any) -> np.ndarray:
        p = np.ascontiguousarray(_real_array(params, "params"), dtype=np.float64)
        if p.ndim != 1 or p.shape[0] != self.n_params:
            msg = f"params has shape {p.shape}, expected ({self.n_params},)"
            raise ValueError(msg)
        if not np.all(np.isfinite(p)):
            msg = "params contains NaN or inf"
            raise ValueError(msg)
        return p

    def _check_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        Xa = np.ascontiguousarray(_real_array(X, "X"), dtype=np.float64)
        if Xa.ndim != 2 or Xa.shape[1] != self.layer_sizes[0] or Xa.shape[0] < 1:
            msg = f"X has shape {Xa.shape}, expected (n_samples, {self.layer_sizes[0]})"
            raise ValueError(msg)
        if not np.all(np.isfinite(Xa)):
            msg = "X contains NaN or inf"
            raise ValueError(msg)
        n, d_out = Xa.shape[0], self.layer_sizes[-1]
        if self.loss_name == "cross_entropy":
            ya = _real_array(y, "y")
            if ya.shape != (n,):
                msg = f"y has shape {ya.shape}, expected ({n},) integer labels"
                raise ValueError(msg)
            if not np.issubdtype(ya.dtype, np.integer):
                if not np.all(np.isfinite(ya)) or np.any(ya != np.round(ya)):
                    msg = "y must hold integer class labels for cross_entropy"
                    raise ValueError(msg)
            ya = np.ascontiguousarray(ya, dtype=np.int64)
            if ya.size and (ya.min() < 0 or ya.max() >= d_out):
                msg = f"y must hold labels in [0, {d_out}), got [{ya.min()}, {ya.max()}]"
                raise ValueError(msg)
        else:
            ya = np.asarray(_real_array(y, "y"), dtype=np.float64)
            if ya.ndim == 1 and d_out == 1:
                ya = ya[:, None]
            if ya.shape != (n, d_out):
                msg = f"y has shape {ya.shape}, expected ({n}, {d_out})"
                raise ValueError(msg)
            if not np.all(np.isfinite(ya)):
                msg = "y contains NaN or inf"
                raise ValueError(msg)
            ya = np.ascontiguousarray(ya)
        return Xa, ya

    def _state(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> _core.spectra.MlpState:
        p = self._check_params(params)
        Xa, ya = self._check_data(X, y)
        c = self._cache
        if c is not None and np.array_equal(c[0], p) and np.array_equal(c[1], Xa) and np.array_equal(c[2], ya):
            return c[3]
        state = _core.spectra.MlpState(self._net, p, Xa, ya, self.isa, self.dtype.name)
        self._cache = (p.copy(), Xa.copy(), ya.copy(), state)
        return state

    # ------------------------------------------------------------ evaluations
    def loss(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> float:
        """Mean loss over the samples.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).

        Returns
        -------
        float
        """
        return float(self._state(params, X, y).loss)

    def grad(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Gradient of :meth:`loss` in the flat parameters.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return np.asarray(self._state(params, X, y).gradient, dtype=self.dtype)

    def loss_and_grad(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> tuple[float, np.ndarray]:
        """(:meth:`loss`, :meth:`grad`) from one forward and one backward pass.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).

        Returns
        -------
        (float, ndarray of shape (n_params,))
        """
        s = self._state(params, X, y)
        return float(s.loss), np.asarray(s.gradient, dtype=self.dtype)

    def _product(self, params: Any, X: Any, y: Any, v: Any, gauss_newton: bool) -> np.ndarray:
        s = self._state(params, X, y)
        va = np.asarray(_real_array(v, "v"), dtype=np.float64)
        if va.ndim not in (1, 2) or va.shape[0] != self.n_params:
            msg = f"v has shape {va.shape}, expected ({self.n_params},) or ({self.n_params}, b)"
            raise ValueError(msg)
        if not np.all(np.isfinite(va)):
            msg = "v contains NaN or inf"
            raise ValueError(msg)
        V = va.reshape(self.n_params, -1)
        if self.dtype == np.float32:
            out = np.asarray(s.product32(np.asfortranarray(V, dtype=np.float32), gauss_newton, self.n_threads))
        else:
            out = np.asarray(s.product(V, gauss_newton, self.n_threads))
        return out[:, 0] if va.ndim == 1 else out

    def hvp(self, params: ArrayLike, X: ArrayLike, y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Exact Hessian-vector product(s) ``H v`` (v of shape (P,) or (P, b)) by the R-operator.

        The forward/backward state is cached for the last (params, X, y).

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).
        v : array-like of shape (n_params,) or (n_params, b)
            Direction(s).

        Returns
        -------
        ndarray of the shape of v
        """
        return self._product(params, X, y, v, False)

    def gnvp(self, params: ArrayLike, X: ArrayLike, y: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Generalised Gauss-Newton products ``G v = J^T H_out J v`` (v of shape (P,) or (P, b)).

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).
        v : array-like of shape (n_params,) or (n_params, b)
            Direction(s).

        Returns
        -------
        ndarray of the shape of v
        """
        return self._product(params, X, y, v, True)

    def hessian_operator(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> MLPOperator:
        """The loss Hessian at ``params`` as a compiled :class:`LinearOperator`.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).

        Returns
        -------
        MLPOperator
        """
        return MLPOperator(self._state(params, X, y), False, self.n_threads)

    def gauss_newton_operator(self, params: ArrayLike, X: ArrayLike, y: ArrayLike) -> MLPOperator:
        """The Gauss-Newton matrix at ``params`` as a compiled :class:`LinearOperator`.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Flat parameters (the layout of :meth:`unflatten`).
        X : array-like of shape (n_samples, layer_sizes[0])
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, layer_sizes[-1])
            Class labels (cross-entropy loss) or targets (squared loss).

        Returns
        -------
        MLPOperator
        """
        return MLPOperator(self._state(params, X, y), True, self.n_threads)

    def to_torch(self) -> Any:
        """An equivalent ``torch.nn.Sequential`` (of the network's dtype) whose parameters_to_vector order matches."""
        try:
            import torch
        except ImportError as err:  # pragma: no cover
            msg = "to_torch needs PyTorch: pip install 'ridgeline[torch]'"
            raise ImportError(msg) from err
        layers: list[Any] = []
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        for i, (d_in, d_out) in enumerate(pairs):
            tdt = torch.float32 if self.dtype == np.float32 else torch.float64
            layers.append(torch.nn.Linear(d_in, d_out, dtype=tdt))
            if i + 1 < len(pairs):
                layers.append(torch.nn.Tanh() if self.activation == "tanh" else torch.nn.ReLU())
        return torch.nn.Sequential(*layers)
