"""Float32 path of eigsh: the float32 Lanczos engine and the torch adapter's float32 products."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ridgeline import ConvergenceWarning, _core
from ridgeline.spectra import LinearOperator, eigsh


def _op32(A: np.ndarray) -> LinearOperator:
    """A symmetric matrix as an operator with float32 products (as torch_hessian of a float32 model)."""
    A32 = np.asarray(A, dtype=np.float32)
    op = LinearOperator(A.shape[0], matmat=lambda X: A @ X)
    op._probe_symmetry = False
    op._matmat32 = lambda X: np.asfortranarray(A32 @ X)
    return op


def test_engine32_against_eigvalsh() -> None:
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((300, 300)))[0]
    ev = np.r_[np.linspace(0.0, 1.0, 295), [2.0, 2.5, 3.0, 3.5, 4.0]]
    A = (Q * ev) @ Q.T
    A32 = A.astype(np.float32)
    e = _core.spectra.LanczosEigs32(300, 5, "LA", 1e-5, 20, 3000, 1, None)
    while not e.done:
        X = e.request()
        assert X.dtype == np.float32
        e.supply(A32 @ X)
    assert e.converged
    np.testing.assert_allclose(e.eigenvalues, ev[-5:], rtol=1e-5)
    V = e.eigenvectors
    assert np.abs(V.T @ V - np.eye(5)).max() < 1e-5
    assert np.max(np.linalg.norm(A @ V - V * e.eigenvalues, axis=0)) < 1e-4


def test_engine32_lock_works_on_the_complement() -> None:
    rng = np.random.default_rng(4)
    n = 200
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    ev = np.r_[np.linspace(0.0, 1.0, n - 4), [2.0, 3.0, 4.0, 5.0]]
    A = ((Q * ev) @ Q.T).astype(np.float32)
    e = _core.spectra.LanczosEigs32(n, 1, "LA", 1e-5, 40, 40, 2, None)
    e.lock(np.asfortranarray(Q[:, -2:], dtype=np.float32))  # the eigenvectors of 4 and 5
    while not e.done:
        e.supply(A @ e.request())
    assert e.converged
    assert e.eigenvalues[0] == pytest.approx(3.0, rel=1e-5)
    assert abs(float(Q[:, -3] @ e.eigenvectors[:, 0])) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="before the first product"):
        e.lock(np.zeros((n, 1), dtype=np.float32))


@pytest.mark.parametrize("which", ["LA", "SA", "BE"])
def test_float32_operator_finds_every_copy_or_not_converged(which: str) -> None:
    """Repeated eigenvalues among the wanted ones, float32 products: never a wrong converged answer."""
    n = 250
    missed = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        mult = 2 + seed % 3
        ev = np.r_[[-3.0] * mult, np.linspace(-1.0, 1.0, n - 2 * mult), [3.0] * mult]
        A = (Q * ev) @ Q.T
        k = mult + 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = eigsh(_op32(A), k=k, which=which, tol=1e-4, rng=seed)
        if not r.converged:
            assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
            missed += 1
            continue
        s = np.sort(ev)
        want = {"LA": s[-k:], "SA": s[:k], "BE": np.r_[s[: k // 2], s[-(k - k // 2):]]}[which]
        np.testing.assert_allclose(np.sort(r.eigenvalues), np.sort(want), atol=1e-4 * 3.0)
    assert missed <= 1


def test_torch_float32_hessian_matches_float64() -> None:
    torch = pytest.importorskip("torch")
    from ridgeline.spectra import torch_hessian

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    X = torch.randn(64, 6)
    y = torch.randint(0, 3, (64,))
    H = torch_hessian(model, torch.nn.functional.cross_entropy, X, y)
    assert H._matmat32 is not None
    V = np.asfortranarray(np.random.default_rng(0).standard_normal((H.n, 2)), dtype=np.float32)
    np.testing.assert_allclose(H._matmat32(V), H.matmat(V.astype(np.float64)), rtol=1e-5, atol=1e-6)
    m64 = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3)).double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    H64 = torch_hessian(m64, torch.nn.functional.cross_entropy, X.double(), y)
    assert H64._matmat32 is None
    ev = np.linalg.eigvalsh(H64.todense())
    r = eigsh(H, k=4, tol=1e-4, rng=0)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, ev[-4:], rtol=2e-4, atol=1e-5 * ev[-1])


# ------------------------------------------------------------------ float32 MLP
def _mlp_problem(loss: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 6))
    y = rng.integers(0, 4, 60) if loss == "cross_entropy" else rng.standard_normal((60, 4))
    return X, y


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_mlp_float32_matches_reference(activation: str, loss: str) -> None:
    """float32 products against the float64 reference (truth) and the float32 reference, at float32 tolerances."""
    from ridgeline.spectra import MLP
    from ridgeline.spectra import _reference as ref

    net = MLP([6, 5, 4], activation=activation, loss=loss, dtype="float32")
    X, y = _mlp_problem(loss)
    p = net.init_params(rng=1)
    V = np.random.default_rng(2).standard_normal((net.n_params, 3))
    value, grad = ref.mlp_loss_grad(net.layer_sizes, activation, loss, p, X, y)
    assert net.loss(p, X, y) == pytest.approx(value, rel=1e-5)
    g32 = net.grad(p, X, y)
    assert g32.dtype == np.float32
    assert np.linalg.norm(g32 - grad) <= 1e-5 * np.linalg.norm(grad)
    HV = net.hvp(p, X, y, V)
    GV = net.gnvp(p, X, y, V)
    assert HV.dtype == np.float32 and HV.shape == V.shape
    for c in range(V.shape[1]):
        for out, fn in [(HV, ref.mlp_hvp), (GV, ref.mlp_gnvp)]:
            h64 = fn(net.layer_sizes, activation, loss, p, X, y, V[:, c])
            h32 = fn(net.layer_sizes, activation, loss, p, X, y, V[:, c], dtype=np.float32)
            assert h32.dtype == np.float32
            # float32 rounding of inputs and arithmetic: relative error a few 1e-7, bounded at 1e-5
            assert np.linalg.norm(out[:, c] - h64) <= 1e-5 * np.linalg.norm(h64)
            assert np.linalg.norm(out[:, c] - h32) <= 1e-5 * np.linalg.norm(h64)
    assert np.array_equal(net.hvp(p, X, y, V[:, 1]), HV[:, 1])


def test_mlp_float32_threads_and_operator() -> None:
    from ridgeline.spectra import MLP

    X, y = _mlp_problem("cross_entropy", seed=3)
    one = MLP([6, 8, 4], dtype=np.float32)
    two = MLP([6, 8, 4], dtype="float32", n_threads=2)
    p = one.init_params(rng=4)
    V = np.random.default_rng(5).standard_normal((one.n_params, 5))
    np.testing.assert_array_equal(two.hvp(p, X, y, V), one.hvp(p, X, y, V))  # columns are independent
    H = one.hessian_operator(p, X, y)
    assert H._matmat32 is not None  # eigsh keeps a float32 basis
    Y32 = H._matmat32(np.asfortranarray(V, dtype=np.float32))
    assert Y32.dtype == np.float32
    np.testing.assert_allclose(Y32, one.hvp(p, X, y, V), rtol=0, atol=0)
    # float64 products of the float32 state: inputs rounded to float32, outputs widened
    np.testing.assert_allclose(H.matmat(V), one.hvp(p, X, y, V.astype(np.float32)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="dtype='int32' must be 'float64' or 'float32'"):
        MLP([2, 2], dtype="int32")
    with pytest.raises(TypeError, match="dtype="):
        MLP([2, 2], dtype=object())


def test_eigsh_float32_mlp_against_float64() -> None:
    """eigsh on a float32 MLP Hessian: the float32 engine, eigenvalues within float32 accuracy of float64's."""
    from ridgeline.spectra import MLP

    X, y = _mlp_problem("cross_entropy", seed=6)
    net64 = MLP([6, 16, 4])
    net32 = MLP([6, 16, 4], dtype="float32")
    p = net64.init_params(rng=7)
    ev = np.linalg.eigvalsh(net64.hessian_operator(p, X, y).todense())
    r = eigsh(net32.hessian_operator(p, X, y), k=4, tol=1e-4, rng=0)
    assert r.converged
    scale = float(np.abs(ev).max())
    np.testing.assert_allclose(np.sort(r.eigenvalues), ev[-4:], rtol=0, atol=1e-4 * scale)
