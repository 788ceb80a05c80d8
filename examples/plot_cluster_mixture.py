"""
SDP clustering of a Gaussian mixture
====================================

The Peng-Wei K-means SDP relaxation recovers the clusters of a well separated mixture exactly and
certifies it: the solution is *tight* when the relaxation's optimum is a partition matrix.
:func:`~ridgeline.cluster.kmeans_sdp` is the functional API; :class:`~ridgeline.cluster.SDPKMeans`
is the same solver as a scikit-learn estimator.
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np

from ridgeline.cluster import SDPKMeans, kmeans_sdp


def mixture(spread, rng):
    centres = spread * np.array([[0.0, 0.0], [4.0, 0.5], [1.5, 3.5]])
    return np.concatenate([c + rng.normal(size=(150, 2)) for c in centres])


X = mixture(2.0, np.random.default_rng(0))
res = kmeans_sdp(X, 3, rng=0)
print(f"separated: tight {res.tight}, {res.n_iter} iterations, infeasibility {res.infeasibility:.1e}")

# %%
# The estimator gives the same partition, up to a permutation of the labels.

km = SDPKMeans(n_clusters=3, random_state=0).fit(X)
agree = max(np.mean(km.labels_ == np.array(perm)[res.labels]) for perm in itertools.permutations(range(3)))
print(f"SDPKMeans and kmeans_sdp agree on {agree:.0%} of the points")

# %%
# With the clusters pushed together the relaxation is no longer tight: the labels are still
# rounded from the solution, but it is not a partition matrix and carries no certificate.

X_close = mixture(1.5, np.random.default_rng(0))
res_close = kmeans_sdp(X_close, 3, rng=0)
print(f"overlapping: tight {res_close.tight}, tightness gap {res_close.tightness_gap:.3f}")

# %%
# The SDP solution :math:`Z = U U^T`, sorted by label: block diagonal with entries :math:`1/n_k`
# when tight, blurred when not.


def sorted_z(r):
    u = r.factor[np.argsort(r.labels, kind="stable")]
    return u @ u.T


fig, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].scatter(X[:, 0], X[:, 1], c=res.labels, s=8, cmap="viridis")
axes[0].scatter(res.centers[:, 0], res.centers[:, 1], marker="x", c="red", s=80)
axes[0].set(title="kmeans_sdp labels", aspect="equal")
axes[1].imshow(sorted_z(res), cmap="magma")
axes[1].set(title=f"$Z = U U^T$, separated (tight: {res.tight})")
axes[2].imshow(sorted_z(res_close), cmap="magma")
axes[2].set(title=f"$Z$, overlapping (tight: {res_close.tight})")
fig.tight_layout()
plt.show()
