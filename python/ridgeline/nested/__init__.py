"""Nested sampling: Bayesian evidence with calibrated errors, and weighted posteriors.

The sampler (Skilling 2004) runs in C++: multi-ellipsoid bounds (MultiNest/nestle
style splitting, overlap-corrected uniform sampling in the union, refitted as the
run proceeds), bounded rejection sampling, and an evidence error from simulated
volume shrinkage.  Likelihoods can be built-in C++ problems, compiled C
functions (:class:`CLikelihood`), vectorised or scalar Python callables.

Examples
--------
>>> from ridgeline.nested import problems, sample
>>> p = problems.gaussian(3)
>>> res = sample(p.loglike, p.prior_transform, p.ndim, nlive=200, rng=0, dlogz=0.5)
>>> abs(res.logz - p.logz_true) < 4 * res.logzerr
True
"""

from __future__ import annotations

from ridgeline import _io
from ridgeline._exceptions import ConvergenceWarning
from ridgeline.nested import problems
from ridgeline.nested._checkpoint import CheckpointError
from ridgeline.nested._dynamic import DynamicNestedSampler
from ridgeline.nested._genetic import GeneticSearch, Repartition, genetic_search, repartition
from ridgeline.nested._results import NestedResult
from ridgeline.nested._sampler import CLikelihood, NestedSampler, sample
from ridgeline.nested._surrogate import SurrogateOptions

_io.register("nested.NestedResult", "ridgeline.nested._results:NestedResult")
_io.register("nested.dynesty.Results", "ridgeline.nested.dynesty:Results")  # the dynesty drop-in's results

__all__ = [
    "CLikelihood",
    "CheckpointError",
    "ConvergenceWarning",
    "DynamicNestedSampler",
    "GeneticSearch",
    "NestedResult",
    "NestedSampler",
    "Repartition",
    "SurrogateOptions",
    "genetic_search",
    "problems",
    "repartition",
    "sample",
]


def __dir__() -> list[str]:
    return sorted(__all__)
