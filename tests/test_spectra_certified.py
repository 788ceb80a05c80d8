"""eigsh never reports a wrong eigenvalue as converged: repeated eigenvalues, extreme scales, SM,
non-symmetric and complex operators, the path Laplacian with default options."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ridgeline import ConvergenceWarning
from ridgeline.spectra import aslinearoperator, density, eigsh, trace

sps = pytest.importorskip("scipy.sparse")


def _path(m: int) -> object:
    return sps.diags([2.0 * np.ones(m), -np.ones(m - 1), -np.ones(m - 1)], [0, 1, -1], format="csr")


def _grid(*ms: int) -> object:
    """Dirichlet Laplacian on a len(ms)-D grid: eigenvalues are sums of path eigenvalues (many repeated)."""
    A = None
    for i, m in enumerate(ms):
        term = _path(m)
        for j, mm in enumerate(ms):
            if j < i:
                term = sps.kron(sps.eye(mm), term)
            elif j > i:
                term = sps.kron(term, sps.eye(mm))
        A = term if A is None else A + term
    return sps.csr_matrix(A)


def _with_spectrum(lam: np.ndarray, seed: int) -> np.ndarray:
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))[0]
    A = (Q * lam) @ Q.T
    return (A + A.T) / 2


def _wanted(ev: np.ndarray, which: str, k: int) -> np.ndarray:
    if which == "LA":
        return ev[-k:]
    if which == "SA":
        return ev[:k]
    return np.r_[ev[: k // 2], ev[ev.size - (k - k // 2) :]]


def _check_all(cases: list[tuple[object, np.ndarray]], seeds: range, ks: tuple[int, ...]) -> tuple[int, int]:
    """Run every case; a converged result must hold every copy.  Returns (runs, not converged)."""
    runs = missed = 0
    for A, ev in cases:
        for which in ("LA", "SA", "BE"):
            for k in ks:
                for seed in seeds:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        r = eigsh(A, k=k, which=which, rng=seed)
                    runs += 1
                    if not r.converged:
                        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
                        missed += 1
                        continue
                    want = _wanted(ev, which, k)
                    err = np.max(np.abs(r.eigenvalues - want)) / np.max(np.abs(ev))
                    assert err <= 1e-9, (A.shape, which, k, seed, r.eigenvalues, want)
    return runs, missed


def test_grid_laplacians_every_copy_or_not_converged() -> None:
    cases = [(G, np.linalg.eigvalsh(G.toarray())) for G in (_grid(12, 12), _grid(9, 11), _grid(6, 6, 6), _grid(5, 5, 4))]
    # the wanted sets hold eigenvalues of multiplicity 2 (2-D squares) and 3 (3-D cubes)
    assert np.sum(np.isclose(cases[0][1][-6:], cases[0][1][-1])) >= 1
    runs, missed = _check_all(cases, range(4), (4, 6, 8))
    assert runs == 144 and missed <= runs // 20


def test_operators_with_multiplicity_two_to_four() -> None:
    cases = []
    for seed, mult in enumerate((2, 3, 4)):
        rng = np.random.default_rng(seed)
        bulk = rng.uniform(-1.0, 1.0, 90)
        lam = np.r_[bulk, [3.0] * mult, [2.5] * 2, [-3.0] * mult, [-2.0] * (mult - 1 or 1)]
        A = _with_spectrum(lam, seed)
        cases.append((A, np.linalg.eigvalsh(A)))
    runs, missed = _check_all(cases, range(5), (3, 5, 7))
    assert runs == 135 and missed <= runs // 20


@pytest.mark.slow
def test_many_seeds_and_shapes_never_wrong_when_converged() -> None:
    grids = [_grid(*ms) for ms in ((8, 8), (10, 10), (7, 9), (15, 15), (4, 4, 4), (6, 6, 6), (7, 7, 5), (3, 3, 3, 3))]
    cases = [(G, np.linalg.eigvalsh(G.toarray())) for G in grids]
    for seed, mult in enumerate((2, 2, 3, 3, 4, 4)):
        rng = np.random.default_rng(100 + seed)
        lam = np.r_[rng.uniform(-1.0, 1.0, 150), [2.0] * mult, [1.5] * mult, [-2.0] * mult, [-1.2] * 2]
        A = _with_spectrum(lam, seed)
        cases.append((A, np.linalg.eigvalsh(A)))
    runs, missed = _check_all(cases, range(20), (2, 4, 6, 9))
    print(f"\n{runs} runs, {missed} not converged, 0 wrong with converged=True")
    assert missed <= runs // 20


def test_old_failure_grid_la_k6_has_both_copies() -> None:
    G = _grid(20, 20)
    ev = np.linalg.eigvalsh(G.toarray())
    r = eigsh(G, k=6, which="LA", rng=0)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, ev[-6:], rtol=1e-10)
    assert np.isclose(r.eigenvalues[-2], r.eigenvalues[-3], rtol=1e-10)  # the second one is double


def test_path_laplacian_n2000_converges_with_defaults() -> None:
    n = 2000
    ev = 2.0 - 2.0 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))
    r = eigsh(_path(n), k=6, which="LA", rng=0)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, ev[-6:], rtol=1e-10)
    assert np.all(r.residuals <= 1e-10 * np.abs(r.eigenvalues))


@pytest.mark.slow
def test_path_laplacian_n2000_smallest_converge_with_defaults() -> None:
    n = 2000
    ev = 2.0 - 2.0 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))
    r = eigsh(_path(n), k=6, which="SA", rng=0)
    assert r.converged
    # ARPACK's test: residual <= tol * max(|lambda|, eps^(2/3) ||A||)
    np.testing.assert_allclose(r.eigenvalues, ev[:6], rtol=1e-8)


@pytest.mark.parametrize("scale", [1e-300, 1e-155, 1e155, 1e300])
def test_extreme_scales_are_exact(scale: float) -> None:
    rng = np.random.default_rng(0)
    B = rng.standard_normal((80, 80))
    A = (B + B.T) / 2
    ev = np.linalg.eigvalsh(A)
    for op in (A * scale, sps.csr_matrix(A * scale), aslinearoperator(lambda v: (A * scale) @ v, n=80)):
        r = eigsh(op, k=4, rng=0)
        assert r.converged and np.all(np.isfinite(r.eigenvalues))
        np.testing.assert_allclose(r.eigenvalues / scale, ev[-4:], rtol=1e-12)
        np.testing.assert_allclose(r.residuals / scale, np.linalg.norm(A @ r.eigenvectors - r.eigenvectors * (r.eigenvalues / scale), axis=0), rtol=1e-3, atol=1e-13)
    d = density(A * scale, n_probes=3, n_steps=20, rng=0)
    assert np.isclose(d.weights.sum(), 1.0) and np.all(np.isfinite(d.nodes))
    assert d.nodes.min() / scale >= ev[0] - 1e-10 and d.nodes.max() / scale <= ev[-1] + 1e-10
    t = trace(A * scale, budget=200, rng=0)
    assert t.value / scale == pytest.approx(np.trace(A), rel=1e-12)


def test_near_overflow_callable() -> None:
    d = np.linspace(1.0, 1.7, 40)
    r = eigsh(aslinearoperator(lambda v: (d * 1e308) * v, n=40), k=3, rng=0)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, d[-3:] * 1e308, rtol=1e-13)


def test_smallest_magnitude() -> None:
    rng = np.random.default_rng(3)
    lam = np.r_[rng.uniform(0.5, 3.0, 60) * rng.choice([-1, 1], 60), [0.1, -0.1, 0.2, -0.25]]
    A = _with_spectrum(lam, 4)
    r = eigsh(A, k=4, which="SM", rng=0)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, [-0.25, -0.1, 0.1, 0.2], atol=1e-12)
    V = r.eigenvectors
    assert np.all(np.linalg.norm(A @ V - V * r.eigenvalues, axis=0) <= 1e-10 * 3.0)


def test_non_symmetric_operators_are_refused() -> None:
    B = np.random.default_rng(1).standard_normal((50, 50))
    with pytest.raises(ValueError, match="A must be symmetric"):
        eigsh(aslinearoperator(lambda v: B @ v, n=50), k=2)
    with pytest.raises(ValueError, match="A must be symmetric"):
        density(aslinearoperator(lambda v: B @ v, n=50))
    spla = pytest.importorskip("scipy.sparse.linalg")
    with pytest.raises(ValueError, match="A must be symmetric"):
        eigsh(spla.aslinearoperator(B), k=2)
    with pytest.raises(ValueError, match="symmetric"):
        eigsh(B, k=2)
    # opting out of the probe
    eigsh(aslinearoperator(lambda v: (B + B.T) @ v, n=50, check_symmetric=False), k=2, rng=0)


def test_complex_input_is_refused_without_complex_warning() -> None:
    A = np.eye(40)
    with pytest.raises(TypeError, match="complex"):
        eigsh(aslinearoperator(lambda v: A @ v + 0j, n=40), k=2)
    with pytest.raises(TypeError, match="complex"):
        eigsh(A.astype(complex), k=2)
    with pytest.raises(TypeError, match="complex"):
        eigsh(sps.csr_matrix(A.astype(complex)), k=2)
    spla = pytest.importorskip("scipy.sparse.linalg")
    with pytest.raises(TypeError, match="complex"):
        eigsh(spla.aslinearoperator(A.astype(complex)), k=2)
    with pytest.raises(TypeError, match="complex"):
        trace(aslinearoperator(lambda v: A @ v + 1j, n=40))


def test_eigenvector_residuals_with_a_start_vector_meet_the_tolerance() -> None:
    rng = np.random.default_rng(7)
    B = rng.standard_normal((300, 300))
    A = (B + B.T) / 2
    v0 = rng.standard_normal(300)
    for tol in (1e-6, 1e-10, 1e-14, 0.0):
        r = eigsh(A, k=5, which="LM", tol=tol, v0=v0, rng=0)
        assert r.converged
        V = r.eigenvectors
        true = np.linalg.norm(A @ V - V * r.eigenvalues, axis=0)
        bound = np.maximum(max(tol, np.finfo(float).eps) * np.abs(r.eigenvalues), 1e3 * np.finfo(float).eps * 30)
        assert np.all(true <= bound)


def test_return_eigenvectors_false() -> None:
    A = np.diag(np.arange(1.0, 51.0))
    r = eigsh(A, k=3, return_eigenvectors=False, rng=0)
    assert r.eigenvectors is None
    np.testing.assert_allclose(r.eigenvalues, [48.0, 49.0, 50.0], rtol=1e-12)
