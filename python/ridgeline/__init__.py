"""ridgeline: compiled numerical engines for Python.

Engines (imported lazily on first attribute access):

- :mod:`ridgeline.nested`: nested sampling (Bayesian evidence and posteriors)
- :mod:`ridgeline.cluster`: SDP clustering (Peng-Wei K-means SDP, iLA-SDP)
- :mod:`ridgeline.elbo`: Monte Carlo ELBO estimation
- :mod:`ridgeline.spectra`: Hessian spectra (Lanczos, SLQ, Hutch++)
"""

from __future__ import annotations

import importlib
from typing import Any

try:
    from ridgeline import _core
except ImportError as err:  # pragma: no cover - only when the extension is missing
    msg = (
        "ridgeline's compiled extension ridgeline._core could not be imported; "
        "did you build it? Install with `pip install .` from the source tree"
    )
    raise ImportError(msg) from err
if getattr(_core, "__file__", None) is None:  # pragma: no cover - the stub directory without the extension
    raise ImportError(
        "ridgeline's compiled extension ridgeline._core is missing (only its type stubs were found); "
        "install with `pip install .` from the source tree"
    )

from ridgeline._exceptions import ConvergenceWarning
from ridgeline._io import load

__version__ = "0.1.0"

_ENGINES = ("nested", "cluster", "elbo", "spectra")
__all__ = ["__version__", "ConvergenceWarning", "load", *_ENGINES]


def __getattr__(name: str) -> Any:
    if name in _ENGINES:
        module = importlib.import_module(f"ridgeline.{name}")
        globals()[name] = module
        return module
    msg = f"module 'ridgeline' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
