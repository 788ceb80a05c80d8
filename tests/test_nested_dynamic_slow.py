"""Statistical checks of dynamic nested sampling over many seeds (slow: ``pytest -m slow -s``)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.nested import DynamicNestedSampler, NestedSampler, problems

pytestmark = pytest.mark.slow

TARGET = 5000


@pytest.mark.parametrize("p", [problems.gaussian(3), problems.mixture(3), problems.shells(), problems.gaussian(10)],
                         ids=lambda p: p.name)
def test_ess_reached_and_logz_calibrated_over_seeds(p):
    z, ess, calls = [], [], []
    for seed in range(20):
        r = DynamicNestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=200, rng=1000 + seed).run(
            target_ess=TARGET, dlogz_init=0.01)
        assert r.stop == "ess"
        z.append((r.logz - p.logz_true) / r.logzerr)
        ess.append(r.ess)
        calls.append(r.ncall)
    z = np.array(z)
    rms = float(np.sqrt(np.mean(z**2)))
    print(f"\n{p.name}: ESS min {min(ess):.0f} max {max(ess):.0f} (target {TARGET}), calls {np.mean(calls):.0f}, "
          f"rms z {rms:.2f}, max |z| {np.abs(z).max():.2f}")
    assert min(ess) >= TARGET
    assert max(ess) < 1.3 * TARGET  # batches are small steps: no large overshoot
    assert np.all(np.abs(z) < 3.5)
    assert 0.4 < rms < 1.6


def _moment_errors(results):
    m = np.array([r.mean_and_cov()[0] for r in results])
    v = np.array([np.diag(r.mean_and_cov()[1]) for r in results])
    return float(np.sqrt(np.mean(((m - 0.5) / 0.1) ** 2))), float(np.sqrt(np.mean((v / 0.01 - 1.0) ** 2)))


@pytest.mark.parametrize("ndim", [3, 6])
def test_posterior_moments_beat_a_static_run_with_the_same_calls(ndim):
    # N(0.5, 0.1^2 I): mean 0.5 and variance 0.01 per coordinate (prior cut at 5 sigma negligible)
    p = problems.gaussian(ndim)
    seeds = range(30)
    dyn = [DynamicNestedSampler(p.loglike, p.prior_transform, ndim, nlive=200, rng=2000 + s).run(
        target_ess=TARGET, dlogz_init=0.01) for s in seeds]
    calls = float(np.mean([r.ncall for r in dyn]))
    # the static run's nlive that spends the same number of calls (calls grow ~linearly with nlive)
    nl = 200
    for _ in range(2):
        c = np.mean([NestedSampler(p.loglike, p.prior_transform, ndim, nlive=nl, rng=s).run(dlogz=0.01).ncall
                     for s in range(3)])
        nl = int(round(nl * calls / c))
    static = [NestedSampler(p.loglike, p.prior_transform, ndim, nlive=nl, rng=2000 + s).run(dlogz=0.01) for s in seeds]
    scalls = float(np.mean([r.ncall for r in static]))
    dm, dv = _moment_errors(dyn)
    sm, sv = _moment_errors(static)
    print(f"\ngaussian({ndim}): dynamic calls {calls:.0f}, ESS {np.mean([r.ess for r in dyn]):.0f}, "
          f"rms mean error {dm:.4f} sd, rms variance error {dv:.4f}; static nlive={nl} calls {scalls:.0f}, "
          f"ESS {np.mean([r.ess for r in static]):.0f}, rms mean error {sm:.4f} sd, rms variance error {sv:.4f}")
    assert abs(scalls / calls - 1.0) < 0.1
    assert np.mean([r.ess for r in dyn]) > 1.3 * np.mean([r.ess for r in static])
    # at least as good (30 seeds x ndim coordinates: ~10% noise on each rms)
    assert dm + dv <= 1.05 * (sm + sv)
