"""Long statistical checks of the issue's "done when" numbers (run with -m slow)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.elbo import gaussian_elbo
from ridgeline.elbo import masked_diffusion as md
from ridgeline.elbo._cli import crn_table, scheme_table
from ridgeline.elbo.testbed import MarkovChain, gaussian_target

pytestmark = pytest.mark.slow

REPEATS = 2000
SEQUENCES = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def tables() -> list[list[dict]]:
    chain = MarkovChain.random(32, alpha=0.3, rng=0)
    return [scheme_table(chain, chain.sample(1, 64, rng=s)[0], 8, REPEATS, seed=s) for s in SEQUENCES]


def test_variance_reduction_vs_double_mc(tables: list[list[dict]]) -> None:
    """V=32, Dirichlet(0.3) rows (seed 0), L=64, budget 8, 2000 repeats on each of 4 sequences:
    variance summed over the sequences."""
    tot = {r["label"]: sum(t[i]["var"] for t in tables) for i, r in enumerate(tables[0])}
    base = tot["double MC, t >= 1e-3"]
    for label, v in tot.items():
        print(f"{label:40s} summed variance {v:9.2f}  reduction {base / v:6.2f}x")
    for t in tables:
        print("per sequence:", " ".join(f"{r['reduction']:.2f}" for r in t))
    assert base / tot["stratified l"] >= 6.0
    assert base / tot["GDPO quadrature, Bernoulli"] >= 2.5


def test_l_schemes_within_4_se_of_oracle(tables: list[list[dict]]) -> None:
    for t in tables:
        for r in t:
            z = (r["mean"] - r["expected"]) / r["se_mean"]
            print(f"{r['label']:40s} mean {r['mean']:.3f} exact mean {r['expected']:.4f} bias {r['bias']:+.4f} z {z:+.2f}")
            assert abs(z) < 4
            if r["scheme"].endswith("_l"):
                assert r["bias"] == 0.0 or abs(r["bias"]) < 1e-9


def test_shared_masks_cut_difference_variance() -> None:
    chain = MarkovChain.random(32, alpha=0.3, rng=0)
    for s in SEQUENCES[:2]:
        c = crn_table(chain, chain.sample(1, 64, rng=s)[0], 8, REPEATS, temperature=0.9, seed=s)
        print(c)
        assert c["reduction"] >= 100
        assert abs(c["mean_shared"] - c["exact_diff"]) < 4 * np.sqrt(c["var_shared"] / REPEATS)


def test_l_schemes_unbiased_on_imperfect_models_many_lengths() -> None:
    chain = MarkovChain.random(6, alpha=0.5, rng=2)
    for L, B in [(1, 1), (3, 8), (9, 2), (17, 5), (33, 64)]:
        x = chain.sample(1, L, rng=L)[0]
        for model in ("tempered", "left"):
            f = chain.mask_profile(x, model=model, temperature=0.8)
            truth = chain.exact_elbo(x, model=model, temperature=0.8)
            fn = chain.logprob_fn(model, temperature=0.8)
            for scheme in ("stratified_l", "systematic_l", "coupled_l"):
                v = md.estimate(fn, np.tile(x, (REPEATS, 1)), None, B, chain.V, scheme=scheme, seed=L,
                                row_ids=np.arange(REPEATS)).value
                se = v.std(ddof=1) / np.sqrt(REPEATS)
                assert md.expectation(f, B, scheme=scheme) == pytest.approx(truth, abs=1e-12)
                assert abs(v.mean() - truth) <= 4 * se + 1e-9 * max(1.0, abs(truth))


def _logistic_problem():  # type: ignore[no-untyped-def]
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X = np.hstack([np.ones((X.shape[0], 1)), X])
    d = X.shape[1]
    s = 2.0 * y - 1.0

    def logjoint(z: np.ndarray):  # type: ignore[no-untyped-def]
        a = (z @ X.T) * s
        lp = -np.logaddexp(0.0, -a).sum(axis=1) - 0.5 * (z**2).sum(axis=1) - 0.5 * d * np.log(2 * np.pi)
        return lp, (s / (1.0 + np.exp(a))) @ X - z

    w = np.zeros(d)
    for _ in range(30):  # Newton to the posterior mode; q = Laplace approximation (full rank)
        p = 1.0 / (1.0 + np.exp(-(X @ w) * s))
        H = X.T @ (X * (p * (1 - p))[:, None]) + np.eye(d)
        w = w + np.linalg.solve(H, X.T @ ((1 - p) * s) - w)
    return logjoint, w, np.linalg.cholesky(np.linalg.inv(H))


def test_rqmc_cuts_elbo_variance_on_breast_cancer() -> None:
    logjoint, mu, L = _logistic_problem()
    reps = 400
    out = {}
    for sampler, est in (("mc", "cv"), ("mc", "analytic"), ("rqmc", "cv"), ("antithetic", "cv")):
        res = [gaussian_elbo(logjoint, mu, L, n=256, sampler=sampler, estimator=est, rng=r) for r in range(reps)]
        v = np.array([r.value for r in res])
        g = np.array([r.grad_mean for r in res])
        out[f"{sampler}, {est}"] = (v.mean(), v.var(ddof=1), g.var(axis=0, ddof=1).sum())
    base = out["mc, analytic"]
    for k, (m, v, gv) in out.items():
        print(f"{k:16s} mean {m:.4f} value variance {v:.3e} ({base[1] / v:.1f}x) "
              f"grad variance {gv:.3e} ({base[2] / gv:.1f}x)")
    # RQMC keeps its advantage over plain MC with either estimator of the entropy term
    assert base[1] / out["rqmc, cv"][1] >= 10
    assert out["mc, cv"][1] / out["rqmc, cv"][1] >= 3
    assert abs(out["mc, cv"][0] - out["rqmc, cv"][0]) < 4 * np.sqrt(out["mc, cv"][1] / reps)


@pytest.mark.parametrize("d", [2, 10, 50])
def test_gaussian_plain_mc_at_least_as_good_as_sampled_log_q(d: int) -> None:
    """Gaussian target, q within 10% of its scale, n = 256, 2000 repeats: the default plain-MC estimator
    (cross-fitted control variate) has <= 1.1x the value variance of Pyro's Trace_ELBO form
    (estimator="sampled"), every estimator is within 4 standard errors of the exact ELBO, and RQMC keeps
    its advantage."""
    lj, qm, qs, exact = gaussian_target(d, rng=d)
    out = {}
    for label, sampler, est in [("mc, cv (default)", "mc", "cv"), ("mc, sampled log q (Pyro)", "mc", "sampled"),
                                ("mc, analytic entropy", "mc", "analytic"), ("rqmc, cv (default)", "rqmc", "cv"),
                                ("rqmc, analytic entropy", "rqmc", "analytic")]:
        v = np.array([gaussian_elbo(lj, qm, qs, n=256, sampler=sampler, estimator=est, rng=r).value
                      for r in range(REPEATS)])
        out[label] = (v.mean(), v.var(ddof=1))
    base = out["mc, sampled log q (Pyro)"][1]
    for label, (m, v) in out.items():
        z = (m - exact) / np.sqrt(v / REPEATS)
        print(f"d={d:3d} {label:26s} variance {v:.3e}  vs Pyro form {v / base:7.3f}x  bias z {z:+.2f}")
        assert abs(z) < 4, label
    assert out["mc, cv (default)"][1] <= 1.1 * base
    assert out["rqmc, cv (default)"][1] < out["mc, cv (default)"][1] / 10
