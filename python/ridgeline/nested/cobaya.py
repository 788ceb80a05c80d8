"""A cobaya sampler: ``"sampler": {"ridgeline.nested.cobaya.Ridgeline": {"nlive": 500, ...}}``.

cobaya loads external samplers by their fully qualified class name.  The
sampler works as cobaya's PolyChord interface does: the unit cube maps
linearly onto the box of the prior bounds (unbounded priors are cut at
``confidence_for_unbounded``), and the integrand is the log-posterior plus the
log-volume of the box, so any prior (including external priors and regions
where the posterior is zero: they enter as a finite fraction of the box) gives
the evidence of cobaya's normalised prior.

Products: a weighted sample (``products()["sample"]``, a cobaya
``SampleCollection`` written to ``<output prefix>.1.txt`` so that
``getdist.loadMCSamples(prefix)`` reads it, with derived parameters,
log-priors and chi-squares of every point), ``logZ`` and ``logZstd`` (also
written to ``<prefix>.logZ``).  :func:`to_getdist` turns any ridgeline run into
``getdist.MCSamples``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from cobaya.collection import SampleCollection
from cobaya.sampler import Sampler

from ridgeline.nested import dynesty as _dy

__all__ = ["Ridgeline", "to_getdist"]


class Ridgeline(Sampler):  # type: ignore[misc]
    """ridgeline's nested sampler inside cobaya.

    Options (as in the ``sampler`` block): ``nlive`` (default 500), ``dlogz``
    (0.1), ``maxiter``, ``maxcall``, ``bound`` ('multi'), ``sample`` ('auto'),
    ``confidence_for_unbounded`` (0.9999995), ``seed``; ``min_weight`` (1e-12):
    points with a smaller relative weight are not written.
    """

    nlive: int = 500
    dlogz: float = 0.1
    maxiter: Any = None
    maxcall: Any = None
    bound: str = "multi"
    sample: str = "auto"
    confidence_for_unbounded: float = 0.9999995
    min_weight: float = 1e-12
    seed: Any = None
    file_base_name = "ridgeline"
    sampler_type: str = "nested"  # in the updated info, where GetDist reads it

    def initialize(self) -> None:
        """Set up the transform from the unit cube to the prior box."""
        bounds = np.asarray(self.model.prior.bounds(confidence_for_unbounded=self.confidence_for_unbounded), dtype=float)
        if not np.all(np.isfinite(bounds)):
            msg = "ridgeline needs bounded priors (or a confidence_for_unbounded < 1)"
            raise ValueError(msg)
        self._lo = bounds[:, 0]
        self._scale = bounds[:, 1] - bounds[:, 0]
        self._logvolume = float(np.sum(np.log(self._scale)))
        self._ndim = int(self.model.prior.d())
        self._cache: dict[bytes, tuple[Any, ...]] = {}
        self.logZ, self.logZstd = math.nan, math.nan
        self.collection: Any = None

    def _transform(self, u: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._lo + np.asarray(u) * self._scale
        return out

    def _loglike(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float64)
        r = self.model.logposterior(x)
        logpost = float(r.logpost)
        if math.isfinite(logpost):
            self._cache[x.tobytes()] = (list(r.logpriors), list(r.loglikes), list(r.derived))
        return logpost + self._logvolume if logpost > -math.inf else -math.inf

    def run(self) -> None:
        """Run the nested sampler and store the weighted sample and the evidence."""
        seed = self.seed if self.seed is not None else int(self._rng.integers(0, 2**63 - 1))
        s = _dy.NestedSampler(self._loglike, self._transform, self._ndim, nlive=int(self.nlive), bound=self.bound,
                              sample=self.sample, rstate=np.random.default_rng(seed))
        s.run_nested(dlogz=float(self.dlogz), maxiter=self.maxiter, maxcall=self.maxcall, print_progress=False)
        res = s.results
        self.results = res
        self.logZ, self.logZstd = float(res.logz[-1]), float(res.logzerr[-1])
        w = res.importance_weights()
        keep = np.flatnonzero(w > self.min_weight * w.max())
        coll = SampleCollection(self.model, self.output, name="1")
        for i in keep:
            x = res.samples[i]
            cached = self._cache.get(np.asarray(x, dtype=np.float64).tobytes())
            if cached is None:  # not seen (cannot happen for points of the run); evaluate again
                r = self.model.logposterior(x)
                cached = (list(r.logpriors), list(r.loglikes), list(r.derived))
            logpriors, loglikes, derived = cached
            coll.add(x, logpriors=logpriors, loglikes=loglikes, derived=derived, weight=float(w[i] / w[keep].max()))
        coll.out_update()
        self.collection = coll
        self._cache.clear()
        if self.output:
            with open(self.output.add_suffix("logZ", separator="."), "w") as fh:
                fh.write(f"logZ: {self.logZ!r}\nlogZstd: {self.logZstd!r}\nncall: {s.ncall}\n")
        self.log.info("log Z = %g +/- %g (%d likelihood calls)", self.logZ, self.logZstd, s.ncall)

    def products(self, **kwargs: Any) -> dict[str, Any]:
        """``sample`` (the weighted SampleCollection), ``logZ``, ``logZstd`` and the full ``results``."""
        return {"sample": self.collection, "logZ": self.logZ, "logZstd": self.logZstd, "results": self.results}


def to_getdist(result: Any, names: Any = None, labels: Any = None, **kwargs: Any) -> Any:
    """A ridgeline run (``NestedResult`` or drop-in ``Results``) as ``getdist.MCSamples``.

    Parameters
    ----------
    result : NestedResult or ridgeline.nested.dynesty.Results
    names, labels : sequence of str, optional
        Parameter names (default ``x0, x1, ...``) and LaTeX labels.
    **kwargs
        Passed to ``getdist.MCSamples``.
    """
    try:
        from getdist import MCSamples
    except ImportError as err:
        msg = "to_getdist needs getdist; install it with `pip install getdist`"
        raise ImportError(msg) from err
    if hasattr(result, "importance_weights"):
        w = result.importance_weights()
    else:
        w = np.asarray(result.weights)
    x = np.asarray(result.samples)
    ndim = x.shape[1]
    names = [f"x{i}" for i in range(ndim)] if names is None else list(names)
    if len(names) != ndim:
        msg = f"names has {len(names)} entries, expected ndim={ndim}"
        raise ValueError(msg)
    keep = w > 0
    return MCSamples(samples=x[keep], weights=w[keep], loglikes=-np.asarray(result.logl)[keep], names=names,
                     labels=labels, sampler="nested", **kwargs)
