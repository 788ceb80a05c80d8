"""Gradient variance of coupled l vs double MC on the training example, by budget and over sets of plans (not a
test; about 4 CPU minutes).

Trains the model of ``examples/elbo_train_tiny.py`` as the example does (400 steps, seed 0), then on its 4 held-out
sequences measures, with the example's functions, the total gradient variance of ``coupled_l`` over ``repeats``
plans at budgets 2, 4 and 8 (budget 8 on four sets of plan row ids) and double MC's by the example's
importance-sampled estimate (four seeds; double MC's variance at budget B is exactly its budget-1 variance / B).

Run: ``PYTHONPATH=python python bench/elbo_grad_budget.py [repeats]`` (400 by default).
"""

from __future__ import annotations

import sys

from elbo_grad_decomposition import trained_model  # the same trained model (bench/ is on sys.path when run)


def main(repeats: int = 400) -> None:
    ex, model, chain, V, L = trained_model()
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
