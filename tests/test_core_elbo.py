"""Direct _core.elbo calls against the pure-numpy reference (bit-identical plans, Sobol points)."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core, _random
from ridgeline.elbo import _reference as ref
from ridgeline.elbo import masked_diffusion as md


def _both(lengths, budget, **kw):  # type: ignore[no-untyped-def]
    p = md.plan(lengths, budget, **kw)
    arr = np.asarray(lengths)
    pos = [np.flatnonzero(r) for r in arr] if arr.ndim == 2 else [np.arange(k) for k in arr]
    key = _random.mix_seed(p.seed, md._SEED_SALT)
    want = ref.plan_reference(pos, p.row_ids, key, p.scheme, p.mask, p.budget, p.t_min, p.nodes, p.weights)
    return p, want


# the l-schemes (RADD form) mask exactly l tokens, so they have no Bernoulli variant
_SCHEME_MASKS = [(s, m) for s in md.SCHEMES for m in ("exact_k", "bernoulli") if not (s.endswith("_l") and m == "bernoulli")]


@pytest.mark.parametrize(("scheme", "mask"), _SCHEME_MASKS)
@pytest.mark.parametrize("budget", [1, 3, 8, 40])
def test_plan_bit_identical_to_reference(scheme: str, mask: str, budget: int) -> None:
    lengths = [0, 1, 5, 17, 33]
    kw = {"quadrature": min(budget, 3)} if scheme == "quadrature" else {}
    p, (t, c, ip, ix) = _both(lengths, budget, scheme=scheme, mask=mask, seed=2**63 + 11, seq_len=40, **kw)
    np.testing.assert_array_equal(p.t.ravel(), t)
    np.testing.assert_array_equal(p.coef.ravel(), c)
    np.testing.assert_array_equal(p.indptr, ip)
    np.testing.assert_array_equal(p.indices, ix)


def test_plan_completion_mask_bit_identical() -> None:
    gen = np.random.default_rng(5)
    comp = gen.random((6, 30)) < 0.6
    p, (t, c, ip, ix) = _both(comp, 6, scheme="stratified_l", seed=9, row_ids=np.arange(100, 106))
    np.testing.assert_array_equal(p.indices, ix)
    np.testing.assert_array_equal(p.coef.ravel(), c)
    assert not np.any(p.masks & ~comp[:, None, :])


def test_plan_independent_of_threads() -> None:
    a = md.plan(np.arange(50) % 23, 5, seed=4, n_threads=1)
    b = md.plan(np.arange(50) % 23, 5, seed=4, n_threads=2)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.coef, b.coef)


def test_reduce_terms_matches_reference() -> None:
    p = md.plan([7, 0, 12], 4, scheme="double_mc", seed=1, seq_len=12)
    gen = np.random.default_rng(0)
    logp = -gen.random((p.n_evals, 12)) * 3
    got = _core.elbo.reduce_terms(p.indptr, p.indices, p.coef.ravel(), logp)
    want = ref.reduce_terms_reference(p.indptr, p.indices, p.coef.ravel(), logp)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_stratum_l_matches_reference() -> None:
    gen = np.random.default_rng(1)
    for n, B in [(1, 1), (7, 3), (3, 7), (64, 64), (13, 64)]:
        v = gen.random(500)
        k = gen.integers(0, B, 500)
        np.testing.assert_array_equal(_core.elbo.stratum_l(v, k, n, B), ref.stratum_l_reference(v, k, n, B))


def test_sobol_directions_and_points_match_reference() -> None:
    np.testing.assert_array_equal(_core.elbo.sobol_directions(40), ref.sobol_directions_reference(40))
    np.testing.assert_array_equal(_core.elbo.sobol_uniform(64, 9, 0, False), ref.sobol_reference(64, 9, 0, scramble=False))
    np.testing.assert_array_equal(_core.elbo.sobol_uniform(64, 9, 77), ref.sobol_reference(64, 9, 77))
    np.testing.assert_allclose(
        _core.elbo.sobol_normal(32, 5, 3), ref.sobol_reference(32, 5, 3, normal=True), rtol=1e-13, atol=1e-13
    )


def test_sobol_directions_primitive_count() -> None:
    # number of primitive polynomials of degree s over GF(2) is phi(2^s - 1) / s
    d = _core.elbo.sobol_directions(1111)
    assert d.shape == (1111, 32)
    assert np.all(d[:, 0] == 2**31)  # m_1 = 1
    assert np.all(d & 1 == d & 1)  # integer table
    assert ref._primitive_polynomials(1 + 1 + 2 + 2 + 6 + 6)[-1][1] == 6
    with pytest.raises(ValueError, match="d="):
        _core.elbo.sobol_uniform(4, 1112, 0)


def test_sobol_net_property() -> None:
    # unscrambled and scrambled: each 1-D projection of 2^m points is stratified in 2^m cells,
    # and the first two dimensions form a (0, m, 2)-net
    for scramble in (False, True):
        u = _core.elbo.sobol_uniform(256, 6, 12, scramble)
        for j in range(6):
            assert np.all(np.bincount((u[:, j] * 256).astype(int), minlength=256) == 1)
        for a in range(9):
            cells = (u[:, 0] * 2**a).astype(int) * 2 ** (8 - a) + (u[:, 1] * 2 ** (8 - a)).astype(int)
            assert np.all(np.bincount(cells, minlength=256) == 1)


def test_norm_ppf_accuracy() -> None:
    from scipy.special import ndtri

    u = np.concatenate([np.geomspace(1e-300, 0.5, 400), 1 - np.geomspace(1e-16, 0.5, 200)])
    np.testing.assert_allclose(_core.elbo.norm_ppf(u), ndtri(u), rtol=1e-13, atol=1e-14)
