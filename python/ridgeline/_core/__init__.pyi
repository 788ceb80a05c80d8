# Type stubs of the compiled extension, generated from its pybind11 signatures (pybind11-stubgen) and refined by
# hand; ci/mypy.sh checks them against the built module with mypy.stubtest.
"""
ridgeline's compiled kernels (private; use the ridgeline.<engine> modules)
"""
from __future__ import annotations
from . import random
from . import nested
from . import cluster
from . import elbo
from . import spectra
def _request_stop(on: bool = True) -> None:
    """
    ask the running core to stop at its next poll as Ctrl-C does (on=False: withdraw the request)
    """
