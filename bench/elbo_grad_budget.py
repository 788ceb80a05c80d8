"""Gradient variance of coupled l vs double MC on the training example, by budget and over sets of plans (not a
test; about 4 CPU minutes).

Trains the model of ``examples/elbo_train_tiny.py`` as the example does (400 steps, seed 0), then on its 4 held-out
sequences measures, with the example's functions, the total gradient variance of ``coupled_l`` over ``repeats``
plans at budgets 2, 4 and 8 (budget 8 on four sets of plan row ids) and double MC's by the example's
importance-sampled estimate (four seeds; double MC's variance at budget B is exactly its budget-1 variance / B).

Run: ``PYTHONPATH=python python bench/elbo_grad_budget.py [repeats]`` (400 by default).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from ridgeline.elbo import masked_diffusion as md
from ridgeline.elbo import torch as rt
from ridgeline.elbo.testbed import MarkovChain


def main(repeats: int = 400) -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "elbo_train_tiny.py"
    spec = importlib.util.spec_from_file_location("elbo_train_tiny", path)
    ex = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(ex)  # type: ignore[union-attr]
    V, L, batch = 8, 32, 32
    torch.manual_seed(0)
    torch.set_num_threads(1)
    chain = MarkovChain.random(V, alpha=0.3, rng=0)
    model = ex.TinyDiffusionLM(V, L)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(400):
        x = torch.from_numpy(chain.sample(batch, L, rng=step + 1))
        plan = md.plan(np.full(batch, L), 2, seed=0, row_ids=step * batch + np.arange(batch), n_threads=1)
        loss = -rt.elbo(model, x, plan, mask_id=V).mean() / L
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    x4 = chain.sample(64, L, rng=10**6)[:4]
    one = [ex.double_mc_gradient_variance(model, V, x4, 1, repeats, seed=2 * 10**9 + 7919 * k) for k in range(4)]
    print("double MC, budget-1 variance (importance-sampled), four seeds: " + " ".join(f"{v:.4g}" for v in one))
    for B, sets in ((2, 1), (4, 1), (8, 4)):
        for k in range(sets):
            v = ex.gradient_variance(model, V, x4, "coupled_l", B, repeats, offset=2 * 10**9 + 10**7 * k)[0]
            print(f"budget {B}, plan set {k}: coupled l {v:.4g}; double MC {one[k] / B:.4g} (seed {k}), ratio "
                  f"{one[k] / B / v:.2f}x ({min(one) / B / v:.2f}-{max(one) / B / v:.2f}x over the four seeds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
