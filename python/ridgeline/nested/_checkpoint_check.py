"""Validation of a checkpoint's sampler state before it is restored.

The payload (``checkpoint.hpp``: ``dump_state``) is parsed here, independently
of the C++ reader, and every field is checked against the sampler that loads
it and against the other fields: shapes, dtypes and ranges, the invariants of
a static nested-sampling run, and (for a few deterministically chosen points)
the prior transform and the likelihood themselves.  The C++ ``load_state``
checks shapes, ranges, the volume sequence and log Z again (a second, separate
reading).  Any failure raises :class:`CheckpointError`.

What is checked
---------------
* structure: every length fits the file, flags are 0 or 1, settings, seed and
  random stream are this sampler's; the random-stream position is at least the
  words the initial live set used and at most a generous bound per call; the
  cached normal deviate is the sine value of a Box-Muller pair drawn from the
  stream's last 65,536 words (recomputed with the pure-numpy Philox) and it is
  pending exactly when the count of normal deviates drawn is odd.
* the random stream against the history: the initial live points still in
  their rows are the stream's first ``nlive * ndim`` uniforms of their row, the
  dead initial points among those draws; before any candidate the stream
  stands right after them; otherwise the C++ reader (``check_stream``) draws
  the last batch of rejection candidates again from the stream state recorded
  before it and requires the queued candidates (or, the queue used up, the
  point accepted last) and the stream's whole state after it (position, cached
  deviate and its flag, count of deviates) to be the stored ones.  The batch
  is drawn from the current bound, or from the bound kept when a refit came
  while its candidates were queued.  With slice sampling (after the first
  bound) chains drew after that batch and only the ranges above are checked.
* points: live, dead and queued points inside the unit cube ``[0, 1]^d``;
  their physical coordinates equal ``prior_transform(u)`` for every point (the
  built-in box transforms and the identity are recomputed with numpy, a Python
  transform is called on every stored point); log-likelihoods NaN-free and
  never ``+inf``, ``-inf`` only where a run can hold it (initial points).
* run invariants: dead log-likelihoods non-decreasing and every live point
  strictly above the last one; each point's birth contour below its
  log-likelihood; the births of all points (dead and live) are, as a multiset,
  ``nlive`` times ``-inf`` plus the dead log-likelihoods (each death gives one
  birth); the number of live points at each death follows the tie rule
  (``nlive`` for a new contour, one less for each tied point); ``niter`` is the
  number of dead points; ``ncall`` equals the initial live set plus the consumed
  and queued rejection candidates plus the slice-sampling calls; accepted
  rejection candidates plus slice replacements equal ``niter``; counters since
  the last refit of the bound are no larger than the totals, the refit is less
  than ``update_interval`` iterations old, and the candidates evaluated since
  it are the total less the total recorded at it; slice statistics are finite,
  non-negative counts that add up to the slice calls.
* the bound: each ellipsoid's centre inside the cube (it is a mean of live
  points), its shape symmetric positive definite, its precision the inverse of
  the shape, its axes a square root of it, its major axis the longest
  eigenvector, its log volume the log determinant's; the selection
  probabilities and the union's volume recomputed from the ellipsoids; and the
  bound refitted (``_core.nested.fit_bound``) to the live set of its last refit,
  rebuilt from the births, when that is unambiguous (no tied dead points since,
  and one ellipsoid or a refit that ran the deep multi-ellipsoid search).
* the likelihood: the prior transform and log-likelihood re-evaluated at every
  live point (the run continues from them) and the last 32 dead points, or, for
  an int ``verify``, at ``verify`` points (the best and worst live points, the
  best live points, the last dead points and points spread over the live and
  dead sets; -1: every stored point), and always at every queued candidate
  (one batch of the run), compared with the stored values.
  This calls the likelihood outside the run: no
  random number is drawn and no call is counted, so a resumed run stays
  bit-identical.  A stochastic likelihood cannot pass it.

What is not protected
---------------------
A file that passes is trusted data, as a pickle would be.  Values that satisfy
all of the above but are not the ones the run computed cannot be detected: the
log-likelihood of a dead point that is not among the re-evaluated ones (or of
a live one when ``checkpoint_verify`` is an int; -1 re-evaluates every stored
point); during slice sampling with a bound, the random stream's position
(nothing stored fixes the words the last slice chain used: a moved position is
a different but valid continuation of the same stream; the slice chain is not
replayed because that needs the live set, statistics and stream before it and
likelihood calls), and then also an even change of the count of deviates and
the record of the last (pre-bound) batch, which only these checks read; the
stream state and the candidate-counter pair (``evaluated_since_update``,
``evaluated_at_update``) edited together consistently (the checks detect
inconsistent edits, not a forger who recomputes every dependent field);
counters and decayed statistics that only steer the sampler's
choices within their ranges (refits since the last multi-ellipsoid search, the
slice sampler's rank sums and fresh-start counts), a bound moved consistently when it cannot
be refitted (ties since the refit, or a refit without the deep search), a
point moved together with its coordinates and log-likelihood, or a whole state
forged from another run with the same settings.  The
checksum only detects accidental corruption; anyone can recompute it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

STATE_VERSION = 6
K_STAT_HEADER = 14  # slice.hpp: kStatHeader
K_SEARCH_EVERY, K_SEARCH_EVERY_MAX = 8, 64  # sampler.hpp: RejectionProposal::kSearchEvery, kSearchEveryMax
K_MAX_OUTSIDE_DRAWS = 10000  # sampler.hpp: RejectionProposal::kMaxOutsideDraws
BOX_MULLER_MAX = 8.7  # sqrt(-2 log(2^-54)) = 8.66: no normal deviate of the stream is larger
_BOUNDS = {"none": 0, "single": 1, "multi": 2}

__all__ = ["ParsedState", "StateFormatError", "check_state", "parse_state", "serialize_state", "transform_mismatch", "verify_points"]


class StateFormatError(ValueError):
    """The payload cannot be parsed."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if n < 0 or n > len(self.data) - self.pos:
            raise StateFormatError("truncated state")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def pod(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack("<" + fmt, self._take(size))[0]

    def flag(self, name: str) -> bool:
        v = self.pod("B")
        if v not in (0, 1):
            raise StateFormatError(f"the flag {name} is {v}, not 0 or 1")
        return bool(v)

    def vec(self) -> np.ndarray:
        n = self.pod("Q")
        if n > (len(self.data) - self.pos) // 8:
            raise StateFormatError("truncated state")
        return np.frombuffer(self._take(8 * n), dtype="<f8").astype(np.float64)

    def ivec(self) -> np.ndarray:
        n = self.pod("Q")
        if n > (len(self.data) - self.pos) // 4:
            raise StateFormatError("truncated state")
        return np.frombuffer(self._take(4 * n), dtype="<i4").astype(np.int64)

    def mat(self, order: str) -> np.ndarray:
        r, c = self.pod("q"), self.pod("q")
        if r < 0 or c < 0 or (c > 0 and r > (len(self.data) - self.pos) // (8 * c)):
            raise StateFormatError("bad matrix shape")
        flat = np.frombuffer(self._take(8 * r * c), dtype="<f8").astype(np.float64)
        return flat.reshape((r, c), order=order)  # type: ignore[call-overload,no-any-return]


@dataclass
class Ellipsoid:
    center: np.ndarray
    shape: np.ndarray
    precision: np.ndarray
    axes: np.ndarray
    major: np.ndarray
    logvol: float


@dataclass
class ParsedState:
    """Every field of a sampler-state payload (the layout of ``checkpoint.hpp``)."""

    version: int
    settings: tuple[Any, ...]
    live_u: np.ndarray
    live_x: np.ndarray
    live_logl: np.ndarray
    live_birth: np.ndarray
    dead_u: np.ndarray
    dead_x: np.ndarray
    dead_logl: np.ndarray
    dead_birth: np.ndarray
    dead_logvol: np.ndarray
    dead_nlive: np.ndarray
    ells: list[Ellipsoid]
    cumprob: np.ndarray
    logvol_sum: float
    use_bound: bool
    iter_at_update: int
    updates_since_search: int
    last_search_nell: int
    queue_u: np.ndarray
    queue_x: np.ndarray
    queue_logl: np.ndarray
    queue_head: int
    seed: int
    stream: int
    position: int
    has_spare: bool
    spare: float
    initialized: bool
    niter: int
    ncall: int
    accepted_since_update: int
    evaluated_since_update: int
    accepted_total: int
    evaluated_total: int
    logvol: float
    logz: float
    slice_active: bool
    slice_calls: int
    slice_replacements: int
    slice_nsteps: int
    slice_stats: np.ndarray
    normals: int
    batch_position: int
    batch_has_spare: bool
    batch_spare: float
    batch_normals: int
    batch_size: int
    evaluated_at_update: int
    batch_bound_saved: bool
    batch_use_bound: bool
    batch_ells: list[Ellipsoid]
    batch_cumprob: np.ndarray
    batch_logvol_sum: float
    frame: np.ndarray  # lower edges of the bound's frame box (periodic dimensions), or empty
    batch_frame: np.ndarray


def _read_bound(r: _Reader, nlive: int, d: int) -> tuple[list[Ellipsoid], np.ndarray, float]:
    nell = r.pod("Q")
    if nell > max(nlive, 0):
        raise StateFormatError("too many ellipsoids")
    ells = []
    for _ in range(nell):
        e = Ellipsoid(r.vec(), r.mat("F"), r.mat("F"), r.mat("F"), r.vec(), r.pod("d"))
        if e.center.shape != (d,) or e.major.shape != (d,) or any(m.shape != (d, d) for m in (e.shape, e.precision, e.axes)):
            raise StateFormatError("an ellipsoid has the wrong dimension")
        ells.append(e)
    cumprob = r.vec()
    if cumprob.size != nell:
        raise StateFormatError("the bound's probabilities do not match its ellipsoids")
    return ells, cumprob, r.pod("d")


def parse_state(body: bytes, ndim: int) -> ParsedState:
    """Parse a payload; StateFormatError when its structure is broken."""
    r = _Reader(body)
    version = r.pod("I")
    if version != STATE_VERSION:
        raise StateFormatError(f"state version {version} is not {STATE_VERSION}")
    settings = (r.pod("i"), r.pod("i"), r.pod("i"), r.pod("d"), r.pod("i"), r.pod("d"), r.pod("i"), r.pod("i"))
    if settings[0] != ndim:
        raise StateFormatError(f"the state has ndim={settings[0]}, the sampler {ndim}")
    d = ndim
    live_u, live_x = r.mat("C"), r.mat("C")
    live_logl, live_birth = r.vec(), r.vec()
    dead = [r.vec() for _ in range(5)]
    dead_nlive = r.ivec()
    nd = dead[2].size
    if any(a.size != nd * d for a in dead[:2]) or any(a.size != nd for a in (dead[3], dead[4], dead_nlive)):
        raise StateFormatError("dead points have inconsistent sizes")
    ells, cumprob, logvol_sum = _read_bound(r, settings[1], d)
    use_bound = r.flag("use_bound")
    iter_at_update, updates_since_search, last_search_nell = r.pod("q"), r.pod("q"), r.pod("i")
    queue_u, queue_x, queue_logl = r.vec(), r.vec(), r.vec()
    queue_head = r.pod("Q")
    if queue_u.size != queue_logl.size * d or queue_x.size != queue_u.size:
        raise StateFormatError("the candidate queue has inconsistent sizes")
    seed, stream, position = r.pod("Q"), r.pod("Q"), r.pod("Q")
    has_spare = r.flag("has_spare")
    spare = r.pod("d")
    initialized = r.flag("initialized")
    niter, ncall, acc_update, eval_update, acc_total, eval_total = (r.pod("q") for _ in range(6))
    logvol, logz = r.pod("d"), r.pod("d")
    slice_active = r.flag("slice_active")
    slice_calls, slice_replacements, slice_nsteps = r.pod("q"), r.pod("q"), r.pod("i")
    slice_stats = r.vec()
    normals, batch_position = r.pod("Q"), r.pod("Q")
    batch_has_spare = r.flag("batch_has_spare")
    batch_spare = r.pod("d")
    batch_normals, batch_size, evaluated_at_update = r.pod("Q"), r.pod("q"), r.pod("q")
    batch_bound_saved, batch_use_bound = r.flag("batch_bound_saved"), r.flag("batch_use_bound")
    batch_bound = _read_bound(r, settings[1], d)
    frame, batch_frame = r.vec(), r.vec()
    if r.pos != len(body):
        raise StateFormatError("trailing bytes after the state")
    return ParsedState(
        version, settings, live_u, live_x, live_logl, live_birth, dead[0].reshape(nd, d), dead[1].reshape(nd, d),
        dead[2], dead[3], dead[4], dead_nlive, ells, cumprob, logvol_sum, use_bound, iter_at_update,
        updates_since_search, last_search_nell, queue_u.reshape(-1, d), queue_x.reshape(-1, d), queue_logl,
        queue_head, seed, stream, position, has_spare, spare, initialized, niter, ncall, acc_update, eval_update,
        acc_total, eval_total, logvol, logz, slice_active,
        slice_calls, slice_replacements, slice_nsteps, slice_stats, normals, batch_position, batch_has_spare,
        batch_spare, batch_normals, batch_size, evaluated_at_update, batch_bound_saved, batch_use_bound,
        *batch_bound, frame, batch_frame,
    )


def _fail(msg: str) -> None:
    raise StateFormatError(msg)


def _logl_ok(v: np.ndarray) -> bool:
    return not bool(np.any(np.isnan(v) | (v == np.inf)))


def _in_cube(u: np.ndarray) -> bool:
    return bool(np.all((u >= 0.0) & (u <= 1.0)))


def _close_each(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    """Elementwise: equal up to rtol relative to the values' scale (an infinity only equals itself, NaN nothing)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(a - b) <= rtol * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    both_finite = np.isfinite(a) & np.isfinite(b)
    return np.where(both_finite, near, a == b)  # type: ignore[no-any-return]


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    """Equal up to rtol relative to each value's scale (-inf only equals -inf)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(_close_each(a, b, rtol)))


# How far back (in 64-bit words) the pair of uniforms behind the cached normal is looked for.
SPARE_WINDOW = 1 << 16


def _spare_drawn(t: ParsedState, position: int, spare: float, normals: int) -> bool:
    """Whether the cached normal deviate is the second (sine) value of a Box-Muller pair drawn from the
    stream's last SPARE_WINDOW words before `position` (0.0 when no deviate was drawn yet)."""
    if normals == 0:
        return spare == 0.0
    if position < 2:
        return False
    from ridgeline._random import to_uniform, words

    hi = position
    for width in (256, 4096, SPARE_WINDOW):  # usually found among the last few words
        lo = max(0, position - width)
        u = to_uniform(words(t.seed, t.stream, np.arange(lo, hi, dtype=np.uint64)))
        with np.errstate(all="ignore"):
            vals = np.sqrt(-2.0 * np.log(u[:-1])) * np.sin(6.283185307179586 * u[1:])
        if np.any(np.abs(vals - spare) <= 1e-12 * max(1.0, abs(spare))):
            return True
        if lo == 0:
            break
        hi = lo + 1  # the pair may straddle the boundary
    return False


def _initial_points_mismatch(t: ParsedState, n: int, d: int) -> str | None:
    """The initial live points are the stream's first n * d uniforms, row by row: a point born at -inf
    still in its row must be its row's draw, a dead one one of the rows' draws (None when they are).

    Unchecked when a dead point has log-likelihood -inf (its replacement was then born at -inf too)."""
    if np.any(t.dead_logl == -np.inf):
        return None
    from ridgeline._random import to_uniform, words

    init = to_uniform(words(t.seed, t.stream, np.arange(n * d, dtype=np.uint64))).reshape(n, d)
    live = t.live_birth == -np.inf
    if not np.array_equal(t.live_u[live], init[live]):
        return "an initial live point is not the random stream's draw for its row"
    dead = t.dead_u[t.dead_birth == -np.inf]
    if dead.size:
        drawn = {row.tobytes() for row in init[~live]}
        if any(row.tobytes() not in drawn for row in dead) or len({row.tobytes() for row in dead}) != dead.shape[0]:
            return "a dead initial point is not one of the random stream's initial draws"
    return None


def check_state(t: ParsedState, sampler: Any) -> None:
    """Check every field of a parsed state against the sampler and each other (StateFormatError)."""
    cfg = sampler._settings
    d, n = int(cfg["ndim"]), int(cfg["nlive"])
    bound = _BOUNDS[cfg["bound"]]
    ui = int(cfg["update_interval"])
    expect = (d, n, bound, float(cfg["enlarge"]), ui, 0.5, int(cfg["batch"][0]), int(cfg["batch"][1]))
    if t.settings != expect:
        _fail("the saved settings differ from this sampler's")
    # random stream
    if t.seed != int(cfg["seed"]) or t.stream != 0:
        _fail("the random stream is not this run's (seed or stream id)")
    streams = ((t.position, t.has_spare, t.spare, t.normals),
               (t.batch_position, t.batch_has_spare, t.batch_spare, t.batch_normals))
    for pos, pending, spare, normals in streams:
        # a Box-Muller pair gives two deviates: the second is pending exactly after an odd count
        if pending != (normals % 2 == 1) or normals > 2 * (pos // 2):
            _fail("the random stream's cached normal deviate does not match the number of deviates drawn")
        if not (math.isfinite(spare) and abs(spare) <= BOX_MULLER_MAX) or not _spare_drawn(t, pos, spare, normals):
            _fail("the cached normal deviate of the random stream is not one of its recent draws")
    nd = t.dead_logl.size
    queued = t.queue_logl.size - t.queue_head
    ints = (t.niter, t.ncall, t.accepted_since_update, t.evaluated_since_update, t.accepted_total,
            t.evaluated_total, t.iter_at_update, t.updates_since_search, t.last_search_nell, t.slice_calls,
            t.slice_replacements, t.slice_nsteps, t.batch_size, t.evaluated_at_update)
    if min(ints) < 0:
        _fail("a counter is negative")
    # candidates evaluated since the last refit: the total now less the total then
    if t.evaluated_since_update != t.evaluated_total - t.evaluated_at_update:
        _fail(f"evaluated_since_update={t.evaluated_since_update} is not evaluated_total={t.evaluated_total} less "
              f"its value {t.evaluated_at_update} at the last refit of the bound")
    # the last batch of candidates (the C++ reader draws it again from its recorded stream state)
    if t.batch_size > max(int(cfg["batch"][0]), int(cfg["batch"][1])) \
            or t.batch_position > t.position or t.batch_normals > t.normals \
            or (t.queue_logl.size - t.queue_head > 0 and t.queue_logl.size != t.batch_size):
        _fail("the record of the last batch of candidates is inconsistent")
    if t.batch_size == 0 and (t.niter or t.batch_position or t.batch_normals or t.normals
                              or t.position != (n * d if t.initialized else 0)):
        _fail("no candidate was drawn, but the random stream does not stand after the initial live points")
    if t.batch_size > 0 and t.batch_position < n * d:
        _fail("the last batch of candidates starts inside the initial live points' random numbers")
    # the bound the last batch was drawn from is kept when a refit came while its candidates were queued
    # (there was a refit: a bound is in use)
    empty_kept = not t.batch_ells and not t.batch_cumprob.size and t.batch_logvol_sum == -math.inf
    if (not t.batch_bound_saved and (t.batch_use_bound or not empty_kept)) \
            or (t.batch_bound_saved and (t.batch_size == 0 or t.batch_use_bound == empty_kept or not t.use_bound)):
        _fail("the record of the bound of the last batch of candidates is inconsistent")
    if t.batch_ells:
        _check_ellipsoids(t.batch_ells, t.batch_cumprob, t.batch_logvol_sum, d, t.batch_frame)
    periodic = set(sampler._settings.get("periodic", []))
    for frame, ells in ((t.frame, t.ells), (t.batch_frame, t.batch_ells)):
        if frame.size and (frame.size != d or not ells or not np.all((frame >= 0.0) & (frame < 1.0))
                           or any(frame[i] != 0.0 for i in range(d) if i not in periodic)):
            _fail("a bound's frame is out of range")
    if not t.initialized:
        empty = (t.live_u.size, t.live_logl.size, t.live_birth.size, nd, t.queue_logl.size, t.ncall, t.position,
                 t.evaluated_total, t.slice_calls, t.slice_replacements, len(t.ells), int(t.has_spare), t.normals,
                 t.batch_size)
        if any(empty) or t.use_bound or t.logvol != 0.0 or t.logz != -math.inf:
            _fail("an unstarted run holds points, calls or random numbers")
        return
    # live points
    if t.live_u.shape != (n, d) or t.live_x.shape != (n, d) or t.live_logl.shape != (n,) or t.live_birth.shape != (n,):
        _fail("the live points have the wrong shape")
    for name, u in (("live", t.live_u), ("dead", t.dead_u), ("queued", t.queue_u)):
        if not _in_cube(u):
            _fail(f"a {name} point lies outside the unit cube [0, 1]^{d}")
    for name, x in (("live", t.live_x), ("dead", t.dead_x), ("queued", t.queue_x)):
        if not np.all(np.isfinite(x)):
            _fail(f"a {name} point has a non-finite coordinate")
    for name, v in (("live", t.live_logl), ("dead", t.dead_logl), ("queued", t.queue_logl)):
        if not _logl_ok(v):
            _fail(f"a {name} point has a NaN or +inf log-likelihood")
    if np.max(t.live_logl) == -math.inf:
        _fail("every live point has log-likelihood -inf")
    # births: below the point's log-likelihood, and one per death plus nlive initial ones
    for name, l, b in (("live", t.live_logl, t.live_birth), ("dead", t.dead_logl, t.dead_birth)):
        if np.any(np.isnan(b)) or not np.all((b == -np.inf) | (b < l)):
            _fail(f"a {name} point's birth contour is not below its log-likelihood")
    births = np.sort(np.concatenate([t.dead_birth, t.live_birth]))
    if not np.array_equal(births, np.concatenate([np.full(n, -np.inf), t.dead_logl])):
        _fail("the birth contours do not match the dead points (one birth per death)")
    problem = _initial_points_mismatch(t, n, d)
    if problem is not None:
        _fail(problem)
    # dead points: order, tie rule, count
    if nd and np.any(np.diff(t.dead_logl) < 0):
        _fail("the dead points' log-likelihoods are not non-decreasing")
    if nd and not np.all(t.live_logl > t.dead_logl[-1]):
        _fail("a live point does not lie above the last dead point")
    if nd:
        new = np.ones(nd, dtype=bool)
        new[1:] = t.dead_logl[1:] != t.dead_logl[:-1]
        idx = np.arange(nd)
        start = np.maximum.accumulate(np.where(new, idx, 0))  # first index of each point's tie group
        want = n - (idx - start)
        if not np.array_equal(t.dead_nlive, want):
            _fail("the dead points' numbers of live points do not follow the run")
    if t.niter != nd:
        _fail(f"niter={t.niter} does not match the {nd} dead points")
    # calls and acceptances
    if t.queue_head > t.queue_logl.size or (t.queue_logl.size > 0 and t.queue_head == t.queue_logl.size):
        _fail("the candidate queue's position is inconsistent")
    if t.ncall != n + t.evaluated_total + queued + t.slice_calls:
        _fail(f"ncall={t.ncall} does not match the points evaluated "
              f"({n} initial + {t.evaluated_total} + {queued} queued + {t.slice_calls} slice calls)")
    if t.accepted_total + t.slice_replacements != nd:
        _fail("the accepted candidates and slice replacements do not match the dead points")
    if t.accepted_total > t.evaluated_total or t.accepted_since_update > t.accepted_total \
            or t.evaluated_since_update > t.evaluated_total or t.accepted_since_update > t.evaluated_since_update:
        _fail("the acceptance counters are inconsistent")
    if t.slice_replacements > 0 and t.slice_calls == 0:
        _fail("slice replacements without slice calls")
    # random-stream position: the initial live set took n * d words; every later
    # call needs fewer than (d + 3) * (kMaxOutsideDraws + 1) words (draws outside the cube included)
    if t.position < n * d or t.position > n * d + (t.ncall - n + queued + 1) * (2 * d + 8) * (K_MAX_OUTSIDE_DRAWS + 1):
        _fail("the random-stream position is impossible for the calls made")
    # the proposal
    sample = cfg["sample"]
    if (sample == "unif" and t.slice_active) or (sample == "slice" and not t.slice_active):
        _fail(f"the proposal in use does not match sample={sample!r}")
    ss = t.slice_stats
    # the adaptive number of slice steps (slice.hpp): 0 until the first window
    # closes, then the initial number doubled, capped at max(16, 4 d)
    windows = ss[8] if ss.size >= K_STAT_HEADER else 0.0
    first = max(4, (d + 1) // 2 if n >= 15 * d else d)
    cap = max(16, 4 * d)
    allowed = {cap} | {first << j for j in range(21) if first << j <= cap}
    if cfg["slice_steps"]:
        nsteps_ok = t.slice_nsteps == 0 and windows == 0
    else:
        nsteps_ok = (t.slice_nsteps == 0) == (windows == 0) and (t.slice_nsteps == 0 or t.slice_nsteps in allowed)
    if not nsteps_ok:
        _fail("the number of slice steps is not one the run can reach")
    nsteps_now = int(cfg["slice_steps"]) or t.slice_nsteps or first
    if ss.size:
        if ss.size < K_STAT_HEADER or (ss.size - K_STAT_HEADER) % 3 != 0 or ss.size > (1 << 20):
            _fail("the slice statistics have the wrong length")
        if not np.all(np.isfinite(ss)):
            _fail("the slice statistics are not finite")
        counts = ss[[0, 3, 4, 5, 8, 9, 10, 11, 12, 13]]
        if np.any(counts < 0) or ss[10] > ss[9] or ss[9] > ss[13] or ss[12] > t.slice_replacements \
                or ss[12] > ss[11] or ss[0] > t.slice_replacements or (ss.size == K_STAT_HEADER) != (ss[0] == 0):
            _fail("the slice statistics hold negative or inconsistent counts")
        # sums of ranks a, b in [0, 1] over N replacements: 0 <= sum b^2 <= sum b <= N, 0 <= sum ab <= min(sum a, sum b)
        if ss[0] > 0 and (ss.size - K_STAT_HEADER) // 3 != nsteps_now:
            _fail("the slice statistics do not match the number of slice steps")
        tol = 1e-9 * max(1.0, ss[0])
        mom = ss[K_STAT_HEADER:].reshape(-1, 3)
        if not (-tol <= ss[2] <= ss[1] + tol and ss[1] <= ss[0] + tol) or np.any(mom < -tol) \
                or np.any(mom[:, 0] > ss[0] + tol) or np.any(mom[:, 1] > mom[:, 0] + tol) \
                or np.any(mom[:, 2] > np.minimum(mom[:, 0], ss[1]) + tol):
            _fail("the slice statistics' rank sums are out of range")
        if ss[3] + ss[4] + ss[11] != t.slice_calls:
            _fail("the slice statistics' calls do not add up to the slice calls")
        if np.any(np.abs(ss[6:8]) > 1.0 + 1e-9) or (ss[8] == 0 and np.any(ss[6:8] != 0)):
            _fail("a slice-sampling correlation lies outside [-1, 1] or was set before a window closed")
        whole = ss[[0, 3, 4, 5, 8, 11, 12]]  # counts of the whole run (not decayed): integers
        if np.any(whole != np.floor(whole)) or ss[5] < t.slice_replacements - ss[12] \
                or ss[5] > t.slice_replacements * max(cap, int(cfg["slice_steps"])):
            _fail("the slice statistics' counts are not whole numbers or do not match the replacements")
    elif t.slice_calls:
        _fail("slice calls without slice statistics")
    _check_bound(t, d, n, bound, ui)
    problem = refit_mismatch(t, sampler)
    if problem is not None:
        _fail(problem)


def _check_bound(t: ParsedState, d: int, n: int, bound: int, ui: int) -> None:
    nell = len(t.ells)
    if not t.use_bound:
        if nell or t.cumprob.size or t.logvol_sum != -math.inf or t.iter_at_update or t.updates_since_search \
                or t.last_search_nell or t.accepted_since_update != t.accepted_total \
                or t.evaluated_since_update != t.evaluated_total:
            _fail("a bound that is not in use has contents")
        return
    if bound == 0 or nell == 0 or (bound == 1 and nell != 1):
        _fail("the bound does not match the bound setting")
    if t.iter_at_update > t.niter or t.niter - t.iter_at_update >= ui:
        _fail("the last refit of the bound is inconsistent with update_interval")
    if t.last_search_nell > n or t.updates_since_search > t.niter:
        _fail("the bound's search counters are out of range")
    # the multi-ellipsoid search: at a searching refit the count found is the bound's
    # (and a search always ran at the first refit); one ellipsoid never searches
    if bound == 2 and (t.last_search_nell < 1 or ((search_due(t.updates_since_search) or nell > 1)
                                                  and t.last_search_nell != nell)):
        _fail("the bound's search counters do not match its ellipsoids")
    if bound == 1 and t.last_search_nell != 0:
        _fail("the bound's search counters do not match its ellipsoids")
    # since the refit (inside iteration iter_at_update, after its tied points died),
    # rejection sampling accepted one point per death; slice sampling none
    if t.slice_active:
        want = 0
    else:
        last = t.dead_logl[t.iter_at_update - 1] if t.iter_at_update > 0 else math.nan
        tied = int(np.count_nonzero(t.dead_logl[: t.iter_at_update] == last))
        want = t.niter - t.iter_at_update + tied
    if t.accepted_since_update != want or (t.slice_active and t.evaluated_since_update != 0):
        _fail("the acceptance counters since the last refit do not match the dead points")
    _check_ellipsoids(t.ells, t.cumprob, t.logvol_sum, d, t.frame)
    # every live point that was alive at the last refit (born before that iteration's contour) was one
    # of the points the bound was fitted to: the union encloses it (in the frame's coordinates)
    if 1 <= t.iter_at_update <= t.dead_logl.size:
        old = t.live_birth < t.dead_logl[t.iter_at_update - 1]
        if np.any(old):
            pts = t.live_u[old]
            if t.frame.size == d:
                pts = np.where(pts < t.frame, pts + 1.0, pts)
            best = np.full(pts.shape[0], np.inf)
            with np.errstate(all="ignore"):
                for e in t.ells:
                    diff = pts - e.center
                    lam = np.linalg.eigvalsh(0.5 * (e.shape + e.shape.T))
                    # rounding of the stored precision grows with the shape's condition number
                    slack = 1e-8 + 1e-12 * float(lam[-1] / lam[0])
                    best = np.minimum(best, np.einsum("ij,jk,ik->i", diff, e.precision, diff) - slack)
            if not np.all(best <= 1.0):
                _fail("a live point the bound was fitted to lies outside the bound")


def _check_ellipsoids(ells: list[Ellipsoid], cumprob: np.ndarray, logvol_sum: float, d: int,
                      frame: np.ndarray) -> None:
    """An ellipsoid union's matrices, probabilities and volume against each other (StateFormatError)."""
    t_cumprob, t_logvol_sum, nell = cumprob, logvol_sum, len(ells)
    if t_cumprob.size != nell:
        _fail("the bound's probabilities do not match its ellipsoids")
    logvols = np.array([e.logvol for e in ells])
    if not np.all(np.isfinite(logvols)):
        _fail("an ellipsoid's log volume is not finite")
    m = logvols.max()
    w = np.cumsum(np.exp(logvols - m))
    cum = w / w[-1]
    cum[-1] = 1.0
    if not _close(cum, t_cumprob, 1e-12) or not _close(np.array(m + math.log(w[-1])), np.array(t_logvol_sum), 1e-12):
        _fail("the bound's probabilities or volume do not match its ellipsoids")
    log_ball = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    eye = np.eye(d)
    for e in ells:
        mats = (e.center, e.shape, e.precision, e.axes, e.major)
        if not all(np.all(np.isfinite(a)) for a in mats):
            _fail("an ellipsoid of the bound is not finite")
        if not _in_cube(e.center - frame if frame.size == d else e.center):
            _fail("an ellipsoid's centre lies outside the unit cube (its frame box)")
        scale = float(np.max(np.abs(e.shape)))
        if scale <= 0.0 or not np.all(np.abs(e.shape - e.shape.T) <= 1e-12 * scale):
            _fail("an ellipsoid's shape matrix is not symmetric")
        lam, vec = np.linalg.eigh(0.5 * (e.shape + e.shape.T))
        if lam[0] <= 0.0:
            _fail("an ellipsoid's shape matrix is not positive definite")
        cond = lam[-1] / lam[0]
        if np.max(np.abs(e.precision @ e.shape - eye)) > 1e-10 * cond + 1e-9:
            _fail("an ellipsoid's precision is not the inverse of its shape")
        if np.max(np.abs(e.axes @ e.axes.T - e.shape)) > 1e-10 * scale:
            _fail("an ellipsoid's axes are not a square root of its shape")
        if abs(float(e.major @ e.major) - lam[-1]) > 1e-8 * lam[-1] or \
                np.max(np.abs(e.shape @ e.major - lam[-1] * e.major)) > 1e-8 * lam[-1] * math.sqrt(lam[-1]):
            _fail("an ellipsoid's major axis is not its longest axis")
        if abs(e.logvol - (log_ball + 0.5 * float(np.sum(np.log(lam))))) > 1e-8 * max(1.0, abs(e.logvol)):
            _fail("an ellipsoid's log volume does not match its shape")


K_COVERAGE_FOLDS = 10  # sampler.hpp: RejectionProposal::kCoverageFolds


def live_at_refit(t: ParsedState) -> np.ndarray | None:
    """The live set (rows in order) the bound was last fitted to, rebuilt from the births; None when ambiguous.

    The refit ran inside iteration ``iter_at_update`` after its dead points were
    recorded and before they were replaced, so a row holds then the first point
    of its chain of replacements that was born before that iteration's contour
    (each replacement's birth is the log-likelihood of the dead point it
    replaced, in the same row).  Tied dead points make the chain ambiguous.
    """
    u_at = t.iter_at_update
    if u_at < 1 or u_at > t.dead_logl.size:
        return None
    contour = t.dead_logl[u_at - 1]
    first = int(np.searchsorted(t.dead_logl, contour, side="left"))  # the refit iteration's dead points
    later = t.dead_logl[first:]
    if later.size and np.any(np.diff(later) == 0):
        return None  # ties: the replaced rows cannot be told apart
    by_logl = {float(v): first + i for i, v in enumerate(later)}
    rows = np.array(t.live_u, copy=True)
    for i in range(rows.shape[0]):
        birth = float(t.live_birth[i])
        seen = 0
        while birth >= contour:  # born at or after the refit: it replaced a dead point in this row
            j = by_logl.get(birth)
            if j is None or seen > later.size:
                return None
            rows[i] = t.dead_u[j]
            birth = float(t.dead_birth[j])
            seen += 1
    return rows


def search_due(k: int) -> bool:
    """Whether the deep multi-ellipsoid search ran at update ``k`` of its schedule (sampler.hpp: search_due)."""
    at, gap = 0, K_SEARCH_EVERY
    while gap < K_SEARCH_EVERY_MAX:
        if k <= at:
            return k == at
        at += gap
        gap = min(2 * gap, K_SEARCH_EVERY_MAX)
    return k >= at and (k - at) % K_SEARCH_EVERY_MAX == 0


def refit_mismatch(t: ParsedState, sampler: Any) -> str | None:
    """Refit the bound to the live set of its last refit and compare (None when equal or not checkable).

    Checkable: one ellipsoid, or several when the last refit ran the deep
    multi-ellipsoid search (``search_due(updates_since_search)``), and no tied dead
    points since that refit.
    """
    cfg = sampler._settings
    multi = cfg["bound"] == "multi"
    if not t.use_bound or (multi and not search_due(t.updates_since_search)):
        return None
    pts = live_at_refit(t)
    if pts is None:
        return None
    from ridgeline import _core

    logpointvol = float(t.dead_logvol[t.iter_at_update - 1]) - math.log(float(cfg["nlive"]))
    ells = _core.nested.fit_bound(np.ascontiguousarray(pts), logpointvol, multi, float(cfg["enlarge"]),
                                  K_COVERAGE_FOLDS, periodic=cfg.get("periodic", []))
    frame = np.asarray(ells[0].frame) if ells else np.zeros(0)
    if frame.shape != t.frame.shape or not np.array_equal(frame, t.frame):
        return "the bound's frame is not the one of the live points of its last refit"
    if len(ells) != len(t.ells) or not all(
        _close(np.asarray(a.center), b.center, 1e-12) and _close(np.asarray(a.shape), b.shape, 1e-12)
        and _close(np.array(a.logvol), np.array(b.logvol), 1e-12)
        for a, b in zip(ells, t.ells)
    ):
        return "the bound is not the one fitted to the live points of its last refit"
    return None


# Dead points re-evaluated by default, besides every live point and queued candidate.
DEFAULT_VERIFY_DEAD = 32


def verify_indices(t: ParsedState, k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The live, dead and queued points re-evaluated (deterministic; all when k < 0; all queued ones always).

    k None (the default): every live point (the continuation starts from them) and DEFAULT_VERIFY_DEAD dead
    points, the last ones first; k >= 0: k points shared between the live and the dead ones."""
    nl, nd = t.live_logl.size, t.dead_logl.size
    if k is not None and (k < 0 or k >= nl + nd):
        return np.arange(nl), np.arange(nd), np.arange(t.queue_logl.size)
    order = np.argsort(-t.live_logl, kind="stable")  # best first
    if k is None:
        kl, kd = nl, min(nd, DEFAULT_VERIFY_DEAD)
    else:
        kd = min(nd, k // 3)
        kl = min(nl, k - kd)
        kd = min(nd, k - kl)

    def spread(m: int, count: int, top: np.ndarray) -> np.ndarray:
        # half the budget on the top (the points that weigh most), half spread evenly
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        head = top[: (count + 1) // 2]
        rest = np.linspace(0, m - 1, count - head.size + 2).round().astype(np.int64)[1:-1] if count > head.size else []
        out = list(dict.fromkeys([*head.tolist(), *np.asarray(rest, dtype=np.int64).tolist()]))
        fill = (i for i in range(m) if i not in set(out))
        while len(out) < count:
            out.append(next(fill))
        return np.array(out[:count], dtype=np.int64)

    live = spread(nl, kl, np.concatenate([order[:1], order[-1:], order[1:-1]]))  # best, worst, next best ...
    dead = spread(nd, kd, np.arange(nd)[::-1])  # the last (highest) dead points first
    # every queued candidate (one batch of the run, consumed ones included): a
    # forged value among them would be accepted as a new live point
    return live, dead, np.arange(t.queue_logl.size)


def verify_points(t: ParsedState, sampler: Any, k: int | None) -> str | None:
    """Re-evaluate transform and likelihood at `verify_indices`; a message on a mismatch, else None."""
    if not t.initialized:
        return None
    li, di, qi = verify_indices(t, k)
    u = np.concatenate([t.live_u[li], t.dead_u[di], t.queue_u[qi]])
    x = np.concatenate([t.live_x[li], t.dead_x[di], t.queue_x[qi]])
    logl = np.concatenate([t.live_logl[li], t.dead_logl[di], t.queue_logl[qi]])
    if u.shape[0] == 0:
        return None
    ex = getattr(sampler, "_executor_loglike", None)
    kept = (ex.batches, ex.tasks) if ex is not None else None
    try:
        got = sampler._core.evaluate(np.ascontiguousarray(u))
    finally:
        if ex is not None and kept is not None:  # the per-batch seeds of a run are not moved by the check
            ex.batches, ex.tasks = kept
    if not _close(np.asarray(got.x), x, 1e-9):
        return "a stored point's coordinates differ from prior_transform(u) now"
    bad = ~_close_each(np.asarray(got.logl), logl, 1e-9)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0])
        return (f"the log-likelihood at a stored point is {float(got.logl[j])!r} now, {float(logl[j])!r} in the file "
                f"(stale or forged; {int(bad.sum())} of {bad.size} re-evaluated points differ)")
    return None


def transform_mismatch(t: ParsedState, sampler: Any) -> str | None:
    """Compare every stored x with prior_transform(u); a message on a mismatch, else None."""
    if not t.initialized:
        return None
    from ridgeline.nested.problems import BoxTransform

    u = np.concatenate([t.live_u, t.dead_u, t.queue_u])
    x = np.concatenate([t.live_x, t.dead_x, t.queue_x])
    tr = sampler.prior_transform
    if tr is None:
        want = u
    elif isinstance(tr, BoxTransform):
        want = tr.lo + (tr.hi - tr.lo) * u
    elif sampler.vectorized:
        want = np.asarray(tr(u), dtype=np.float64) if u.shape[0] else u
    else:
        want = np.array([np.asarray(tr(row), dtype=np.float64).reshape(-1) for row in u]).reshape(u.shape)
    if not _close(want, x, 1e-9):
        return "a stored point's coordinates are not prior_transform(u)"
    return None


def serialize_state(t: ParsedState) -> bytes:
    """The payload of a parsed state (the inverse of `parse_state`; used by the tests' forgeries)."""
    out = [struct.pack("<I", t.version), struct.pack("<iiidid ii".replace(" ", ""), *t.settings)]

    def vec(a: np.ndarray) -> None:
        a = np.asarray(a, dtype="<f8").reshape(-1)
        out.append(struct.pack("<Q", a.size) + a.tobytes())

    def mat(a: np.ndarray, order: str) -> None:
        out.append(struct.pack("<qq", *a.shape) + np.asarray(a, dtype="<f8").tobytes(order=order))  # type: ignore[arg-type]

    mat(t.live_u, "C")
    mat(t.live_x, "C")
    vec(t.live_logl)
    vec(t.live_birth)
    for a in (t.dead_u, t.dead_x, t.dead_logl, t.dead_birth, t.dead_logvol):
        vec(a)
    out.append(struct.pack("<Q", t.dead_nlive.size) + np.asarray(t.dead_nlive, dtype="<i4").tobytes())
    def bound(ells: list[Ellipsoid], cumprob: np.ndarray, logvol_sum: float) -> None:
        out.append(struct.pack("<Q", len(ells)))
        for e in ells:
            vec(e.center)
            mat(e.shape, "F")
            mat(e.precision, "F")
            mat(e.axes, "F")
            vec(e.major)
            out.append(struct.pack("<d", e.logvol))
        vec(cumprob)
        out.append(struct.pack("<d", logvol_sum))

    bound(t.ells, t.cumprob, t.logvol_sum)
    out.append(struct.pack("<Bqqi", t.use_bound, t.iter_at_update, t.updates_since_search, t.last_search_nell))
    for a in (t.queue_u, t.queue_x, t.queue_logl):
        vec(a)
    out.append(struct.pack("<QQQQBdB", t.queue_head, t.seed, t.stream, t.position, t.has_spare, t.spare,
                           t.initialized))
    out.append(struct.pack("<qqqqqqddBqqi", t.niter, t.ncall, t.accepted_since_update, t.evaluated_since_update,
                           t.accepted_total, t.evaluated_total, t.logvol, t.logz, t.slice_active, t.slice_calls,
                           t.slice_replacements, t.slice_nsteps))
    vec(t.slice_stats)
    out.append(struct.pack("<QQBdQqq", t.normals, t.batch_position, t.batch_has_spare, t.batch_spare,
                           t.batch_normals, t.batch_size, t.evaluated_at_update))
    out.append(struct.pack("<BB", t.batch_bound_saved, t.batch_use_bound))
    bound(t.batch_ells, t.batch_cumprob, t.batch_logvol_sum)
    vec(t.frame)
    vec(t.batch_frame)
    return b"".join(out)
