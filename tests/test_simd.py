"""The AVX2 and baseline paths of the kernels in common/simd.hpp give the same bits, and the right numbers."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core


@pytest.mark.parametrize(("d", "n"), [(1, 1), (3, 7), (10, 500), (13, 1001)])
def test_gram_paths_agree_and_match_numpy(d, n):
    y = np.random.default_rng(d * n).normal(size=(d, n)) * np.logspace(0, 3, d)[:, None]
    g0 = _core.simd.gram(y, False)
    np.testing.assert_allclose(g0, y @ y.T, rtol=1e-12, atol=1e-12 * np.abs(y @ y.T).max())
    assert np.array_equal(g0, g0.T)
    if _core.simd.has_avx2():
        assert np.array_equal(_core.simd.gram(y, True), g0)


@pytest.mark.parametrize(("d", "n"), [(1, 1), (4, 9), (10, 500), (17, 333)])
def test_forward_radii_paths_agree_and_match_numpy(d, n):
    gen = np.random.default_rng(7 * d + n)
    a = gen.normal(size=(d, d))
    L = np.linalg.cholesky(a @ a.T + d * np.eye(d))
    y = gen.normal(size=(d, n))
    m0, r0, z0 = _core.simd.forward_radii(y, L, False)
    z = np.linalg.solve(L, y)
    np.testing.assert_allclose(z0, z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r0, (z**2).sum(axis=0), rtol=1e-10)
    assert m0 == r0.max()
    if _core.simd.has_avx2():
        m1, r1, z1 = _core.simd.forward_radii(y, L, True)
        assert m1 == m0 and np.array_equal(r1, r0) and np.array_equal(z1, z0)


def _affine_rows_plain(c, A, z, lower, r0, r1):
    # the row-by-row loop the kernel replaces: each sum from 0.0, in the order j = 0, 1, ...
    out = np.zeros(len(c))
    for i in range(r0, r1):
        v = 0.0
        for j in range(i + 1 if lower else len(c)):
            v += float(A[i, j]) * float(z[j])
        out[i] = float(c[i]) + v
    return out


@pytest.mark.parametrize("d", [1, 3, 4, 5, 8, 10, 13, 50])
@pytest.mark.parametrize("lower", [False, True])
def test_affine_rows_paths_agree_and_match_the_row_loop(d, lower):
    gen = np.random.default_rng(100 * d + lower)
    A = gen.normal(size=(d, d)) * np.logspace(0, 2, d)
    if lower:
        A = np.tril(A)  # (the upper triangle of a Cholesky factor holds zeros)
    c, z = gen.uniform(size=d), gen.normal(size=d)
    for r0, r1 in [(0, d), (0, min(d, 8)), (min(d, 8), d), (d // 2, d // 2 + 1)]:
        want = _affine_rows_plain(c, A, z, lower, r0, r1)
        got = _core.simd.affine_rows(c, A, z, lower, r0, r1, False)
        assert np.array_equal(got, want), (r0, r1)
        if _core.simd.has_avx2():
            assert np.array_equal(_core.simd.affine_rows(c, A, z, lower, r0, r1, True), want), (r0, r1)
    np.testing.assert_allclose(_core.simd.affine_rows(c, A, z, lower, 0, d, False), c + A @ z, rtol=1e-12, atol=1e-9)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="L must be"):
        _core.simd.forward_radii(np.ones((3, 4)), np.eye(2), False)
    with pytest.raises(ValueError, match="2-d"):
        _core.simd.gram(np.ones(3), False)
    with pytest.raises(ValueError, match="rows must"):
        _core.simd.affine_rows(np.ones(3), np.eye(3), np.ones(3), False, 2, 4, False)
