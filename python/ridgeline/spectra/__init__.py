"""ridgeline.spectra (engine under construction)."""

from __future__ import annotations
