"""
Nested sampling: evidence and posterior of two Gaussian shells
==============================================================

The two-shell likelihood is a classic hard case for nested samplers: two thin rings of high
likelihood in a 2-d box.  Its evidence is known, so the estimate can be checked against the truth
in units of its reported error.
"""

import matplotlib.pyplot as plt
import numpy as np

from ridgeline.nested import NestedSampler, problems

p = problems.shells()
sampler = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=400, rng=0)
res = sampler.run(dlogz=0.5)

z = (res.logz - p.logz_true) / res.logzerr
print(f"log Z = {res.logz:.3f} +- {res.logzerr:.3f} (truth {p.logz_true:.3f}, z = {z:+.2f})")
print(f"{res.ncall} likelihood calls, {res.niter} iterations")

# %%
# Equally weighted posterior draws show both shells; the right panel shows how the posterior
# mass accumulates as the run climbs in likelihood (the weights of the dead points).

draws = res.posterior(rng=0)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 4))
ax0.plot(draws[:, 0], draws[:, 1], ".", ms=2, alpha=0.5)
ax0.set(xlabel="$x_0$", ylabel="$x_1$", title="posterior draws", aspect="equal")
ax1.plot(-res.logvol, np.cumsum(res.weights))
ax1.set(xlabel="$-\\log X$ (prior volume)", ylabel="cumulative posterior weight",
        title=f"log Z = {res.logz:.2f} $\\pm$ {res.logzerr:.2f} (truth {p.logz_true:.2f})")
fig.tight_layout()
plt.show()
