"""The determinism contract of README.md ("Determinism"), clause by clause.

Bitwise clauses (same build and ISA; any thread count, executor, batch order) are tested
next to each engine:
- threads: test_nested_scale.py::test_threads_for_compiled_likelihood_same_result,
  test_cluster.py::test_same_result_any_thread_count, test_spectra.py::test_mlp_matmat_and_threads_are_consistent,
  test_core_elbo.py::test_plan_independent_of_threads;
- executors and their worker counts: test_nested_scale.py::test_executor_process_pool_same_result_for_any_worker_count;
- batch order and micro-batch size: test_elbo.py::test_masks_independent_of_batch_order_and_chunks.
Each compares one computation with itself.

The tolerance clauses are tested here: another instruction set, or a last-bit change such as
another numpy version makes (``r @ r`` against ``np.sum(r * r)``), moves a converged result only
within the stated tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.nested import NestedSampler


def _dot(x):
    r = x - 0.5
    return float(-0.5 * (r @ r) / 0.01)


def _sum(x):
    r = x - 0.5
    return float(-0.5 * np.sum(r * r) / 0.01)


def test_nested_last_bit_changes_agree_within_logzerr():
    x = np.random.default_rng(0).random((1000, 3))
    a = np.array([_dot(v) for v in x])
    b = np.array([_sum(v) for v in x])
    np.testing.assert_allclose(a, b, rtol=1e-14)  # the two likelihoods differ in the last bits only
    truth = 3 * math.log(math.sqrt(2 * math.pi) * 0.1)
    for seed in range(3):
        r1 = NestedSampler(_dot, None, 3, nlive=100, rng=seed, sample="unif").run(dlogz=0.5)
        r2 = NestedSampler(_sum, None, 3, nlive=100, rng=seed, sample="unif").run(dlogz=0.5)
        # statistically equal: within the quoted errors of each other and of the truth
        assert abs(r1.logz - r2.logz) < 3 * math.hypot(r1.logzerr, r2.logzerr)
        assert abs(r1.logz - truth) < 4 * r1.logzerr and abs(r2.logz - truth) < 4 * r2.logzerr


def _mixture(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    return np.concatenate([c + rng.standard_normal((n // 3, 2)) for c in centers])


def test_cluster_isa_and_last_bit_agree_to_tolerance():
    from ridgeline.cluster import kmeans_sdp

    X = _mixture(300, 1)
    base = kmeans_sdp(X, 3, rng=0)
    bumped = kmeans_sdp(X * (1 + 2.0**-52), 3, rng=0)  # every entry moved by about one ulp
    assert base.converged and bumped.converged
    np.testing.assert_array_equal(base.labels, bumped.labels)
    # the objective of a converged solve is accurate to about its tolerance tol (1e-6 by default)
    assert bumped.objective == pytest.approx(base.objective * (1 + 2.0**-51), rel=10 * 1e-6)
    # the SSE2 and AVX2+FMA builds of the solver, run to convergence
    from ridgeline.cluster._api import check_data

    Xc, _ = check_data(X - X.mean(axis=0), 3)
    a = _core.cluster.peng_wei(Xc, 3, 6, 7, tol=1e-7, max_iter=20000, isa="baseline")
    b = _core.cluster.peng_wei(Xc, 3, 6, 7, tol=1e-7, max_iter=20000, isa="auto")
    assert a.objective == pytest.approx(b.objective, rel=10 * 1e-7)
    la = np.argmax(a.U @ a.U.T[:, :: 100], axis=1)
    lb = np.argmax(b.U @ b.U.T[:, :: 100], axis=1)
    np.testing.assert_array_equal(la, lb)


def test_spectra_isa_and_last_bit_agree_to_tol():
    from ridgeline.spectra import MLP, eigsh

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    y = rng.integers(0, 4, 200)
    tol = 1e-10
    vals = []
    for isa in ("auto", "baseline"):
        net = MLP([6, 16, 4], activation="tanh", loss="cross_entropy", isa=isa)
        p = net.init_params(rng=3)
        vals.append(eigsh(net.hessian_operator(p, X, y), k=4, tol=tol, rng=0).eigenvalues)
    np.testing.assert_allclose(vals[1], vals[0], rtol=10 * tol)
    A = rng.standard_normal((60, 60))
    A = A + A.T
    e0 = eigsh(A, k=3, tol=tol, rng=0).eigenvalues
    e1 = eigsh(A * (1 + 2.0**-52), k=3, tol=tol, rng=0).eigenvalues
    np.testing.assert_allclose(e1, e0, rtol=10 * tol, atol=10 * tol * np.abs(e0).max())
    np.testing.assert_allclose(e0, np.linalg.eigvalsh(A)[-3:], rtol=10 * tol)


def test_elbo_masks_identical_and_values_to_1e_12():
    # (the masks themselves are integers, equal to the numpy reference's: test_core_elbo.py)
    from ridgeline.elbo import masked_diffusion as md

    p = md.plan([30, 17, 9], budget=6, seed=5)
    logp = -np.random.default_rng(1).random((p.n_evals, p.seq_len))
    v = md.reduce(p, logp)
    v2 = md.reduce(p, logp * (1 + 2.0**-52))
    np.testing.assert_allclose(v2, v, rtol=1e-12)
