"""Public API of ridgeline.spectra: operators, eigsh, trace, density, outliers, MLP."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import spectra
from ridgeline.spectra import MLP, aslinearoperator, density, eigsh, outliers, trace
from ridgeline.spectra import _reference as ref


def _sym(n: int, seed: int) -> np.ndarray:
    B = np.random.default_rng(seed).standard_normal((n, n))
    return (B + B.T) / 2


def _with_spectrum(lam: np.ndarray, seed: int) -> np.ndarray:
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))[0]
    A = (Q * lam) @ Q.T
    return (A + A.T) / 2


# ------------------------------------------------------------------ operators
def test_aslinearoperator_accepts_all_kinds() -> None:
    sps = pytest.importorskip("scipy.sparse")
    spla = pytest.importorskip("scipy.sparse.linalg")
    A = _sym(30, 0)
    x = np.random.default_rng(1).standard_normal(30)
    X = np.random.default_rng(2).standard_normal((30, 4))
    kinds = [
        A,
        A.tolist(),
        sps.csr_matrix(A),
        sps.coo_matrix(A),
        spla.aslinearoperator(A),
        aslinearoperator(lambda v: A @ v, n=30),
        aslinearoperator(lambda v: A @ v, n=30, matmat=lambda V: A @ V),
    ]
    for k in kinds:
        op = aslinearoperator(k)
        assert op.shape == (30, 30)
        np.testing.assert_allclose(op.matvec(x), A @ x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(op.matmat(X), A @ X, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(op @ x, A @ x, rtol=1e-12, atol=1e-12)
    op = aslinearoperator(A)
    assert aslinearoperator(op) is op


def test_bad_operators_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="square"):
        aslinearoperator(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="symmetric"):
        aslinearoperator(np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        aslinearoperator(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="n is required"):
        aslinearoperator(lambda v: v)
    with pytest.raises(TypeError, match="cannot make a linear operator"):
        aslinearoperator("matrix")
    with pytest.raises(TypeError, match="complex"):
        aslinearoperator(np.eye(3) * 1j)
    sps = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="symmetric"):
        aslinearoperator(sps.csr_matrix(np.triu(np.ones((4, 4)))))


def test_callback_errors_propagate_with_their_type() -> None:
    class Boom(RuntimeError):
        pass

    def matvec(v: np.ndarray) -> np.ndarray:
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        eigsh(aslinearoperator(matvec, n=20), k=2)
    with pytest.raises(ValueError, match="NaN or inf"):
        eigsh(aslinearoperator(lambda v: v * np.nan, n=20), k=2)
    with pytest.raises(ValueError, match="shape"):
        trace(aslinearoperator(lambda v: v[:-1], n=20))


# ---------------------------------------------------------------------- eigsh
@pytest.mark.parametrize("which", ["LA", "SA", "LM", "BE"])
def test_eigsh_matches_eigvalsh(which: str) -> None:
    A = _sym(200, 3)
    ev = np.linalg.eigvalsh(A)
    res = eigsh(A, k=6, which=which, rng=0)
    expect = {
        "LA": ev[-6:],
        "SA": ev[:6],
        "LM": np.sort(ev[np.argsort(-np.abs(ev))[:6]]),
        "BE": np.r_[ev[:3], ev[-3:]],
    }[which]
    np.testing.assert_allclose(res.eigenvalues, np.sort(expect), rtol=1e-10, atol=0)
    assert res.converged
    V = res.eigenvectors
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=1e-10)
    # reported residuals are the true ones, and small enough for the eigenvalue accuracy
    true_res = np.linalg.norm(A @ V - V * res.eigenvalues, axis=0)
    np.testing.assert_allclose(res.residuals, true_res, rtol=1e-6, atol=1e-12)
    assert np.all(res.residuals <= 1e-4 * np.abs(res.eigenvalues))
    w, v = res
    assert w is res.eigenvalues and v is res.eigenvectors


def test_eigsh_single_eigenvalue() -> None:
    A = _sym(150, 12)
    ev = np.linalg.eigvalsh(A)
    for which, want in [("LA", ev[-1]), ("SA", ev[0])]:
        r = eigsh(A, k=1, which=which, rng=1)
        assert r.eigenvalues[0] == pytest.approx(want, rel=1e-10)


def test_eigsh_sparse_and_python_callbacks_agree() -> None:
    sps = pytest.importorskip("scipy.sparse")
    n = 500
    main = np.linspace(0.0, 3.0, n)
    A = sps.diags([main, -0.1 * np.ones(n - 1), -0.1 * np.ones(n - 1)], [0, 1, -1], format="csr")
    ev = np.linalg.eigvalsh(A.toarray())
    r1 = eigsh(A, k=4, rng=5)
    r2 = eigsh(aslinearoperator(lambda v: A @ v, n=n), k=4, rng=5)
    np.testing.assert_allclose(r1.eigenvalues, ev[-4:], rtol=1e-10)
    np.testing.assert_allclose(r2.eigenvalues, ev[-4:], rtol=1e-10)
    assert r1.n_matvec + 2 == r2.n_matvec  # the symmetry probe of a matrix-free operator


def test_eigsh_degenerate_and_small_cases() -> None:
    # Repeated top eigenvalue: single-vector Lanczos still finds the distinct values.
    lam = np.r_[np.linspace(0, 1, 40), [5.0, 5.0, 7.0]]
    A = _with_spectrum(lam, 1)
    r = eigsh(A, k=3, rng=1)
    np.testing.assert_allclose(r.eigenvalues, [5.0, 5.0, 7.0], rtol=1e-10)
    # Low rank: invariant subspace reached early, restarted with a fresh direction.
    u = np.random.default_rng(2).standard_normal((50, 2))
    B = u @ u.T
    r = eigsh(B, k=3, rng=0)
    np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvalsh(B)[-3:], atol=1e-10)
    # n tiny: the whole space.
    r = eigsh(np.diag([3.0, 1.0, 2.0]), k=2, rng=0)
    np.testing.assert_allclose(r.eigenvalues, [2.0, 3.0], rtol=1e-14)


def test_eigsh_is_deterministic_and_validates() -> None:
    A = _sym(60, 9)
    a, b = eigsh(A, k=3, rng=4), eigsh(A, k=3, rng=4)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    with pytest.raises(ValueError, match="k=61 must be <= n=60"):
        eigsh(A, k=61)
    # k = n: the dense solver, as scipy falls back to eigh
    np.testing.assert_allclose(eigsh(A, k=60).eigenvalues, np.linalg.eigvalsh(A), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="k=0 must be >= 1"):
        eigsh(A, k=0)
    with pytest.raises(ValueError, match="which='XX' must be one of"):
        eigsh(A, which="XX")
    with pytest.raises(ValueError, match="tol"):
        eigsh(A, tol=-1.0)
    with pytest.raises(ValueError, match="v0"):
        eigsh(A, v0=np.ones(3))
    with pytest.warns(spectra.ConvergenceWarning):
        r = eigsh(A, k=3, tol=1e-14, ncv=7, maxiter=1)
    assert not r.converged
    with pytest.warns(DeprecationWarning, match="max_matvec"), pytest.warns(spectra.ConvergenceWarning):
        r = eigsh(A, k=3, tol=1e-14, ncv=7, max_matvec=8)
    assert not r.converged and r.n_matvec <= 8
    with pytest.raises(TypeError, match="both"):
        eigsh(A, k=3, maxiter=3, max_matvec=8)


# ---------------------------------------------------------------------- trace
def test_trace_exact_when_budget_covers_n() -> None:
    A = _sym(40, 2)
    value, stderr, n_matvec = trace(A, budget=40)
    assert value == pytest.approx(np.trace(A), abs=1e-12)
    assert stderr == 0.0 and n_matvec == 40


def test_trace_estimates_are_within_their_errors() -> None:
    rng = np.random.default_rng(0)
    lam = np.r_[100.0 / np.arange(1, 31) ** 2, rng.uniform(0, 0.01, 970)]
    A = _with_spectrum(lam, 3)
    truth = lam.sum()
    for method in ["hutchinson", "hutch++", "krylov", "auto"]:
        zs = []
        for seed in range(20):
            r = trace(A, method=method, budget=60, rng=seed)
            assert r.n_matvec == 60 and r.stderr > 0
            zs.append((r.value - truth) / r.stderr)
        # standardised errors: mean ~ 0, rms ~ 1 (loose: 20 seeds)
        assert abs(np.mean(zs)) < 1.0 and 0.3 < np.sqrt(np.mean(np.square(zs))) < 2.0
    # low-rank-dominated: auto uses the Krylov deflation and beats hutchinson and hutch++ clearly
    rms = {}
    for method in ["auto", "hutchinson", "hutch++"]:
        rms[method] = np.sqrt(np.mean([(trace(A, method, 60, rng=s).value - truth) ** 2 for s in range(20)]))
    assert trace(A, "auto", 60, rng=0).method == "krylov"
    assert rms["auto"] < 0.2 * rms["hutchinson"] and rms["auto"] < 0.5 * rms["hutch++"]


def test_trace_krylov_is_exact_on_low_rank_and_unbiased_on_decaying_spectra() -> None:
    # rank 5: the Krylov space becomes invariant after 5 products, the residual is 0
    lam = np.r_[[5.0, 4.0, 3.0, -2.0, 1.0], np.zeros(295)]
    r = trace(_with_spectrum(lam, 4), "krylov", 40, rng=1)
    assert r.value == pytest.approx(lam.sum(), abs=1e-10) and r.stderr < 1e-10
    # power-law spectrum: mean error over seeds within 3 standard errors of the mean
    lam = 1.0 / np.arange(1, 301) ** 0.8
    A = _with_spectrum(lam, 5)
    errs = [trace(A, "krylov", 40, rng=s).value - lam.sum() for s in range(40)]
    assert abs(np.mean(errs)) < 3 * np.std(errs) / np.sqrt(len(errs))


def test_trace_auto_on_flat_indefinite_and_diagonal_spectra() -> None:
    # flat indefinite spectrum: nothing to deflate, the Krylov depth stays small and
    # the error stays within 1.2x plain Hutchinson's
    lam = np.random.default_rng(1).uniform(-1, 1, 400)
    A = _with_spectrum(lam, 2)
    e_a = [trace(A, "auto", 99, rng=s).value - lam.sum() for s in range(30)]
    e_h = [trace(A, "hutchinson", 99, rng=s).value - lam.sum() for s in range(30)]
    assert np.sqrt(np.mean(np.square(e_a))) <= 1.2 * np.sqrt(np.mean(np.square(e_h)))
    # diagonal: Rademacher probes are exact, auto falls back to Hutchinson
    D = np.diag(np.random.default_rng(2).uniform(-1, 2, 300))
    r = trace(D, "auto", 50, rng=0)
    assert r.method == "hutchinson" and r.value == pytest.approx(np.trace(D), rel=1e-12)
    assert trace(D, "krylov", 50, rng=0).method == "krylov"


def test_trace_validates() -> None:
    with pytest.raises(ValueError, match="method='nope' must be one of"):
        trace(np.eye(3), method="nope")
    with pytest.raises(ValueError, match="budget=0 must be >= 1"):
        trace(np.eye(3), budget=0)
    with pytest.raises(ValueError, match="exact"):
        trace(np.eye(30), method="exact", budget=10)
    with pytest.raises(ValueError, match="krylov"):
        trace(np.eye(30), method="krylov", budget=7)


# -------------------------------------------------------------------- density
def test_density_matches_reference_and_exact_measure() -> None:
    rng = np.random.default_rng(5)
    lam = np.r_[rng.normal(0, 0.05, 395), [1.0, 1.5, 2.0, 3.0, 4.0]]
    A = _with_spectrum(lam, 6)
    d = density(A, n_probes=10, n_steps=60, rng=3)
    assert d.n_matvec == 600
    assert d.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(d.weights >= 0)
    assert d.n_deflated >= 5
    w1 = d.wasserstein(lam) / (lam.max() - lam.min())
    assert w1 < 2e-3
    grid = np.linspace(-0.5, 4.5, 2001)
    pdf = d.pdf(grid, sigma=0.02)
    assert np.sum(pdf) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)
    cdf = d.cdf(grid)
    assert cdf[0] == 0.0 and cdf[-1] == pytest.approx(1.0)
    assert np.all(np.diff(cdf) >= 0)
    # the top-5 outliers are exact, each with mass 1/n
    assert d.cdf(3.5) == pytest.approx(1 - 1 / 400, abs=1e-12)
    from ridgeline._random import seed_from

    nodes, weights, r = ref.slq(lambda v: A @ v, 400, 10, 60, seed=seed_from(3))
    assert r == d.n_deflated
    np.testing.assert_allclose(np.sort(nodes), np.sort(d.nodes), atol=1e-8)


def test_density_plain_slq_and_validation() -> None:
    A = np.diag(np.linspace(-1, 1, 50))
    d = density(A, n_probes=3, n_steps=50, rng=0, deflate=False)
    # 50 steps on a 50 x 50 matrix: every probe's nodes are the eigenvalues
    np.testing.assert_allclose(np.sort(d.nodes), np.repeat(np.linspace(-1, 1, 50), 3), atol=1e-10)
    assert d.n_deflated == 0 and d.n_matvec == 150
    # with deflation the first probe finds everything: the measure is exact, no more products
    e = density(A, n_probes=3, n_steps=50, rng=0)
    assert e.n_deflated == 50 and e.n_matvec == 50
    assert e.wasserstein(np.linspace(-1, 1, 50)) < 1e-10
    with pytest.raises(ValueError, match="n_probes=0"):
        density(A, n_probes=0)
    with pytest.raises(ValueError, match="sigma"):
        d.pdf([0.0], sigma=-1.0)


def test_density_plot() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    d = density(np.diag(np.linspace(0, 1, 30)), n_probes=2, n_steps=10, rng=0)
    ax = d.plot()
    assert len(ax.lines) == 1


# ------------------------------------------------------------------- outliers
def test_outliers_counts_separated_eigenvalues() -> None:
    rng = np.random.default_rng(7)
    lam = np.r_[rng.uniform(-0.1, 0.1, 300), [3.0, 4.0, 5.0, 6.0]]
    r = outliers(_with_spectrum(lam, 8), rng=0)
    assert r.n_outliers == 4
    np.testing.assert_allclose(r.outliers, [6.0, 5.0, 4.0, 3.0], rtol=1e-8)
    assert r.bulk_edge == pytest.approx(np.sort(lam)[-5], rel=1e-6)
    flat = outliers(np.diag(np.linspace(0, 1, 200)), rng=0)
    assert flat.n_outliers == 0


# ------------------------------------------------------------------------ MLP
def _small_problem(loss: str = "cross_entropy", seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 6))
    y = rng.integers(0, 4, 50) if loss == "cross_entropy" else rng.standard_normal((50, 4))
    return X, y


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_mlp_matches_reference(activation: str, loss: str) -> None:
    net = MLP([6, 5, 4], activation=activation, loss=loss)
    X, y = _small_problem(loss)
    p = net.init_params(rng=1)
    value, grad = ref.mlp_loss_grad(net.layer_sizes, activation, loss, p, X, y)
    assert net.loss(p, X, y) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(net.grad(p, X, y), grad, rtol=1e-12, atol=1e-15)
    v = np.random.default_rng(2).standard_normal(net.n_params)
    h = ref.mlp_hvp(net.layer_sizes, activation, loss, p, X, y, v)
    assert np.linalg.norm(net.hvp(p, X, y, v) - h) <= 1e-12 * np.linalg.norm(h)
    g = ref.mlp_gnvp(net.layer_sizes, activation, loss, p, X, y, v)
    assert np.linalg.norm(net.gnvp(p, X, y, v) - g) <= 1e-12 * np.linalg.norm(g)
    H = net.hessian_operator(p, X, y).todense()
    np.testing.assert_allclose(H, H.T, atol=1e-12 * np.abs(H).max())
    G = net.gauss_newton_operator(p, X, y).todense()
    assert np.linalg.eigvalsh((G + G.T) / 2).min() > -1e-12 * np.abs(G).max()


def test_mlp_matmat_and_threads_are_consistent() -> None:
    net = MLP([6, 8, 4], n_threads=2)
    X, y = _small_problem()
    p = net.init_params(rng=3)
    V = np.random.default_rng(4).standard_normal((net.n_params, 5))
    HV = net.hvp(p, X, y, V)
    one = MLP([6, 8, 4], n_threads=1)
    np.testing.assert_array_equal(HV, one.hvp(p, X, y, V))
    for c in range(5):
        np.testing.assert_allclose(HV[:, c], one.hvp(p, X, y, V[:, c]), rtol=0, atol=1e-15)
    base = MLP([6, 8, 4], isa="baseline")
    np.testing.assert_allclose(base.hvp(p, X, y, V), HV, rtol=1e-12, atol=1e-14)


def test_mlp_bad_input() -> None:
    net = MLP([6, 5, 4])
    X, y = _small_problem()
    p = net.init_params(rng=0)
    with pytest.raises(ValueError, match=r"params has shape \(3,\), expected \(59,\)"):
        net.loss(np.zeros(3), X, y)
    with pytest.raises(ValueError, match="X has shape"):
        net.loss(p, X[:, :3], y)
    with pytest.raises(ValueError, match="labels in"):
        net.loss(p, X, y + 10)
    with pytest.raises(ValueError, match="NaN"):
        net.loss(np.full(59, np.nan), X, y)
    with pytest.raises(ValueError, match="v has shape"):
        net.hvp(p, X, y, np.ones(5))
    with pytest.raises(ValueError, match="activation=.sigmoid. must be one of"):
        MLP([2, 2], activation="sigmoid")
    with pytest.raises(ValueError, match="loss=.* must be one of"):
        MLP([2, 2], loss="hinge")
    with pytest.raises(ValueError, match="at least 2 entries"):
        MLP([3])


def test_mlp_matches_torch_autograd() -> None:
    torch = pytest.importorskip("torch")
    for activation, loss in [("tanh", "cross_entropy"), ("relu", "squared")]:
        net = MLP([6, 7, 5, 4], activation=activation, loss=loss)
        X, y = _small_problem(loss, seed=3)
        p = net.init_params(rng=5)
        model = net.to_torch()
        torch.nn.utils.vector_to_parameters(torch.tensor(p), model.parameters())
        if loss == "cross_entropy":
            fn = torch.nn.functional.cross_entropy
        else:

            def fn(out, t):  # type: ignore[no-untyped-def]
                return 0.5 * ((out - t) ** 2).sum(dim=1).mean()

        Ht = spectra.torch_hessian(model, fn, X, y if loss == "cross_entropy" else torch.tensor(y))
        V = np.random.default_rng(6).standard_normal((net.n_params, 3))
        HV = net.hvp(p, X, y, V)
        HVt = Ht.matmat(V)
        assert np.linalg.norm(HV - HVt) <= 1e-12 * np.linalg.norm(HVt)
        out = model(torch.tensor(X))
        tl = fn(out, torch.tensor(y)).item()
        assert net.loss(p, X, y) == pytest.approx(tl, rel=1e-13)
