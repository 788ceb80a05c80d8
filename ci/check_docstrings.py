"""Every public parameter described: numpydoc's PR01/PR02/GL08 checks over the public API.

    python ci/check_docstrings.py            # exit 1 when a public function, class or method has an
                                             # undocumented parameter (PR01), documents a parameter it does not
                                             # have (PR02) or has no docstring (GL08)
    python ci/check_docstrings.py --report   # print the findings, always exit 0

Result dataclasses are checked through their methods only (their fields are documented as Attributes).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import warnings

from numpydoc.validate import validate

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
CODES = ("PR01", "PR02", "GL08")


def targets(modname: str) -> list[str]:
    mod = importlib.import_module(modname)
    out = []
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if inspect.ismodule(obj) or name.startswith("__"):
            continue
        if not (inspect.isclass(obj) and dataclasses.is_dataclass(obj)):
            out.append(f"{modname}.{name}")
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, value in vars(obj).items():
                if not attr.startswith("_") and callable(value) and not isinstance(value, type):
                    out.append(f"{modname}.{name}.{attr}")
    return out


def main() -> int:
    warnings.simplefilter("ignore")
    total = 0
    for modname in MODULES:
        findings = []
        for target in targets(modname):
            for code, message in validate(target)["errors"]:
                if code in CODES:
                    findings.append(f"  {code} {target}: {message}")
        total += len(findings)
        print(f"{modname}: {len(findings)}")
        for line in findings:
            print(line)
    print(f"{total} findings")
    return 0 if "--report" in sys.argv or total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
