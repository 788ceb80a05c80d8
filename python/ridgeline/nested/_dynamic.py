"""Dynamic nested sampling: add live points where the posterior needs them.

The algorithm (Higson et al. 2019, the scheme of dynesty's ``DynamicNestedSampler``):

1. a baseline static run with ``nlive`` live points;
2. repeat until the Kish effective sample size of the merged run reaches the
   target: compute each point's importance (its posterior weight, optionally
   mixed with the fraction of the evidence still to come), take the likelihood
   interval ``(L_low, L_high)`` around the points whose importance exceeds
   ``maxfrac`` times the maximum, and run a *batch*: ``nlive_batch`` new points
   drawn from the prior restricted to ``L > L_low`` (with the sampler's own
   proposal, seeded by the live points of the merged run at that contour), run
   by the compiled sampler until its worst live point is above ``L_high``; then
   merge the batch into the run.

The merged run is one sequence of points sorted by likelihood in which the
number of live points varies: at each point it is the sum, over the runs that
have started below it, of their live-point counts there.  Expected log volumes
use ``ln X_i = -sum_{j<=i} 1 / n_j``; the evidence error simulates the
shrinkage ``t_i ~ Beta(n_i, 1)`` with the same varying ``n_i`` (the run's final
live points, where no further point is born, are uniform order statistics in
the last volume, as in a static run).  A baseline merged with no batch gives
exactly the static run's evidence and weights.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ridgeline import _core
from ridgeline._random import mix_seed
from ridgeline.nested._results import NestedResult, _logsumexp
from ridgeline._validation import check_bool, check_float, check_int, pop_renamed
from ridgeline.nested._sampler import CLikelihood, NestedSampler

__all__ = ["DynamicNestedSampler", "batch_bounds", "merge_runs"]

_NEG_INF = -math.inf
# Largest target effective sample size (every unit of ESS needs stored points).
_MAX_ESS = 1e9


def _run_from_state(st: _core.nested.SamplerState, start: float) -> dict[str, Any]:
    """One run (baseline or batch) as arrays in order of death, final live points included."""
    order = np.argsort(st.live_logl, kind="stable")
    nfin = order.size
    return {
        "logl": np.concatenate([st.dead_logl, st.live_logl[order]]),
        "n": np.concatenate([st.dead_nlive.astype(np.int64), np.arange(nfin, 0, -1, dtype=np.int64)]),
        "u": np.concatenate([st.dead_u, st.live_u[order]]),
        "x": np.concatenate([st.dead_x, st.live_x[order]]),
        "birth": np.concatenate([st.dead_birth, st.live_birth[order]]),
        "start": float(start),
    }


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge runs into one sequence with a varying number of live points.

    Parameters
    ----------
    runs : list of dict
        Each run has ``logl`` (non-decreasing, order of death), ``n`` (its number
        of live points when each point died), ``u``, ``x``, ``birth`` and
        ``start`` (the likelihood contour it started from, -inf for a run from
        the prior).

    Returns
    -------
    dict
        ``order`` (indices into the concatenated runs), ``logl``, ``nlive``
        (live points at each point of the merged sequence), ``nfinal`` (the
        number of final live points: the tail where no point is born any more)
        and ``logvol_end``.
    """
    logl = np.concatenate([r["logl"] for r in runs])
    run_id = np.concatenate([np.full(r["logl"].size, k, dtype=np.int64) for k, r in enumerate(runs)])
    pos = np.concatenate([np.arange(r["logl"].size) for r in runs])
    order = np.lexsort((pos, run_id, logl))
    ll = logl[order]
    rid = run_id[order]
    nlive = np.zeros(ll.size, dtype=np.int64)
    for k, r in enumerate(runs):
        mine = rid == k
        before = np.cumsum(mine) - mine  # points of run k already dead at each step
        n_ext = np.append(r["n"], 0)
        contrib = n_ext[before]
        if r["start"] != _NEG_INF:
            contrib = np.where(ll > r["start"], contrib, 0)
        nlive += contrib
    total = ll.size
    tail_ok = nlive == total - np.arange(total)
    bad = np.flatnonzero(~tail_ok)
    s = int(bad[-1]) + 1 if bad.size else 0
    ndead_n = nlive[:s]
    if np.any(ndead_n < 1):
        msg = "merged run has a point with no live points (inconsistent runs)"
        raise ValueError(msg)
    return {
        "order": order,
        "logl": ll,
        "nlive": nlive,
        "nfinal": total - s,
        "logvol_end": float(-np.cumsum(1.0 / ndead_n)[-1]) if s else 0.0,  # in the order the sampler sums
    }


def _interval(logwt: np.ndarray, pfrac: float, maxfrac: float) -> tuple[int, int]:
    """Indices (lo, hi) of the points around the important ones (lo may be -1, hi may be len)."""
    logz = _logsumexp(logwt)
    p = np.exp(logwt - logz)
    imp = np.zeros_like(p)
    if pfrac > 0:
        imp += pfrac * p / p.sum()
    if pfrac < 1:
        z = np.clip(1.0 - np.cumsum(p) / p.sum(), 0.0, None)
        z = np.concatenate([[1.0], z[:-1]])  # evidence at and beyond each point
        imp += (1.0 - pfrac) * z / z.sum()
    idx = np.flatnonzero(imp >= maxfrac * imp.max())
    return int(idx.min()) - 1, int(idx.max()) + 1


def _contours(logl: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    l_low = _NEG_INF if lo < 0 else float(logl[lo])
    l_high = math.inf if hi >= logl.size - 1 else float(logl[hi])
    return l_low, l_high


def batch_bounds(logwt: np.ndarray, logl: np.ndarray, pfrac: float = 1.0, maxfrac: float = 0.8) -> tuple[float, float]:
    """The likelihood interval of the next batch (dynesty's weight function).

    The importance of point i is ``pfrac * p_i / sum(p) + (1 - pfrac) * z_i / sum(z)``
    with p_i its posterior weight and z_i the fraction of the evidence at and
    beyond it.  The interval spans the points whose importance is at least
    ``maxfrac`` times the maximum, widened by one point on each side; it starts
    at -inf (from the prior) when that includes the first point and ends at +inf
    when it includes the last one.
    """
    lo, hi = _interval(np.asarray(logwt, dtype=np.float64), pfrac, maxfrac)
    return _contours(np.asarray(logl, dtype=np.float64), lo, hi)


class DynamicNestedSampler:
    """Dynamic nested sampler: a static baseline run, then batches of live points
    in the posterior bulk until a requested effective sample size is reached.

    The interface follows dynesty's ``DynamicNestedSampler``: construct with the
    likelihood and prior, then ``run(target_ess=...)`` (``run_nested`` and
    ``n_effective=`` are accepted as aliases).  Baseline and batches run in the
    compiled sampler with the same proposal settings, so every likelihood kind
    (built-in, :class:`CLikelihood`, scalar or vectorised Python, executors)
    works as in :class:`NestedSampler`.

    Parameters
    ----------
    loglike, prior_transform, ndim
        As for :class:`NestedSampler`.
    nlive : int, default=500
        Live points of the baseline run.
    nlive_batch : int, optional
        Live points of each batch (default ``nlive``).
    rng : int, numpy Generator or None
        Seed; the same seed gives the same run.
    **kwargs
        Any other :class:`NestedSampler` option (``bound``, ``sample``,
        ``vectorized``, ``enlarge``, ``update_interval``, ``nsim``,
        ``slice_steps``, ``chord_scale``, ``slice_dim``, ``slice_start``, ``executor``,
        ``executor_chunks``, ``n_threads``); it applies to the baseline and to
        every batch.

    Examples
    --------
    >>> from ridgeline.nested import DynamicNestedSampler, problems
    >>> p = problems.gaussian(2)
    >>> s = DynamicNestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=100, rng=0)
    >>> res = s.run(target_ess=1000, dlogz_init=0.5)
    >>> res.ess >= 1000
    True
    """

    def __init__(
        self,
        loglike: Callable[..., Any] | CLikelihood,
        prior_transform: Callable[..., Any] | None,
        ndim: int,
        *,
        nlive: int = 500,
        nlive_batch: int | None = None,
        rng: int | np.random.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.update(pop_renamed({k: kwargs.pop(k) for k in ("nthreads",) if k in kwargs}, {"nthreads": "n_threads"},
                                  "DynamicNestedSampler", {"n_threads": kwargs.get("n_threads")}))
        for name in ("checkpoint", "surrogate"):
            if kwargs.get(name) is not None:
                msg = f"{name}= is not supported by DynamicNestedSampler"
                raise TypeError(msg)
        self._base = NestedSampler(loglike, prior_transform, ndim, nlive=nlive, rng=rng, **kwargs)
        self.nlive_batch = nlive if nlive_batch is None else check_int(nlive_batch, "nlive_batch", low=2, high=10_000_000)
        if self.nlive_batch <= ndim:
            msg = f"nlive_batch={self.nlive_batch} must be > ndim={ndim}"
            raise ValueError(msg)
        self._args = (loglike, prior_transform, ndim)
        self._kwargs = kwargs
        self._seed = self._base._seed
        self.ndim = self._base.ndim
        self.nlive = self._base.nlive
        self._runs: list[dict[str, Any]] = []
        self._ncall = 0
        self.batches: list[dict[str, Any]] = []
        self._result: NestedResult | None = None

    def _sampler(self, nlive: int, tag: int) -> NestedSampler:
        loglike, transform, ndim = self._args
        return NestedSampler(loglike, transform, ndim, nlive=nlive, rng=mix_seed(self._seed, tag), **self._kwargs)

    # ------------------------------------------------------------------ merge
    def _merged(self, stop: str) -> NestedResult:
        m = merge_runs(self._runs)
        order = m["order"]
        cat = {k: np.concatenate([r[k] for r in self._runs])[order] for k in ("u", "x", "birth")}
        logl = m["logl"]
        nfinal = m["nfinal"]
        nlive_it = m["nlive"][: logl.size - nfinal].astype(np.int32)
        w = _core.nested.deterministic_weights(logl, nlive_it, nfinal, m["logvol_end"])
        logvol, logwt = w.logvol, w.logwt
        logz = _logsumexp(logwt)
        sims = _core.nested.simulate_logz(logl, nlive_it, nfinal, m["logvol_end"], self._base._nsim,
                                          mix_seed(self._seed, 0xE77))
        weights = np.exp(logwt - logz)
        finite = weights > 0
        information = float(np.sum(weights[finite] * (logl[finite] - logz)))
        return NestedResult(
            logz=logz,
            logzerr=float(np.std(sims, ddof=1)),
            samples=cat["x"],
            samples_u=cat["u"],
            logl=logl,
            logwt=logwt,
            logvol=logvol,
            logl_birth=cat["birth"],
            weights=weights,
            information=max(information, 0.0),
            ncall=int(self._ncall),
            niter=int(nlive_it.size),
            nlive=int(nfinal),
            logz_sim=sims,
            stop=stop,
            nlive_it=nlive_it,
        )

    # ------------------------------------------------------------------ batches
    def _add_batch(self, res: NestedResult, pfrac: float, maxfrac: float, dlogz: float, maxcall: int) -> str:
        lo, hi = _interval(res.logwt, pfrac, maxfrac)
        # enough seeds at the lower contour: in the run's final tail (few live
        # points left) start lower, where at least half the baseline's remain
        n_all = np.concatenate([res.nlive_it, np.arange(res.nlive, 0, -1)])
        need = max(2 * (self.ndim + 1), self.nlive // 2)
        if lo >= 0 and n_all[lo] < need:
            ok = np.flatnonzero(n_all[: lo + 1] >= need)
            lo = int(ok[-1]) if ok.size else -1
        l_low, l_high = _contours(res.logl, lo, hi)
        b = len(self.batches)
        nb = self.nlive_batch
        batch = self._sampler(nb, 2 * b + 1)
        calls = 0
        if l_low == _NEG_INF:
            start = _NEG_INF  # from the prior: an ordinary start
        else:
            # the live points of the merged run at the contour L = l_low: uniform in it
            live = np.flatnonzero((res.logl_birth < l_low) & (res.logl >= l_low))
            logvol_low = float(res.logvol[lo])
            if live.size <= self.ndim + 1 or not np.any(res.logl[live] > l_low):
                msg = f"too few live points ({live.size}) at the batch's lower contour logl={l_low}"
                raise RuntimeError(msg)
            seeder = self._sampler(int(live.size), 2 * b + 2)
            seeder._core.set_live(res.samples_u[live], res.samples[live], res.logl[live], res.logl_birth[live],
                                  logvol_low)
            drawn = seeder._core.draw_above(l_low, nb)
            u, x, ll = drawn.u, drawn.x, drawn.logl
            calls += int(seeder._core.state().ncall)
            batch._core.set_live(u, x, ll, np.full(nb, l_low), logvol_low)
            start = l_low
        remaining = -1 if maxcall < 0 else max(maxcall - self._ncall - calls, 0)
        stop = batch._core.run_until(l_high, dlogz if math.isinf(l_high) else 0.0, remaining)
        st = batch._core.state()
        calls += int(st.ncall)
        self._ncall += calls
        run = _run_from_state(st, start)
        self._runs.append(run)
        self.batches.append({"logl_low": l_low, "logl_high": l_high, "nlive": nb, "ncall": calls, "stop": stop,
                             "npoints": int(run["logl"].size)})
        return stop

    def run(
        self,
        target_ess: float | None = None,
        *,
        dlogz_init: float = 0.01,
        maxbatch: int | None = None,
        maxcall: int | None = None,
        pfrac: float = 1.0,
        maxfrac: float = 0.8,
        progress: bool = False,
        **kwargs: Any,
    ) -> NestedResult:
        """Run the baseline, then add batches until the effective sample size reaches ``target_ess``.

        Calling ``run`` again continues: a larger target adds more batches.

        Parameters
        ----------
        target_ess : float, optional
            Requested Kish effective sample size of the merged weights (default
            ``10 * nlive``).  ``n_effective`` (dynesty's name) is a deprecated
            alias.
        dlogz_init : float, default=0.01
            Stopping rule of the baseline run (and of a batch that reaches the
            end of the run).
        maxbatch : int, optional
            Largest number of batches.
        maxcall : int, optional
            Limit on likelihood calls in total.
        pfrac : float, default=1.0
            Importance weight on the posterior (1: batches go where the posterior
            mass is; 0: where the evidence is still uncertain).
        maxfrac : float, default=0.8
            A batch covers the points whose importance is above this fraction of
            the maximum.
        progress : bool, default=False
            Show the baseline's progress bar, then the batches' (effective sample
            size against the target) on stderr when it is a terminal; messages
            also go to the ``ridgeline.nested`` logger.
        **kwargs
            Deprecated spellings, accepted for one release with a ``DeprecationWarning``:
            ``n_effective`` (now ``target_ess``).

        Returns
        -------
        NestedResult
            The merged run (``stop`` is 'ess', 'maxbatch', 'maxcall', or the
            baseline's reason if it did not finish).  ``nlive_it`` holds the
            varying number of live points; per-batch records are in
            :attr:`batches`.
        """
        target = pop_renamed(kwargs, {"n_effective": "target_ess"}, "DynamicNestedSampler.run",
                             {"target_ess": target_ess}).get("target_ess", target_ess)
        target = 10.0 * self.nlive if target is None else check_float(target, "target_ess", 0.0, _MAX_ESS, low_inclusive=False)
        dlogz_init = check_float(dlogz_init, "dlogz_init", 0.0, allow_inf=True)
        mb = math.inf if maxbatch is None else check_int(maxbatch, "maxbatch", low=0)
        mc = -1 if maxcall is None else check_int(maxcall, "maxcall", low=1)
        pfrac = check_float(pfrac, "pfrac", 0.0, 1.0)
        maxfrac = check_float(maxfrac, "maxfrac", 0.0, 1.0, low_inclusive=False)
        progress = check_bool(progress, "progress")
        if not self._runs:
            base = self._base.run(dlogz=dlogz_init, maxcall=None if mc < 0 else mc, progress=progress)
            st = self._base._core.state()
            self._ncall = int(st.ncall)
            self._runs.append(_run_from_state(st, _NEG_INF))
            if base.stop not in ("dlogz", "plateau"):
                self._result = self._merged(base.stop)
                return self._result
        from ridgeline._progress import Progress

        rep = Progress("nested", "dynamic nested sampling", total=1.0, progress=progress)
        res = self._merged("ess")
        nb = 0
        stop = "ess"
        while res.ess < target:
            if nb >= mb:
                stop = "maxbatch"
                break
            if mc >= 0 and self._ncall >= mc:
                stop = "maxcall"
                break
            bstop = self._add_batch(res, pfrac, maxfrac, dlogz_init, mc)
            nb += 1
            res = self._merged("ess")
            bt = self.batches[-1]
            rep.update(min(res.ess / target, 1.0), batch=len(self.batches), ncall=self._ncall, ess=float(res.ess),
                       logz=float(res.logz), logzerr=float(res.logzerr), logl_low=bt["logl_low"])
            if bstop == "maxcall":
                stop = "maxcall" if res.ess < target else "ess"
                break
        if stop != "ess":
            res = self._merged(stop)
        rep.close(f"stop: {stop}", batches=len(self.batches), ncall=self._ncall, ess=float(res.ess),
                  logz=float(res.logz))
        self._result = res
        return res

    run_nested = run

    def __repr__(self) -> str:
        from ridgeline._io import short_repr

        return short_repr("DynamicNestedSampler", ndim=self.ndim, nlive=self.nlive, nlive_batch=self.nlive_batch,
                          batches=len(self.batches), ncall=self._ncall)

    @property
    def results(self) -> NestedResult:
        """The result of the last ``run``."""
        if self._result is None:
            msg = "no results yet; call run() first"
            raise RuntimeError(msg)
        return self._result
