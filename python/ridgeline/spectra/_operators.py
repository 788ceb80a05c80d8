"""Symmetric linear operators for the spectra kernels.

:func:`aslinearoperator` turns numpy arrays, scipy sparse matrices, scipy
``LinearOperator`` objects, plain callables and the built-in model operators
into a :class:`LinearOperator`.  Operators backed by a compiled kernel (dense,
sparse, built-in MLPs) are run by C++ without the GIL; the others are driven
from Python by reverse communication.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, Union

import numpy as np
from numpy.typing import ArrayLike

from ridgeline import _core
from ridgeline._validation import check_bool, check_callable, check_int, check_n_threads

__all__ = ["LinearOperator", "OperatorLike", "SupportsMatvec", "aslinearoperator", "torch_hessian"]


class SupportsMatvec(Protocol):
    """A matrix-free operator as scipy's ``LinearOperator`` has it: ``shape`` and ``matvec``."""

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n, n)``."""

    def matvec(self, x: np.ndarray) -> ArrayLike:
        """``A @ x``."""


# What the spectra functions take as ``A``: an array, a scipy sparse matrix or LinearOperator (scipy has no type
# information, so mypy sees those as Any), an object with ``shape`` and ``matvec``, a callable with ``n=``, or a
# ridgeline :class:`LinearOperator`.
OperatorLike = Union["LinearOperator", SupportsMatvec, Callable[[np.ndarray], ArrayLike], ArrayLike]


class LinearOperator:
    """A symmetric ``n x n`` map ``v -> A v``.

    Parameters
    ----------
    n : int
        Dimension.
    matvec : callable, optional
        ``matvec(v)`` for ``v`` of shape (n,), returning shape (n,).
    matmat : callable, optional
        ``matmat(V)`` for ``V`` of shape (n, b), returning shape (n, b).
    core : ridgeline._core.spectra.Operator, optional
        A compiled operator (used instead of the callables).

    Notes
    -----
    Products are float64.  A product containing NaN or inf raises ``ValueError``
    inside the kernels.
    """

    def __init__(
        self,
        n: int,
        matvec: Callable[[np.ndarray], Any] | None = None,
        matmat: Callable[[np.ndarray], Any] | None = None,
        core: Any = None,
    ) -> None:
        n = int(n)
        if n < 1:
            msg = f"n={n} must be >= 1"
            raise ValueError(msg)
        if core is None and matvec is None and matmat is None:
            msg = "a LinearOperator needs matvec, matmat or a compiled core"
            raise TypeError(msg)
        self.n = n
        self._matvec = matvec
        self._matmat = matmat
        self._core = core
        # ("dense", array) or ("csr", data, indices, indptr, n_threads): lets the algorithms
        # build an exactly rescaled copy for matrices with extreme entries.
        self._source: tuple[Any, ...] | None = None
        # None: symmetric by construction or already checked; True: probe before use.
        self._probe_symmetry = core is None
        # float32 products of float32 (n, b) blocks, when the operator computes in float32
        # (torch_hessian of a float32 model): the Lanczos kernels then keep a float32 basis.
        self._matmat32: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(n, n)."""
        return (self.n, self.n)

    @property
    def dtype(self) -> np.dtype:
        """Always float64."""
        return np.dtype(np.float64)

    def matmat(self, X: ArrayLike) -> np.ndarray:
        """``A @ X`` for X of shape (n, b).

        Parameters
        ----------
        X : array-like of shape (n, b)
            The block to multiply.

        Returns
        -------
        ndarray of shape (n, b)
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.n:
            msg = f"X has shape {X.shape}, expected ({self.n}, b)"
            raise ValueError(msg)
        if self._core is not None:
            return np.asarray(self._core.matmat(X))
        if self._matmat is not None:
            Y = _real_output(self._matmat(X), "matmat")
        else:
            assert self._matvec is not None
            Y = np.empty_like(X)
            for j in range(X.shape[1]):
                y = _real_output(self._matvec(np.ascontiguousarray(X[:, j])), "matvec").reshape(-1)
                if y.shape != (self.n,):
                    msg = f"the operator's matvec returned shape {y.shape}, expected ({self.n},)"
                    raise ValueError(msg)
                Y[:, j] = y
        if Y.shape != X.shape:
            msg = f"the operator returned shape {Y.shape}, expected {X.shape}"
            raise ValueError(msg)
        return Y

    def matvec(self, x: ArrayLike) -> np.ndarray:
        """``A @ x`` for x of shape (n,).

        Parameters
        ----------
        x : array-like of shape (n,)
            The vector to multiply.

        Returns
        -------
        ndarray of shape (n,)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n,):
            msg = f"x has shape {x.shape}, expected ({self.n},)"
            raise ValueError(msg)
        if self._core is None and self._matvec is not None:
            y = _real_output(self._matvec(x), "matvec").reshape(-1)
            if y.shape != (self.n,):
                msg = f"the operator returned shape {y.shape}, expected ({self.n},)"
                raise ValueError(msg)
            return y
        return self.matmat(x[:, None])[:, 0]

    def __matmul__(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return self.matvec(x) if x.ndim == 1 else self.matmat(x)

    def todense(self) -> np.ndarray:
        """The full matrix, by n products with the unit vectors (small n only)."""
        return self.matmat(np.eye(self.n))

    def __repr__(self) -> str:
        kind = "compiled" if self._core is not None else "python"
        return f"<{type(self).__name__} n={self.n} ({kind})>"


def _real_output(value: Any, name: str) -> np.ndarray:
    """A product returned by a user callback as a float64 array; complex or non-numeric output is a TypeError."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch tensors
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        msg = f"the operator's {name} returned {type(value).__name__}, not an array of numbers: {err}"
        raise TypeError(msg) from err
    if arr.dtype.kind == "c":
        msg = (
            f"the operator's {name} returned complex values (dtype {arr.dtype}); "
            "only real symmetric operators are supported"
        )
        raise TypeError(msg)
    if arr.dtype.kind not in "biuf":
        msg = f"the operator's {name} returned dtype {arr.dtype}, not an array of real numbers"
        raise TypeError(msg)
    return np.asarray(arr, dtype=np.float64)


def _drive(engine: Any, op: LinearOperator, progress: Any = None, apply: Any = None) -> None:
    """Run a reverse-communication engine: C++ for compiled operators, else Python callbacks.

    ``apply`` overrides the product (rescaled or deflated operators); ``progress`` (a
    :class:`ridgeline._progress.Progress`) gets one update per product block, which makes
    the loop run from Python even for compiled operators.
    """
    track = progress is not None and progress.active
    if apply is None and op._core is not None and not track:
        engine.run(op._core)
        return
    mm = op.matmat if apply is None else apply
    while not engine.done:
        X = engine.request()
        engine.supply(mm(X))
        if track:
            progress.update(None, n_matvec=int(engine.n_matvec))


def _check_symmetric_dense(A: np.ndarray, name: str) -> None:
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    if not np.allclose(A, A.T, rtol=0.0, atol=1e-10 * max(scale, 1e-300)):
        err = float(np.max(np.abs(A - A.T)))
        msg = f"{name} must be symmetric (max |A - A.T| = {err:.3g})"
        raise ValueError(msg)


def _is_sparse(A: Any) -> bool:
    return type(A).__module__.startswith("scipy.sparse") and hasattr(A, "tocsr")


def aslinearoperator(
    A: OperatorLike,
    *,
    n: int | None = None,
    matmat: Callable[[np.ndarray], Any] | None = None,
    check_symmetric: bool = True,
    n_threads: int = 1,
) -> LinearOperator:
    """Wrap a symmetric matrix or a matrix-free map as a :class:`LinearOperator`.

    Parameters
    ----------
    A : array-like, scipy sparse matrix, scipy LinearOperator, callable or LinearOperator
        A square symmetric matrix (dense or sparse, run by C++), an object with
        ``shape`` and ``matvec`` (and optionally ``matmat``), a callable
        ``matvec(v)`` (then ``n`` is required), or one of ridgeline's operators
        (returned unchanged).
    n : int, optional
        Dimension, for a plain callable.
    matmat : callable, optional
        Batched product ``matmat(V)`` for V of shape (n, b), for a plain callable.
    check_symmetric : bool, default=True
        Check dense and sparse input for symmetry (exactly, to 1e-10 of the largest
        entry).  Matrix-free operators are probed once before their first use by
        :func:`eigsh` or :func:`density`: with random ``x, y``, ``|x^T A y - y^T A x|``
        must be below ``1e-5 (|x| |A y| + |y| |A x|)`` (two products, counted in
        ``n_matvec``); pass False to skip the probe.
    n_threads : int, default=1
        Threads for sparse products (rows split statically; same result for any
        count); -1 or None for all cores.

    Returns
    -------
    LinearOperator

    Raises
    ------
    ValueError
        Non-square, non-symmetric, empty or non-finite matrices.
    TypeError
        Objects that are none of the above.

    Examples
    --------
    >>> import numpy as np
    >>> from ridgeline.spectra import aslinearoperator
    >>> op = aslinearoperator(np.diag([1.0, 2.0, 3.0]))
    >>> op.matvec(np.ones(3)).tolist()
    [1.0, 2.0, 3.0]
    """
    if isinstance(A, LinearOperator):
        return A
    check_symmetric = check_bool(check_symmetric, "check_symmetric")
    threads = check_n_threads(n_threads)
    threads = threads if threads > 0 else (os.cpu_count() or 1)
    if _is_sparse(A):
        import scipy.sparse as sps

        M = sps.csr_matrix(A)
        if M.dtype.kind == "c":
            msg = f"A must be real, got a sparse matrix of complex dtype {M.dtype}"
            raise TypeError(msg)
        if M.dtype.kind not in "biuf":
            msg = f"A must be a numeric matrix, got dtype {M.dtype}"
            raise TypeError(msg)
        if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
            msg = f"A must be a non-empty square matrix, got shape {M.shape}"
            raise ValueError(msg)
        M = M.astype(np.float64)
        M.sum_duplicates()
        M.sort_indices()
        if not np.all(np.isfinite(M.data)):
            msg = "A contains NaN or inf"
            raise ValueError(msg)
        if check_symmetric and M.nnz:
            scale = float(np.max(np.abs(M.data)))
            diff = abs(M - M.T)
            err = float(diff.max()) if diff.nnz else 0.0
            if err > 1e-10 * scale:
                msg = f"A must be symmetric (max |A - A.T| = {err:.3g})"
                raise ValueError(msg)
        parts = (
            np.ascontiguousarray(M.data, dtype=np.float64),
            np.ascontiguousarray(M.indices, dtype=np.int64),
            np.ascontiguousarray(M.indptr, dtype=np.int64),
        )
        core = _core.spectra.CsrOperator(*parts, M.shape[0], threads)
        out = LinearOperator(M.shape[0], core=core)
        out._source = ("csr", *parts, threads)
        return out
    if isinstance(A, (np.ndarray, list, tuple)) or (hasattr(A, "__array__") and not hasattr(A, "matvec") and not callable(A)):
        arr = np.asarray(A)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            msg = f"A must be a numeric array, got dtype {arr.dtype}"
            raise TypeError(msg)
        if np.iscomplexobj(arr):
            msg = "A must be real (complex input is not supported)"
            raise TypeError(msg)
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
            msg = f"A must be a non-empty square matrix, got shape {arr.shape}"
            raise ValueError(msg)
        if not np.all(np.isfinite(arr)):
            msg = "A contains NaN or inf"
            raise ValueError(msg)
        if check_symmetric:
            _check_symmetric_dense(arr, "A")
        out = LinearOperator(arr.shape[0], core=_core.spectra.DenseOperator(arr))
        out._source = ("dense", arr)
        return out
    if hasattr(A, "shape") and (hasattr(A, "matvec") or hasattr(A, "matmat")):
        shape = tuple(A.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            msg = f"A must be square, got shape {shape}"
            raise ValueError(msg)
        dt = getattr(A, "dtype", None)
        if dt is not None and np.dtype(dt).kind == "c":
            msg = f"A must be a real operator, got dtype {np.dtype(dt)}"
            raise TypeError(msg)
        if shape[0] < 1:
            msg = f"A must be a non-empty square operator, got shape {shape}"
            raise ValueError(msg)
        mv = getattr(A, "matvec", None)
        mm = getattr(A, "matmat", None)
        out = LinearOperator(int(shape[0]), matvec=mv, matmat=mm)
        out._probe_symmetry = check_symmetric
        return out
    if callable(A):
        if n is None:
            msg = "n is required when A is a plain callable"
            raise ValueError(msg)
        n = check_int(n, "n", low=1)
        if matmat is not None:
            check_callable(matmat, "matmat")
        out = LinearOperator(n, matvec=A, matmat=matmat)
        out._probe_symmetry = check_symmetric
        return out
    msg = (
        f"cannot make a linear operator from {type(A).__name__}; expected an array, a scipy sparse matrix, "
        "a scipy LinearOperator, an object with shape and matvec, or a callable with n"
    )
    raise TypeError(msg)


def torch_hessian(
    model: Any, loss_fn: Callable[[Any, Any], Any], inputs: Any, targets: Any = None
) -> LinearOperator:
    """The Hessian of ``loss_fn(model(inputs), targets)`` in the model's parameters.

    Products are by double backward.  With one batch (``inputs`` and ``targets``
    tensors or arrays) the gradient graph is kept between calls (one
    forward/backward when the operator is made).  With a DataLoader (or any
    re-iterable of ``(inputs, targets)`` batches) as ``inputs`` and no
    ``targets``, each product runs over every batch and returns the mean-loss
    Hessian of the whole dataset, ``sum_b n_b H_b / sum_b n_b`` where ``H_b`` is
    the Hessian of the batch's loss and ``n_b`` its size (exact for a loss that
    is a mean over samples, as PyHessian's dataloader mode).  The parameter order
    is that of ``model.parameters()`` (trainable ones only), as in
    ``torch.nn.utils.parameters_to_vector``.  Vectors live on the model's device
    (that of its first trainable parameter); only the products' results are
    copied to the host.  The model is used as it is: call ``model.eval()`` first
    for a Hessian without dropout or batch-norm updates.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning a scalar tensor.
    inputs : torch.Tensor, array-like or iterable of batches
        One batch of inputs (converted to a tensor of the parameters' dtype on
        the model's device), or a ``torch.utils.data.DataLoader`` (any iterable
        that can be iterated more than once) yielding ``(inputs, targets)``.
    targets : torch.Tensor or array-like, optional
        The targets of a single batch; must be None when ``inputs`` is a loader.

    Returns
    -------
    LinearOperator
        Float64 products (computed in the parameters' dtype).

    Raises
    ------
    ImportError
        When torch is not installed.
    """
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "torch_hessian needs PyTorch: pip install 'ridgeline[torch]'"
        raise ImportError(msg) from err
    if not isinstance(model, torch.nn.Module) and not callable(model):
        msg = f"model must be a torch.nn.Module, got {type(model).__name__}"
        raise TypeError(msg)
    check_callable(loss_fn, "loss_fn")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        msg = "model has no trainable parameters"
        raise ValueError(msg)
    dtype = params[0].dtype
    device = params[0].device
    sizes = [p.numel() for p in params]
    n = sum(sizes)

    def as_input(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)
        return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)

    def as_target(t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            return t.to(device=device)
        return torch.as_tensor(np.asarray(t), device=device)

    def batch_grads(x: Any, t: Any) -> Any:
        loss = loss_fn(model(x), t)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            msg = f"loss_fn must return a scalar tensor, got {shape}"
            raise ValueError(msg)
        return torch.autograd.grad(loss, params, create_graph=True)

    is_batch = isinstance(inputs, (torch.Tensor, np.ndarray)) or targets is not None
    if is_batch:
        if targets is None:
            msg = "targets is required when inputs is a single batch (a tensor or an array)"
            raise TypeError(msg)
        grads = batch_grads(as_input(inputs), as_target(targets))

        def hvp(vt: Any) -> Any:
            parts = [c.view_as(p) for c, p in zip(torch.split(vt, sizes), params)]
            hv = torch.autograd.grad(grads, params, grad_outputs=parts, retain_graph=True)
            return torch.cat([h.detach().reshape(-1) for h in hv])

    else:
        loader = inputs
        if not hasattr(loader, "__iter__") or iter(loader) is loader:
            msg = (
                "inputs must be a tensor, an array, or a re-iterable of (inputs, targets) batches such as a "
                f"DataLoader, got {type(loader).__name__}"
            )
            raise TypeError(msg)

        def hvp(vt: Any) -> Any:
            parts = [c.view_as(p) for c, p in zip(torch.split(vt, sizes), params)]
            acc = torch.zeros(n, dtype=dtype, device=device)
            total = 0
            for batch in loader:
                if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                    msg = "inputs must yield (inputs, targets) batches"
                    raise ValueError(msg)
                x = as_input(batch[0])
                nb = int(x.shape[0]) if x.dim() > 0 else 1
                g = batch_grads(x, as_target(batch[1]))
                hv = torch.autograd.grad(g, params, grad_outputs=parts)
                acc.add_(torch.cat([h.detach().reshape(-1) for h in hv]), alpha=float(nb))
                total += nb
            if total == 0:
                msg = "inputs (a loader) yielded no batches"
                raise ValueError(msg)
            return acc / total

        hvp(torch.zeros(n, dtype=dtype, device=device))  # checks the loader and the loss once

    def matvec(v: np.ndarray) -> np.ndarray:
        vt = torch.as_tensor(np.ascontiguousarray(v), dtype=dtype).to(device)
        out: np.ndarray = hvp(vt).to(device="cpu", dtype=torch.float64).numpy()
        return out

    op = LinearOperator(n, matvec=matvec)
    op._probe_symmetry = False  # a Hessian is symmetric by construction
    if dtype == torch.float32:

        def matmat32(X: np.ndarray) -> np.ndarray:
            # float32 in and out, no conversion: the kernels keep a float32 basis for this
            # operator (on the CPU, columns shared with torch)
            Y = np.empty(X.shape, dtype=np.float32, order="F")
            for j in range(X.shape[1]):
                vt = torch.from_numpy(np.require(X[:, j], np.float32, ["C", "W"])).to(device)
                torch.from_numpy(Y[:, j]).copy_(hvp(vt))
            return Y

        op._matmat32 = matmat32
    return op
