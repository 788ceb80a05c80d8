"""True-likelihood calls and calibration of the neural surrogate (issue 19), per problem and seed.

    PYTHONPATH=python python bench/nested_surrogate_study.py PROBLEM MODE SEED [SEED ...] [--opts JSON] [--ngen N] [--broaden B]

PROBLEM: shells, mixture4, LCDM, wCDM, w0waCDM.  MODE: plain, sur (surrogate='mlp'), ga (genetic-algorithm
repartitioned start, plain sampler), gasur (repartitioned start + surrogate='mlp').  The multimodal problems run
as in ``tests/test_nested_surrogate.py`` (nlive=500, dlogz=0.5, vectorized likelihood); the dark-energy ones with
the likelihoods of ``examples/cosmology_de.py`` (nlive=500, dlogz=0.1).  One line per run:
``problem mode seed ncall ncall_surrogate logz logzerr z`` with z against the analytic truth (multimodal) or
against the long plain reference run (dark energy, REFERENCE below, error added in quadrature).
``--opts`` replaces ``'mlp'`` by a JSON dict of ``SurrogateOptions``; ``--ngen`` sets the genetic search's
generations (default 20, as ``examples/cosmology_de.py``) and ``--broaden`` the factor on its widths
(default 2, as :func:`ridgeline.nested.repartition`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
# long plain runs (nlive=2000, dlogz=0.01, rng=12345) of the example's likelihoods
REFERENCE = {"LCDM": (-86.7475, 0.0515), "wCDM": (-88.5172, 0.0583), "w0waCDM": (-89.0945, 0.0591)}


def _module(path: pathlib.Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    from ridgeline.nested import NestedSampler, problems, repartition

    args = sys.argv[1:]
    opts: object = "mlp"
    ngen = 20
    if "--opts" in args:
        i = args.index("--opts")
        opts = json.loads(args[i + 1])
        del args[i : i + 2]
    broaden = 2.0
    if "--broaden" in args:
        i = args.index("--broaden")
        broaden = float(args[i + 1])
        del args[i : i + 2]
    if "--ngen" in args:
        i = args.index("--ngen")
        ngen = int(args[i + 1])
        del args[i : i + 2]
    name, mode, seeds = args[0], args[1], [int(s) for s in args[2:]]
    sur = {"plain": None, "sur": opts, "ga": None, "gasur": opts}[mode]
    if name in ("shells", "mixture4"):
        if name == "shells":
            p = problems.shells()
        else:
            sys.path.insert(0, str(ROOT / "tests"))
            from test_nested_surrogate import mixture4
            p = mixture4(6)
        like, tr, ndim, vec, nlive, dlogz = p.loglike.batch, p.prior_transform, p.ndim, True, 500, 0.5
        truth, terr = p.logz_true, 0.0
    else:
        de = _module(ROOT / "examples" / "cosmology_de.py", "cosmology_de")
        lk = de.Likelihood(de.simulate(), name)
        like, tr, ndim, vec, nlive, dlogz = lk, lk.prior_transform, lk.ndim, False, 500, 0.1
        truth, terr = REFERENCE.get(name, (math.nan, 0.0))
    for seed in seeds:
        t0 = time.process_time()
        if mode in ("ga", "gasur"):
            rep = repartition(like, tr, ndim, rng=seed, vectorized=vec, ngen=ngen, broaden=broaden)
            res = rep.run(nlive=nlive, dlogz=dlogz, rng=seed, surrogate=sur)
        else:
            res = NestedSampler(like, tr, ndim, nlive=nlive, rng=seed, vectorized=vec, surrogate=sur).run(dlogz=dlogz)
        z = (res.logz - truth) / math.sqrt(res.logzerr**2 + terr**2)
        info = res.surrogate or {}
        extra = {k: info.get(k) for k in ("first_on_iter", "switch_on", "spot_checks", "exact_true_calls",
                                          "final_true_calls") if k in info}
        extra["niter"] = int(res.niter)
        print(f"{name} {mode} {seed} {res.ncall} {res.ncall_surrogate} {res.logz:.4f} {res.logzerr:.4f} {z:+.2f} "
              f"{time.process_time() - t0:.0f}s {json.dumps(extra)}", flush=True)


if __name__ == "__main__":
    main()
