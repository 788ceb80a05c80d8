"""Ctrl-C during a long compiled call of each engine raises KeyboardInterrupt promptly.

Each case runs in a child process: the child sets up a problem whose call would run
for minutes, starts the call and reports that it did; the parent waits until the
call is well under way, sends SIGINT and waits for the child to report the
KeyboardInterrupt.  The bound on the delay is generous (5 s; 15 s under
AddressSanitizer): it separates "checks for signals" (milliseconds) from "ignores
them" (the call's whole run time), not a speed.  The child has an address-space
limit so that a call that is not interrupted fails with MemoryError instead of
taking the machine's memory.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import ridgeline

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
BOUND = 15.0 if UNDER_ASAN else 5.0

PRELUDE = """
import os, sys, time
if {limit}:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
import numpy as np
"""

EPILOGUE = """
print("started", flush=True)
try:
    call()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
print("finished", flush=True)
"""

CASES = {
    # a built-in likelihood runs as C++ with the GIL released
    "nested_builtin_run": """
        from ridgeline.nested import NestedSampler, problems
        p = problems.gaussian(20)
        s = NestedSampler(p.loglike, p.prior_transform, 20, nlive=20000, rng=0, sample="unif")
        def call():
            s.run(dlogz=1e-12)
    """,
    "nested_builtin_slice": """
        from ridgeline.nested import NestedSampler, problems
        p = problems.gaussian(30)
        s = NestedSampler(p.loglike, p.prior_transform, 30, nlive=2000, rng=0, sample="slice")
        def call():
            s.run(dlogz=1e-12)
    """,
    "cluster_kmeans_sdp": """
        from ridgeline.cluster import kmeans_sdp
        g = np.random.default_rng(0)
        X = g.standard_normal((6000, 20))
        def call():
            kmeans_sdp(X, 40, tol=1e-14, max_iter=10**7, n_init=1, rng=0)
    """,
    "spectra_eigsh": """
        import scipy.sparse as sps
        from ridgeline.spectra import eigsh
        n = 400_000
        g = np.random.default_rng(0)
        A = sps.diags([np.sort(g.standard_normal(n))], [0], format="csr")
        def call():
            eigsh(A, k=60, which="SA", tol=1e-14, max_matvec=10**8, rng=0)
    """,
    "elbo_plan": """
        from ridgeline.elbo.masked_diffusion import plan
        lengths = np.full(5000, 1000)  # about 40 GB of masks if it ran to the end
        def call():
            plan(lengths, 2048, scheme="double_mc", seed=1, n_threads=2)
    """,
}


# seconds from the start of the call to the signal (the plan's output grows quickly)
AFTER = {"elbo_plan": 0.7}


def _run_and_interrupt(code: str, after: float = 1.5) -> tuple[str, float]:
    env = dict(os.environ)
    pkg_parent = str(Path(ridgeline.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *filter(None, [env.get("PYTHONPATH")])])
    src = PRELUDE.format(limit=not UNDER_ASAN) + textwrap.dedent(code) + EPILOGUE
    proc = subprocess.Popen([sys.executable, "-c", src], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().decode().strip()
        assert line == "started", (line, proc.stderr.read().decode() if proc.stderr else "")  # type: ignore[union-attr]
        time.sleep(after)
        assert proc.poll() is None, "the call ended before the signal: make the problem larger"
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], 60.0)
        delay = time.monotonic() - t0
        out = proc.stdout.readline().decode().strip() if ready else "<no answer in 60 s>"
        return out, delay
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_sigint_interrupts_long_compiled_call(case: str) -> None:
    out, delay = _run_and_interrupt(CASES[case], AFTER.get(case, 1.5))
    print(f"{case}: {out} {delay * 1e3:.0f} ms after SIGINT")
    assert out == "interrupted", f"{case}: {out} after {delay:.1f} s"
    assert delay < BOUND, f"{case}: KeyboardInterrupt {delay:.1f} s after SIGINT"
