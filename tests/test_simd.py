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


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="L must be"):
        _core.simd.forward_radii(np.ones((3, 4)), np.eye(2), False)
    with pytest.raises(ValueError, match="2-d"):
        _core.simd.gram(np.ones(3), False)
