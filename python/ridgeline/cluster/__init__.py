"""SDP clustering: the Peng-Wei K-means SDP and iLA-SDP, solved in factored form.

- :func:`kmeans_sdp`, :func:`ila_sdp`: functional API (numpy only);
- :class:`SDPKMeans`, :class:`ILASDP`: scikit-learn estimators (scikit-learn is
  imported when one of them is first accessed, not at ``import ridgeline.cluster``).
"""

from __future__ import annotations

from typing import Any

from ridgeline._exceptions import ConvergenceWarning
from ridgeline.cluster._api import ILAResult, SDPResult, ila_sdp, kmeans_sdp

__all__ = ["SDPKMeans", "ILASDP", "kmeans_sdp", "ila_sdp", "SDPResult", "ILAResult", "ConvergenceWarning"]

_LAZY = ("SDPKMeans", "ILASDP")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            from ridgeline.cluster import _estimators
        except ImportError as err:  # pragma: no cover - sklearn missing
            msg = f"ridgeline.cluster.{name} needs scikit-learn: pip install scikit-learn"
            raise ImportError(msg) from err
        value = getattr(_estimators, name)
        globals()[name] = value
        return value
    msg = f"module 'ridgeline.cluster' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
