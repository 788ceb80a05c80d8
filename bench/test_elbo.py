"""pytest-benchmark: masked-diffusion planning and reduction, compiled vs numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from ridgeline import _random
from ridgeline.elbo import _reference as ref
from ridgeline.elbo import masked_diffusion as md


@pytest.mark.benchmark(group="elbo-plan")
@pytest.mark.parametrize("impl", ["core", "reference"])
@pytest.mark.parametrize("L", [64, 512])
def test_plan(benchmark, impl: str, L: int) -> None:  # type: ignore[no-untyped-def]
    lengths = np.full(16, L)
    if impl == "core":
        benchmark(md.plan, lengths, 8, seed=1, n_threads=1)
    else:
        pos = [np.arange(L)] * 16
        key = _random.mix_seed(1, md._SEED_SALT)
        benchmark(ref.plan_reference, pos, np.arange(16, dtype=np.uint64), key, "stratified_l", "exact_k", 8, 0.0,
                  np.zeros(0), np.zeros(0))


@pytest.mark.benchmark(group="elbo-reduce")
@pytest.mark.parametrize("impl", ["core", "reference"])
def test_reduce(benchmark, impl: str) -> None:  # type: ignore[no-untyped-def]
    p = md.plan(np.full(32, 512), 8, seed=1)
    logp = -np.random.default_rng(0).random((p.n_evals, 512))
    if impl == "core":
        benchmark(md.reduce, p, logp)
    else:
        benchmark(ref.reduce_terms_reference, p.indptr, p.indices, p.coef.ravel(), logp)
