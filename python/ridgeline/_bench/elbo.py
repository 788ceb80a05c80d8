"""``ridgeline bench elbo``: planning and reduction overhead per model evaluation.

For a few (batch, sequence length, budget) settings, the compiled plan builder and
reducer are timed against the pure-numpy reference (``ridgeline.elbo._reference``) in
the same run, interleaved, as medians of process CPU time; the table reports
microseconds per model evaluation (one masked sequence) and the speed-up.  The plans
are checked to be bit-identical first.  Gaussian-VI samplers are timed per draw too.
With torch installed, the device path's overhead per evaluation row (plan, copy, apply,
reduce) is compared with a forward pass of the training example's transformer.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from ridgeline import _random
from ridgeline._bench import format_table, have, interleaved_medians
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
    p.add_argument("--no-torch", action="store_true", help="skip the torch rows (run when torch is installed)")
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
    if have("torch") and not args.no_torch:
        print()
        torch_overhead(quick=args.quick, repeats=args.repeats)
    return 0


def torch_overhead(*, quick: bool = False, repeats: int = 3) -> dict[str, float]:
    """The torch path's overhead per evaluation row against one forward pass of the example model.

    Batch 16, L = 1024, budget 128 (2,048 evaluation rows; ``quick``: L = 256, budget 16):
    host planning, the one copy to the device (``Plan.to``), ``apply`` and a
    differentiable ``reduce`` of all rows, in CPU time per row, against a forward pass of
    the example's transformer (width 96, 3 layers, 4 heads, about 340,000 parameters)
    per row (with a convolution in front, as in ``examples/elbo_train_tiny.py``, and
    ``V = 32``), measured on micro-batches of 4 rows.  One torch thread.
    """
    import torch

    from ridgeline.elbo import torch as rt

    torch.set_num_threads(1)
    batch, L, budget = (16, 256, 16) if quick else (16, 1024, 128)
    V = 32
    torch.manual_seed(0)
    width = 96
    blocks = torch.nn.ModuleList(
        torch.nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        for _ in range(3)
    )
    emb, head = torch.nn.Embedding(V + 1, width), torch.nn.Linear(width, V)
    conv = torch.nn.Conv1d(width, width, 5, padding=2)
    n_params = sum(p.numel() for m in (blocks, emb, head, conv) for p in m.parameters())

    def model(z: torch.Tensor) -> torch.Tensor:
        h = emb(z)
        h = h + torch.nn.functional.gelu(conv(h.transpose(1, 2))).transpose(1, 2)
        for b in blocks:
            h = b(h)
        return head(h)

    tokens = torch.randint(0, V, (batch, L))
    lengths = np.full(batch, L)
    p = md.plan(lengths, budget, seed=1, n_threads=1)
    tp = p.to("cpu")
    logp = -torch.rand(p.n_evals, L, dtype=torch.float32, requires_grad=True)
    mb = tokens[:1].repeat(4, 1)
    with torch.no_grad():
        t = interleaved_medians(
            {
                "plan (host)": lambda: md.plan(lengths, budget, seed=1, n_threads=1),
                "to(device), one copy": lambda: p.to("cpu"),
                "apply, all rows": lambda: tp.apply(tokens, V),
            },
            repeats=repeats,
        )
    t["reduce, all rows"] = interleaved_medians({"r": lambda: rt.reduce(tp, logp)}, repeats=repeats)["r"]
    with torch.no_grad():
        fwd = interleaved_medians({"f": lambda: model(mb)}, repeats=repeats)["f"] / 4
    per = {k: v / p.n_evals * 1e6 for k, v in t.items()}
    total = sum(per.values())
    rows = [[k, f"{v:.3f}", f"{100 * v / (fwd * 1e6):.4f}%"] for k, v in per.items()]
    rows.append(["plan + copy + apply + reduce", f"{total:.3f}", f"{100 * total / (fwd * 1e6):.4f}%"])
    rows.append([f"forward pass of the example model ({n_params} parameters)", f"{fwd * 1e6:.0f}", "100%"])
    print(
        f"torch path, batch {batch}, L = {L}, budget {budget} ({p.n_evals} rows): CPU microseconds per evaluation row"
    )
    print(format_table(["step", "us / row", "of a forward pass"], rows))
    return {"overhead_fraction": total / (fwd * 1e6), "forward_us": fwd * 1e6, "overhead_us": total}
