"""
Hessian spectrum of a small neural network
==========================================

A 64-32-10 tanh network trained on scikit-learn's digits has a Hessian with a few large outlier
eigenvalues and a bulk near zero.  The built-in :class:`~ridgeline.spectra.MLP` gives exact
Hessian-vector products; :func:`~ridgeline.spectra.eigsh` finds the top eigenvalues and
:func:`~ridgeline.spectra.density` the whole spectral density by stochastic Lanczos quadrature.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from ridgeline.spectra import MLP, density, eigsh, trace

data = load_digits()
X = (data.data - data.data.mean(axis=0)) / np.maximum(data.data.std(axis=0), 1e-12)
y = data.target.astype(np.int64)

net = MLP([64, 32, 10], activation="tanh", loss="cross_entropy")
params = net.init_params(rng=0)
velocity = np.zeros_like(params)
for _ in range(200):  # full-batch gradient descent with momentum
    loss, grad = net.loss_and_grad(params, X, y)
    velocity = 0.9 * velocity - 0.1 * grad
    params = params + velocity
print(f"{params.size} parameters, training loss {net.loss(params, X, y):.4f}")

H = net.hessian_operator(params, X, y)
top = eigsh(H, k=5, which="LA", rng=0)
tr = trace(H, budget=99, rng=0)
d = density(H, n_probes=10, n_steps=80, rng=0)
print("top eigenvalues:", np.round(top.eigenvalues[::-1], 4), f"({top.n_matvec} Hessian-vector products)")
print(f"trace {tr.value:.3f} +- {tr.stderr:.3f} ({tr.method})")

# %%
# The density is a sum of Gaussian-smoothed quadrature nodes; a log scale shows the outliers
# that the top eigenvalues (red) pick out next to the bulk.

grid = np.linspace(d.nodes.min() - 0.1, d.nodes.max() + 0.1, 800)
fig, ax = plt.subplots(figsize=(8, 4))
ax.semilogy(grid, d.pdf(grid) + 1e-8)
for lam in top.eigenvalues:
    ax.axvline(lam, color="red", lw=0.8, alpha=0.6)
ax.set(xlabel="eigenvalue", ylabel="density", title="Hessian spectral density (SLQ, 10 probes x 80 steps)")
fig.tight_layout()
plt.show()
