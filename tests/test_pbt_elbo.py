"""Property tests: compiled plans equal the numpy reference for random settings."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _random
from ridgeline.elbo import _reference as ref
from ridgeline.elbo import masked_diffusion as md

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(deadline=None, max_examples=60, derandomize=True)
@hypothesis.given(
    lengths=st.lists(st.integers(0, 40), min_size=0, max_size=5),
    budget=st.integers(1, 20),
    scheme=st.sampled_from(md.SCHEMES),
    bern=st.booleans(),
    seed=st.integers(0, 2**64 - 1),
    first_id=st.integers(0, 2**40 - 10),
)
def test_plan_matches_reference(lengths: list[int], budget: int, scheme: str, bern: bool, seed: int,
                                first_id: int) -> None:
    mask = "bernoulli" if bern and not scheme.endswith("_l") else None
    quad = min(budget, 3) if scheme == "quadrature" else None
    ids = np.arange(first_id, first_id + len(lengths))
    p = md.plan(np.array(lengths, dtype=np.int64), budget, scheme=scheme, mask=mask, seed=seed, row_ids=ids,
                quadrature=quad, seq_len=40)
    key = _random.mix_seed(seed, md._SEED_SALT)
    t, c, ip, ix = ref.plan_reference([np.arange(k) for k in lengths], p.row_ids, key, p.scheme, p.mask, budget,
                                      p.t_min, p.nodes, p.weights)
    np.testing.assert_array_equal(p.t.ravel(), t)
    np.testing.assert_array_equal(p.coef.ravel(), c)
    np.testing.assert_array_equal(p.indptr, ip)
    np.testing.assert_array_equal(p.indices, ix)
    # every evaluation of a row with maskable tokens masks only maskable positions
    for b, k in enumerate(lengths):
        assert not p.masks[b, :, k:].any()
