"""``ridgeline bench nested speed``: the sampler's own cost per call, and threads.

Rows (nlive = 500, dlogz = 0.5, nestle ``method='multi'`` at the same settings;
CPU = process time, medians of ``--repeats`` interleaved runs with seeds
0, 1, ...):

1. sampler work per call with a compiled likelihood on gaussian(10): the
   built-in C++ problem and a ``CLikelihood`` compiled from C with the system C
   compiler (skipped without one); CPU of ``run()`` (including the result and
   its simulated error) per call;
2. CPU against nestle on gaussian(10) and correlated(10), ours with the
   compiled built-in likelihood (about 0.01 us per call, so row 1 is the
   sampler's own work), nestle with the same likelihood as a scalar
   numpy function (nestle needs a Python callable), with both call counts;
3. ``n_threads=2`` against 1 thread with a ~20 us compiled ``CLikelihood``
   (wall time; the load average is printed: above 1 on a 2-core machine the
   row does not measure what it claims), and the CPU time of the busiest
   thread (Linux), whose ratio to the 1-thread CPU is the speed-up the
   split allows on an idle machine;
4. the Python-callback path: a scalar Python likelihood and the identity
   transform as a Python function against nestle with the same callables;
5. slice sampling at d = 50 (gaussian(50), built-in likelihood): the default
   fresh starts against ``slice_start='live'``, CPU and calls (medians over
   ``--slice-seeds`` seeds, the two interleaved) and the mean and RMS of
   z = (log Z - truth) / logzerr (``--slice-seeds 0`` skips the table).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ridgeline._bench import format_table, have

NLIVE = 500
DLOGZ = 0.5

_C_SOURCE = r"""
#include <stdint.h>
/* normalised N(0.5, 0.1^2 I) on the unit cube: gaussian(d) */
double gauss(const double* x, int64_t n, void* data) {
  (void)data;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) { double r = x[i] - 0.5; s += r * r; }
  return -50.0 * s + (double)n * 1.3836465597893728;  /* -log(0.1) - 0.5 log(2 pi) */
}
/* the same after *(int64_t*)data rounds of busy work (an expensive likelihood) */
double slow_gauss(const double* x, int64_t n, void* data) {
  volatile double acc = 0.0;
  int64_t rounds = *(const int64_t*)data;
  for (int64_t k = 0; k < rounds; ++k) acc = acc * 0.999999 + (double)k * 1e-9;
  return gauss(x, n, 0) + 0.0 * acc;
}
"""


def _compile_c() -> ctypes.CDLL | None:
    """The bench's C likelihoods as a shared library, or None without a C compiler."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        return None
    tmp = tempfile.mkdtemp(prefix="ridgeline-bench-")
    src, lib = os.path.join(tmp, "like.c"), os.path.join(tmp, "like.so")
    with open(src, "w") as f:
        f.write(_C_SOURCE)
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", src, "-o", lib], capture_output=True, check=False)
    if r.returncode != 0:
        return None
    dll = ctypes.CDLL(lib)
    for name in ("gauss", "slow_gauss"):
        fn = getattr(dll, name)
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_int64, ctypes.c_void_p]
    return dll


def _clike(dll: ctypes.CDLL, name: str, data: Any = None) -> Any:
    from ridgeline.nested import CLikelihood

    return CLikelihood(ctypes.cast(getattr(dll, name), ctypes.c_void_p).value, data)


def _calibrate_rounds(dll: ctypes.CDLL, target_us: float) -> tuple[np.ndarray, float]:
    """Busy-work rounds that make slow_gauss take about target_us of CPU (measured through ctypes)."""
    x = (ctypes.c_double * 10)(*([0.5] * 10))
    rounds = np.array([1000], dtype=np.int64)
    per = 0.0
    for _ in range(6):
        n = 1000
        t0 = time.process_time()
        for _ in range(n):
            dll.slow_gauss(x, 10, rounds.ctypes.data)
        per = (time.process_time() - t0) / n * 1e6
        rounds[0] = max(1, int(rounds[0] * target_us / max(per, 1e-3)))
    t0 = time.process_time()
    for _ in range(1000):
        dll.slow_gauss(x, 10, rounds.ctypes.data)
    per = (time.process_time() - t0) / 1000 * 1e6
    return rounds, per


def _ours(loglike: Any, transform: Any, ndim: int, seed: int, n_threads: int = 1) -> tuple[int, float]:
    from ridgeline.nested import NestedSampler

    r = NestedSampler(loglike, transform, ndim, nlive=NLIVE, rng=seed, n_threads=n_threads).run(dlogz=DLOGZ)
    return r.ncall, r.logz


def _nestle(loglike: Callable, transform: Callable, ndim: int, seed: int) -> tuple[int, float]:
    import nestle

    r = nestle.sample(loglike, transform, ndim, method="multi", npoints=NLIVE, dlogz=DLOGZ,
                      rstate=np.random.RandomState(seed))  # noqa: NPY002 - nestle requires a RandomState
    return int(r.ncall), float(r.logz)


def _numpy_like(name: str, d: int) -> Callable[[np.ndarray], float]:
    norm = -d * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    if name == "gaussian":
        def like(x: np.ndarray) -> float:
            r = x - 0.5
            return -50.0 * float(r @ r) + norm

        return like
    s, rho = 0.05, 0.9
    a = rho / (1.0 + (d - 1) * rho)
    logdet = d * math.log(s * s) + (d - 1) * math.log1p(-rho) + math.log1p((d - 1) * rho)
    c = -0.5 * logdet - 0.5 * d * math.log(2 * math.pi)
    inv = 1.0 / (s * s * (1.0 - rho))

    def corr(x: np.ndarray) -> float:
        r = x - 0.5
        t = float(r.sum())
        return -0.5 * (float(r @ r) - a * t * t) * inv + c

    return corr


def _identity(u: np.ndarray) -> np.ndarray:
    return u


def _interleave(contenders: dict[str, Callable[[int], tuple[int, float]]], repeats: int,
                clock: Callable[[], float] = time.process_time) -> dict[str, tuple[float, float]]:
    """(median time, median calls) of each contender; seeds 0..repeats-1, interleaved A B A B ...

    Each contender first runs once unmeasured (seed ``repeats``): the first runs in a process pay one-time
    costs (lazy imports, first-touch memory, caches) that are not per-call work, for every contender alike.
    """
    times: dict[str, list[float]] = {k: [] for k in contenders}
    calls: dict[str, list[int]] = {k: [] for k in contenders}
    for fn in contenders.values():
        fn(repeats)
    for seed in range(repeats):
        for name, fn in contenders.items():
            t0 = clock()
            ncall, _ = fn(seed)
            times[name].append(clock() - t0)
            calls[name].append(ncall)
    return {k: (statistics.median(times[k]), statistics.median(calls[k])) for k in contenders}


def work_per_call_table(repeats: int, dll: ctypes.CDLL | None) -> str:
    from ridgeline.nested import problems

    p = problems.gaussian(10)
    contenders: dict[str, Callable[[int], tuple[int, float]]] = {
        "built-in C++ gaussian(10)": lambda s: _ours(p.loglike, p.prior_transform, 10, s),
    }
    if dll is not None:
        contenders["CLikelihood (C via ctypes)"] = lambda s: _ours(_clike(dll, "gauss"), None, 10, s)
    res = _interleave(contenders, repeats)
    rows = [[k, f"{c:.0f}", f"{t:.4f}", f"{t / c * 1e6:.3f}"] for k, (t, c) in res.items()]
    return format_table(["likelihood, nlive=500, dlogz=0.5", "calls (median)", "CPU s (median)",
                         "CPU us per call (target <= 0.5)"], rows)


def nestle_table(repeats: int) -> str:
    from ridgeline.nested import problems

    rows = []
    for name in ("gaussian", "correlated"):
        p = problems.get(name, 10)
        like = _numpy_like(name, 10)
        res = _interleave({
            "ours": lambda s, p=p: _ours(p.loglike, p.prior_transform, 10, s),
            "nestle": lambda s, like=like: _nestle(like, _identity, 10, s),
        }, repeats)
        (to, co), (tn, cn) = res["ours"], res["nestle"]
        rows.append([f"{name}(10)", f"{co:.0f}", f"{cn:.0f}", f"{co / cn:.3f}", f"{to:.4f}", f"{tn:.3f}",
                     f"{tn / to:.1f}"])
    return format_table(["problem", "calls ours", "calls nestle", "calls ratio", "CPU s ours", "CPU s nestle",
                         "nestle CPU / ours (target >= 80)"], rows)


def _thread_cpu() -> dict[int, float] | None:
    """CPU seconds of each thread of this process (Linux /proc/self/task/*/schedstat), or None elsewhere."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    out: dict[int, float] = {}
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0]) * 1e-9
        except (OSError, ValueError, IndexError):
            continue
    return out


def threads_table(repeats: int, dll: ctypes.CDLL | None, target_us: float = 20.0) -> str:
    """Wall time of n_threads=2 against 1, and the speed-up its per-thread CPU implies on an idle machine."""
    if dll is None:
        return "(skipped: no C compiler)"
    import threading

    rounds, per = _calibrate_rounds(dll, target_us)
    like = _clike(dll, "slow_gauss", rounds)
    main = threading.get_native_id()
    wall: dict[int, list[float]] = {1: [], 2: []}
    calls: dict[int, list[int]] = {1: [], 2: []}
    path: dict[int, list[float]] = {1: [], 2: []}  # CPU of the busiest thread
    total: dict[int, list[float]] = {1: [], 2: []}  # CPU of all threads
    load0 = os.getloadavg()
    for seed in range(repeats):
        for nt in (1, 2):
            c0 = _thread_cpu()
            t0 = time.perf_counter()
            ncall, _ = _ours(like, None, 10, seed, n_threads=nt)
            wall[nt].append(time.perf_counter() - t0)
            c1 = _thread_cpu()
            calls[nt].append(ncall)
            if c0 is not None and c1 is not None:
                d = {k: v - c0.get(k, 0.0) for k, v in c1.items()}
                path[nt].append(max(d.get(main, 0.0), max((v for k, v in d.items() if k != main), default=0.0)))
                total[nt].append(sum(d.values()))
    load1 = os.getloadavg()
    med = statistics.median
    t1, t2 = med(wall[1]), med(wall[2])
    if path[2]:
        est1, est2 = med(total[1]), med(path[2])
        cpu = [f"{est1:.3f}", f"{est2:.3f}"]
        est = f"{est1 / est2:.2f}"
    else:
        cpu, est = ["n/a", "n/a"], "n/a"
    rows = [["1", f"{med(calls[1]):.0f}", f"{t1:.3f}", "1.00", cpu[0], "1.00"],
            ["2", f"{med(calls[2]):.0f}", f"{t2:.3f}", f"{t1 / t2:.2f}", cpu[1], est]]
    note = (f"likelihood {per:.1f} us CPU per call (measured through ctypes); load average before {load0[0]:.2f}, "
            f"after {load1[0]:.2f} (1-minute), cores {os.cpu_count()}")
    if max(load0[0], load1[0]) >= 1.0:
        note += ": the machine is loaded, the wall-time ratio is NOT a reliable measurement"
    note += ("\nCPU of the busiest thread: the main thread (sampler work and its share of every batch) or the "
             "worker;\n1-thread CPU / that is the speed-up on an idle machine, sync waits aside (Linux schedstat)")
    return format_table(["n_threads", "calls (median)", "wall s (median)", "speed-up (target >= 1.6)",
                         "CPU s busiest thread", "idle-machine speed-up"], rows) + "\n" + note


def python_table(repeats: int) -> str:
    like = _numpy_like("gaussian", 10)
    res = _interleave({
        "ours": lambda s: _ours(like, _identity, 10, s),
        "nestle": lambda s: _nestle(like, _identity, 10, s),
    }, repeats)
    (to, co), (tn, cn) = res["ours"], res["nestle"]
    rows = [["ours", f"{co:.0f}", f"{to:.3f}", f"{to / co * 1e6:.2f}", "1.0"],
            ["nestle", f"{cn:.0f}", f"{tn:.3f}", f"{tn / cn * 1e6:.2f}", f"{tn / to:.1f} (target >= 12)"]]
    return format_table(["sampler", "calls (median)", "CPU s (median)", "CPU us per call", "CPU / ours"], rows)


def slice_table(seeds: int) -> str:
    """gaussian(50), sample='slice': fresh starts (default) against live-point starts, CPU and calibration."""
    from ridgeline.nested import NestedSampler, problems

    p = problems.gaussian(50)
    out: dict[str, dict[str, list[float]]] = {k: {"cpu": [], "calls": [], "z": []} for k in ("auto", "live")}
    for seed in range(seeds):
        for start, rec in out.items():
            s = NestedSampler(p.loglike, p.prior_transform, 50, nlive=NLIVE, rng=seed, sample="slice",
                              slice_start=start)
            t0 = time.process_time()
            r = s.run(dlogz=DLOGZ)
            rec["cpu"].append(time.process_time() - t0)
            rec["calls"].append(r.ncall)
            rec["z"].append((r.logz - p.logz_true) / r.logzerr)
    med = statistics.median
    live_cpu = med(out["live"]["cpu"])
    rows = []
    for start, rec in out.items():
        z = np.array(rec["z"])
        rows.append([f"slice_start='{start}'", f"{med(rec['calls']):.0f}", f"{med(rec['cpu']):.2f}",
                     f"{med(rec['cpu']) / live_cpu:.2f}", f"{z.mean():+.2f}", f"{np.sqrt(np.mean(z**2)):.2f}",
                     f"{np.abs(z).max():.2f}"])
    return format_table([f"gaussian(50), {seeds} seeds", "calls (median)", "CPU s (median)",
                         "CPU / live (target <= 0.5)", "mean z (target |.| <= 0.8)", "rms z", "max |z|"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the five tables."""
    ap = argparse.ArgumentParser(prog="ridgeline bench nested speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved runs per contender (default 5)")
    ap.add_argument("--slice-seeds", type=int, default=10, help="seeds of table 5 (default 10; 0 skips it)")
    args = ap.parse_args(argv)
    dll = _compile_c()
    print(f"nested sampling speed: nlive={NLIVE}, dlogz={DLOGZ}, medians of {args.repeats} interleaved runs after one unmeasured run each; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("\n1. sampler work per call, compiled likelihood (CPU)\n")
    print(work_per_call_table(args.repeats, dll))
    if have("nestle"):
        print("\n2. CPU against nestle, compiled likelihood for us (nestle: the same likelihood in numpy)\n")
        print(nestle_table(args.repeats))
    print("\n3. n_threads=2 against 1 thread, ~20 us compiled CLikelihood (wall)\n")
    print(threads_table(args.repeats, dll))
    if have("nestle"):
        print("\n4. Python callbacks (scalar numpy likelihood, Python identity transform) against nestle (CPU)\n")
        print(python_table(args.repeats))
    if args.slice_seeds > 0:
        print("\n5. slice sampling at d = 50: fresh starts (default) against live-point starts (CPU)\n")
        print(slice_table(args.slice_seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
