"""SDP clustering engine: C++ against the numpy reference, known answers, estimators, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.cluster import _reference as R
from ridgeline._bench.cluster import mixture  # the bench's test problem (Chen & Yang threshold)
from ridgeline.cluster import ila_sdp, kmeans_sdp


def error_rate(a: np.ndarray, b: np.ndarray) -> float:
    """Mis-clustering error under the best one-to-one matching (brute force over permutations)."""
    import itertools

    K = int(max(a.max(), b.max())) + 1
    C = np.zeros((K, K))
    np.add.at(C, (a, b), 1)
    best = max(sum(C[i, perm[i]] for i in range(K)) for perm in itertools.permutations(range(K)))
    return 1.0 - best / len(a)


ISAS = [
    "baseline",
    pytest.param(
        "avx2",
        marks=pytest.mark.skipif(not _core.cluster.cpu_has_avx2_fma(), reason="the CPU has no AVX2 + FMA"),
    ),
]


# Long Barzilai-Borwein steps amplify round-off over the iterations (~1e-15 at the start,
# ~1e-11 after 60 iterations, ~1e-6 by convergence), so the engine and the reference are
# compared tightly on a fixed prefix of the path and loosely at convergence.


@pytest.mark.parametrize("isa", ISAS)
def test_core_matches_reference_peng_wei(isa: str) -> None:
    X, _ = mixture(80, 6, 3, 1.3, 1)
    d = _core.cluster.peng_wei(X, 3, 6, 11, tol=1e-6, max_iter=60, isa=isa)
    assert d.isa == ("baseline" if isa == "baseline" else "avx2+fma")
    ref, s2 = R.peng_wei(X, 3, rank=6, tol=1e-6, max_iter=60, seed=11)
    assert d.n_iter == ref.n_iter == 60
    np.testing.assert_allclose(d.U, ref.U, atol=1e-9)
    np.testing.assert_allclose(d.objective, ref.objective, rtol=1e-10)
    np.testing.assert_allclose(d.scale2, s2, rtol=1e-12)
    d = _core.cluster.peng_wei(X, 3, 6, 11, tol=1e-6, max_iter=400, isa=isa)
    ref, _ = R.peng_wei(X, 3, rank=6, tol=1e-6, max_iter=400, seed=11)
    assert d.converged and ref.converged
    # the round-off also shifts the discrete decisions of the tail (dual steps, the
    # inner-accuracy halving), so the end point can move by up to ~15% of the iterations
    assert abs(d.n_iter - ref.n_iter) <= max(3, 3 * ref.n_iter // 20)
    np.testing.assert_allclose(d.U, ref.U, atol=1e-5)
    np.testing.assert_allclose(d.objective, ref.objective, rtol=1e-7)


@pytest.mark.parametrize("isa", ISAS)
def test_core_matches_reference_la_sdp(isa: str) -> None:
    X, lab = mixture(60, 4, 2, 1.5, 2)
    covs = R._covariances(X, lab, 2, 1e-3)
    U0 = R._block_start(lab, 2, 2, 5)
    d = _core.cluster.la_sdp(X, covs, U0, rank=2, tol=1e-6, max_iter=60, isa=isa)
    ref = R.la_sdp(X, covs, U0, rank=2, tol=1e-6, max_iter=60)
    assert d.n_iter == ref.n_iter == 60
    np.testing.assert_allclose(d.U, ref.U, atol=1e-9)
    d = _core.cluster.la_sdp(X, covs, U0, rank=2, tol=1e-6, max_iter=300, isa=isa)
    ref = R.la_sdp(X, covs, U0, rank=2, tol=1e-6, max_iter=300)
    assert d.converged and ref.converged
    # the round-off also shifts the discrete decisions of the tail (dual steps, the
    # inner-accuracy halving), so the end point can move by up to ~15% of the iterations
    assert abs(d.n_iter - ref.n_iter) <= max(3, 3 * ref.n_iter // 20)
    np.testing.assert_allclose(d.U, ref.U, atol=1e-5)
    # both stop at infeasibility <= tol, which bounds the objective gap at O(tol)
    np.testing.assert_allclose(d.objective, ref.objective, rtol=1e-6)


def test_projection_all_nonpositive_block() -> None:
    V = -np.arange(1.0, 13.0).reshape(6, 2)
    V[3, 1] = -0.5
    U = R.project(V, [(0, 2, 4.0)])
    expect = np.zeros((6, 2))
    expect[3, 1] = 2.0
    np.testing.assert_array_equal(U, expect)
    # the C++ solver starts from the same projection: a single non-zero entry stays finite
    d = _core.cluster.peng_wei(np.arange(12.0).reshape(6, 2), 2, 2, 0, max_iter=5)
    assert np.all(np.isfinite(d.U))
    np.testing.assert_allclose(np.sum(d.U ** 2), 2.0, rtol=1e-12)


def test_kmeans_and_rounding_match_reference() -> None:
    rng = np.random.default_rng(3)
    Y = np.r_[rng.normal(0, 1, (30, 3)), rng.normal(6, 1, (30, 3)), rng.normal(-6, 1, (30, 3))]
    km = _core.cluster.kmeans(Y, 3, 5, 300, 42, 1)
    lab_c, cen_c, in_c = km.labels, km.centers, km.inertia
    lab_r, cen_r, in_r = R.kmeans(Y, 3, n_init=5, seed=42)
    np.testing.assert_array_equal(lab_c, lab_r)
    np.testing.assert_allclose(in_c, in_r, rtol=1e-12)
    U = np.abs(rng.standard_normal((40, 6)))
    Lc = _core.cluster.round_factor(U, 3)
    Lr = R.round_factor(U, 3)
    np.testing.assert_allclose(np.abs(Lc), np.abs(Lr), atol=1e-10)


def test_exact_recovery_regime_is_tight() -> None:
    X, lab = mixture(200, 10, 4, 1.6, 0)
    res = kmeans_sdp(X, 4, rng=0)
    assert res.converged
    assert res.infeasibility <= 1e-6
    assert error_rate(lab, res.labels) == 0.0
    assert res.tight
    # tight => the SDP value equals <A, Z*> of the true partition
    Xc = X - X.mean(axis=0)
    zval = sum(np.sum(Xc[lab == k].sum(axis=0) ** 2) / np.sum(lab == k) for k in range(4))
    np.testing.assert_allclose(res.sdp_value, zval, rtol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
def test_same_result_any_thread_count(isa: str) -> None:
    X, _ = mixture(9000, 5, 3, 1.2, 4)
    a = _core.cluster.peng_wei(X, 3, 6, 9, max_iter=30, n_threads=1, isa=isa)
    b = _core.cluster.peng_wei(X, 3, 6, 9, max_iter=30, n_threads=2, isa=isa)
    np.testing.assert_array_equal(a.U, b.U)
    assert a.n_iter == b.n_iter and a.objective == b.objective


def test_isa_builds_agree_and_bad_isa() -> None:
    # the AVX2 + FMA build may differ from the baseline in the last bits only (same path on a short run)
    X, _ = mixture(300, 10, 3, 1.3, 5)
    a = _core.cluster.peng_wei(X, 3, 6, 2, max_iter=50, isa="baseline")
    b = _core.cluster.peng_wei(X, 3, 6, 2, max_iter=50, isa="auto")
    np.testing.assert_allclose(b.U, a.U, atol=1e-10)
    with pytest.raises(ValueError, match="unknown isa 'sse9'"):
        _core.cluster.peng_wei(X, 3, 6, 2, isa="sse9")


@pytest.mark.parametrize("ratio", [0.9, 0.7])
def test_non_tight_instance_converges(ratio: float) -> None:
    # below the recovery threshold the SDP is not tight; with neither the capped penalty rising
    # nor the inner accuracy tightening after dual overshoots, 0.9 stalled at 1e-4 for 100,000
    # iterations (now it converges in ~1,000 at beta n = 64)
    X, _ = mixture(400, 20, 4, ratio, 0)
    d = _core.cluster.peng_wei(X, 4, 8, 3, max_iter=30000)
    assert d.converged and d.infeasibility <= 1e-6


def test_sketch_and_lift() -> None:
    X, lab = mixture(4000, 10, 3, 1.6, 5)
    res = kmeans_sdp(X, 3, sketch=300, rng=1)
    assert res.sketch_indices is not None and res.sketch_indices.shape == (300,)
    assert error_rate(lab, res.labels) <= 0.002


def test_wine_error() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    w = datasets.load_wine()
    X = (w.data - w.data.mean(axis=0)) / w.data.std(axis=0)
    res = kmeans_sdp(X, 3, rng=0, early_stop=False, warm_start=False)  # the SDP solved to tol from the random start
    # the SDP rounding's error; the returned labels are the lower-cost k-means++ partition
    # (K-means cost 1277.93 against the rounding's), whose error is the KMeans one (6/178)
    assert abs(error_rate(w.target, res.sdp_labels) - 4 / 178) < 1e-12  # 0.0225
    assert res.winner == "kmeans++" and res.inertia < res.sdp_inertia
    assert abs(error_rate(w.target, res.labels) - 6 / 178) < 1e-12


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ila_sdp_iris() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    ir = datasets.load_iris()
    res = ila_sdp(ir.data, 3, rng=0, max_iter=20000)
    assert error_rate(ir.target, res.labels) <= 0.020 + 1e-12


def test_ledoit_wolf_covariances_match_reference_and_sklearn() -> None:
    rng = np.random.default_rng(7)
    X = np.r_[rng.standard_normal((40, 5)) @ np.diag([1.0, 2.0, 0.5, 1.0, 3.0]), 4.0 + rng.standard_normal((25, 5))]
    lab = np.repeat([0, 1], [40, 25])
    from ridgeline.cluster import _api

    ours = _api._covariances(X, lab, 2, 1e-3, "ledoit-wolf")
    ref = R._covariances(X, lab, 2, 1e-3, "ledoit-wolf")
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    base = float(np.mean(np.var(X, axis=0)))
    covariance = pytest.importorskip("sklearn.covariance")
    for k in range(2):
        lw = covariance.LedoitWolf().fit(X[lab == k]).covariance_
        np.testing.assert_allclose(ours[k] - 1e-3 * base * np.eye(5), lw, rtol=1e-10, atol=1e-13)
    # a fixed intensity: 0 is the ML covariance, 1 the scaled identity
    D = X[lab == 0] - X[lab == 0].mean(axis=0)
    S = D.T @ D / 40
    np.testing.assert_allclose(_api._covariances(X, lab, 2, 1e-3, 0.0)[0], S + 1e-3 * base * np.eye(5), rtol=1e-12)
    np.testing.assert_allclose(
        _api._covariances(X, lab, 2, 1e-3, 1.0)[0], (np.trace(S) / 5 + 1e-3 * base) * np.eye(5), rtol=1e-12
    )


def test_core_matches_reference_la_sdp_settle() -> None:
    """The label-stability exit of an LA-SDP round: same stop and labels as the reference."""
    X, lab = mixture(60, 4, 2, 1.5, 2)
    covs = R._covariances(X, lab, 2, 1e-3)
    U0 = R._block_start(lab, 2, 2, 5)
    d = _core.cluster.la_sdp(X, covs, U0, rank=2, tol=1e-12, max_iter=5000, settle_every=10, settle_infeas=0.05)
    ref = R.la_sdp(X, covs, U0, rank=2, tol=1e-12, max_iter=5000, settle_every=10, settle_infeas=0.05)
    assert d.settled and ref.settled and not d.converged
    assert d.n_iter == ref.n_iter < 5000
    np.testing.assert_array_equal(R.labels_from_blocks(np.asarray(d.U), 2, 2), R.labels_from_blocks(ref.U, 2, 2))
    full = _core.cluster.la_sdp(X, covs, U0, rank=2, tol=1e-6, max_iter=5000)
    assert full.converged and not full.settled
    # here the round's labels are those of the solve to tol, at fewer iterations
    np.testing.assert_array_equal(R.labels_from_blocks(np.asarray(d.U), 2, 2), R.labels_from_blocks(np.asarray(full.U), 2, 2))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ila_sdp_matches_reference() -> None:
    """Whole iLA-SDP rounds (Peng-Wei start, Ledoit-Wolf covariances, LA-SDP) against the numpy reference."""
    rng = np.random.default_rng(1)
    X = np.r_[rng.standard_normal((30, 3)), 3.0 + 2.5 * rng.standard_normal((30, 3))]
    res = ila_sdp(X, 2, rng=3, tol=1e-6, max_iter=600, max_rounds=2, shrinkage="ledoit-wolf")
    lab_r, cov_r, rounds_r = R.ila_sdp(X, 2, max_iter=600, max_rounds=2, seed=3, shrinkage="ledoit-wolf")
    assert res.n_rounds == rounds_r
    np.testing.assert_array_equal(res.labels, lab_r)
    np.testing.assert_allclose(res.covariances, cov_r, rtol=1e-9)


@pytest.mark.parametrize(
    ("X", "k", "err", "match"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), 1, ValueError, "X contains NaN or infinite values"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), 1, ValueError, "X contains NaN or infinite values"),
        (np.zeros((3, 2)), 4, ValueError, "n_samples=3 should be >= n_clusters=4"),
        (np.zeros((3, 2)), 0, ValueError, "n_clusters=0 must be >= 1"),
        (np.zeros(5), 2, ValueError, "X must be 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), 1, TypeError, "must be numeric"),
        (np.zeros((3, 2)), 1.5, TypeError, "n_clusters=1.5 must be an integer"),
    ],
)
def test_bad_input(X: np.ndarray, k: object, err: type[Exception], match: str) -> None:
    with pytest.raises(err, match=match):
        kmeans_sdp(X, k)  # type: ignore[arg-type]
    with pytest.raises(err, match=match):
        ila_sdp(X, k)  # type: ignore[arg-type]


def test_bad_options() -> None:
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="tol=-1.0 must be > 0"):
        kmeans_sdp(X, 2, tol=-1)
    with pytest.raises(ValueError, match="sketch=1 should be >= n_clusters=2"):
        kmeans_sdp(X, 2, sketch=1)
    with pytest.raises(ValueError, match="X contains NaN"):
        _core.cluster.peng_wei(np.array([[np.nan]]), 1, 1, 0)
    with pytest.raises(ValueError, match="shrinkage=1.5 must be in"):
        ila_sdp(X, 2, shrinkage=1.5)
    with pytest.raises(ValueError, match="shrinkage='oas' must be"):
        ila_sdp(X, 2, shrinkage="oas")
    with pytest.raises(TypeError, match="shrinkage=None must be"):
        ila_sdp(X, 2, shrinkage=None)  # type: ignore[arg-type]


def test_convergence_warning() -> None:
    pytest.importorskip("sklearn")
    from ridgeline import ConvergenceWarning

    X, _ = mixture(60, 4, 3, 1.0, 6)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        kmeans_sdp(X, 3, max_iter=3)


def test_import_does_not_load_sklearn() -> None:
    import subprocess
    import sys

    code = "import sys, ridgeline.cluster; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_demo(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scipy")
    from ridgeline import cli

    assert cli.main(["cluster", "--problem", "mixture", "-n", "200"]) == 0
    out = capsys.readouterr().out
    assert "error 0.0000" in out and "tight True" in out


# ---- early exit and warm start (issue 17) ----------------------------------------------------------


def test_early_stop_on_non_tight_data() -> None:
    """Wine is not tight: the solve stops once the rounding settles or stalls, reports no certificate,
    and the returned partition's K-means cost is not higher than the full solve's."""
    datasets = pytest.importorskip("sklearn.datasets")
    w = datasets.load_wine()
    X = (w.data - w.data.mean(axis=0)) / w.data.std(axis=0)
    res = kmeans_sdp(X, 3, rng=0)  # no warning (filterwarnings = error)
    assert res.stop_reason in ("settled", "stalled") and not res.converged and not res.tight
    assert res.tightness_gap > 1e-2  # the settle test never stops a solution close to its block matrix
    full = kmeans_sdp(X, 3, rng=0, early_stop=False, warm_start=False)
    assert full.stop_reason == "converged" and full.converged and not full.tight
    assert res.n_iter < full.n_iter
    assert res.inertia <= full.inertia * (1 + 1e-12)


def test_tight_mixture_still_certified_with_warm_start() -> None:
    """On a tight instance the warm-started solve is never cut short: solved to tol, tight, gap ~ 0."""
    X, y = mixture(200, p=10, K=3, ratio=2.0, seed=1)
    for ws in (False, True):
        res = kmeans_sdp(X, 3, rng=0, warm_start=ws, certify=False)  # the iterative solve itself
        assert res.stop_reason == "converged" and res.converged and res.tight
        assert abs(res.optimality_gap) < 1e-4
        assert error_rate(y, res.labels) == 0.0  # ratio 2 x the recovery threshold
    # with the dual certificate (default) the same instance needs no iterations
    cert = kmeans_sdp(X, 3, rng=0)
    assert cert.stop_reason == "certified" and cert.tight and cert.n_iter == 0 and cert.certified_gap < 1e-9
    assert error_rate(y, cert.labels) == 0.0


def test_early_stop_and_warm_start_thread_invariant() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    X = datasets.load_iris().data
    for ws in (False, True):
        a = kmeans_sdp(X, 3, rng=3, n_threads=1, warm_start=ws)
        b = kmeans_sdp(X, 3, rng=3, n_threads=2, warm_start=ws)
        assert a.stop_reason == b.stop_reason and a.n_iter == b.n_iter
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.factor, b.factor)


def test_settle_and_warm_start_bad_input() -> None:
    X = np.random.default_rng(0).standard_normal((30, 2))
    with pytest.raises(TypeError, match="early_stop"):
        kmeans_sdp(X, 2, early_stop="yes")
    with pytest.raises(TypeError, match="warm_start"):
        kmeans_sdp(X, 2, warm_start=1.5)
    with pytest.raises(ValueError, match="settle_n_init"):
        _core.cluster.peng_wei(X, 2, 4, 0, settle_n_init=-1)
    with pytest.raises(ValueError, match="init_labels"):
        _core.cluster.peng_wei(X, 2, 4, 0, init_labels=np.full(30, 2))
    with pytest.raises(ValueError, match="init_labels"):
        _core.cluster.peng_wei(X, 2, 4, 0, init_labels=np.zeros(29, dtype=np.int64))
