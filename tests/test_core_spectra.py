"""Direct calls into ridgeline._core.spectra, checked against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.spectra import _reference as ref

sp = _core.spectra


def _sym(n: int, seed: int) -> np.ndarray:
    B = np.random.default_rng(seed).standard_normal((n, n))
    return (B + B.T) / 2


def test_tridiagonal_eigh_matches_reference() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(30), rng.standard_normal(29)
    eig = sp.tridiagonal_eigh(a, b)
    th, S = eig.eigenvalues, eig.eigenvectors
    th_ref, S_ref = ref.tridiagonal_eigh(a, b)
    np.testing.assert_allclose(th, th_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.abs(S[0]), np.abs(S_ref[0]), rtol=0, atol=1e-10)


def test_probes_match_reference() -> None:
    np.testing.assert_array_equal(sp.rademacher(123, 4, 200), ref.rademacher_vector(123, 4, 200))
    v = sp.rademacher(5, 0, 100000)
    assert abs(v.mean()) < 0.02


@pytest.mark.parametrize("which", ["LA", "SA", "LM", "BE"])
def test_lanczos_eigs_matches_reference(which: str) -> None:
    A = _sym(120, 2)
    e = sp.LanczosEigs(120, 4, which, 1e-10, 20, 3000, 99, None)
    while not e.done:
        e.supply(A @ e.request())
    r = ref.lanczos_eigs(lambda v: A @ v, 120, 4, which, 1e-10, 20, 3000, seed=99)
    assert e.n_matvec == r["n_matvec"]
    np.testing.assert_allclose(e.eigenvalues, r["eigenvalues"], rtol=0, atol=1e-9)
    ev = np.linalg.eigvalsh(A)
    want = {"LA": ev[-4:], "SA": ev[:4], "LM": np.sort(ev[np.argsort(-np.abs(ev))[:4]]), "BE": np.r_[ev[:2], ev[-2:]]}
    np.testing.assert_allclose(e.eigenvalues, np.sort(want[which]), rtol=0, atol=1e-9)
    X = e.eigenvectors
    np.testing.assert_allclose(e.residuals, np.linalg.norm(A @ X - X * e.eigenvalues, axis=0), rtol=1e-6, atol=1e-12)


def test_lanczos_run_with_core_operator_releases_to_cpp() -> None:
    A = _sym(80, 3)
    e1 = sp.LanczosEigs(80, 3, "LA", 1e-10, 20, 3000, 7, None)
    e1.run(sp.DenseOperator(A))
    e2 = sp.LanczosEigs(80, 3, "LA", 1e-10, 20, 3000, 7, None)
    while not e2.done:
        e2.supply(A @ e2.request())
    np.testing.assert_allclose(e1.eigenvalues, e2.eigenvalues, rtol=0, atol=1e-12)
    assert e1.n_matvec == e2.n_matvec


@pytest.mark.parametrize("deflate", [False, True])
def test_slq_matches_reference(deflate: bool) -> None:
    rng = np.random.default_rng(4)
    Qm = np.linalg.qr(rng.standard_normal((150, 150)))[0]
    lam = np.r_[rng.uniform(-1, 1, 145), [10, 12, 15, 20, 30]]
    A = (Qm * lam) @ Qm.T
    A = (A + A.T) / 2
    s = sp.Slq(150, 6, 30, 11, deflate, 1e-8)
    while not s.done:
        s.supply(A @ s.request())
    nodes, weights, r = ref.slq(lambda v: A @ v, 150, 6, 30, seed=11, deflate=deflate)
    assert s.n_deflated == r
    assert s.n_matvec == 6 * 30
    np.testing.assert_allclose(np.sort(s.nodes), np.sort(nodes), rtol=0, atol=1e-8)
    # Nodes repeat across probes (converged outliers), so compare the measures: moments and CDF.
    for k in range(7):
        np.testing.assert_allclose(s.weights @ (s.nodes / 30) ** k, weights @ (nodes / 30) ** k, rtol=1e-9, atol=1e-12)
    grid = np.linspace(-1.5, 31, 400)
    cdf = [(s.weights * (s.nodes <= g)).sum() for g in grid]
    cdf_ref = [(weights * (nodes <= g)).sum() for g in grid]
    np.testing.assert_allclose(cdf, cdf_ref, rtol=0, atol=1e-9)
    assert abs(s.weights.sum() - 1.0) < 1e-12
    if deflate:
        assert r >= 5  # the five outliers converge within 30 steps


@pytest.mark.parametrize("method", ["hutchinson", "hutch++", "auto", "exact"])
def test_trace_estimator_matches_reference(method: str) -> None:
    A = _sym(60, 5)
    budget = 60 if method == "exact" else 30
    t = sp.TraceEstimator(60, method, budget, 17)
    while not t.done:
        t.supply(A @ t.request())
    r = ref.trace_estimate(lambda X: A @ X, 60, method, budget, seed=17)
    assert t.method == r["method"]
    np.testing.assert_allclose(t.value, r["value"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.stderr, r["stderr"], rtol=1e-10, atol=1e-12)
    if method == "exact":
        assert t.value == pytest.approx(np.trace(A), abs=1e-12)


@pytest.mark.parametrize("fallback", [True, False])
@pytest.mark.parametrize("case", ["decay", "indefinite", "diagonal"])
def test_krylov_trace_matches_reference(case: str, fallback: bool) -> None:
    rng = np.random.default_rng(12)
    Qm = np.linalg.qr(rng.standard_normal((200, 200)))[0]
    if case == "decay":
        A = (Qm * (3.0 / np.arange(1, 201))) @ Qm.T
    elif case == "indefinite":
        A = _sym(200, 13)
    else:
        A = np.diag(rng.uniform(1, 2, 200))
    A = (A + A.T) / 2
    for budget, seed in [(60, 3), (9, 4)]:
        t = sp.KrylovTrace(200, budget, seed, fallback)
        while not t.done:
            t.supply(A @ t.request())
        r = ref.krylov_trace(lambda X: A @ X, 200, budget, seed, fallback)
        assert t.n_matvec == budget == r["n_matvec"]
        assert t.n_krylov == r["n_krylov"] and t.method == r["method"]
        np.testing.assert_allclose(t.value, r["value"], rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(t.stderr, r["stderr"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(t.krylov_value, r["krylov_value"], rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(t.samples, r["samples"], rtol=1e-9, atol=1e-11)
    if case == "decay":
        assert t.n_krylov > 4 and t.method == "krylov"
    if case == "diagonal" and fallback:
        assert t.method == "hutchinson" and t.value == pytest.approx(np.trace(A), rel=1e-12)


def test_krylov_trace_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="budget=7"):
        sp.KrylovTrace(100, 7, 0, True)
    with pytest.raises(ValueError, match="n=50"):
        sp.KrylovTrace(50, 60, 0, True)
    t = sp.KrylovTrace(100, 20, 0, True)
    with pytest.raises(ValueError, match="NaN"):
        t.supply(np.full(t.request().shape, np.nan))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
@pytest.mark.parametrize("isa", ["baseline", "auto"])
def test_mlp_products_match_reference(activation: str, loss: str, isa: str) -> None:
    rng = np.random.default_rng(6)
    sizes = [7, 6, 5, 3]
    net = sp.Mlp(sizes, activation, loss)
    p = rng.standard_normal(net.n_params) * 0.7
    X = rng.standard_normal((40, 7))
    y = rng.integers(0, 3, 40) if loss == "cross_entropy" else rng.standard_normal((40, 3))
    st = sp.MlpState(net, p, X, y, isa)
    value, grad = ref.mlp_loss_grad(sizes, activation, loss, p, X, y)
    assert st.loss == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(st.gradient, grad, rtol=1e-12, atol=1e-14)
    V = rng.standard_normal((net.n_params, 3))
    HV = st.product(V, False, 2)
    GV = st.product(V, True, 1)
    for c in range(3):
        h = ref.mlp_hvp(sizes, activation, loss, p, X, y, V[:, c])
        g = ref.mlp_gnvp(sizes, activation, loss, p, X, y, V[:, c])
        assert np.linalg.norm(HV[:, c] - h) <= 1e-12 * np.linalg.norm(h)
        assert np.linalg.norm(GV[:, c] - g) <= 1e-12 * np.linalg.norm(g)


def test_mlp_hessian_matches_finite_differences_of_reference_gradient() -> None:
    rng = np.random.default_rng(8)
    sizes = [4, 5, 3]
    p = rng.standard_normal(43) * 0.5
    X = rng.standard_normal((20, 4))
    y = rng.integers(0, 3, 20)
    v = rng.standard_normal(43)
    eps = 1e-5
    fd = (ref.mlp_loss_grad(sizes, "tanh", "cross_entropy", p + eps * v, X, y)[1]
          - ref.mlp_loss_grad(sizes, "tanh", "cross_entropy", p - eps * v, X, y)[1]) / (2 * eps)
    h = ref.mlp_hvp(sizes, "tanh", "cross_entropy", p, X, y, v)
    np.testing.assert_allclose(h, fd, rtol=0, atol=1e-8)


def test_engine_rejects_bad_products() -> None:
    e = sp.LanczosEigs(10, 2, "LA", 1e-10, 5, 100, 1, None)
    with pytest.raises(ValueError, match="shape"):
        e.supply(np.zeros((9, 1)))
    with pytest.raises(ValueError, match="NaN"):
        e.supply(np.full((10, 1), np.nan))
    with pytest.raises(ValueError, match="which"):
        sp.LanczosEigs(10, 2, "XX", 1e-10, 5, 100, 1, None)
    with pytest.raises(ValueError, match="k="):
        sp.LanczosEigs(10, 10, "LA", 1e-10, 10, 100, 1, None)
