"""The scikit-learn estimators: check_estimator and fitted attributes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from ridgeline.cluster import ILASDP, SDPKMeans  # noqa: E402


@pytest.mark.filterwarnings("ignore::ridgeline._exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize(
    "est", [SDPKMeans(max_iter=3000, tol=1e-4), ILASDP(max_iter=1000, tol=1e-4, max_rounds=3)], ids=type
)
def test_check_estimator(est: object) -> None:
    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert len(results) >= 40


def test_fitted_attributes() -> None:
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (40, 3)), rng.normal(8, 1, (40, 3))]
    km = SDPKMeans(n_clusters=2, random_state=0).fit(X)
    assert km.labels_.shape == (80,) and km.cluster_centers_.shape == (2, 3)
    assert km.tight_ and km.infeasibility_ <= 1e-6 and km.n_iter_ > 0
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert km.objective_ <= km.inertia_ * (1 + 1e-6)
    il = ILASDP(n_clusters=2, random_state=0).fit(X)
    assert il.covariances_.shape == (2, 3, 3) and il.means_.shape == (2, 3)
    np.testing.assert_array_equal(np.sort(np.bincount(il.labels_)), [40, 40])
