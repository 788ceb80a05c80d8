"""ridgeline.elbo (engine under construction)."""

from __future__ import annotations
