"""cobaya with ridgeline's nested sampler: an analytic evidence, chains that GetDist loads, derived parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

cobaya = pytest.importorskip("cobaya")
getdist = pytest.importorskip("getdist")

MU = np.array([0.3, -0.5])
SD = np.array([0.1, 0.2])
RHO = 0.6
COV = np.array([[SD[0] ** 2, RHO * SD[0] * SD[1]], [RHO * SD[0] * SD[1], SD[1] ** 2]])
PREC = np.linalg.inv(COV)
LNORM = -math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(COV))


def gauss_like(a, b):
    """A normalised correlated 2-d Gaussian likelihood; derived c = a + b."""
    r = np.array([a, b]) - MU
    return float(-0.5 * r @ PREC @ r + LNORM), {"c": a + b}


def info(output=None, **sampler_opts):
    opts = {"nlive": 300, "dlogz": 0.1, "seed": 3}
    opts.update(sampler_opts)
    d = {
        "likelihood": {"gauss": {"external": gauss_like, "output_params": ["c"]}},
        # priors: a U[-2, 2] and b N(0, 1) (non-uniform, unbounded: cut at cobaya's confidence)
        "params": {
            "a": {"prior": {"min": -2, "max": 2}, "latex": "a"},
            "b": {"prior": {"dist": "norm", "loc": 0, "scale": 1}, "latex": "b"},
            "c": {"latex": "c"},
        },
        "sampler": {"ridgeline.nested.cobaya.Ridgeline": opts},
    }
    if output is not None:
        d["output"] = output
    return d


def logz_true():
    # Z = int N(x; MU, COV) * U(a; -2, 2) * N(b; 0, 1): the Gaussian product integral (the box holds the mass)
    from scipy.stats import multivariate_normal

    # integrate over a analytically: the a-prior is flat 1/4 inside; the b-prior is N(0,1)
    # => Z = 1/4 * N(MU_b; 0, COV_bb + 1) (marginal of the likelihood over a is N(b; MU_b, COV_bb))
    return math.log(0.25) + float(multivariate_normal(mean=[0.0], cov=[[COV[1, 1] + 1.0]]).logpdf([MU[1]]))


def test_cobaya_run_evidence_and_getdist(tmp_path):
    from cobaya.run import run

    prefix = str(tmp_path / "chains" / "gauss")
    updated, sampler = run(info(output=prefix))
    prod = sampler.products()
    logz, err = prod["logZ"], prod["logZstd"]
    assert abs(logz - logz_true()) < 3 * err
    # chains on disk that GetDist reads, with the derived parameter
    samples = getdist.loadMCSamples(prefix, settings={"ignore_rows": 0})
    mean = samples.getMeans()
    names = [p.name for p in samples.getParamNames().names]
    ia, ib, ic = names.index("a"), names.index("b"), names.index("c")
    # posterior: the product of the likelihood and the N(0,1) prior on b
    post_prec = PREC + np.diag([0.0, 1.0])
    post_mean = np.linalg.solve(post_prec, PREC @ MU)
    post_sd = np.sqrt(np.diag(np.linalg.inv(post_prec)))
    assert abs(mean[ia] - post_mean[0]) < 0.2 * post_sd[0]
    assert abs(mean[ib] - post_mean[1]) < 0.2 * post_sd[1]
    assert abs(mean[ic] - post_mean.sum()) < 0.2 * (post_sd[0] + post_sd[1])
    with open(prefix + ".logZ") as fh:
        assert "logZ" in fh.read()


def test_to_getdist_from_a_run():
    from ridgeline.nested import NestedSampler, problems
    from ridgeline.nested.cobaya import to_getdist

    p = problems.gaussian(2)
    res = NestedSampler(p.loglike, p.prior_transform, p.ndim, nlive=200, rng=0).run(dlogz=0.1)
    mc = to_getdist(res, names=["u", "v"])
    m, cov = res.mean_and_cov()
    np.testing.assert_allclose(mc.getMeans(), m, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="names"):
        to_getdist(res, names=["u"])
