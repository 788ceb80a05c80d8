"""Where the ELBO gradient variance of the training example comes from (not a test; about 2 CPU minutes).

Trains the model of ``examples/elbo_train_tiny.py`` as the example does (400 steps, seed 0), then for each of
the 4 held-out sequences the example uses and each masked count l = 1..L measures the mean G(l) and the variance
V(l) of the one-evaluation gradient estimator (L / l) grad sum_{i in M} log p(x_i | x without M) over uniform
l-subsets M (R random subsets; all of them for l = 1, L - 1, L).  From these moments it gives, exactly in
expectation, the variance of stratified l (split into the variance over l and that of the subset given l) and of
double MC (t >= 1e-3: over t, of the count given t, of the subset given the count) at equal budget.

Run: ``PYTHONPATH=python python bench/elbo_grad_decomposition.py [R]`` (R = 24 by default).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import binom

from ridgeline.elbo import masked_diffusion as md
from ridgeline.elbo import torch as rt
from ridgeline.elbo.testbed import MarkovChain


def trained_model() -> tuple:  # type: ignore[type-arg]
    """(example module, model, chain, V, L): the example's model trained as the example does (400 steps, seed 0,
    one thread).  Shared with ``bench/elbo_grad_budget.py``."""
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
    return ex, model, chain, V, L


def main(R: int = 24) -> None:
    _, model, chain, V, L = trained_model()
    tm = 1e-3
    held = chain.sample(64, L, rng=10**6)
    gen = np.random.default_rng(1)
    n = L
    ls = np.arange(n + 1)
    xs, ws = np.polynomial.legendre.leggauss(400)
    s = np.log(tm) * (1 - (xs + 1) / 2)
    t = np.exp(s)
    dtw = ws / 2 * (-np.log(tm)) * t / (1 - tm)  # quadrature weights of the uniform t on [tm, 1]
    P = binom.pmf(ls[None, :], n, t[:, None])
    coef = ls[None, :] / (n * t[:, None])
    budgets = (1, 4, 16)
    tot_s = {B: np.zeros(2) for B in budgets}
    tot_d = np.zeros(4)

    def grad_of(xt: torch.Tensor, mask: np.ndarray) -> np.ndarray:
        m = torch.from_numpy(mask)
        model.zero_grad(set_to_none=True)
        lp = torch.log_softmax(model(xt.masked_fill(m, V)[None]), -1)[0].gather(-1, xt[:, None])[:, 0]
        lp[m].sum().backward()
        return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]).double().numpy()

    for b in range(4):
        xt = torch.from_numpy(held[b]).long()
        G, Vw, cnt = None, np.zeros(n + 1), np.full(n + 1, np.inf)
        for ell in range(1, n + 1):
            exact = ell in (1, n - 1, n)
            if ell == n:
                masks = [np.ones(n, bool)]
            elif exact:
                masks = [np.eye(n, dtype=bool)[i] ^ (ell == n - 1) for i in range(n)]
            else:
                masks = []
                for _ in range(R):
                    m = np.zeros(n, bool)
                    m[gen.choice(n, ell, replace=False)] = True
                    masks.append(m)
            gs = np.stack([grad_of(xt, m) * (n / ell) for m in masks])
            if G is None:
                G = np.zeros((n + 1, gs.shape[1]))
            G[ell] = gs.mean(0)
            Vw[ell] = ((gs - G[ell]) ** 2).sum(1).mean() * (1.0 if exact else len(masks) / (len(masks) - 1))
            if not exact:
                cnt[ell] = len(masks)
        Vw[0] = 0.0
        noise = Vw / cnt  # variance of the estimated means (0 where enumerated)
        Gn2 = (G**2).sum(1) - noise  # unbiased |G(l)|^2
        for B in budgets:
            within = between = 0.0
            for k in range(B):
                lo, hi = k * n / B, (k + 1) * n / B
                pr = np.array([max(0.0, min(hi, ell) - max(lo, ell - 1)) / (hi - lo) for ell in range(1, n + 1)])
                idx = np.nonzero(pr)[0] + 1
                p = pr[idx - 1]
                mv = (p[:, None] * G[idx]).sum(0)
                within += (p * Vw[idx]).sum()
                between += (p * Gn2[idx]).sum() - ((mv**2).sum() - (p**2 * noise[idx]).sum())
            tot_s[B] += np.array([within, between]) / B**2
        w_l = (dtw[:, None] * P * coef).sum(0)
        mv = (w_l[:, None] * G).sum(0)
        mn2 = (mv**2).sum() - (w_l**2 * noise).sum()
        Gt = (P * coef) @ G
        Gt2 = (Gt**2).sum(1) - (P**2 * coef**2 * noise[None, :]).sum(1)
        over_t = (dtw * Gt2).sum() - mn2
        count = (dtw[:, None] * P * coef**2 * Gn2[None, :]).sum() - (dtw * Gt2).sum()
        subset = (dtw[:, None] * P * coef**2 * Vw[None, :]).sum()
        tot_d += np.array([over_t, count, subset, over_t + count + subset])
        print(f"sequence {b}: done", file=sys.stderr, flush=True)
    o, c, sb, d = tot_d
    print(f"double MC, one evaluation (sum over 4 sequences): {d:.4g} = over t {o:.4g} ({o / d:.1%}) + count given t "
          f"{c:.4g} ({c / d:.1%}) + subset given the count {sb:.4g} ({sb / d:.1%})")
    for B in budgets:
        w, bt = tot_s[B]
        print(f"budget {B:2d}: stratified l {w + bt:.4g} = over l {bt:.4g} ({bt / (w + bt):.1%}) + subset given l {w:.4g}; "
              f"double MC {d / B:.4g}; ratio {d / B / (w + bt):.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
