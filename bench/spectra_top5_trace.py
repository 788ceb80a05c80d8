"""Where the products of the bench's top-5 case go, and what one product is made of (issue 14, not a test;
about 1-2 CPU minutes per start vector on one core).

The case of ``ridgeline bench spectra --large``: a 64-1000-900-10 tanh torch MLP (float32, P = 974,910) on the
1797 digits, ``eigsh(torch_hessian(...), k=5, which="LA", tol=1e-3, rng=seed)``.  Prints

1. a torch profile of the HVP (double backward, graph kept): the share of ``aten::mm`` and the number of matrix
   products per HVP (an exact HVP of a dense layer needs six products of its weight's size, the first layer two);
2. per product of the main run, how many of the 5 wanted Ritz pairs meet the residual test, and the 6th Ritz pair;
3. per product of the certification run (fresh random start on the complement of the 5 locked vectors): its top
   Ritz value, residual and whether it has settled (``_settled``, the shipped rule);
4. the 12 largest Ritz pairs of the main run's last basis.

Run: ``PYTHONPATH=python python bench/spectra_top5_trace.py [seed ...]`` (seed 0 by default; 0 is the bench's).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np


def _model() -> tuple[Any, Any, Any, Any]:
    import torch

    from ridgeline.spectra.datasets import digits

    torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y = digits()
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 1000), torch.nn.Tanh(), torch.nn.Linear(1000, 900), torch.nn.Tanh(), torch.nn.Linear(900, 10)
    )
    return model, torch.nn.functional.cross_entropy, torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def profile_hvp() -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    model, loss_fn, Xt, yt = _model()
    params = list(model.parameters())
    grads = torch.autograd.grad(loss_fn(model(Xt), yt), params, create_graph=True)
    vt = [torch.randn_like(p) for p in params]
    torch.autograd.grad(grads, params, grad_outputs=vt, retain_graph=True)
    reps = 3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            torch.autograd.grad(grads, params, grad_outputs=vt, retain_graph=True)
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in rows)
    print("1. one HVP (torch double backward, graph kept), self CPU time by aten op:")
    for e in rows[:6]:
        print(f"   {e.key:24s} {100.0 * e.self_cpu_time_total / total:5.1f}%  calls per HVP {e.count / reps:g}")


class _Logged:
    """A LanczosEigs32 engine that records its Ritz pairs after every product."""

    def __init__(self, eng: Any, log: list[Any]) -> None:
        self._eng = eng
        self._log = log

    def supply(self, Y: Any) -> None:
        self._eng.supply(Y)
        if not self._eng.done:
            self._log.append((np.asarray(self._eng.ritz_values).copy(), np.asarray(self._eng.ritz_residuals).copy()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._eng, name)


def trace(seed: int) -> None:
    from ridgeline.spectra import _algorithms as alg
    from ridgeline.spectra import eigsh, torch_hessian

    model, loss_fn, Xt, yt = _model()
    H = torch_hessian(model, loss_fn, Xt, yt)
    engines: list[Any] = []
    logs: list[list[Any]] = []
    cert: list[tuple[int, float, float, bool]] = []
    cls = alg._core.spectra.LanczosEigs32
    settled = alg._settled

    def make(*args: Any) -> Any:
        logs.append([])
        e = _Logged(cls(*args), logs[-1])
        engines.append(e)
        return e

    def logged_settled(theta: Any, r: Any, ends: Any, *rest: Any) -> bool:
        out = settled(theta, r, ends, *rest)
        cert.append((len(theta), float(theta[ends[0]]), float(r[ends[0]]), out))
        return out

    alg._core.spectra.LanczosEigs32 = make
    alg._settled = logged_settled
    try:
        t0 = time.process_time()
        res = eigsh(H, k=5, tol=1e-3, rng=seed)
        cpu = time.process_time() - t0
    finally:
        alg._core.spectra.LanczosEigs32 = cls
        alg._settled = settled
    main = engines[0]
    print(f"\nseed {seed}: {res.n_matvec} products (main run {main.n_matvec}, {main.n_restarts} restarts), "
          f"converged={res.converged}, {cpu:.1f} CPU s; values {np.round(np.sort(res.eigenvalues)[::-1], 5).tolist()}")
    print("2. main run: product, wanted pairs meeting r <= tol |theta|, 5th and 6th Ritz value (residual)")
    for j, (th, rr) in enumerate(logs[0]):
        if len(th) < 6 or (j % 4 and j < len(logs[0]) - 6):
            continue
        order = np.argsort(-th)
        ok = int(np.sum(rr[order[:5]] <= 1e-3 * np.abs(th[order[:5]])))
        print(f"   {j + 1:3d}  {ok}/5  {th[order[4]]:.5f} ({rr[order[4]]:.1e})  {th[order[5]]:.5f} ({rr[order[5]]:.1e})")
    print("3. certification: product, top Ritz value, residual, settled")
    for j, th, r, out in cert:
        print(f"   {j:3d}  {th:.5f}  {r:.1e}  {out}")
    print("4. main run's last basis, 12 largest Ritz pairs (value, residual estimate):")
    th, rr = np.asarray(main.ritz_values), np.asarray(main.ritz_residuals)
    print("   " + ", ".join(f"{t:.5f} ({r:.1e})" for t, r in sorted(zip(th, rr))[::-1][:12]))


if __name__ == "__main__":
    profile_hvp()
    for s in [int(a) for a in sys.argv[1:]] or [0]:
        trace(s)
