"""The dark-energy example (examples/cosmology_de.py): background cosmology against astropy, a small model comparison."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "examples" / "cosmology_de.py"


@pytest.fixture(scope="module")
def de():
    spec = importlib.util.spec_from_file_location("cosmology_de", _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(("om", "w0", "wa"), [(0.31, -1.0, 0.0), (0.25, -0.8, 0.0), (0.4, -1.3, 0.7), (0.15, -0.5, -2.5)])
def test_distances_match_astropy(de, om, w0, wa):
    cosmology = pytest.importorskip("astropy.cosmology")
    z = np.array([0.01, 0.1, 0.5, 1.0, 1.5, 2.33, 3.0])
    ref = cosmology.Flatw0waCDM(H0=70.0, Om0=om, w0=w0, wa=wa, Tcmb0=0.0)
    ours = de.C_KMS / 70.0 * de.Distances(z).comoving_over_hubble(om, w0, wa)
    np.testing.assert_allclose(ours, ref.comoving_distance(z).value, rtol=1e-6)
    np.testing.assert_allclose(70.0 * de.efunc(z, om, w0, wa), ref.H(z).value, rtol=1e-12)


def test_distances_lcdm_closed_form(de):
    # Om = 1 (Einstein-de Sitter): D_C / (c/H0) = 2 (1 - 1/sqrt(1+z))
    z = np.array([0.2, 1.0, 2.5])
    np.testing.assert_allclose(de.Distances(z).comoving_over_hubble(1.0), 2 * (1 - 1 / np.sqrt(1 + z)), rtol=1e-9)


def test_sn_offset_marginalisation_matches_quadrature(de):
    data = de.simulate(n_cc=8, n_sn=15)
    like = de.Likelihood(data, "LCDM")
    theta = np.array([67.0, 0.3])
    # brute-force integral over the offset M of exp(log L(M)) with unit prior density
    hz, dm, dh, mu = de._model_observables(like.params(theta), like._sn, like._bao, data.z_cc, data.z_bao, data.z_sn)
    rest = -0.5 * (np.sum(((data.h_cc - hz) / data.sig_cc) ** 2) + np.sum(((data.dm_bao - dm) / data.sig_dm) ** 2)
                   + np.sum(((data.dh_bao - dh) / data.sig_dh) ** 2))
    m = np.linspace(-2.0, 2.0, 40001)
    r = data.mu_sn[None, :] - mu[None, :] - m[:, None]
    logl_m = rest - 0.5 * np.sum(r**2 / data.sig_sn**2, axis=1) + like._norm
    brute = np.log(np.trapezoid(np.exp(logl_m - logl_m.max()), m)) + logl_m.max()
    assert abs(like(theta) - brute) < 1e-8


def test_small_model_comparison(de):
    """Few points, nlive=60: the fiducial LCDM is not disfavoured, GA and plain evidences agree within 4 sigma."""
    data = de.simulate(n_cc=10, n_sn=20)
    res = de.run_models(data, nlive=60, dlogz=0.5, rng=1, genetic=True, surrogate=False, models=("LCDM", "wCDM"), ngen=5)
    lcdm, w = res[("LCDM", "plain")][0], res[("wCDM", "plain")][0]
    lnb = w.logz - lcdm.logz
    assert lnb < 3 * math.hypot(w.logzerr, lcdm.logzerr)  # wCDM not preferred over the true model beyond noise
    for model in ("LCDM", "wCDM"):
        a, b = res[(model, "plain")][0], res[(model, "GA")][0]
        assert abs(a.logz - b.logz) < 4 * math.hypot(a.logzerr, b.logzerr)
    mean = np.average(lcdm.samples, weights=lcdm.weights, axis=0)
    assert abs(mean[0] - 68.0) < 4.0 and abs(mean[1] - 0.31) < 0.06
    assert "ln B vs LCDM" in de.table(res)


# --- issue 19: the surrogate on the dark-energy models (slow) -------------------------------------

_DE_SEEDS = range(10)
_DE_ROWS: dict[str, list[tuple[int, int, int, float, float, float]]] = {}


def _de_rows(de, model):
    """Plain and surrogate runs (the example's ``SURROGATE``, nlive=500, dlogz=0.1) for seeds 0-9, z against a
    long plain reference run (nlive=2000, dlogz=0.01), errors in quadrature."""
    if model in _DE_ROWS:
        return _DE_ROWS[model]
    from ridgeline.nested import NestedSampler

    like = de.Likelihood(de.simulate(), model)
    ref = NestedSampler(like, like.prior_transform, like.ndim, nlive=2000, rng=12345).run(dlogz=0.01)
    rows = []
    for seed in _DE_SEEDS:
        plain = NestedSampler(like, like.prior_transform, like.ndim, nlive=500, rng=seed).run(dlogz=0.1)
        res = NestedSampler(like, like.prior_transform, like.ndim, nlive=500, rng=seed,
                            surrogate=de.SURROGATE).run(dlogz=0.1)
        z = (res.logz - ref.logz) / math.hypot(res.logzerr, ref.logzerr)
        zp = (plain.logz - ref.logz) / math.hypot(plain.logzerr, ref.logzerr)
        rows.append((seed, plain.ncall, res.ncall, plain.ncall / res.ncall, z, zp))
    print(f"\n{model}: reference log Z {ref.logz:.4f} +- {ref.logzerr:.4f}")
    print("seed | true calls plain | true calls surrogate | ratio | z surrogate | z plain")
    for r in rows:
        print(f"{r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:+.2f} | {r[5]:+.2f}")
    _DE_ROWS[model] = rows
    return rows


@pytest.mark.slow
def test_dark_energy_surrogate_calibrated(de):
    z = np.array([r[4] for model in ("LCDM", "wCDM", "w0waCDM") for r in _de_rows(de, model)])
    rms = float(np.sqrt(np.mean(z**2)))
    print(f"pooled RMS z = {rms:.3f}, max |z| = {np.max(np.abs(z)):.2f} over {z.size} runs")
    assert 0.75 <= rms <= 1.3
    assert np.max(np.abs(z)) <= 4.0


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 19 target (>= 5x) not reached; measured 2026-12-07 with "
                   "surrogate={'contour_scale': 1.0} (seeds 0-9, bench/nested_surrogate_study.py): LCDM 2.01-2.12x "
                   "(networks trusted from iteration ~1800-2125 of ~4200; unweighted 1.69-1.81x), wCDM 1.68-1.81x "
                   "(unweighted 1.41-1.66x), w0waCDM 1.03-1.19x (trusted near the end or never); pooled RMS z 0.81, max |z| 2.59; with the GA start "
                   "as well, LCDM 2.77-3.33x (bench/results/nested_surrogate.md); re-measured by this test on branch surr7 "
                   "(split clusters, far margin, relaxed spot checks): LCDM 2.37-2.82x, wCDM 1.95-2.31x, w0waCDM "
                   "1.11-1.35x; pooled RMS z 0.84, max |z| 1.75; on main after the surr8 merge (e457a13): LCDM 2.50-2.88x, "
                   "wCDM 1.96-2.18x, w0waCDM 1.06-1.28x; pooled RMS z 1.007, max |z| 2.05 (30 runs)")
def test_dark_energy_true_calls_fall_5x(de):
    ratios = np.array([r[3] for model in ("LCDM", "wCDM", "w0waCDM") for r in _de_rows(de, model)])
    print(f"true-call ratios: min {ratios.min():.2f}, median {np.median(ratios):.2f}")
    assert np.all(ratios >= 5.0)
