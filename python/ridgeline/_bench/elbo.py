"""``ridgeline bench elbo``: planning and reduction overhead per model evaluation.

For a few (batch, sequence length, budget) settings, the compiled plan builder and
reducer are timed against the pure-numpy reference (``ridgeline.elbo._reference``) in
the same run, interleaved, as medians of process CPU time; the table reports
microseconds per model evaluation (one masked sequence) and the speed-up.  The plans
are checked to be bit-identical first.  Gaussian-VI samplers are timed per draw too.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from ridgeline import _random
from ridgeline._bench import format_table, interleaved_medians
from ridgeline.elbo import _reference as ref
from ridgeline.elbo import masked_diffusion as md

SETTINGS = ((16, 128, 8), (32, 512, 8), (8, 2048, 16))


def _setting(batch: int, L: int, budget: int, scheme: str, repeats: int) -> list[str]:
    gen = np.random.default_rng(0)
    lengths = gen.integers(L // 2, L + 1, size=batch)
    kw = {"seq_len": L, "scheme": scheme, "seed": 1, "n_threads": 1}
    p = md.plan(lengths, budget, **kw)
    pos = [np.arange(k) for k in lengths]
    key = _random.mix_seed(1, md._SEED_SALT)

    def reference_plan():  # type: ignore[no-untyped-def]
        return ref.plan_reference(pos, p.row_ids, key, p.scheme, p.mask, budget, p.t_min, p.nodes, p.weights)

    want = reference_plan()
    if not (np.array_equal(want[3], p.indices) and np.array_equal(want[1], p.coef.ravel())):
        msg = "compiled and reference plans differ"
        raise AssertionError(msg)
    logp = -gen.random((p.n_evals, L))
    flat = p.coef.ravel()
    t = interleaved_medians(
        {
            "plan ours": lambda: md.plan(lengths, budget, **kw),
            "plan ref": reference_plan,
            "reduce ours": lambda: md.reduce(p, logp),
            "reduce ref": lambda: ref.reduce_terms_reference(p.indptr, p.indices, flat, logp).reshape(batch, budget).sum(1),
        },
        repeats=repeats,
    )
    per = {k: v / p.n_evals * 1e6 for k, v in t.items()}
    return [
        f"{batch}x{L}, B={budget}, {scheme}",
        f"{per['plan ours']:.2f}",
        f"{per['plan ref']:.1f}",
        f"{per['plan ref'] / max(per['plan ours'], 1e-9):.0f}x",
        f"{per['reduce ours']:.2f}",
        f"{per['reduce ref']:.2f}",
        f"{per['reduce ref'] / max(per['reduce ours'], 1e-9):.1f}x",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the table."""
    p = argparse.ArgumentParser(prog="ridgeline bench elbo", description=__doc__)
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds per contender (default 5)")
    p.add_argument("--quick", action="store_true", help="smallest setting only")
    args = p.parse_args(argv)
    rows = []
    settings = SETTINGS[:1] if args.quick else SETTINGS
    for batch, L, budget in settings:
        for scheme in ("stratified_l", "double_mc"):
            rows.append(_setting(batch, L, budget, scheme, args.repeats))
    print("masked-diffusion planning and reduction, CPU microseconds per model evaluation (1 thread)")
    print(format_table(["batch x L, budget, scheme", "plan ours", "plan numpy ref", "speed-up",
                        "reduce ours", "reduce numpy ref", "speed-up"], rows))
    from ridgeline.elbo import _gaussian

    n, d = 256, 31
    t = interleaved_medians(
        {
            "rqmc ours": lambda: _gaussian.sobol_normals(n, d, rng=0),
            "rqmc ref": lambda: ref.sobol_reference(n, d, 12345, normal=True),
            "mc": lambda: _gaussian._draw(n, d, "mc", 7),
        },
        repeats=args.repeats,
    )
    print(f"\nGaussian draws, n={n}, d={d}: CPU microseconds per draw")
    print(format_table(["sampler", "us / draw"], [[k, f"{v / n * 1e6:.2f}"] for k, v in t.items()]))
    return 0
