"""Compatibility alias: the sample data moved to :mod:`ridgeline.spectra.datasets`."""

from __future__ import annotations

from ridgeline.spectra.datasets import digits, train

__all__ = ["digits", "train"]
