"""The shared counter-based generator: C++ against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _core, _random


def test_philox_known_answer() -> None:
    # Random123 known-answer vector for philox4x32-10 (counter and key all ones).
    ctr = np.array([0xFFFFFFFF] * 4, dtype=np.uint64)
    out = _random.philox4x32_10(ctr, 0xFFFFFFFFFFFFFFFF)
    assert [int(v) for v in out] == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    zero = _random.philox4x32_10(np.zeros(4, dtype=np.uint64), 0)
    assert [int(v) for v in zero] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, 2**64 - 1])
@pytest.mark.parametrize("stream", [0, 7, 2**40 + 3])
def test_words_match_reference(seed: int, stream: int) -> None:
    # streams opened at unaligned positions (the C++ stream computes 8 words at a time)
    for start, n in [(5, 101), (0, 8), (7, 2), (8, 9), (2**40 + 3, 30)]:
        got = _core.random.words(seed, stream, start, n)
        want = _random.words(seed, stream, np.arange(start, start + n, dtype=np.uint64))
        np.testing.assert_array_equal(got, want)


def test_uniform_and_normal_match_reference() -> None:
    np.testing.assert_array_equal(_core.random.uniform(42, 3, 1001), _random.uniform(42, 3, 1001))
    np.testing.assert_allclose(_core.random.normal(42, 3, 1001), _random.normal(42, 3, 1001), rtol=0, atol=1e-12)


def test_uniform_statistics() -> None:
    u = _core.random.uniform(123, 0, 200_000)
    assert u.min() > 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size)
    z = _core.random.normal(123, 1, 200_000)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2 / z.size)


def test_streams_differ_and_integers_unbiased() -> None:
    a = _core.random.words(9, 0, 0, 64)
    b = _core.random.words(9, 1, 0, 64)
    assert not np.any(a == b)
    k = _core.random.integers(5, 0, 7, 70_000)
    counts = np.bincount(k.astype(np.int64), minlength=7)
    assert counts.size == 7
    chi2 = float(((counts - 10_000) ** 2 / 10_000).sum())
    assert chi2 < 30.0  # chi2 with 6 dof: p ~ 4e-5


def test_mix_seed_matches_reference() -> None:
    for s, t in [(0, 0), (1, 2), (2**64 - 1, 5)]:
        assert _core.random.mix_seed(s, t) == _random.mix_seed(s, t)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n=-1"):
        _core.random.uniform(0, 0, -1)
    with pytest.raises(ValueError, match="bound=0"):
        _core.random.integers(0, 0, 0, 3)
    with pytest.raises(TypeError, match="rng"):
        _random.seed_from("abc")
    with pytest.raises(ValueError, match="rng=-3"):
        _random.seed_from(-3)
    assert _random.seed_from(5) == _random.seed_from(5)
    assert _random.seed_from(np.random.default_rng(1)) == _random.seed_from(np.random.default_rng(1))


def test_ziggurat_normal_matches_reference_and_is_normal() -> None:
    # exact agreement with the pure-Python ziggurat (same words, same tables)
    np.testing.assert_allclose(
        _core.random.ziggurat_normal(42, 3, 3000), _random.ziggurat_normal(42, 3, 3000), rtol=0, atol=1e-12
    )
    z = _core.random.ziggurat_normal(7, 2, 400_000)
    n = z.size
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2 / n)
    # the wedges and the tail: the distribution function at many points, and the tail mass beyond
    # the base strip's edge (3.4426) where the tail algorithm takes over
    from scipy import stats

    assert stats.kstest(z, "norm").pvalue > 1e-4
    p_tail = 2 * stats.norm.sf(3.442619855899)
    k = int(np.sum(np.abs(z) > 3.442619855899))
    assert abs(k - n * p_tail) < 5 * np.sqrt(n * p_tail)
    p4 = 2 * stats.norm.sf(4.0)
    k4 = int(np.sum(np.abs(z) > 4.0))
    assert abs(k4 - n * p4) < 5 * np.sqrt(n * p4) + 1
