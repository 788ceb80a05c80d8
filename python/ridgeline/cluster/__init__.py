"""ridgeline.cluster (engine under construction)."""

from __future__ import annotations
