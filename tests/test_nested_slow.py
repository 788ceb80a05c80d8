"""Long statistical checks of the nested sampler (run with ``pytest -m slow``)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.nested import NestedSampler, problems

PROBLEMS = [problems.gaussian(2), problems.gaussian(10), problems.gaussian(20), problems.shells(), problems.eggbox(),
            problems.mixture(10)]


@pytest.mark.slow
def test_calibration_180_runs_and_mixture_mode_weights():
    """30 seeds x 6 problems at nlive=500, dlogz=0.5: RMS of (logz - truth)/logzerr in [0.8, 1.25], none beyond 4.

    The RMS of n standard normal z has a sampling spread of about 1/sqrt(2n): 0.091 for 60 runs, where a
    calibrated sampler falls outside [0.8, 1.25] for about 1.7% of seed sets (chi-square; it happened: seeds
    0..9 with the speculative batches of compiled likelihoods gave 0.765, while seeds 0..109 gave 0.970 and
    the shrinkage itself passes a KS test, tests/test_nested_speed.py).  With 180 runs the spread is 0.053
    and the band lies 3.8 spreads below 1, so a miss means a miscalibration, not bad luck.
    """
    pooled = []
    lines = []
    weights = []
    for p in PROBLEMS:
        z = []
        for seed in range(30):
            res = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=500, rng=seed).run(dlogz=0.5)
            z.append((res.logz - p.logz_true) / res.logzerr)
            if p.name.startswith("mixture"):
                weights.append(res.weights[res.samples.mean(axis=1) < 0.5].sum())
        z = np.array(z)
        pooled.extend(z)
        lines.append(f"{p.name:13s} rms {np.sqrt(np.mean(z**2)):.3f}  mean {z.mean():+.3f}  max|z| {np.abs(z).max():.2f}")
    pooled = np.array(pooled)
    rms = float(np.sqrt(np.mean(pooled**2)))
    mw = float(np.mean(weights))
    print("\n" + "\n".join(lines))
    print(f"pooled ({pooled.size} runs): rms {rms:.3f}  max|z| {np.abs(pooled).max():.2f}")
    print(f"mixture(10) mode weight averaged over {len(weights)} seeds: {mw:.4f} (per seed sd {np.std(weights, ddof=1):.4f})")
    assert 0.8 <= rms <= 1.25
    assert np.abs(pooled).max() < 4.0
    assert abs(mw - 0.5) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["python", "vectorized"])
def test_calibration_python_likelihoods(kind):
    """The Python paths give the same statistics (20 seeds on gaussian(5) and shells)."""
    z = []
    for p in (problems.gaussian(5), problems.shells()):
        for seed in range(20):
            if kind == "python":
                like, vec = (lambda x, p=p: p.loglike(x)), False
            else:
                like, vec = p.loglike_vectorized, True
            res = NestedSampler(like, p.prior_transform.__call__, p.ndim, nlive=300, rng=100 + seed, vectorized=vec).run(
                dlogz=0.5
            )
            z.append((res.logz - p.logz_true) / res.logzerr)
    z = np.array(z)
    print(f"\n{kind}: rms {np.sqrt(np.mean(z**2)):.3f} max|z| {np.abs(z).max():.2f} over {z.size} runs")
    assert 0.7 <= np.sqrt(np.mean(z**2)) <= 1.35
    assert np.abs(z).max() < 4.0
