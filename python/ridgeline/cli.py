"""The ``ridgeline`` command line.

``ridgeline <engine> [options]`` runs a built-in demo problem of one engine and
prints a short report; ``ridgeline bench <suite> [options]`` runs a benchmark
suite (peers where installed) and prints ratio tables.  Each engine owns its
own options in ``ridgeline.<engine>._cli`` and each suite lives in
``ridgeline._bench.<suite>``; both are imported only when asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

ENGINES = {
    "nested": "nested sampling on a built-in problem (evidence, error, posterior)",
    "cluster": "SDP clustering on a built-in data set",
    "elbo": "variance of masked-diffusion ELBO estimators on the testbed",
    "spectra": "Hessian spectrum of a small MLP trained on digits",
}
SUITES = {
    "imports": "import time of ridgeline vs numpy",
    "nested": "nested sampling vs nestle, dynesty, UltraNest",
    "cluster": "SDP clustering vs scikit-learn, CVXPY+SCS",
    "elbo": "ELBO planning/reduction vs the numpy reference",
    "spectra": "Hessian spectra vs torch, PyHessian, hessian-eigenthings",
}


def _usage() -> str:
    lines = ["usage: ridgeline <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, text in ENGINES.items()]
    lines.append(f"  {'bench':<10} run a benchmark suite: ridgeline bench <suite>")
    lines += ["", "benchmark suites:"]
    lines += [f"  {name:<10} {text}" for name, text in SUITES.items()]
    lines += ["", "Use `ridgeline <command> --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ridgeline`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from ridgeline import __version__

        print(f"ridgeline {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "bench":
        if not rest or rest[0] in ("-h", "--help"):
            print(_usage())
            return 0 if rest else 2
        suite, rest = rest[0], rest[1:]
        if suite not in SUITES:
            print(f"ridgeline bench: unknown suite {suite!r}; expected one of {', '.join(SUITES)}", file=sys.stderr)
            return 2
        module = importlib.import_module(f"ridgeline._bench.{suite}")
        return int(module.main(rest) or 0)
    if command not in ENGINES:
        print(f"ridgeline: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"ridgeline.{command}._cli")
    return int(module.main(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
