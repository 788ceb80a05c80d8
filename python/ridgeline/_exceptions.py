"""Warnings and errors shared by every engine."""

from __future__ import annotations

__all__ = ["ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """A result did not meet its convergence criterion within the given limits.

    The result is still returned, with its own ``converged`` flag (or the
    estimator's ``converged_`` attribute) set to False: it is not certified.
    One class for the four engines (``ridgeline.ConvergenceWarning`` is
    ``ridgeline.cluster.ConvergenceWarning`` is ``ridgeline.spectra.ConvergenceWarning``).
    Filter it with ``warnings.simplefilter("ignore", ridgeline.ConvergenceWarning)``.
    """
