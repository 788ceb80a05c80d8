"""``ridgeline bench spectra``: Hessian spectra against torch, PyHessian and hessian-eigenthings.

Case: the 64-32-10 tanh MLP trained on all of scikit-learn's digits (float64,
P = 2410).  Every contender runs with one thread (torch.set_num_threads(1);
ridgeline's products are single-threaded by default), timings are CPU-time
medians of interleaved rounds.

Tables:
1. one Hessian-vector product: ridgeline (cached R-operator), ridgeline's
   numpy reference, torch double backward with the gradient graph kept
   (as PyHessian does), torch.func.hvp from scratch;
2. top-5 eigenvalues end to end (operator set-up included): ridgeline.eigsh vs
   PyHessian's default ``eigenvalues(top_n=5)`` and hessian-eigenthings'
   ``lanczos``, with relative errors against the exact spectrum.
2b. float32 Hessian-vector products on the 64-256-256-10 tanh MLP (all
   digits, P = 85002): ridgeline's MLP with ``dtype="float32"`` against torch
   float32 double backward with the graph kept and ``torch.func``.
3. (``--large``) at P ~ 10^6 (a 64-1000-900-10 tanh torch MLP, float32 weights,
   all 1797 digits): one HVP by torch double backward with the graph kept, the
   same through ``torch_hessian`` (the adapter's overhead), and eigsh's own
   cost per product (reorthogonalisation, restarts, certification; measured
   on a diagonal operator of the same size with 5 outliers, whose products
   cost almost nothing) as a fraction of one HVP.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ridgeline._bench import format_table, have


def _median_cpu(
    fns: dict[str, Callable[[], Any]], repeats: int, inner: int = 1, rounds: dict[str, list[float]] | None = None
) -> dict[str, float]:
    """Median CPU (process) time of each function over ``repeats`` interleaved rounds; the times of every
    round go to ``rounds`` when given."""
    times: dict[str, list[float]] = rounds if rounds is not None else {}
    times.update({k: [] for k in fns})
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.process_time()
            for _ in range(inner):
                fn()
            times[name].append((time.process_time() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print ratio tables."""
    ap = argparse.ArgumentParser(prog="ridgeline bench spectra", description=__doc__)
    ap.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    ap.add_argument("--no-exact", action="store_true", help="skip the exact spectrum (no error columns)")
    ap.add_argument("--large", action="store_true", help="also table 3: P ~ 10^6 torch MLP (needs torch)")
    args = ap.parse_args(argv)
    from ridgeline.spectra import MLP, eigsh
    from ridgeline.spectra import _reference as ref
    from ridgeline.spectra.datasets import digits, train

    X, y = digits()
    net = MLP([64, 32, 10])
    p = train(net, X, y, rng=0, steps=args.steps, lr=0.1, momentum=0.9)
    H = net.hessian_operator(p, X, y)
    v = np.random.default_rng(0).standard_normal(net.n_params)
    ev = None
    if not args.no_exact:
        Hd = H.todense()
        ev = np.linalg.eigvalsh((Hd + Hd.T) / 2)
    print(f"case: MLP {list(net.layer_sizes)} tanh on digits (N = {X.shape[0]}, P = {net.n_params}), "
          f"loss {net.loss(p, X, y):.4g}, kernels: {H._state.isa}")

    hvp: dict[str, Callable[[], Any]] = {
        "ridgeline (cached R-op)": lambda: H.matvec(v),
        "numpy reference": lambda: ref.mlp_hvp(net.layer_sizes, "tanh", "cross_entropy", p, X, y, v),
    }
    top: dict[str, Callable[[], Any]] = {
        "ridgeline.eigsh": lambda: eigsh(net.hessian_operator(p, X, y), k=5, rng=0).eigenvalues[::-1],
    }
    torch = None
    if have("torch"):
        import torch

        torch.set_num_threads(1)
        from ridgeline.spectra import torch_hessian

        model = net.to_torch()
        torch.nn.utils.vector_to_parameters(torch.tensor(p), model.parameters())
        Xt, yt = torch.tensor(X), torch.tensor(y)
        Ht = torch_hessian(model, torch.nn.functional.cross_entropy, Xt, yt)
        vt = torch.tensor(v)
        params = tuple(pp.detach() for pp in model.parameters())
        names = [n for n, _ in model.named_parameters()]

        def loss_of(*ps: Any) -> Any:
            out = torch.func.functional_call(model, dict(zip(names, ps)), (Xt,))
            return torch.nn.functional.cross_entropy(out, yt)

        vs = tuple(c.view_as(pp) for c, pp in zip(torch.split(vt, [pp.numel() for pp in params]), params))
        hvp["torch (graph kept)"] = lambda: Ht.matvec(v)
        grad_fn = torch.func.grad(lambda ps: loss_of(*ps))
        hvp["torch.func jvp(grad) (scratch)"] = lambda: torch.func.jvp(grad_fn, (params,), (vs,))[1]
    print("\n1. one Hessian-vector product (CPU ms, median of interleaved rounds, 1 thread)")
    med = _median_cpu(hvp, args.repeats, inner=10)
    base = med.get("torch (graph kept)")
    rows = [[k, f"{t * 1e3:.3f}", f"{t / base:.3f}" if base else "-"] for k, t in med.items()]
    print(format_table(["contender", "ms", "/ torch graph kept"], rows))

    if torch is not None and have("pyhessian"):
        from pyhessian import hessian as pyh

        def run_pyhessian() -> Any:
            h = pyh(model, torch.nn.functional.cross_entropy, data=(Xt, yt), cuda=False)
            vals, _ = h.eigenvalues(top_n=5)
            return np.sort(np.asarray(vals, dtype=float))[::-1]

        top["PyHessian eigenvalues(top_n=5)"] = run_pyhessian
    if torch is not None and have("hessian_eigenthings"):
        import hessian_eigenthings as he

        def run_he() -> Any:
            op = he.HessianOperator(model, [(Xt, yt)], he.supervised_loss(torch.nn.functional.cross_entropy))
            res = he.lanczos(op, k=5, seed=0)
            return np.sort(res.eigenvalues.detach().cpu().numpy().astype(float))[::-1]

        top["hessian-eigenthings lanczos(k=5)"] = run_he
    print("\n2. top-5 eigenvalues end to end (CPU s, median of interleaved rounds)")
    results = {k: fn() for k, fn in top.items()}
    med = _median_cpu(top, max(3, args.repeats // 2))
    base = med.get("PyHessian eigenvalues(top_n=5)")
    rows = []
    for k, t in med.items():
        err = "-"
        if ev is not None:
            err = f"{float(np.max(np.abs(np.asarray(results[k]) - ev[::-1][:5]) / np.abs(ev[::-1][:5]))):.2e}"
        rows.append([k, f"{t:.4f}", f"{t / base:.3f}" if base else "-", err])
    print(format_table(["contender", "s", "/ PyHessian", "max rel. error"], rows))
    r = eigsh(H, k=5, rng=0)
    print(f"\nridgeline.eigsh: {r.n_matvec} HVPs, residuals <= {float(r.residuals.max()):.1e}")
    _float32_hvp(X, y, args.repeats)
    if args.large:
        _large(args.repeats)
    missing = [m for m in ("torch", "pyhessian", "hessian_eigenthings") if not have(m)]
    if missing:
        print(f"not installed (skipped): {', '.join(missing)}")
    return 0


def _float32_hvp(X: np.ndarray, y: np.ndarray, repeats: int) -> None:
    """Table 2b: one float32 HVP, ridgeline's MLP against torch float32, 64-256-256-10 on all digits."""
    from ridgeline.spectra import MLP

    net32 = MLP([64, 256, 256, 10], dtype="float32")
    net64 = MLP([64, 256, 256, 10])
    p = net32.init_params(rng=0)
    v = np.random.default_rng(1).standard_normal(net32.n_params)
    v32 = v.astype(np.float32)
    H32 = net32.hessian_operator(p, X, y)
    H64 = net64.hessian_operator(p, X, y)
    assert H32._matmat32 is not None
    V32 = np.asfortranarray(v32[:, None])
    fns: dict[str, Callable[[], Any]] = {
        "ridgeline MLP float32 (cached R-op)": lambda: H32._matmat32(V32),  # type: ignore[misc]
        "ridgeline MLP float64 (cached R-op)": lambda: H64.matvec(v),
    }
    err = None
    if have("torch"):
        import torch

        torch.set_num_threads(1)
        model = net32.to_torch()
        torch.nn.utils.vector_to_parameters(torch.tensor(p, dtype=torch.float32), model.parameters())
        Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
        params = tuple(model.parameters())
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        vt = torch.from_numpy(v32)
        vs = tuple(c.view_as(q) for c, q in zip(torch.split(vt, [q.numel() for q in params]), params))
        names = [nm for nm, _ in model.named_parameters()]
        detached = tuple(q.detach() for q in params)

        def loss_of(ps: Any) -> Any:
            out = torch.func.functional_call(model, dict(zip(names, ps)), (Xt,))
            return torch.nn.functional.cross_entropy(out, yt)

        grad_fn = torch.func.grad(loss_of)
        fns["torch float32 double backward (graph kept)"] = lambda: torch.autograd.grad(
            grads, params, grad_outputs=vs, retain_graph=True
        )
        fns["torch float32 torch.func jvp(grad) (scratch)"] = lambda: torch.func.jvp(grad_fn, (detached,), (vs,))[1]
        ht = torch.cat([h.reshape(-1) for h in torch.autograd.grad(grads, params, grad_outputs=vs,
                                                                    retain_graph=True)]).numpy().astype(np.float64)
        h64 = H64.matvec(v32.astype(np.float64))
        h32 = H32._matmat32(V32)[:, 0].astype(np.float64)
        err = (float(np.linalg.norm(h32 - h64) / np.linalg.norm(h64)), float(np.linalg.norm(ht - h64) / np.linalg.norm(h64)))
    med = _median_cpu(fns, max(5, repeats), inner=5)
    base = min((t for k, t in med.items() if k.startswith("torch")), default=None)
    print(f"\n2b. one float32 HVP, MLP {list(net32.layer_sizes)} tanh on digits (N = {X.shape[0]}, P = {net32.n_params}), "
          f"kernels: {H32._state.isa}; CPU ms, median of {max(5, repeats)} interleaved rounds, 1 thread")
    rows = [[k, f"{t * 1e3:.2f}", f"{t / base:.3f}" if base else "-"] for k, t in med.items()]
    print(format_table(["contender", "ms", "/ fastest torch float32"], rows))
    if err is not None:
        print(f"relative error against the float64 HVP: ridgeline float32 {err[0]:.1e}, torch float32 {err[1]:.1e}")


def _large(repeats: int) -> None:
    """Table 3: adapter overhead, Lanczos cost per product and top-5 against PyHessian at P ~ 10^6."""
    if not have("torch"):
        print("\n3. skipped: torch is not installed")
        return
    import torch

    from ridgeline.spectra import LinearOperator, eigsh, torch_hessian
    from ridgeline.spectra.datasets import digits

    torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y = digits()
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 1000), torch.nn.Tanh(), torch.nn.Linear(1000, 900), torch.nn.Tanh(), torch.nn.Linear(900, 10)
    )
    params = [q for q in model.parameters()]
    P = sum(q.numel() for q in params)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    loss_fn = torch.nn.functional.cross_entropy
    H = torch_hessian(model, loss_fn, Xt, yt)
    assert H._matmat32 is not None
    loss = loss_fn(model(Xt), yt)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = np.random.default_rng(0).standard_normal(P)
    v32 = np.asfortranarray(v[:, None], dtype=np.float32)
    vt = [c.view_as(q) for c, q in zip(torch.split(torch.from_numpy(v32[:, 0].copy()), [q.numel() for q in params]), params)]
    hvp_rounds: dict[str, list[float]] = {}
    med = _median_cpu(
        {
            "torch double backward (graph kept)": lambda: torch.autograd.grad(grads, params, grad_outputs=vt, retain_graph=True),
            "torch_hessian float32 path (used by eigsh)": lambda: H._matmat32(v32),
            "torch_hessian matvec (float64 in/out)": lambda: H.matvec(v),
        },
        max(5, repeats),
        inner=3,
        rounds=hvp_rounds,
    )
    hvp = med["torch double backward (graph kept)"]
    # eigsh's own cost per product: a diagonal float32 operator of the same size with 5
    # outliers (products almost free), minus the products' time.
    d = np.linspace(0.0, 1.0, P, dtype=np.float32)
    d[-5:] = [2.0, 3.0, 4.0, 5.0, 6.0]
    diag = LinearOperator(P, matmat=lambda Xb: d.astype(np.float64)[:, None] * Xb)
    diag._probe_symmetry = False
    diag._matmat32 = lambda Xb: np.asfortranarray(d[:, None] * Xb)
    res = eigsh(diag, k=5, tol=1e-3, rng=0)
    x32 = np.ones((P, 1), dtype=np.float32, order="F")
    own = _median_cpu({"e": lambda: eigsh(diag, k=5, tol=1e-3, rng=0), "p": lambda: diag._matmat32(x32)}, max(5, repeats))
    per = (own["e"] - res.n_matvec * own["p"]) / res.n_matvec
    print(f"\n3. P = {P} (64-1000-900-10 tanh torch MLP, float32, N = {X.shape[0]}; CPU ms, 1 thread)")
    rows = [[k, f"{t * 1e3:.1f}", f"{t / hvp:.3f}"] for k, t in med.items()]
    rows.append([f"eigsh(k=5, tol=1e-3) own cost per product, diagonal float32 operator ({res.n_matvec} products)",
                 f"{per * 1e3:.1f}", f"{per / hvp:.3f}"])
    print(format_table(["item", "ms", "/ one torch HVP"], rows))
    base_r = hvp_rounds["torch double backward (graph kept)"]
    for k in list(hvp_rounds)[1:]:
        print(f"{k} / torch HVP per round: " + ", ".join(f"{a / b:.3f}" for a, b in zip(hvp_rounds[k], base_r)))

    # Top-5 end to end (operator set-up included) at PyHessian's default tolerance, errors
    # against a float64 copy of the model solved to tol=1e-10.
    m64 = copy.deepcopy(model).double()
    ref = eigsh(torch_hessian(m64, loss_fn, Xt.double(), yt), k=5, tol=1e-10, rng=1)
    ref_top = np.sort(ref.eigenvalues)[::-1]
    top: dict[str, Callable[[], Any]] = {}
    info: dict[str, Any] = {}

    def ours() -> Any:
        r = eigsh(torch_hessian(model, loss_fn, Xt, yt), k=5, tol=1e-3, rng=0)
        info["ours"] = r
        return np.sort(r.eigenvalues)[::-1]

    top["ridgeline eigsh(k=5, tol=1e-3)"] = ours
    if have("pyhessian"):
        from pyhessian import hessian as pyh

        import sys

        pyh_mod = sys.modules["pyhessian.hessian"]
        pyh_hvp = pyh_mod.hessian_vector_product
        pyh_count = [0]

        def counted_hvp(*a: Any, **kw: Any) -> Any:
            pyh_count[0] += 1
            return pyh_hvp(*a, **kw)

        def run_pyhessian() -> Any:
            torch.manual_seed(0)
            pyh_count[0] = 0
            pyh_mod.hessian_vector_product = counted_hvp  # counts PyHessian's products (same function)
            try:
                h = pyh(model, loss_fn, data=(Xt, yt), cuda=False)
                vals, _ = h.eigenvalues(top_n=5)
            finally:
                pyh_mod.hessian_vector_product = pyh_hvp
            info["pyhessian_hvps"] = pyh_count[0]
            return np.sort(np.asarray(vals, dtype=float))[::-1]

        top["PyHessian eigenvalues(top_n=5) (tol=1e-3)"] = run_pyhessian
    results = {k: fn() for k, fn in top.items()}
    per_round: dict[str, list[float]] = {}
    tmed = _median_cpu(top, max(5, repeats), rounds=per_round)
    base = tmed.get("PyHessian eigenvalues(top_n=5) (tol=1e-3)")
    rows = []
    for k, t in tmed.items():
        err = float(np.max(np.abs(results[k] - ref_top) / np.abs(ref_top)))
        rows.append([k, f"{t:.2f}", f"{t / base:.3f}" if base else "-", f"{err:.2e}"])
    r = info["ours"]
    rounds_txt = "; ".join(f"{k.split(' (')[0]}: " + ", ".join(f"{t:.2f}" for t in v) for k, v in per_round.items())
    print(f"\n3b. top-5 at P = {P}, end to end (CPU s, median of {max(5, repeats)} interleaved rounds); error: max "
          f"relative error against float64 eigsh(tol=1e-10) = {np.round(ref_top, 5).tolist()}")
    print(format_table(["contender", "s", "/ PyHessian", "max rel. error"], rows))
    print(f"rounds (CPU s, in run order): {rounds_txt}")
    if base:
        ratios = [a / b for a, b in zip(per_round["ridgeline eigsh(k=5, tol=1e-3)"], per_round[
            "PyHessian eigenvalues(top_n=5) (tol=1e-3)"])]
        print("ridgeline / PyHessian per round: " + ", ".join(f"{x:.3f}" for x in ratios))
    if "pyhessian_hvps" in info:
        print(f"PyHessian: {info['pyhessian_hvps']} HVPs")
    print(f"ridgeline: {r.n_matvec} HVPs, converged={r.converged}; overhead per product on this operator "
          f"{(tmed['ridgeline eigsh(k=5, tol=1e-3)'] / r.n_matvec - hvp) * 1e3:.1f} ms "
          f"({(tmed['ridgeline eigsh(k=5, tol=1e-3)'] / r.n_matvec - hvp) / hvp:.3f} of one HVP, set-up included)")
