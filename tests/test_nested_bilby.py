"""bilby.run_sampler(..., sampler="ridgeline"): bilby's own likelihood classes, analytic evidences,
resume after an interrupt, and (slow) agreement with bilby+dynesty."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ridgeline

bilby = pytest.importorskip("bilby")

# bilby 2.8's own GaussianLikelihood reads its deprecated parameters attribute internally
pytestmark = pytest.mark.filterwarnings("ignore:Parameter attribute queried:FutureWarning")

PYDIR = str(Path(ridgeline.__file__).resolve().parents[1])  # the ridgeline under test (installed or source)


def register() -> None:
    """The entry points ridgeline's metadata declares (needed when ridgeline runs from a source tree)."""
    from importlib.metadata import EntryPoint

    from bilby.core.sampler import IMPLEMENTED_SAMPLERS

    for name, target in (("ridgeline", "ridgeline.nested.bilby:Ridgeline"),
                         ("ridgeline_dynamic", "ridgeline.nested.bilby:RidgelineDynamic")):
        if name not in IMPLEMENTED_SAMPLERS._samplers:
            IMPLEMENTED_SAMPLERS._samplers[name] = EntryPoint(name=name, value=target, group="bilby.samplers")


@pytest.fixture(autouse=True)
def _quiet_bilby():
    register()
    bilby.core.utils.logger.setLevel("WARNING")
    yield


def linear_problem(seed=0, n=40, sigma=0.5):
    """y = m x + c with Gaussian noise; the evidence is a Gaussian integral (the prior holds the posterior)."""
    gen = np.random.default_rng(seed)
    x = np.linspace(0, 10, n)
    y = 0.8 * x + 1.5 + gen.normal(0, sigma, n)

    def model(x, m, c):
        return m * x + c

    like = bilby.core.likelihood.GaussianLikelihood(x, y, model, sigma=sigma)
    priors = {"m": bilby.core.prior.Uniform(-2, 3, "m"), "c": bilby.core.prior.Uniform(-5, 5, "c")}
    a = np.column_stack([x, np.ones(n)])
    theta = np.linalg.lstsq(a, y, rcond=None)[0]
    r = y - a @ theta
    loglmax = -0.5 * np.sum(r**2) / sigma**2 - 0.5 * n * math.log(2 * math.pi * sigma**2)
    fisher = a.T @ a / sigma**2
    logz = loglmax + math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(fisher)) - math.log(5.0 * 10.0)
    return like, priors, logz


class TwoModes(bilby.Likelihood):
    """A normalised two-Gaussian mixture at (+-2, 0), sd 0.3: with a U[-5, 5]^2 prior, Z = 1/100."""

    def __init__(self):
        super().__init__()

    def log_likelihood(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        a, b = p["a"], p["b"]
        s = 0.3
        lp = [-0.5 * ((a - m) ** 2 + b**2) / s**2 - math.log(2 * math.pi * s * s) for m in (-2.0, 2.0)]
        return float(np.logaddexp(*lp) - math.log(2.0))


def mode_priors():
    return {"a": bilby.core.prior.Uniform(-5, 5, "a"), "b": bilby.core.prior.Uniform(-5, 5, "b")}


def test_gaussian_likelihood_analytic_evidence(tmp_path):
    like, priors, logz = linear_problem()
    res = bilby.run_sampler(like, priors, sampler="ridgeline", nlive=300, dlogz=0.1, seed=1, outdir=str(tmp_path),
                            label="lin", save=False, plot=False)
    assert abs(res.log_evidence - logz) < 3 * res.log_evidence_err
    # a complete bilby Result
    assert res.samples.shape[1] == 2 and res.samples.shape[0] > 200
    assert set(res.posterior.columns) >= {"m", "c", "log_likelihood"}
    ns = res.nested_samples
    assert {"weights", "log_likelihood"} <= set(ns.columns)
    assert ns["weights"].sum() == pytest.approx(1.0)
    assert res.num_likelihood_evaluations > 300
    assert res.log_likelihood_evaluations.shape == (res.samples.shape[0],)
    assert res.sampling_time is not None
    assert abs(res.posterior["m"].mean() - 0.8) < 0.1


def test_derived_parameters_and_saved_result(tmp_path):
    """bilby's derived parameters (its conversion_function) land in the posterior; the saved Result reloads."""
    like, priors, logz = linear_problem(seed=2)

    def derived(sample, likelihood=None, priors=None):
        sample = sample.copy()
        sample["s"] = sample["m"] + sample["c"]
        return sample

    res = bilby.run_sampler(like, priors, sampler="ridgeline", nlive=100, dlogz=0.5, seed=4, outdir=str(tmp_path),
                            label="conv", save="hdf5", plot=False, conversion_function=derived)
    np.testing.assert_allclose(res.posterior["s"], res.posterior["m"] + res.posterior["c"], rtol=1e-12)
    back = bilby.result.read_in_result(str(tmp_path / "conv_result.hdf5"))
    assert back.log_evidence == res.log_evidence and back.sampler == "ridgeline"
    assert "s" in back.posterior.columns and len(back.nested_samples) == len(res.nested_samples)
    assert abs(res.log_evidence - logz) < 3 * res.log_evidence_err


def test_multimodal_custom_likelihood(tmp_path):
    res = bilby.run_sampler(TwoModes(), mode_priors(), sampler="ridgeline", npoints=400, dlogz=0.1, seed=2,
                            outdir=str(tmp_path), label="modes", save=False, plot=False)
    assert abs(res.log_evidence - math.log(0.01)) < 3 * res.log_evidence_err
    frac = float(np.mean(res.posterior["a"] > 0))
    assert 0.4 < frac < 0.6


def test_dynamic_sampler(tmp_path):
    res = bilby.run_sampler(TwoModes(), mode_priors(), sampler="ridgeline_dynamic", nlive=200, n_effective=2000,
                            seed=3, outdir=str(tmp_path), label="dyn", save=False, plot=False)
    assert abs(res.log_evidence - math.log(0.01)) < 3 * res.log_evidence_err


SCRIPT = """
import math, os, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
import bilby
from test_nested_bilby import register, TwoModes, mode_priors
register()
bilby.core.utils.logger.setLevel("WARNING")
calls = [0]
class Interrupting(TwoModes):
    def log_likelihood(self, parameters=None):
        calls[0] += 1
        if calls[0] == {kill_at} and os.environ.get("KILL") == "1":
            os.kill(os.getpid(), signal.SIGINT)
        return super().log_likelihood(parameters)
res = bilby.run_sampler(Interrupting(), mode_priors(), sampler="ridgeline", nlive=300, dlogz=0.1, seed=5,
                        outdir={outdir!r}, label="resume", save=False, plot=False, check_point_delta_t=1e9)
print("LOGZ", res.log_evidence, res.log_evidence_err, res.num_likelihood_evaluations, calls[0])
"""


def test_resume_after_interrupt(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(Path(__file__).parent), kill_at=2000,
                                                    outdir=str(tmp_path / "out"))))
    env = dict(os.environ, PYTHONPATH=PYDIR, KILL="1")
    first = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 130, first.stderr[-2000:]
    assert (tmp_path / "out" / "ridgeline_resume" / "checkpoint.ckpt").exists()
    env["KILL"] = "0"
    second = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    line = [ln for ln in second.stdout.splitlines() if ln.startswith("LOGZ")][0].split()
    logz, err, ncall, calls_here = float(line[1]), float(line[2]), int(line[3]), int(line[4])
    assert abs(logz - math.log(0.01)) < 3 * err
    # the resumed run evaluated only what was left: fewer calls in this process than the run made in total
    assert calls_here < ncall


@pytest.mark.slow
def test_npool(tmp_path):
    res = bilby.run_sampler(TwoModes(), mode_priors(), sampler="ridgeline", nlive=200, dlogz=0.1, seed=5, npool=2,
                            outdir=str(tmp_path), label="p", save=False, plot=False)
    assert abs(res.log_evidence - math.log(0.01)) < 3 * res.log_evidence_err


@pytest.mark.slow
def test_agrees_with_bilby_dynesty(tmp_path):
    pytest.importorskip("dynesty")
    like, priors, logz = linear_problem(seed=4)
    ours = bilby.run_sampler(like, priors, sampler="ridgeline", nlive=500, dlogz=0.1, seed=1, outdir=str(tmp_path),
                             label="r", save=False, plot=False)
    theirs = bilby.run_sampler(like, priors, sampler="dynesty", nlive=500, dlogz=0.1, seed=1, outdir=str(tmp_path),
                               label="d", save=False, plot=False, npool=1)
    sig = math.hypot(ours.log_evidence_err, theirs.log_evidence_err)
    print("ridgeline", ours.log_evidence, ours.log_evidence_err, "dynesty", theirs.log_evidence,
          theirs.log_evidence_err, "analytic", logz)
    assert abs(ours.log_evidence - theirs.log_evidence) < 3 * sig
    assert abs(ours.log_evidence - logz) < 3 * ours.log_evidence_err
    res_m = bilby.run_sampler(TwoModes(), mode_priors(), sampler="ridgeline", nlive=500, dlogz=0.1, seed=1,
                              outdir=str(tmp_path), label="rm", save=False, plot=False)
    dyn_m = bilby.run_sampler(TwoModes(), mode_priors(), sampler="dynesty", nlive=500, dlogz=0.1, seed=1,
                              outdir=str(tmp_path), label="dm", save=False, plot=False, npool=1)
    sig = math.hypot(res_m.log_evidence_err, dyn_m.log_evidence_err)
    print("modes: ridgeline", res_m.log_evidence, res_m.log_evidence_err, "dynesty", dyn_m.log_evidence,
          dyn_m.log_evidence_err, "analytic", math.log(0.01))
    assert abs(res_m.log_evidence - dyn_m.log_evidence) < 3 * sig


class WrappedPhase(bilby.Likelihood):
    """A von Mises-like peak in a phase on [0, 2 pi) centred on 0 = 2 pi (cut by the prior's ends), and a normal
    in b: a wrapped normal of sd 0.2 in the phase (integral 1 over the circle) times a normal of sd 0.3 in b,
    so with priors U[0, 2 pi) x U[-5, 5], Z = 1 / (2 pi * 10)."""

    def __init__(self):
        super().__init__()

    def log_likelihood(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        d = (p["phase"] + math.pi) % (2 * math.pi) - math.pi
        return float(-0.5 * (d / 0.2) ** 2 - 0.5 * (p["b"] / 0.3) ** 2 - math.log(2 * math.pi * 0.2 * 0.3))


def test_periodic_prior_boundary(tmp_path):
    """bilby priors with boundary='periodic' reach the sampler as periodic dimensions (as bilby's dynesty)."""
    priors = {"phase": bilby.core.prior.Uniform(0, 2 * math.pi, "phase", boundary="periodic"),
              "b": bilby.core.prior.Uniform(-5, 5, "b", boundary="reflective")}
    from ridgeline.nested import bilby as rb

    seen = {}
    make = rb.Ridgeline._make_sampler

    def spy(self):
        s = make(self)
        seen["periodic"], seen["reflective"] = s._sampler.periodic, s._sampler.reflective
        return s

    rb.Ridgeline._make_sampler = spy
    try:
        res = bilby.run_sampler(WrappedPhase(), priors, sampler="ridgeline", nlive=200, dlogz=0.1, seed=3,
                                outdir=str(tmp_path), label="per", save=False)
    finally:
        rb.Ridgeline._make_sampler = make
    assert seen == {"periodic": [0], "reflective": [1]}
    truth = -math.log(2 * math.pi * 10)
    assert abs(res.log_evidence - truth) < 4 * res.log_evidence_err, (res.log_evidence, res.log_evidence_err)
    # half the posterior on each side of the prior's ends
    ph = res.posterior["phase"].to_numpy()
    assert np.mean(ph > math.pi) == pytest.approx(0.5, abs=0.1)
