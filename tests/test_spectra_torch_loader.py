"""torch_hessian over a DataLoader: the whole dataset's mean-loss Hessian, accumulated over batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ridgeline import spectra

torch = pytest.importorskip("torch")


def _model(dtype: Any) -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).to(dtype)


def _data(n: int = 30) -> tuple[Any, Any]:
    g = np.random.default_rng(1)
    X = torch.tensor(g.standard_normal((n, 5)))
    y = torch.tensor(g.integers(0, 3, n))
    return X, y


def test_loader_hessian_equals_full_batch_hessian() -> None:
    # mean loss over 30 samples = sum_b (n_b / 30) * (mean loss of batch b): batches 7, 7, 7, 7, 2
    model = _model(torch.float64)
    X, y = _data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=7)
    fn = torch.nn.functional.cross_entropy
    H_full = spectra.torch_hessian(model, fn, X, y)
    H_loader = spectra.torch_hessian(model, fn, loader)
    H_list = spectra.torch_hessian(model, fn, [(X[:11].numpy(), y[:11].numpy()), (X[11:], y[11:])])
    V = np.random.default_rng(2).standard_normal((H_full.shape[0], 3))
    ref = H_full.matmat(V)
    for H in (H_loader, H_list):
        got = H.matmat(V)
        assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)
    # and the spectrum through eigsh
    a = spectra.eigsh(H_full, k=2, tol=1e-10, rng=0)
    b = spectra.eigsh(H_loader, k=2, tol=1e-10, rng=0)
    assert a.converged and b.converged
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, rtol=1e-8, atol=1e-12)


def test_loader_float32_model_products() -> None:
    model = _model(torch.float32)
    X, y = _data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=8)
    fn = torch.nn.functional.cross_entropy
    H = spectra.torch_hessian(model, fn, loader)  # float64 inputs are cast to the model's dtype
    m64 = _model(torch.float64)
    H64 = spectra.torch_hessian(m64, fn, X, y)
    V = np.random.default_rng(3).standard_normal((H.shape[0], 2))
    ref = H64.matmat(V)
    assert np.linalg.norm(H.matmat(V) - ref) <= 1e-5 * np.linalg.norm(ref)
    Y32 = H._matmat32(V.astype(np.float32))  # the float32 product path eigsh uses
    assert Y32.dtype == np.float32
    assert np.linalg.norm(Y32 - ref) <= 1e-5 * np.linalg.norm(ref)


def test_model_device_is_used_for_vectors() -> None:
    # vectors and batches go to the device of the model's parameters (the CPU here: the
    # same code path as an accelerator, with torch.device taken from the parameters)
    model = _model(torch.float64).to(torch.device("cpu"))
    X, y = _data(12)
    seen: list[Any] = []

    def fn(out: Any, t: Any) -> Any:
        seen.append((out.device, t.device))
        return torch.nn.functional.cross_entropy(out, t)

    H = spectra.torch_hessian(model, fn, [(X, y)])
    H.matvec(np.ones(H.shape[0]))
    assert all(d == (torch.device("cpu"), torch.device("cpu")) for d in seen)


def test_loader_bad_input() -> None:
    model = _model(torch.float64)
    X, y = _data(10)
    fn = torch.nn.functional.cross_entropy
    with pytest.raises(TypeError, match="re-iterable"):
        spectra.torch_hessian(model, fn, iter([(X, y)]))  # a one-shot iterator cannot be re-read
    with pytest.raises(ValueError, match="no batches"):
        spectra.torch_hessian(model, fn, [])
    with pytest.raises(ValueError, match=r"\(inputs, targets\)"):
        spectra.torch_hessian(model, fn, [X])
    with pytest.raises(TypeError, match="targets is required"):
        spectra.torch_hessian(model, fn, X)
    with pytest.raises(TypeError, match="loss_fn"):
        spectra.torch_hessian(model, "mse", X, y)
    with pytest.raises(ValueError, match="scalar"):
        spectra.torch_hessian(model, lambda o, t: o.sum(dim=1), [(X, y)])
