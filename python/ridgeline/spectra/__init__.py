"""Hessian spectra: Lanczos, stochastic Lanczos quadrature, Hutch++, exact MLP Hessian-vector products.

- :func:`aslinearoperator` / :func:`torch_hessian`: operators from numpy, scipy, callables, PyTorch.
- :func:`eigsh`: extreme eigenpairs by thick-restart Lanczos with full reorthogonalisation.
- :func:`trace`: Hutchinson / Hutch++ with an automatic choice and a standard error.
- :func:`density`: stochastic Lanczos quadrature (nodes and weights, pdf, cdf, plot).
- :func:`outliers`: outlier eigenvalues vs the bulk.
- :class:`MLP`: built-in networks with exact R-operator Hessian and Gauss-Newton products.
- :mod:`ridgeline.spectra.datasets`: sample data (digits) and a small trainer.

Kernels run in C++ (``ridgeline._core.spectra``); compiled operators run there
without the GIL, Python callbacks are driven by reverse communication.
"""

from __future__ import annotations

from ridgeline.spectra._algorithms import (
    ConvergenceWarning,
    EigshResult,
    OutlierResult,
    SpectralDensity,
    TraceResult,
    density,
    eigsh,
    outliers,
    trace,
)
from ridgeline.spectra._mlp import MLP, MLPOperator
from ridgeline.spectra._operators import LinearOperator, aslinearoperator, torch_hessian

from ridgeline import _io

for _name in ("EigshResult", "TraceResult", "SpectralDensity", "OutlierResult"):
    _io.register(f"spectra.{_name}", f"ridgeline.spectra._algorithms:{_name}")
del _name

__all__ = [
    "MLP",
    "ConvergenceWarning",
    "EigshResult",
    "LinearOperator",
    "MLPOperator",
    "OutlierResult",
    "SpectralDensity",
    "TraceResult",
    "aslinearoperator",
    "density",
    "eigsh",
    "outliers",
    "torch_hessian",
    "trace",
]


def __dir__() -> list[str]:
    return sorted(__all__)
