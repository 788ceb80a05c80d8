"""The scikit-learn estimators: check_estimator, and the cases of scikit-learn's own K-means tests
that apply to any K-means estimator (reimplemented from their descriptions)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from ridgeline import ConvergenceWarning  # noqa: E402
from ridgeline.cluster import ILASDP, SDPKMeans  # noqa: E402
from ridgeline.cluster._lloyd import cost  # noqa: E402

# the expected failures scikit-learn itself declares for KMeans (they apply to sample_weight,
# which SDPKMeans does not take, so they are not run)
KMEANS_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data": "sample_weight is not equivalent to removing/repeating samples.",
}


@pytest.mark.filterwarnings("ignore::ridgeline._exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize(
    "est", [SDPKMeans(max_iter=3000, tol=1e-4), ILASDP(max_iter=1000, max_rounds=3)], ids=type
)
def test_check_estimator(est: object) -> None:
    results = check_estimator(est, on_fail=None, expected_failed_checks=KMEANS_XFAIL)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert len(results) >= 40


def blobs(n_per: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 6.0]])
    lab = np.repeat(np.arange(3), n_per)
    return centres[lab] + rng.standard_normal((3 * n_per, 3)), lab


X, TRUE = blobs()


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.fixture(scope="module")
def fitted() -> SDPKMeans:
    return SDPKMeans(3, random_state=0).fit(X)


# ---- scikit-learn's test_k_means.py, the cases that apply to any K-means estimator (22) ----------


def test_known_answer() -> None:  # 1. a four-point data set with a known optimal partition
    X4 = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [1.0, 1.0]])
    km = SDPKMeans(2, random_state=0).fit(X4)
    assert same_partition(km.labels_, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(np.sort(km.cluster_centers_, axis=0), [[0.25, 0.0], [0.75, 1.0]], atol=1e-12)
    np.testing.assert_allclose(km.inertia_, 0.25, rtol=1e-12)


def test_recovers_separated_blobs(fitted: SDPKMeans) -> None:  # 2. labels of well separated blobs
    assert same_partition(fitted.labels_, TRUE)


def test_fit_predict_equals_fit_labels() -> None:  # 3.
    a = SDPKMeans(3, random_state=1).fit_predict(X)
    b = SDPKMeans(3, random_state=1).fit(X).labels_
    np.testing.assert_array_equal(a, b)


def test_predict(fitted: SDPKMeans) -> None:  # 4. training points and the centres themselves
    np.testing.assert_array_equal(fitted.predict(X), fitted.labels_)
    np.testing.assert_array_equal(fitted.predict(fitted.cluster_centers_), np.arange(3))


def test_transform_is_distance_to_centres(fitted: SDPKMeans) -> None:  # 5.
    T = fitted.transform(X)
    expect = np.linalg.norm(X[:, None, :] - fitted.cluster_centers_[None, :, :], axis=2)
    np.testing.assert_allclose(T, expect, rtol=1e-10, atol=1e-10)
    Tc = fitted.transform(fitted.cluster_centers_)
    np.testing.assert_allclose(np.diag(Tc), 0.0, atol=1e-6)
    assert np.all(Tc[~np.eye(3, dtype=bool)] > 0)


def test_fit_transform_equals_fit_then_transform() -> None:  # 6.
    a = SDPKMeans(3, random_state=2).fit_transform(X)
    b = SDPKMeans(3, random_state=2).fit(X).transform(X)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_inertia_is_the_cost(fitted: SDPKMeans) -> None:  # 7.
    expect = np.sum((X - fitted.cluster_centers_[fitted.labels_]) ** 2)
    np.testing.assert_allclose(fitted.inertia_, expect, rtol=1e-10)


def test_score_is_minus_inertia(fitted: SDPKMeans) -> None:  # 8.
    np.testing.assert_allclose(fitted.score(X), -fitted.inertia_, rtol=1e-10)


def test_float32_kept() -> None:  # 9. float32 in, float32 centres, same clustering as float64
    a = SDPKMeans(3, random_state=0).fit(X.astype(np.float32))
    b = SDPKMeans(3, random_state=0).fit(X)
    assert a.cluster_centers_.dtype == np.float32 and a.transform(X.astype(np.float32)).dtype == np.float32
    assert same_partition(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_integer_input() -> None:  # 10. integer data gives the float result
    Xi = np.round(3 * X).astype(np.int64)
    a = SDPKMeans(3, random_state=0).fit(Xi)
    b = SDPKMeans(3, random_state=0).fit(Xi.astype(np.float64))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_fortran_ordered_data() -> None:  # 11.
    a = SDPKMeans(3, random_state=0).fit(np.asfortranarray(X))
    b = SDPKMeans(3, random_state=0).fit(np.ascontiguousarray(X))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_sparse_equals_dense() -> None:  # 12. CSR input gives the dense result
    sp = pytest.importorskip("scipy.sparse")
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.5] = 0.0
    a = SDPKMeans(3, random_state=0).fit(sp.csr_array(Xs))
    b = SDPKMeans(3, random_state=0).fit(Xs)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.predict(sp.csr_array(Xs)), b.predict(Xs))


def test_duplicate_points_warn_and_give_fewer_clusters() -> None:  # 13.
    Xd = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 10, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"number of distinct clusters \(2\) found smaller than n_clusters \(3\)"):
        km = SDPKMeans(3, random_state=0).fit(Xd)
    assert np.unique(km.labels_).size == 2 and km.inertia_ == 0.0


def test_non_collapsed_clusters() -> None:  # 14. three separated points, three clusters
    X3 = np.array([[1.1, 1.1], [-7.5, -7.5], [-1.1, -1.1], [7.5, 7.5]])
    km = SDPKMeans(3, random_state=0).fit(X3)
    assert np.unique(km.labels_).size == 3
    assert np.unique(km.cluster_centers_, axis=0).shape[0] == 3


def test_same_result_for_any_thread_count() -> None:  # 15.
    a = SDPKMeans(3, n_threads=1, random_state=0).fit(X)
    b = SDPKMeans(3, n_threads=2, random_state=0).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_same_random_state_same_result() -> None:  # 16.
    a = SDPKMeans(3, random_state=5).fit(X)
    b = SDPKMeans(3, random_state=5).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_


def test_input_not_modified() -> None:  # 17.
    Xc = X.copy()
    SDPKMeans(3, random_state=0).fit(Xc)
    np.testing.assert_array_equal(Xc, X)


def test_convergence_and_n_iter(fitted: SDPKMeans) -> None:  # 18.
    assert fitted.converged_ and 0 <= fitted.n_iter_ < fitted.max_iter
    assert fitted.n_iter_ > 0 or fitted.stop_reason_ == "certified"


def test_more_inits_never_worse() -> None:  # 19. the k-means++ baseline keeps the best start
    rng = np.random.default_rng(3)
    Xr = rng.standard_normal((150, 4))
    costs = [SDPKMeans(6, n_init=k, random_state=0).fit(Xr).kmeanspp_inertia_ for k in (1, 3, 10)]
    assert costs[2] <= costs[1] <= costs[0]


def test_verbose_output(capsys: pytest.CaptureFixture[str]) -> None:  # 20.
    SDPKMeans(3, verbose=1, random_state=0).fit(X)
    err = capsys.readouterr().err
    assert "SDP K-means (n=120, K=3)" in err and "winner" in err


def test_feature_names_out_and_set_output() -> None:  # 21.
    km = SDPKMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(km.get_feature_names_out(), ["sdpkmeans0", "sdpkmeans1", "sdpkmeans2"])
    pd = pytest.importorskip("pandas")
    out = SDPKMeans(3, random_state=0).set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["sdpkmeans0", "sdpkmeans1", "sdpkmeans2"]


@pytest.mark.parametrize(
    ("params", "err", "match"),
    [
        ({"n_clusters": 200}, ValueError, "n_samples=120 should be >= n_clusters=200"),
        ({"n_clusters": 0}, ValueError, "n_clusters=0 must be >= 1"),
        ({"n_clusters": "3"}, TypeError, "n_clusters='3' must be an integer"),
        ({"n_clusters": 3, "n_init": 0}, ValueError, "n_init=0 must be >= 1"),
        ({"n_clusters": 3, "max_iter": -1}, ValueError, "max_iter=-1 must be >= 1"),
        ({"n_clusters": 3, "tol": -1.0}, ValueError, "tol=-1.0 must be > 0"),
    ],
)
def test_parameter_validation(params: dict[str, object], err: type[Exception], match: str) -> None:  # 22.
    with pytest.raises(err, match=match):
        SDPKMeans(**params).fit(X)  # type: ignore[arg-type]


# ---- ILASDP's Gaussian-mixture side ---------------------------------------------------------------


def test_fitted_attributes() -> None:
    rng = np.random.default_rng(0)
    X2 = np.r_[rng.normal(0, 1, (40, 3)), rng.normal(8, 1, (40, 3))]
    km = SDPKMeans(n_clusters=2, random_state=0).fit(X2)
    assert km.labels_.shape == (80,) and km.cluster_centers_.shape == (2, 3)
    assert km.tight_ and km.infeasibility_ <= 1e-6
    assert km.n_iter_ > 0 or (km.stop_reason_ == "certified" and km.certified_gap_ <= 1e-9)
    np.testing.assert_array_equal(km.predict(X2), km.labels_)
    assert abs(km.optimality_gap_) <= 1e-5 and km.winner_ in ("sdp", "kmeans++")
    il = ILASDP(n_clusters=2, random_state=0).fit(X2)
    assert il.covariances_.shape == (2, 3, 3) and il.means_.shape == (2, 3)
    np.testing.assert_array_equal(np.sort(np.bincount(il.labels_)), [40, 40])


def test_ilasdp_mixture_methods() -> None:
    mixture = pytest.importorskip("sklearn.mixture")
    from sklearn.model_selection import GridSearchCV

    il = ILASDP(3, random_state=0).fit(X)
    P = il.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(np.argmax(P, axis=1), il.predict(X))
    # score: mean log-density of the mixture with the fitted parameters, checked against
    # GaussianMixture given the same parameters
    gm = mixture.GaussianMixture(3, covariance_type="full")
    gm.weights_, gm.means_, gm.covariances_ = il.weights_, il.means_, il.covariances_
    gm.precisions_cholesky_ = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in il.covariances_])
    np.testing.assert_allclose(il.score(X), gm.score(X), rtol=1e-10)
    np.testing.assert_allclose(il.bic(X), gm.bic(X), rtol=1e-10)
    np.testing.assert_allclose(il.aic(X), gm.aic(X), rtol=1e-10)
    gs = GridSearchCV(ILASDP(random_state=0), {"n_clusters": [2, 3]}, cv=2).fit(X)
    assert gs.best_params_["n_clusters"] in (2, 3)


def test_never_worse_than_kmeans_on_the_cost() -> None:
    km = SDPKMeans(3, random_state=0).fit(X)
    assert km.inertia_ <= min(km.sdp_inertia_, km.kmeanspp_inertia_) * (1 + 1e-12)
    assert cost(X, km.labels_, 3) == pytest.approx(km.inertia_, rel=1e-10)
