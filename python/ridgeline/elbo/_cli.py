"""``ridgeline elbo``: variance of each masked-diffusion ELBO scheme at equal budget on the testbed.

A Markov chain with ``V`` states and Dirichlet(alpha) transition rows (fixed seed) plays
the model; a sequence of length ``L`` drawn from it is scored ``repeats`` times by every
scheme with ``budget`` model evaluations each (row ids 0 .. repeats-1, so the repeats use
independent masks).  Reported: the mean, its exact expectation and bias from the oracle
(the exact ELBO equals log p(x) here), the variance and the variance reduction against
double Monte Carlo in t (t >= 1e-3); then the variance of the ELBO difference between the
chain and its tempered version with shared and with independent masks.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ridgeline.elbo import masked_diffusion as md
from ridgeline.elbo.testbed import MarkovChain

__all__ = ["SCHEME_ROWS", "crn_table", "main", "scheme_table"]

# (label, scheme, mask, quadrature)
SCHEME_ROWS: tuple[tuple[str, str, str | None, int | None], ...] = (
    ("double MC, t >= 1e-3", "double_mc", None, None),
    ("stratified t", "stratified_t", None, None),
    ("systematic t", "systematic_t", None, None),
    ("stratified l", "stratified_l", None, None),
    ("systematic l", "systematic_l", None, None),
    ("coupled l", "coupled_l", None, None),
    ("GDPO quadrature, Bernoulli", "quadrature", "bernoulli", None),
    ("GDPO quadrature, floor(t n) tokens", "quadrature", "exact_k", None),
)


def _values(
    chain: MarkovChain, x: np.ndarray, budget: int, repeats: int, seed: int, fn: Any, offset: int = 0, **kw: Any
) -> np.ndarray:
    tok = np.tile(x, (repeats, 1))
    rid = np.arange(offset, offset + repeats)
    return md.estimate(fn, tok, None, budget, chain.V, seed=seed, row_ids=rid, micro_batch=4096, **kw).value


def scheme_table(
    chain: MarkovChain, x: np.ndarray, budget: int, repeats: int, *, seed: int = 0
) -> list[dict[str, Any]]:
    """Mean, exact expectation, bias and variance of every scheme on one sequence."""
    fn = chain.logprob_fn("exact")
    f = chain.mask_profile(x)
    truth = float(np.sum(f[1:] / np.arange(1, f.size)))
    rows: list[dict[str, Any]] = []
    for label, scheme, mask, quad in SCHEME_ROWS:
        v = _values(chain, x, budget, repeats, seed, fn, scheme=scheme, mask=mask, quadrature=quad)
        exp = md.expectation(f, budget, scheme=scheme, mask=mask, quadrature=quad)
        rows.append(
            {
                "label": label,
                "scheme": scheme,
                "mask": mask,
                "mean": float(v.mean()),
                "se_mean": float(v.std(ddof=1) / np.sqrt(v.size)),
                "expected": exp,
                "bias": exp - truth,
                "var": float(v.var(ddof=1)),
                "truth": truth,
            }
        )
    base = rows[0]["var"]
    for r in rows:
        r["reduction"] = base / r["var"]
    return rows


def crn_table(
    chain: MarkovChain, x: np.ndarray, budget: int, repeats: int, *, temperature: float = 0.9, seed: int = 0,
    scheme: str = "stratified_l",
) -> dict[str, float]:
    """Variance of ELBO(chain) - ELBO(tempered chain) with shared and with independent masks."""
    fa = chain.logprob_fn("exact")
    fb = chain.logprob_fn("tempered", temperature=temperature)
    a = _values(chain, x, budget, repeats, seed, fa, scheme=scheme)
    b_shared = _values(chain, x, budget, repeats, seed, fb, scheme=scheme)
    b_indep = _values(chain, x, budget, repeats, seed, fb, offset=repeats, scheme=scheme)
    exact = chain.exact_elbo(x) - chain.exact_elbo(x, model="tempered", temperature=temperature)
    d_shared, d_indep = a - b_shared, a - b_indep
    return {
        "exact_diff": exact,
        "mean_shared": float(d_shared.mean()),
        "mean_indep": float(d_indep.mean()),
        "var_shared": float(d_shared.var(ddof=1)),
        "var_indep": float(d_indep.var(ddof=1)),
        "reduction": float(d_indep.var(ddof=1) / d_shared.var(ddof=1)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo and print the tables."""
    from ridgeline._bench import format_table

    p = argparse.ArgumentParser(prog="ridgeline elbo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--states", type=int, default=32, help="chain states V (default 32)")
    p.add_argument("--alpha", type=float, default=0.3, help="Dirichlet concentration of the rows (default 0.3)")
    p.add_argument("--length", type=int, default=64, help="sequence length L (default 64)")
    p.add_argument("--budget", type=int, default=8, help="model evaluations per estimate (default 8)")
    p.add_argument("--repeats", type=int, default=2000, help="independent estimates per scheme (default 2000)")
    p.add_argument("--temperature", type=float, default=0.9, help="temperature of the second model (default 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seed of the chain, the sequence and the masks")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = p.parse_args(argv)
    for name in ("states", "length", "budget", "repeats"):
        if getattr(args, name) < 1 or (name == "repeats" and args.repeats < 2):
            p.error(f"--{name} must be >= {2 if name == 'repeats' else 1}")
    if args.seed < 0:
        p.error("--seed must be >= 0")
    chain = MarkovChain.random(args.states, alpha=args.alpha, rng=args.seed)
    x = chain.sample(1, args.length, rng=args.seed + 1)[0]
    if args.json:
        settings = {k: getattr(args, k) for k in ("states", "alpha", "length", "budget", "repeats", "temperature", "seed")}
        report = {
            "command": "ridgeline elbo",
            "settings": settings,
            "log_p": float(chain.log_prob(x)),
            "schemes": scheme_table(chain, x, args.budget, args.repeats, seed=args.seed),
            "common_random_numbers": crn_table(
                chain, x, args.budget, args.repeats, temperature=args.temperature, seed=args.seed
            ),
        }
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"Markov chain V={args.states}, Dirichlet({args.alpha}) rows, L={args.length}, budget={args.budget}, "
        f"{args.repeats} repeats; log p(x) = {chain.log_prob(x):.4f}\n"
    )
    rows = scheme_table(chain, x, args.budget, args.repeats, seed=args.seed)
    table = [
        [r["label"], f"{r['mean']:.3f} +- {r['se_mean']:.3f}", f"{r['expected']:.4f}", f"{r['bias']:+.4f}",
         f"{r['var']:.2f}", f"{r['reduction']:.2f}x"]
        for r in rows
    ]
    print(format_table(["scheme", "mean +- se", "exact mean", "exact bias", "variance", "vs double MC"], table))
    c = crn_table(chain, x, args.budget, args.repeats, temperature=args.temperature, seed=args.seed)
    print(
        f"\nELBO(chain) - ELBO(tempered T={args.temperature}), stratified l: exact {c['exact_diff']:.4f}\n"
        + format_table(
            ["masks", "mean", "variance"],
            [["shared (same seed, row ids)", f"{c['mean_shared']:.4f}", f"{c['var_shared']:.4g}"],
             ["independent", f"{c['mean_indep']:.4f}", f"{c['var_indep']:.4g}"]],
        )
        + f"\nshared masks cut the variance of the difference {c['reduction']:.0f}x"
    )
    return 0
