"""Monte Carlo ELBOs: masked-diffusion likelihood bounds and Gaussian variational ELBOs.

- :mod:`ridgeline.elbo.masked_diffusion`: plan -> score -> reduce for masked (absorbing)
  diffusion language models (stratified and systematic l, double Monte Carlo in t,
  GDPO's quadrature), with masks shared between models (common random numbers).
- :func:`gaussian_elbo`, :func:`iwae_bound`, :func:`sobol_normals`: ELBOs of a Gaussian
  ``q`` with plain, antithetic or randomised quasi-Monte Carlo (Owen-scrambled Sobol) draws.
- :mod:`ridgeline.elbo.testbed`: a Markov-chain sequence model with exact answers.
- :mod:`ridgeline.elbo.torch` (needs PyTorch, imported only on request): the same
  estimators as differentiable torch ops on any device, and a GDPO-style policy loss.

Every result has a short ``repr``, ``save(path)`` and ``ClassName.load(path)``.
"""

from __future__ import annotations

from ridgeline._exceptions import ConvergenceWarning
from ridgeline.elbo import masked_diffusion, testbed
from ridgeline.elbo._gaussian import GaussianELBO, IWAEBound, QMCWarning, gaussian_elbo, iwae_bound, sobol_normals

__all__ = [
    "ConvergenceWarning",
    "GaussianELBO",
    "IWAEBound",
    "QMCWarning",
    "gaussian_elbo",
    "iwae_bound",
    "masked_diffusion",
    "sobol_normals",
    "testbed",
]


def __dir__() -> list[str]:
    return sorted(__all__)
