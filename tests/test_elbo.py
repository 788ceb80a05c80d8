"""Public API of ridgeline.elbo against exact answers (the Markov-chain oracle, Gaussian integrals)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline.elbo import QMCWarning, gaussian_elbo, iwae_bound, masked_diffusion as md, sobol_normals
from ridgeline.elbo._gaussian import QMCWarning as _QW
from ridgeline.elbo.testbed import MarkovChain, gaussian_target


@pytest.fixture(scope="module")
def chain() -> MarkovChain:
    return MarkovChain.random(8, alpha=0.3, rng=3)


# ----------------------------------------------------------------------------- oracle
def test_oracle_exact_elbo_equals_log_prob() -> None:
    c = MarkovChain.random(32, alpha=0.3, rng=0)
    for s in range(3):
        x = c.sample(1, 64, rng=s)[0]
        assert abs(c.exact_elbo(x) - c.log_prob(x)) < 1e-9
        # imperfect models: strictly below
        assert c.exact_elbo(x, model="tempered", temperature=0.9) < c.log_prob(x) - 1e-3
        assert c.exact_elbo(x, model="left") < c.log_prob(x) - 1e-3


def test_oracle_with_prompt_and_gaps(chain: MarkovChain) -> None:
    x = chain.sample(1, 20, rng=2)[0]
    comp = np.zeros(20, dtype=bool)
    comp[12:] = True
    want = chain.log_prob(x) - chain.log_prob(x[:12])
    assert abs(chain.exact_elbo(x, comp) - want) < 1e-10
    comp2 = np.ones(20, dtype=bool)
    comp2[[3, 9, 10]] = False
    P = chain.trans
    chain._ensure(20)
    log_obs = np.log(chain._marg[3][x[3]] * np.linalg.matrix_power(P, 6)[x[3], x[9]] * P[x[9], x[10]])
    assert abs(chain.exact_elbo(x, comp2) - (chain.log_prob(x) - log_obs)) < 1e-10


def test_oracle_profile_matches_brute_force(chain: MarkovChain) -> None:
    # f(l) by enumerating every mask of a short sequence, for the tempered model
    import itertools

    x = chain.sample(1, 7, rng=5)[0]
    fn = chain.logprob_fn("tempered", temperature=0.7)
    f = chain.mask_profile(x, model="tempered", temperature=0.7)
    for l in range(1, 8):
        masks = np.array([[i in c for i in range(7)] for c in itertools.combinations(range(7), l)])
        lp = fn(np.where(masks, chain.V, x), np.tile(x, (len(masks), 1)))
        assert abs((lp * masks).sum(axis=1).mean() - f[l]) < 1e-12


# ----------------------------------------------------------------------------- unbiasedness by enumeration
def test_l_schemes_exactly_unbiased_by_enumeration() -> None:
    """For every 1 <= B <= 64 and 1 <= n <= 64, the implemented stratum mapping and weights
    give E[sum_k w_k g(l_k)] = sum_l g(l) / l exactly, enumerating every stratum offset interval."""
    from ridgeline import _core

    gen = np.random.default_rng(0)
    worst = 0.0
    for n in range(1, 65):
        g = gen.normal(size=n + 1)
        truth = float(np.sum(g[1:] / np.arange(1, n + 1)))
        for B in range(1, 65):
            vs, ks, lens = [], [], []
            for k in range(B):
                cuts = np.array([m * B / n - k for m in range(n + 1)])
                edges = np.unique(np.concatenate([[0.0, 1.0], cuts[(cuts > 0) & (cuts < 1)]]))
                vs.append((edges[:-1] + edges[1:]) / 2)
                lens.append(np.diff(edges))
                ks.append(np.full(edges.size - 1, k))
            v, k, w = np.concatenate(vs), np.concatenate(ks), np.concatenate(lens)
            ell = _core.elbo.stratum_l(v, k, n, B)
            mean = float(np.sum(w * (n / (B * ell)) * g[ell]))
            worst = max(worst, abs(mean - truth) / max(1.0, abs(truth)))
    assert worst < 1e-12


def test_plan_coefficients_follow_stratum_mapping() -> None:
    p = md.plan([10, 3], 6, scheme="systematic_l", seed=4)
    l = p.n_masked
    np.testing.assert_array_equal(l[0], np.sort(l[0]))  # systematic: l increasing in the stratum index
    np.testing.assert_allclose(p.coef, p.n_maskable[:, None] / (6 * l))
    assert set(np.unique(l[1])) <= {1, 2, 3}


def test_coupled_l_exactly_unbiased_for_every_budget_and_length() -> None:
    """coupled_l: given the counts l_k, each mask is a uniformly random l_k-subset (a window of a uniformly
    random permutation at an offset that depends on the counts only), so E[estimate] = E_v[sum_k coef_k f(l_k)];
    integrated exactly over the strata's offsets v it equals sum_l f(l) / l for every n and budget."""
    from ridgeline.elbo import _reference as ref

    gen = np.random.default_rng(2)
    worst = 0.0
    for n in range(1, 65):
        g = gen.normal(size=n + 1)
        truth = float(np.sum(g[1:] / np.arange(1, n + 1)))
        p, F = ref.sqrt_l_density_reference(n)
        for B in (1, 2, 3, 4, 7, 16, 64):
            mean = 0.0
            for k in range(B):
                # stratum k: u = (k + v) / B uniform on [k / B, (k + 1) / B); l = the u-quantile of p
                lo, hi = k / B, (k + 1) / B
                for ell in range(1, n + 1):
                    a, b = max(lo, F[ell - 1]), min(hi, F[ell] if ell < n else 1.0)
                    if b > a:
                        mean += B * (b - a) * g[ell] / (B * ell * p[ell])
            worst = max(worst, abs(mean - truth) / max(1.0, abs(truth)))
    assert worst < 1e-12


def test_coupled_l_masks_are_uniform_subsets_and_balanced() -> None:
    # n = 5, budget 2, 20,000 rows: for each count l, every l-subset is equally frequent (chi-square)
    from scipy import stats

    p = md.plan(np.full(20_000, 5), 2, scheme="coupled_l", seed=3)
    masks = p.masks.reshape(-1, 5)
    codes = masks @ (1 << np.arange(5))
    counts = masks.sum(axis=1)
    for ell in range(1, 5):
        c = np.bincount(codes[counts == ell], minlength=32)
        c = c[[m for m in range(32) if bin(m).count("1") == ell]]
        assert stats.chisquare(c).pvalue > 1e-4, ell
    # the coupling: every token's summed weight over its row is much closer to 1 than with independent masks
    def spread(scheme: str) -> float:
        q = md.plan(np.full(500, 32), 4, scheme=scheme, seed=5)
        w = (q.coef[:, :, None] * q.masks).sum(axis=1)  # (rows, positions)
        return float(((w - 1.0) ** 2).mean())

    independent, coupled = spread("stratified_l"), spread("coupled_l")
    assert coupled < independent / 3  # measured 0.146 vs 0.794 (n = 32, budget 4, 500 rows)


@pytest.mark.parametrize(
    ("scheme", "mask"),
    [("stratified_l", None), ("systematic_l", None), ("coupled_l", None), ("double_mc", None), ("stratified_t", None),
     ("systematic_t", None), ("quadrature", "bernoulli"), ("quadrature", "exact_k"), ("double_mc", "exact_k")],
)
def test_mean_matches_exact_expectation(chain: MarkovChain, scheme: str, mask: str | None) -> None:
    x = chain.sample(1, 12, rng=7)[0]
    R = 600
    fn = chain.logprob_fn("left")
    est = md.estimate(fn, np.tile(x, (R, 1)), None, 4, chain.V, scheme=scheme, mask=mask, seed=1,
                      row_ids=np.arange(R))
    f = chain.mask_profile(x, model="left")
    exp = md.expectation(f, 4, scheme=scheme, mask=mask)
    se = est.value.std(ddof=1) / np.sqrt(R)
    assert abs(est.value.mean() - exp) < 4 * se
    if scheme.endswith("_l"):
        assert exp == pytest.approx(chain.exact_elbo(x, model="left"), abs=1e-12)
    # the reported standard errors are calibrated (conservative at most ~2x for stratified schemes)
    ratio = np.mean(est.stderr**2) / est.value.var(ddof=1)
    assert 0.7 < ratio < (1.3 if scheme == "double_mc" else 4.0)


def test_bias_of_clipping_and_quadrature_from_oracle() -> None:
    c = MarkovChain.random(32, alpha=0.3, rng=0)
    x = c.sample(1, 64, rng=1)[0]
    f = c.mask_profile(x)
    truth = c.log_prob(x)
    b_clip = md.expectation(f, 8, scheme="double_mc") - truth
    assert -0.2 < b_clip < 0  # t >= 1e-3 clipping: a small negative bias
    assert md.expectation(f, 8, scheme="double_mc", t_min=0.0) == pytest.approx(truth, abs=1e-9)
    b_quad = md.expectation(f, 8, scheme="quadrature", mask="bernoulli") - truth
    assert abs(b_quad) < 0.05
    assert md.expectation(f, 8, scheme="quadrature", quadrature=8) == pytest.approx(truth, abs=0.05)
    # 32 nodes >= n/2: Gauss-Legendre integrates the degree n-1 integrand exactly
    assert md.expectation(f, 64, scheme="quadrature", quadrature=32) == pytest.approx(truth, abs=1e-9)
    b_gdpo = md.expectation(f, 8, scheme="quadrature", mask="exact_k") - truth
    assert b_gdpo > 1.0  # GDPO's floor(t n) masks: a large positive bias


# ----------------------------------------------------------------------------- determinism, CRN
def test_masks_independent_of_batch_order_and_chunks(chain: MarkovChain) -> None:
    x = chain.sample(6, 15, rng=1)
    lengths = np.array([15, 10, 0, 15, 7, 3])
    ids = np.array([5, 17, 2, 99, 0, 1])
    a = md.plan(lengths, 5, seed=3, row_ids=ids, seq_len=15)
    perm = np.array([3, 0, 5, 1, 4, 2])
    b = md.plan(lengths[perm], 5, seed=3, row_ids=ids[perm], seq_len=15)
    np.testing.assert_array_equal(a.masks[perm], b.masks)
    np.testing.assert_array_equal(a.coef[perm], b.coef)
    one = md.plan(lengths[1:2], 5, seed=3, row_ids=ids[1:2], seq_len=15)
    np.testing.assert_array_equal(one.masks[0], a.masks[1])
    fn = chain.logprob_fn("tempered")
    vals = [md.estimate(fn, x, lengths, 5, chain.V, seed=3, row_ids=ids, micro_batch=cs).value for cs in (1, 7, 1000)]
    np.testing.assert_array_equal(vals[0], vals[1])
    np.testing.assert_array_equal(vals[0], vals[2])
    assert vals[0][2] == 0.0  # empty completion


def test_common_random_numbers(chain: MarkovChain) -> None:
    x = chain.sample(1, 24, rng=4)[0]
    R = 300
    tok = np.tile(x, (R, 1))
    fa, fb = chain.logprob_fn("exact"), chain.logprob_fn("tempered", temperature=0.9)
    a = md.estimate(fa, tok, None, 4, chain.V, seed=8, row_ids=np.arange(R)).value
    b = md.estimate(fb, tok, None, 4, chain.V, seed=8, row_ids=np.arange(R)).value
    b2 = md.estimate(fb, tok, None, 4, chain.V, seed=8, row_ids=np.arange(R, 2 * R)).value
    assert np.var(a - b2) / np.var(a - b) > 20


def test_apply_and_masks() -> None:
    comp = np.zeros((2, 6), dtype=bool)
    comp[0, 2:] = True
    comp[1, [1, 4]] = True
    p = md.plan(comp, 3, seed=0)
    tok = np.arange(12).reshape(2, 6)
    noisy = p.apply(tok, -1)
    assert noisy.shape == (6, 6)
    np.testing.assert_array_equal(noisy == -1, p.masks.reshape(6, 6))
    assert not np.any(p.masks & ~comp[:, None, :])
    np.testing.assert_array_equal(p.apply(tok, -1, rows=slice(2, 5)), noisy[2:5])
    # budget larger than the number of maskable tokens: strata repeat, still unbiased weights
    q = md.plan([2], 7, seed=1)
    assert q.n_masked.min() >= 1 and q.n_masked.max() <= 2


# ----------------------------------------------------------------------------- bad input
def test_bad_input_errors(chain: MarkovChain) -> None:
    with pytest.raises(ValueError, match="budget=0 must be >= 1"):
        md.plan([3], 0)
    with pytest.raises(ValueError, match="budget=-2 must be >= 1"):
        md.plan([3], -2)
    with pytest.raises(TypeError, match="budget"):
        md.plan([3], 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lengths\[1\]=9 exceeds the sequence length 5"):
        md.plan([3, 9], 2, seq_len=5)
    with pytest.raises(ValueError, match="must be >= 0"):
        md.plan([3, -1], 2)
    with pytest.raises(ValueError, match="^scheme='nope' must be one of"):
        md.plan([3], 2, scheme="nope")
    with pytest.raises(ValueError, match="quadrature=5"):
        md.plan([3], 2, scheme="quadrature", quadrature=5)
    with pytest.raises(ValueError, match="t_min"):
        md.plan([3], 2, scheme="double_mc", t_min=1.0)
    p = md.plan([4, 2], 3, seq_len=4)
    logp = -np.ones((6, 4))
    with pytest.raises(ValueError, match="logp must have shape"):
        md.reduce(p, logp[:5])
    bad = logp.copy()
    bad[p.indptr[0] * 0, p.indices[0]] = np.nan
    with pytest.raises(ValueError, match="nan"):
        md.reduce(p, bad)
    x = chain.sample(2, 4, rng=0)
    with pytest.raises(ValueError, match=r"lengths\[0\]=5 exceeds"):
        md.estimate(chain.logprob_fn(), x, [5, 2], 2, chain.V)
    with pytest.raises(ValueError, match="logprob_fn returned shape"):
        md.estimate(lambda z, c: np.zeros((1, 1)), x, None, 2, chain.V)

    def boom(z: np.ndarray, c: np.ndarray) -> np.ndarray:
        raise KeyError("from the model")

    with pytest.raises(KeyError, match="from the model"):
        md.estimate(boom, x, None, 2, chain.V)


def test_empty_completions_give_zero() -> None:
    p = md.plan([0, 0], 4, seq_len=3)
    assert p.masks.sum() == 0
    np.testing.assert_array_equal(md.reduce(p, np.full((8, 3), np.nan)), 0.0)
    np.testing.assert_array_equal(md.stderr(p, np.zeros((8, 3))), 0.0)
    assert md.expectation([0.0], 4) == 0.0


# ----------------------------------------------------------------------------- Gaussian ELBO
def _gauss_logjoint(A: np.ndarray, b: np.ndarray, c0: float):  # type: ignore[no-untyped-def]
    def lj(z: np.ndarray):  # type: ignore[no-untyped-def]
        return -0.5 * np.einsum("ni,ij,nj->n", z, A, z) + z @ b + c0, -z @ A + b

    return lj


def test_gaussian_elbo_exact_values_and_gradients() -> None:
    gen = np.random.default_rng(0)
    d = 4
    M = gen.normal(size=(d, d))
    A = M @ M.T + d * np.eye(d)
    b = gen.normal(size=d)
    lj = _gauss_logjoint(A, b, 1.5)
    mu = gen.normal(size=d)
    L = np.tril(gen.normal(size=(d, d)) * 0.3) + np.eye(d)
    # exact: E[-1/2 z'Az] = -1/2 (mu'A mu + tr(A L L')), entropy
    entropy = 0.5 * d * (1 + np.log(2 * np.pi)) + np.log(np.diag(L)).sum()
    exact = -0.5 * (mu @ A @ mu + np.trace(A @ L @ L.T)) + b @ mu + 1.5 + entropy
    g_mu = -A @ mu + b
    g_L = np.tril(-A @ L) + np.diag(1 / np.diag(L))
    for sampler in ("mc", "rqmc", "antithetic"):
        r = gaussian_elbo(lj, mu, L, n=4096, sampler=sampler, rng=1)
        assert r.entropy == pytest.approx(entropy)
        assert abs(r.value - exact) < 5 * r.stderr + 1e-12
        assert np.allclose(r.grad_mean, g_mu, atol=0.6)
        assert np.allclose(r.grad_scale, g_L, rtol=0.1, atol=1.0)
    # antithetic is exact for the linear part of the gradient wrt mu
    r = gaussian_elbo(lj, mu, L, n=64, sampler="antithetic", rng=2)
    np.testing.assert_allclose(r.grad_mean, g_mu, atol=1e-10)
    # diagonal scale
    s = np.array([0.5, 1.0, 2.0, 0.1])
    r = gaussian_elbo(lj, mu, s, n=2048, sampler="rqmc", rng=3, replicates=8)
    exact_d = -0.5 * (mu @ A @ mu + np.sum(np.diag(A) * s**2)) + b @ mu + 1.5
    exact_d += 0.5 * d * (1 + np.log(2 * np.pi)) + np.log(s).sum()
    assert abs(r.value - exact_d) < 5 * r.stderr
    np.testing.assert_allclose(r.grad_scale, -np.diag(A) * s + 1 / s, atol=0.3)


def test_rqmc_reduces_variance_on_smooth_integrand() -> None:
    lj = lambda z: -0.5 * (z**2).sum(axis=1) + np.sin(z).sum(axis=1)  # noqa: E731
    mc = [gaussian_elbo(lj, np.zeros(3), np.ones(3), n=128, sampler="mc", rng=r).value for r in range(60)]
    qm = [gaussian_elbo(lj, np.zeros(3), np.ones(3), n=128, sampler="rqmc", rng=r).value for r in range(60)]
    assert np.var(mc) / np.var(qm) > 10
    assert abs(np.mean(qm) - np.mean(mc)) < 4 * np.sqrt(np.var(mc) / 60)


def test_sobol_normals_and_warning() -> None:
    z = sobol_normals(1024, 3, rng=0)
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02
    assert QMCWarning is _QW
    with pytest.warns(QMCWarning, match="not a power of two"):
        sobol_normals(100, 2, rng=0)
    with pytest.warns(QMCWarning):
        gaussian_elbo(lambda z: -(z**2).sum(axis=1), [0.0], [1.0], n=100, sampler="rqmc")
    np.testing.assert_array_equal(sobol_normals(64, 5, rng=3), sobol_normals(64, 5, rng=3))


def test_iwae_bound_monotone_and_exact() -> None:
    # p(x, z) = N(z; 1, 0.5^2) * Z with Z = exp(-2): log p(x) = -2
    def lj(z: np.ndarray) -> np.ndarray:
        return -0.5 * ((z[:, 0] - 1) / 0.5) ** 2 - np.log(0.5 * np.sqrt(2 * np.pi)) - 2.0

    vals = [iwae_bound(lj, [0.0], [1.0], K=K, n=2048, rng=0) for K in (1, 4, 32)]
    elbo = gaussian_elbo(lj, [0.0], [1.0], n=2048, rng=0)
    assert abs(vals[0].value - elbo.value) < 4 * elbo.stderr
    assert vals[0].value < vals[1].value < vals[2].value < -2.0 + 3 * vals[2].stderr
    exact = iwae_bound(lj, [1.0], [0.5], K=3, n=16, rng=0)
    assert exact.value == pytest.approx(-2.0, abs=1e-12)


def test_gaussian_bad_input() -> None:
    lj = lambda z: -(z**2).sum(axis=1)  # noqa: E731
    with pytest.raises(ValueError, match="lower-triangular"):
        gaussian_elbo(lj, [0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="scale must have shape"):
        gaussian_elbo(lj, [0.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="positive diagonal"):
        gaussian_elbo(lj, [0.0], [-1.0])
    with pytest.raises(ValueError, match="^sampler='sobol' must be one of"):
        gaussian_elbo(lj, [0.0], [1.0], sampler="sobol")
    with pytest.raises(ValueError, match="n=0 must be >= 1"):
        gaussian_elbo(lj, [0.0], [1.0], n=0)
    with pytest.raises(ValueError, match="nan"):
        gaussian_elbo(lambda z: np.full(z.shape[0], np.nan), [0.0], [1.0])
    with pytest.raises(ValueError, match="shape"):
        gaussian_elbo(lambda z: z, [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="even"):
        gaussian_elbo(lj, [0.0], [1.0], n=5, sampler="antithetic")


def test_cli_and_bench_run(capsys: pytest.CaptureFixture[str]) -> None:
    from ridgeline import cli

    assert cli.main(["elbo", "--repeats", "40", "--length", "12", "--states", "6"]) == 0
    out = capsys.readouterr().out
    assert "stratified l" in out and "shared masks cut" in out
    assert cli.main(["bench", "elbo", "--quick", "--repeats", "1", "--no-torch"]) == 0
    assert "plan numpy ref" in capsys.readouterr().out


def test_estimate_with_completion_mask_matches_oracle(chain: MarkovChain) -> None:
    x = chain.sample(1, 14, rng=9)[0]
    comp = np.zeros(14, dtype=bool)
    comp[[2, 3, 4, 8, 9, 12, 13]] = True
    R = 800
    fn = chain.logprob_fn("tempered", temperature=0.8)
    est = md.estimate(fn, np.tile(x, (R, 1)), np.tile(comp, (R, 1)), 3, chain.V, seed=5, row_ids=np.arange(R))
    truth = chain.exact_elbo(x, comp, model="tempered", temperature=0.8)
    assert abs(est.value.mean() - truth) < 4 * est.value.std(ddof=1) / np.sqrt(R)
    assert not np.any(est.plan.masks & ~comp)


# ----------------------------------------------------------------------------- one API (issue 12), first contact (issue 11)
def test_deprecated_spellings_warn_and_give_the_same_result(chain: MarkovChain) -> None:
    a = md.plan([9, 4], 3, seed=2, n_threads=1)
    with pytest.warns(DeprecationWarning, match="'nthreads' is deprecated.*'n_threads'"):
        b = md.plan([9, 4], 3, seed=2, nthreads=0)  # the old "all cores"
    np.testing.assert_array_equal(a.indices, b.indices)
    with pytest.raises(TypeError, match="both"):
        md.plan([9, 4], 3, nthreads=2, n_threads=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        md.plan([9, 4], 3, bogus=1)
    x = chain.sample(2, 6, rng=0)
    fn = chain.logprob_fn()
    want = md.estimate(fn, x, None, 3, chain.V, seed=1, micro_batch=2).value
    with pytest.warns(DeprecationWarning, match="'chunk_size' is deprecated.*'micro_batch'"):
        got = md.estimate(fn, x, None, 3, chain.V, seed=1, chunk_size=2).value
    np.testing.assert_array_equal(got, want)


def test_seed_is_an_integer_key_not_randomness(chain: MarkovChain) -> None:
    """``seed`` keys the common random numbers of plans and estimates: an int, never a Generator."""
    import inspect

    assert "seed" in inspect.signature(md.estimate).parameters and "rng" not in inspect.signature(md.estimate).parameters
    x = chain.sample(2, 6, rng=0)
    with pytest.raises(TypeError, match="^seed=Generator"):
        md.estimate(chain.logprob_fn(), x, None, 3, chain.V, seed=np.random.default_rng(0))
    with pytest.raises(ValueError, match="^seed=-1 must be >= 0"):
        md.plan([3], 2, seed=-1)
    assert md.plan([3], 2, seed=2**64 - 1).seed == 2**64 - 1
    for f in (gaussian_elbo, iwae_bound, sobol_normals):
        assert "rng" in inspect.signature(f).parameters


def test_issue18_silent_bad_inputs_now_raise(chain: MarkovChain) -> None:
    x = chain.sample(2, 6, rng=0)
    with pytest.raises(TypeError, match="^mask_id=1.5 must be an integer"):
        md.estimate(chain.logprob_fn(), x, None, 2, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^mask_id=1.5"):
        md.plan([6, 6], 2).apply(x, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token id -1 outside"):
        chain.log_prob(np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="token id -3 outside"):
        md.estimate(chain.logprob_fn(), np.array([[1, -3, 2]]), None, 2, chain.V)
    with pytest.raises(TypeError, match="tokens must be an array of integer token ids"):
        md.estimate(chain.logprob_fn(), x.astype(float), None, 2, chain.V)
    with pytest.raises(TypeError, match="mean must be real"):
        gaussian_elbo(lambda z: -(z**2).sum(axis=1), np.array([1j, 0.0]), [1.0, 1.0])
    with pytest.raises(TypeError, match="logjoint=3 must be callable"):
        gaussian_elbo(3, [0.0], [1.0])  # type: ignore[arg-type]


def test_convergence_warning_is_the_shared_one() -> None:
    import ridgeline
    import ridgeline.elbo

    assert ridgeline.elbo.ConvergenceWarning is ridgeline.ConvergenceWarning


def test_reprs_are_short_and_results_round_trip(chain: MarkovChain, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ridgeline
    from ridgeline.elbo import GaussianELBO, IWAEBound

    x = chain.sample(40, 30, rng=0)
    est = md.estimate(chain.logprob_fn("tempered"), x, None, 16, chain.V, scheme="quadrature", seed=3)
    lj = lambda z: (-0.5 * (z**2).sum(axis=1), -z)  # noqa: E731
    g = gaussian_elbo(lj, np.zeros(3), np.eye(3), n=64, rng=1)
    iw = iwae_bound(lambda z: -0.5 * (z**2).sum(axis=1), [0.0], [2.0], K=4, n=32, rng=0)
    for obj in (est, est.plan, g, iw):
        text = repr(obj)
        assert len(text) < 300, text
        assert text.startswith(type(obj).__name__ + "(")
        path = tmp_path / f"{type(obj).__name__}.npz"
        obj.save(path)
        back = type(obj).load(path)
        again = ridgeline.load(path)
        assert type(back) is type(obj) and type(again) is type(obj)
        for b in (back, again):
            if isinstance(obj, md.Estimate):
                for k in ("value", "stderr", "terms"):
                    np.testing.assert_array_equal(getattr(b, k), getattr(obj, k))
                pb, po = b.plan, obj.plan
            elif isinstance(obj, md.Plan):
                pb, po = b, obj
            else:
                for k in ("value", "stderr", "entropy", "n", "sampler", "estimator", "K"):
                    if hasattr(obj, k):
                        assert getattr(b, k) == getattr(obj, k)
                if isinstance(obj, GaussianELBO):
                    np.testing.assert_array_equal(b.grad_mean, obj.grad_mean)
                    np.testing.assert_array_equal(b.grad_scale, obj.grad_scale)
                continue
            for k in md.Plan._ARRAYS:
                np.testing.assert_array_equal(getattr(pb, k), getattr(po, k))
            for k in md.Plan._SCALARS:
                assert getattr(pb, k) == getattr(po, k)
            np.testing.assert_array_equal(pb.masks, po.masks)
    assert isinstance(iw, IWAEBound)
    # a re-loaded plan gives the same estimate
    logp = chain.logprob_fn("tempered")(est.plan.apply(x, chain.V), np.repeat(x, 16, axis=0))
    np.testing.assert_array_equal(md.reduce(md.Plan.load(tmp_path / "Plan.npz"), logp), est.value)
    with pytest.raises(ValueError, match="not a elbo.Plan"):
        md.Plan.load(tmp_path / "Estimate.npz")


def test_estimate_progress_and_logging(chain: MarkovChain, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    x = chain.sample(3, 8, rng=0)
    with caplog.at_level(logging.DEBUG, logger="ridgeline.elbo"):
        est = md.estimate(chain.logprob_fn(), x, None, 4, chain.V, seed=0, micro_batch=5, progress=True)
    records = [r for r in caplog.records if r.name == "ridgeline.elbo"]
    assert sum(r.levelno == logging.DEBUG for r in records) == 3  # ceil(12 / 5) model calls
    assert records[-1].levelno == logging.INFO and "masked-diffusion ELBO" in records[-1].getMessage()
    assert "12/12" in records[-2].getMessage()
    np.testing.assert_array_equal(est.value, md.estimate(chain.logprob_fn(), x, None, 4, chain.V, seed=0).value)
    with pytest.raises(TypeError, match="progress"):
        md.estimate(chain.logprob_fn(), x, None, 4, chain.V, progress="yes")  # type: ignore[arg-type]


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from ridgeline import cli

    assert cli.main(["elbo", "--json", "--repeats", "30", "--length", "10", "--states", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["length"] == 10
    labels = [r["label"] for r in out["schemes"]]
    assert "stratified l" in labels and "coupled l" in labels and len(labels) == 8
    strat = out["schemes"][labels.index("stratified l")]
    assert strat["bias"] == pytest.approx(0.0, abs=1e-9) and strat["truth"] == pytest.approx(out["log_p"], abs=1e-9)
    assert out["common_random_numbers"]["var_shared"] < out["common_random_numbers"]["var_indep"]


def test_gaussian_estimators_unbiased_and_cv_not_worse_than_sampled_log_q() -> None:
    """A short version of the slow test (d = 10, 300 repeats)."""
    lj, qm, qs, exact = gaussian_target(10, rng=10)
    R = 300
    vals = {e: np.array([gaussian_elbo(lj, qm, qs, n=256, rng=r, estimator=e).value for r in range(R)])
            for e in ("cv", "sampled", "analytic")}
    for e, v in vals.items():
        assert abs(v.mean() - exact) < 4 * v.std(ddof=1) / np.sqrt(R), e
    assert vals["cv"].var() <= 1.3 * vals["sampled"].var()
    assert vals["analytic"].var() > 10 * vals["sampled"].var()
    # the "sampled" estimator is Pyro's Trace_ELBO form, mean(log p - log q), by hand
    from ridgeline.elbo import _gaussian

    eps = _gaussian._draw(256, 10, "mc", _gaussian.check_rng(7))
    z = qm + eps * qs
    logq = -0.5 * (eps**2).sum(axis=1) - np.log(qs).sum() - 5 * np.log(2 * np.pi)
    r = gaussian_elbo(lj, qm, qs, n=256, rng=7, estimator="sampled")
    assert r.value == pytest.approx(float(np.mean(lj(z) - logq)), rel=1e-12)


def test_import_elbo_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ridgeline.elbo, ridgeline.elbo.masked_diffusion as md; md.plan([3], 2); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
