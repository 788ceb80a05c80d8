"""bilby samplers: ``bilby.run_sampler(likelihood, priors, sampler="ridgeline", nlive=...)``.

bilby finds these classes through the ``bilby.samplers`` entry points that
ridgeline's package metadata declares (``ridgeline`` for the static sampler,
``ridgeline_dynamic`` for the dynamic one); this module is imported only when
bilby loads them.

Keywords (bilby's conventions): ``nlive`` (or ``npoints``, ``n_live_points``, ...),
``dlogz``, ``maxiter``, ``maxcall``, ``bound``, ``sample``, ``seed`` (or
``sampling_seed``), ``npool`` (a process pool of bilby's own, the likelihood
evaluated in batches through it), ``check_point_delta_t`` (seconds between
checkpoints), ``resume`` (default True: continue from
``{outdir}/ridgeline_{label}/checkpoint.ckpt`` when it exists), ``print_progress``.
SIGINT/SIGTERM stop the run at the next block of iterations, save the
checkpoint and exit with bilby's exit code (130); running the same command
again resumes.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
from bilby.core.sampler.base_sampler import NestedSampler as _BilbyNested
from bilby.core.sampler.base_sampler import signal_wrapper
from bilby.core.utils import logger

from ridgeline.nested import dynesty as _dy

__all__ = ["Ridgeline", "RidgelineDynamic"]


def _pool_prior_transform(theta: Any) -> Any:
    from bilby.core.sampler.base_sampler import _sampling_convenience_dump as dump

    return dump.priors.rescale(dump.search_parameter_keys, theta)


def _pool_log_likelihood(theta: Any) -> float:
    from bilby.core.likelihood import _safe_likelihood_call
    from bilby.core.sampler.base_sampler import _sampling_convenience_dump as dump

    keys = dump.search_parameter_keys
    if not dump.priors.evaluate_constraints({k: theta[i] for i, k in enumerate(keys)}):
        return float(np.nan_to_num(-np.inf))
    params = dict(dump.parameters)
    params.update(zip(keys, theta))
    return float(_safe_likelihood_call(dump.likelihood, params, dump.use_ratio))



def _boundaries(sampler: Any) -> dict[str, list[int]]:
    """bilby priors' ``boundary`` ('periodic' / 'reflective') as dimension indices (as bilby's dynesty does)."""
    out: dict[str, list[int]] = {}
    for kind in ("periodic", "reflective"):
        dims = [i for i, key in enumerate(sampler.search_parameter_keys)
                if getattr(sampler.priors[key], "boundary", None) == kind]
        if dims:
            out[kind] = dims
    return out

class Ridgeline(_BilbyNested):  # type: ignore[misc]
    """ridgeline's static nested sampler as a bilby sampler (``sampler="ridgeline"``)."""

    sampler_name = "ridgeline"
    abbreviation = "ridgeline"
    sampling_seed_key = "seed"
    hard_exit = False
    default_kwargs: dict[str, Any] = {
        "nlive": 500,
        "dlogz": 0.1,
        "maxiter": None,
        "maxcall": None,
        "bound": "multi",
        "sample": "auto",
        "enlarge": None,
        "update_interval": None,
        "seed": None,
        "print_progress": False,
        "check_point_delta_t": 600.0,
        "resume": True,
        "pool": None,
    }

    @property
    def external_sampler_name(self) -> str:
        return "ridgeline"

    def _translate_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = super()._translate_kwargs(kwargs)
        if "nlive" not in kwargs:
            for equiv in self.npoints_equiv_kwargs:
                if equiv in kwargs:
                    kwargs["nlive"] = kwargs.pop(equiv)
        if "check_point_delta_t" not in kwargs:
            for equiv in self.check_point_equiv_kwargs:
                if equiv in kwargs:
                    kwargs["check_point_delta_t"] = kwargs.pop(equiv)
        if "print_progress" not in kwargs and "verbose" in kwargs:
            kwargs["print_progress"] = bool(kwargs.pop("verbose"))
        return kwargs

    @property
    def checkpoint_file(self) -> str:
        """Where the run's state is saved (and resumed from)."""
        d = os.path.join(self.outdir, f"{self.abbreviation}_{self.label}")
        return os.path.join(d, "checkpoint.ckpt")

    @classmethod
    def get_expected_outputs(cls, outdir: Any = None, label: Any = None) -> tuple[list[str], list[str]]:
        """The directory bilby should keep for a resume."""
        return [], [os.path.join(outdir, f"{cls.abbreviation}_{label}", "")]

    def write_current_state_and_exit(self, signum: Any = None, frame: Any = None) -> None:
        """Signal handler: ask the run loop to stop, checkpoint and exit at the next block."""
        self._log_interruption(signum=signum)
        self._interrupted = True
        if not getattr(self, "_running", False):
            self._close_pool()
            sys.exit(self.exit_code)

    def write_current_state(self) -> None:
        """The run loop saves the state itself (every ``check_point_delta_t`` seconds and on a signal)."""

    def _make_sampler(self) -> Any:
        kw = self.kwargs
        seed = kw["seed"]
        rstate = np.random.default_rng(None if seed is None else int(seed))
        pool = kw.get("pool")
        if pool is not None:
            loglike, ptform = _pool_log_likelihood, _pool_prior_transform
        else:
            loglike, ptform = self.log_likelihood, self.prior_transform
        extra = {k: kw[k] for k in ("enlarge", "update_interval") if kw.get(k) is not None}
        extra.update(_boundaries(self))
        return _dy.NestedSampler(loglike, ptform, self.ndim, nlive=int(kw["nlive"]), bound=kw["bound"],
                                 sample=kw["sample"], rstate=rstate, pool=pool, **extra)

    def _run(self, sampler: Any) -> None:
        kw = self.kwargs
        path = self.checkpoint_file
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not kw["resume"] and os.path.exists(path):
            os.remove(path)
        sampler.run_nested(dlogz=kw["dlogz"], maxiter=kw["maxiter"], maxcall=kw["maxcall"],
                           print_progress=bool(kw["print_progress"]), checkpoint_file=path,
                           checkpoint_every=float(kw["check_point_delta_t"]), resume=bool(kw["resume"]),
                           stop_flag=lambda: self._interrupted)

    @signal_wrapper  # type: ignore[untyped-decorator]
    def run_sampler(self) -> Any:
        """Run the sampler and fill ``self.result``."""
        self._interrupted = False
        self._setup_pool()
        sampler = self._make_sampler()
        self._running = True
        try:
            self._run(sampler)
        finally:
            self._running = False
        if self._interrupted:
            logger.info(f"ridgeline: state saved to {self.checkpoint_file}; run again to resume")
            self._close_pool()
            sys.exit(self.exit_code)
        self._close_pool()
        self._fill_result(sampler.results, sampler.ncall)
        return self.result

    def _fill_result(self, res: Any, ncall: int) -> None:
        from pandas import DataFrame

        w = res.importance_weights()
        seed = self.kwargs.get("seed")
        gen = np.random.default_rng(None if seed is None else int(seed) + 1)
        n = w.size
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
        idx = np.minimum(np.searchsorted(cdf, (gen.random() + np.arange(n)) / n, side="right"), n - 1)
        # keep each point once per copy the weights ask for (systematic resampling), then shuffle
        gen.shuffle(idx)
        k = max(1, int(round(1.0 / np.sum(w * w))))  # the effective sample size
        idx = idx[:k]
        self.result.sampler_output = res
        self.result.samples = res.samples[idx]
        self.result.log_likelihood_evaluations = res.logl[idx]
        nested = DataFrame(res.samples, columns=self.search_parameter_keys)
        nested["weights"] = w
        nested["log_likelihood"] = res.logl
        self.result.nested_samples = nested
        self.result.log_evidence = float(res.logz[-1])
        self.result.log_evidence_err = float(res.logzerr[-1])
        self.result.information_gain = float(res.information[-1])
        self.result.num_likelihood_evaluations = int(ncall)

    def _run_test(self) -> Any:
        self.kwargs["maxiter"] = 2
        return self.run_sampler()


class RidgelineDynamic(Ridgeline):
    """ridgeline's dynamic nested sampler as a bilby sampler (``sampler="ridgeline_dynamic"``).

    Extra keywords: ``nlive_batch``, ``n_effective`` (target effective sample
    size), ``maxbatch``, ``dlogz`` (of the baseline run).  No checkpointing.
    """

    sampler_name = "ridgeline_dynamic"
    abbreviation = "ridgeline_dynamic"
    default_kwargs: dict[str, Any] = {
        **Ridgeline.default_kwargs,
        "nlive_batch": None,
        "n_effective": None,
        "maxbatch": None,
    }

    def _make_sampler(self) -> Any:
        kw = self.kwargs
        seed = kw["seed"]
        rstate = np.random.default_rng(None if seed is None else int(seed))
        pool = kw.get("pool")
        if pool is not None:
            loglike, ptform = _pool_log_likelihood, _pool_prior_transform
        else:
            loglike, ptform = self.log_likelihood, self.prior_transform
        extra = {k: kw[k] for k in ("enlarge", "update_interval") if kw.get(k) is not None}
        extra.update(_boundaries(self))
        return _dy.DynamicNestedSampler(loglike, ptform, self.ndim, nlive=int(kw["nlive"]), bound=kw["bound"],
                                        sample=kw["sample"], rstate=rstate, pool=pool, **extra)

    def _run(self, sampler: Any) -> None:
        kw = self.kwargs
        sampler.run_nested(dlogz_init=kw["dlogz"], nlive_batch=kw["nlive_batch"], n_effective=kw["n_effective"],
                           maxbatch=kw["maxbatch"], maxcall=kw["maxcall"], print_progress=bool(kw["print_progress"]))

    @signal_wrapper  # type: ignore[untyped-decorator]
    def run_sampler(self) -> Any:
        """Run the dynamic sampler and fill ``self.result``."""
        self._interrupted = False
        self._setup_pool()
        sampler = self._make_sampler()
        self._running = False  # no checkpoint: a signal exits at once
        self._run(sampler)
        self._close_pool()
        self._fill_result(sampler.results, int(np.sum(sampler.results.ncall)))
        return self.result
