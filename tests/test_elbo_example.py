"""The training example at full size, in the default run (issue 18: it runs in CI).

``examples/elbo_train_tiny.py`` trains a ~390k-parameter masked-diffusion transformer on the testbed Markov
chain, compares its ELBO with the exact log-likelihood of held-out sequences, measures the gradient variance of
the l-stratified estimators against double MC at equal model calls over 400 plans, and takes a few GDPO-style
steps.  It takes about 100 s of CPU (printed with ``-s``); the figures are asserted with margins below the
measured ones.
"""

from __future__ import annotations

import pytest


def test_training_example_full() -> None:
    """examples/elbo_train_tiny.py at full size (about 100 CPU s, printed; no timed assertion): the ELBO tracks the exact log-likelihood
    of held-out sequences; stratified l and coupled l have lower-variance gradients than double MC at equal
    model calls (400 plans each; coupled l at budget 8, stratified l at budget 4)."""
    import importlib.util
    import time
    from pathlib import Path

    torch = pytest.importorskip("torch")
    path = Path(__file__).resolve().parents[1] / "examples" / "elbo_train_tiny.py"
    spec = importlib.util.spec_from_file_location("elbo_train_tiny", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    threads = torch.get_num_threads()
    t0 = time.process_time()
    try:
        out = mod.main([])
    finally:
        torch.set_num_threads(threads)
    cpu = time.process_time() - t0
    print(out, f"CPU {cpu:.1f} s")
    assert out["parameters"] > 200_000
    gap = out["exact_per_token"] - out["elbo_per_token"]
    assert -0.02 < gap < 0.1 and out["correlation"] > 0.7
    # budget 8, 400 plans; double MC's variance by the example's importance-sampled estimate (2% spread)
    assert out["grad_variance_ratio"] >= 1.5  # measured 1.9x: the limit of independent masks (see the example)
    assert out["grad_variance_ratio_coupled"] >= 4.2  # measured 4.6-5.0x over four sets of plans (the issue asks 4x)
    assert out["grad_variance_ratio_coupled"] > 2.0 * out["grad_variance_ratio"]
    assert out["reward_last"] > out["reward_first"]
