"""The naming rule of DEVELOPING.md, checked on every public signature."""

from __future__ import annotations

import importlib
import inspect

import pytest

# Compatibility layers keep their host's names on purpose (dynesty's rstate, bilby's and cobaya's options).
EXEMPT_MODULES = ("ridgeline.nested.dynesty", "ridgeline.nested.bilby", "ridgeline.nested.cobaya")
MODULES = [
    "ridgeline",
    "ridgeline.nested",
    "ridgeline.nested.problems",
    "ridgeline.cluster",
    "ridgeline.elbo",
    "ridgeline.elbo.masked_diffusion",
    "ridgeline.elbo.testbed",
    "ridgeline.spectra",
]
OPTIONAL = ["ridgeline.spectra.datasets", "ridgeline.elbo.torch"]
ESTIMATORS = {"SDPKMeans", "ILASDP"}
# one concept, several spellings: at most one per signature
CONCEPTS = {
    "randomness": {"rng", "random_state", "seed", "rstate"},
    "threads": {"n_threads", "nthreads", "threads", "n_jobs", "num_threads"},
    "iterations": {"maxiter", "max_iter", "max_iterations", "niter"},
    "calls": {"maxcall", "max_call", "max_calls", "max_matvec", "maxmatvec", "max_evals"},
}
FORBIDDEN = {"nthreads", "threads", "num_threads", "n_jobs"}


def _public_callables():
    seen = set()
    mods = []
    for name in MODULES + OPTIONAL:
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            if name in MODULES:
                raise
    for mod in mods:
        for attr in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, attr)
            owner = getattr(obj, "__module__", "") or ""
            if not owner.startswith("ridgeline") or owner.startswith(EXEMPT_MODULES):
                continue
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                members = [("__init__", obj.__init__)] + [
                    (n, m) for n, m in vars(obj).items() if not n.startswith("_") and callable(m)
                ]
                for n, m in members:
                    key = (obj.__qualname__, n)
                    if key not in seen and (inspect.isfunction(m) or inspect.ismethod(m)):
                        seen.add(key)
                        yield f"{owner}.{obj.__qualname__}.{n}", obj.__name__, m
            elif inspect.isfunction(obj) and (owner, attr) not in seen:
                seen.add((owner, attr))
                yield f"{owner}.{attr}", None, obj


CALLABLES = list(_public_callables())


def test_walks_enough_signatures():
    assert len(CALLABLES) >= 40


def _violations(name, cls, params):
    out = []
    bad = params & FORBIDDEN
    if bad:
        out.append(f"{name} uses {sorted(bad)}; the rule says n_threads")
    if "random_state" in params and cls not in ESTIMATORS:
        out.append(f"{name}: random_state only in the scikit-learn estimators; use rng")
    if "seed" in params and ".masked_diffusion." not in name and not name.startswith("ridgeline.elbo.masked_diffusion"):
        out.append(f"{name}: seed only for the masked-diffusion plan keys; use rng")
    for concept, names in CONCEPTS.items():
        both = params & names
        if len(both) > 1:
            out.append(f"{name} offers two spellings of {concept}: {sorted(both)}")
    return out


def test_the_rule_catches_each_kind_of_violation():
    assert _violations("ridgeline.x.f", None, {"nthreads"})
    assert _violations("ridgeline.x.f", None, {"threads"})
    assert _violations("ridgeline.x.f", None, {"random_state"})
    assert not _violations("ridgeline.cluster.SDPKMeans.__init__", "SDPKMeans", {"random_state", "n_threads"})
    assert _violations("ridgeline.nested.f", None, {"seed"})
    assert not _violations("ridgeline.elbo.masked_diffusion.plan", None, {"seed"})
    assert _violations("ridgeline.spectra.eigsh", None, {"maxiter", "max_iter"})
    assert _violations("ridgeline.spectra.eigsh", None, {"maxcall", "max_matvec"})


@pytest.mark.parametrize(("name", "cls", "fn"), CALLABLES, ids=[c[0] for c in CALLABLES])
def test_naming_rule(name, cls, fn):
    assert _violations(name, cls, set(inspect.signature(fn).parameters)) == []
