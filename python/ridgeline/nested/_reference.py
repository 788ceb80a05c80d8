"""Pure-numpy reference nested sampler (the tests' oracle; never imports ``_core``).

A readable, independent implementation of the same method as the C++ core:

- N live points from the unit cube; each iteration removes the worst point (all
  points tied with it leave together, the live count stepping down) and draws a
  replacement uniformly inside the bound with L > L*;
- the bound is one or several ellipsoids fitted to the live points (sample
  covariance scaled to enclose them, a volume of at least n X / N, a coverage
  factor for small clusters, an enlargement, more where a 10-fold cross-validation
  finds held-out live points outside the union), split recursively by 2-means from
  the ends of the major axis while the volume shrinks enough (MultiNest/nestle rules),
  refitted every ``update_interval`` iterations, with overlap-corrected uniform
  sampling in the union;
- log Z from the expected volumes, and its error as the spread of log Z over runs
  whose shrinkage factors are redrawn point by point (t ~ Beta(n, 1); the final
  live points as uniform order statistics).

It uses numpy's Generator for randomness, so it agrees with the core in
distribution (tests compare means and error bars over many seeds), not draw by
draw.  The building blocks (`fit_ellipsoid`, `fit_bound`, `expected_weights`)
agree with the core to rounding.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

__all__ = ["expected_weights", "fit_bound", "fit_ellipsoid", "run", "simulate_logz"]


_SPLIT_GAIN = 0.85  # keep a split that shrinks the volume below this fraction
_COVERAGE_MISS = 0.002  # fraction of held-out live points the enlarged bound may miss
_COVERAGE_FOLDS = 10  # folds of the coverage check of the sampler's bound


def _log_unit_ball(d: int) -> float:
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


class Ellipsoid:
    """{x : (x - c)^T C^{-1} (x - c) <= 1}."""

    def __init__(self, center: np.ndarray, shape: np.ndarray) -> None:
        d = center.size
        lam, vec = np.linalg.eigh(shape)
        lmax = max(float(lam.max()), 1e-300)
        lam = np.maximum(lam, max(lmax * 1e-12, 1e-300))
        self.center = center
        self.lam = lam
        self.vec = vec
        self.logvol = _log_unit_ball(d) + 0.5 * float(np.sum(np.log(lam)))
        self.frame = np.zeros(0)  # the frame box's lower edges (periodic dimensions; see fit_bound)

    @property
    def shape(self) -> np.ndarray:
        out: np.ndarray = (self.vec * self.lam) @ self.vec.T
        return out

    @property
    def precision(self) -> np.ndarray:
        out: np.ndarray = (self.vec / self.lam) @ self.vec.T
        return out

    @property
    def major(self) -> np.ndarray:
        k = int(np.argmax(self.lam))
        return self.vec[:, k] * math.sqrt(self.lam[k])

    def scale(self, log_factor: float) -> None:
        """Multiply the shape matrix by exp(log_factor)."""
        self.lam = self.lam * math.exp(log_factor)
        self.logvol += 0.5 * self.center.size * log_factor

    def radius2(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.center) @ self.vec
        out: np.ndarray = np.sum(z * z / self.lam, axis=1)
        return out

    def draw(self, gen: np.random.Generator, m: int) -> np.ndarray:
        d = self.center.size
        z = gen.standard_normal((m, d))
        z *= (gen.random(m) ** (1.0 / d) / np.linalg.norm(z, axis=1))[:, None]
        out: np.ndarray = self.center + (z * np.sqrt(self.lam)) @ self.vec.T
        return out


def fit_ellipsoid(points: np.ndarray, logpointvol: float) -> Ellipsoid:
    """Scaled-covariance ellipsoid enclosing ``points`` with volume >= n exp(logpointvol)."""
    n, d = points.shape
    mean = points.mean(axis=0)
    cov = np.cov(points, rowvar=False).reshape(d, d) if n > 1 else np.zeros((d, d))
    e = Ellipsoid(mean, cov)
    r2 = float(e.radius2(points).max()) if n > 0 else 0.0
    if r2 > 0:
        e.scale(math.log(r2) + 1e-10)
    # coverage factor for ellipsoids from few points (see the C++ core)
    g = 2.5 * ((n / d) ** -1.65 - 25.0**-1.65) if n > 0 else 0.0
    if g > 0:
        e.scale(2.0 * min(g, 5.0))
    minvol = math.log(max(n, 1)) + logpointvol
    if e.logvol < minvol:
        e.scale(2.0 * (minvol - e.logvol) / d)
    return e


def _shrunk_ellipsoid(points: np.ndarray) -> Ellipsoid:
    """Ledoit-Wolf shape a m I + (1 - a) S of ``points``, scaled to contain them all (see the C++ core)."""
    n, d = points.shape
    mean = points.mean(axis=0)
    y = points - mean
    s = (y.T @ y) / n
    m = float(np.trace(s)) / d
    d2 = float(np.sum((s - m * np.eye(d)) ** 2))
    b2 = (float(np.sum(np.sum(y * y, axis=1) ** 2)) - n * float(np.sum(s * s))) / (n * n)
    b2 = min(max(b2, 0.0), d2)
    a = b2 / d2 if d2 > 0 else 1.0
    e = Ellipsoid(mean, (1.0 - a) * s + a * m * np.eye(d))
    r2 = float(e.radius2(points).max())
    if r2 > 0:
        e.scale(math.log(r2) + 1e-10)
    return e


def _fit_best(points: np.ndarray, logpointvol: float) -> Ellipsoid:
    """An ellipsoid of live points (all of them, a cluster of a split, a fold's refit): `fit_ellipsoid`'s, or,
    from 21 dimensions and when n / d < 25, the Ledoit-Wolf shape
    enlarged by a 5-fold cross-validated coverage factor (at most 1 in 500 held-out points outside)
    when that is smaller.  Independent of the C++ core's `fit_root_ellipsoid`, same definition."""
    plain = fit_ellipsoid(points, logpointvol)
    n, d = points.shape
    folds = 5
    if d < 21 or n >= 25 * d or n < max(d + 2, 2 * folds):
        return plain
    e = _shrunk_ellipsoid(points)
    fold = np.arange(n) % folds
    need = np.empty(n)
    for j in range(folds):
        f = _shrunk_ellipsoid(points[fold != j])
        need[fold == j] = f.radius2(points[fold == j])
    r2 = float(np.sort(need)[::-1][int(_COVERAGE_MISS * n)])
    e.scale(math.log(max(r2, 1.0)))
    minvol = math.log(n) + logpointvol
    if e.logvol < minvol:
        e.scale(2.0 * (minvol - e.logvol) / d)
    return e if e.logvol < plain.logvol - 1e-9 * (1.0 + abs(plain.logvol)) else plain  # ties keep the plain fit


def _two_means(points: np.ndarray, e: Ellipsoid) -> np.ndarray:
    centres = np.stack([e.center + e.major, e.center - e.major])
    labels = np.full(points.shape[0], -1)
    for _ in range(10):
        d0 = np.sum((points - centres[0]) ** 2, axis=1)
        d1 = np.sum((points - centres[1]) ** 2, axis=1)
        new = np.where(d0 <= d1, 0, 1)
        if np.array_equal(new, labels):
            break
        labels = new
        if labels.min() == labels.max():
            break
        centres = np.stack([points[labels == 0].mean(axis=0), points[labels == 1].mean(axis=0)])
    return labels


def _split(points: np.ndarray, e: Ellipsoid, logpointvol: float, min_points: int, lookahead: int) -> list[Ellipsoid]:
    n = points.shape[0]
    if e.logvol < math.log(2.0 * n) + logpointvol or n < 2 * min_points:
        return [e]
    labels = _two_means(points, e)
    a, b = points[labels == 0], points[labels == 1]
    if a.shape[0] < min_points or b.shape[0] < min_points:
        return [e]
    ea, eb = _fit_best(a, logpointvol), _fit_best(b, logpointvol)
    if np.logaddexp(ea.logvol, eb.logvol) < e.logvol + math.log(_SPLIT_GAIN):
        return _split(a, ea, logpointvol, min_points, 64) + _split(b, eb, logpointvol, min_points, 64)
    if lookahead <= 0:
        return [e]
    deeper = _split(a, ea, logpointvol, min_points, lookahead - 1) + _split(b, eb, logpointvol, min_points, lookahead - 1)
    total = np.logaddexp.reduce([x.logvol for x in deeper])
    return deeper if total < e.logvol + math.log(_SPLIT_GAIN) else [e]


def _coverage_log_factor(points: np.ndarray, ells: list[Ellipsoid], logpointvol: float, folds: int) -> float:
    """Log volume factor so that the union misses at most 1 in 500 held-out points (see the C++ core)."""
    n, d = points.shape
    if folds < 2 or len(ells) < 2 or n < folds:  # a single ellipsoid keeps its own coverage rule
        return 0.0
    owner = np.stack([e.radius2(points) for e in ells], axis=1).argmin(axis=1)
    fold = np.arange(n) % folds
    need = np.empty(n)
    for j in range(folds):
        refit = []
        for k, e in enumerate(ells):
            keep = (owner == k) & (fold != j)
            refit.append(_fit_best(points[keep], logpointvol) if keep.sum() >= d + 1 else e)
        held = points[fold == j]
        need[fold == j] = np.stack([e.radius2(held) for e in refit], axis=1).min(axis=1)
    kmiss = int(_COVERAGE_MISS * n)
    r2 = float(np.sort(need)[::-1][kmiss])
    return float(min(0.5 * d * math.log(max(r2, 1.0)), math.log(2.0)))


def periodic_frame(points: np.ndarray, periodic: Any) -> np.ndarray:
    """Where each periodic dimension is cut: the middle of the widest empty arc between the points on
    the circle [0, 1) (the first in sorted order on ties; the arc across 0 = 1 is last); 0 elsewhere.
    Empty when no dimension is periodic."""
    dims = [int(i) for i in (periodic or [])]
    if not dims:
        return np.zeros(0)
    frame = np.zeros(points.shape[1])
    for i in dims:
        c = np.sort(points[:, i])
        starts = np.append(c[-1], c[:-1])  # the arc across the faces first, then the arcs in order
        arcs = np.append(c[0] + 1.0 - c[-1], np.diff(c))
        k = int(np.argmax(arcs))  # the first widest
        mid = starts[k] + 0.5 * arcs[k]
        frame[i] = mid - math.floor(mid)
    return frame


def fit_bound(
    points: np.ndarray, logpointvol: float, multi: bool = True, enlarge: float = 1.25, folds: int = 0,
    periodic: Any = None,
) -> list[Ellipsoid]:
    """The (multi-)ellipsoid bound of ``points``, each ellipsoid enlarged by ``enlarge`` in volume, or by
    more (at most 2) where a ``folds``-fold cross-validation finds held-out points outside the union.

    ``periodic``: dimension indices; the points are first moved into the frame that cuts each periodic
    dimension at its widest empty arc (`periodic_frame`; coordinates below the cut gain 1), and every
    returned ellipsoid has that frame as its ``frame`` attribute (its centre is in frame coordinates)."""
    frame = periodic_frame(points, periodic)
    if frame.size:
        points = np.where(points < frame, points + 1.0, points)
    d = points.shape[1]
    root = _fit_best(points, logpointvol)
    ells = _split(points, root, logpointvol, max(2 * d, d + 2), 64) if multi else [root]
    logf = max(math.log(enlarge), _coverage_log_factor(points, ells, logpointvol, folds))
    for e in ells:
        e.scale(2.0 * logf / d)
        e.frame = frame
    return ells


def _draw_union(ells: list[Ellipsoid], gen: np.random.Generator, m: int) -> np.ndarray:
    """m points uniform in the union of ellipsoids, inside the unit cube (inside the frame box, then
    wrapped back to the cube, when the bound has a frame)."""
    d = ells[0].center.size
    frame = ells[0].frame if ells[0].frame.size else np.zeros(d)
    logv = np.array([e.logvol for e in ells])
    prob = np.exp(logv - logv.max())
    prob /= prob.sum()
    out = np.empty((0, d))
    while out.shape[0] < m:
        k = gen.choice(len(ells), size=2 * m, p=prob)
        pts = np.empty((2 * m, d))
        for j, e in enumerate(ells):
            sel = k == j
            if sel.any():
                pts[sel] = e.draw(gen, int(sel.sum()))
        if len(ells) > 1:
            count = sum((e.radius2(pts) <= 1.0).astype(int) for e in ells)
            pts = pts[gen.random(2 * m) * np.maximum(count, 1) < 1.0]
        pts = pts[np.all((pts > frame) & (pts < frame + 1.0), axis=1)]
        out = np.vstack([out, np.mod(pts, 1.0)])
    return out[:m]


def expected_weights(logl: np.ndarray, nlive: np.ndarray, nfinal: int, logvol_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected log volumes and log weights (dead points, then ``nfinal`` final live points)."""
    logl = np.asarray(logl, dtype=float)
    nlive = np.asarray(nlive, dtype=float)
    ndead = logl.size - nfinal
    lv_prev = np.concatenate([[0.0], -np.cumsum(1.0 / nlive)])
    logvol = np.empty(logl.size)
    logwt = np.empty(logl.size)
    logvol[:ndead] = lv_prev[1:]
    logwt[:ndead] = logl[:ndead] + lv_prev[:-1] + np.log(-np.expm1(-1.0 / nlive))
    k = np.arange(1, nfinal + 1)
    logvol[ndead:] = logvol_end + np.log((nfinal + 1.0 - k) / (nfinal + 1.0))
    share = np.where(k == nfinal, 2.0, 1.0)
    logwt[ndead:] = logl[ndead:] + logvol_end + np.log(share / (nfinal + 1.0))
    return logvol, logwt


def simulate_logz(
    logl: np.ndarray, nlive: np.ndarray, nfinal: int, nsim: int, gen: np.random.Generator
) -> np.ndarray:
    """log Z of ``nsim`` runs with every shrinkage factor redrawn (exact, point by point)."""
    logl = np.asarray(logl, dtype=float)
    nlive = np.asarray(nlive, dtype=float)
    ndead = logl.size - nfinal
    out = np.empty(nsim)
    for s in range(nsim):
        logt = np.log(gen.random(ndead)) / nlive
        logx = np.concatenate([[0.0], np.cumsum(logt)])
        with np.errstate(divide="ignore"):
            lw_dead = logl[:ndead] + logx[:-1] + np.log(-np.expm1(logt))
        e = gen.exponential(size=nfinal + 1)
        share = e[:nfinal].copy()
        if nfinal:
            share[-1] += e[nfinal]
        lw_live = logl[ndead:] + logx[-1] + np.log(share / e.sum())
        out[s] = np.logaddexp.reduce(np.concatenate([lw_dead, lw_live]))
    return out


def run(
    loglike: Callable[[np.ndarray], np.ndarray],
    prior_transform: Callable[[np.ndarray], np.ndarray] | None,
    ndim: int,
    *,
    nlive: int = 500,
    dlogz: float = 0.5,
    rng: Any = None,
    bound: str = "multi",
    enlarge: float = 1.25,
    update_interval: int | None = None,
    nsim: int = 64,
    maxiter: int = 10**7,
    periodic: Any = None,
) -> dict[str, Any]:
    """Run the reference sampler (``periodic``: dimension indices whose faces are joined; see `fit_bound`).

    ``loglike`` and ``prior_transform`` are vectorised: (m, ndim) -> (m,) and
    (m, ndim) -> (m, ndim).  Returns a dict with logz, logzerr, ncall, niter,
    samples, logl, logwt, weights.
    """
    gen = np.random.default_rng(rng)
    transform = prior_transform if prior_transform is not None else (lambda u: u)
    if update_interval is None:
        update_interval = max(1, round(0.15 * nlive))

    def evaluate(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(transform(u), dtype=float).reshape(u.shape)
        ll = np.asarray(loglike(x), dtype=float).reshape(u.shape[0])
        if np.isnan(ll).any() or (ll == np.inf).any():
            msg = "loglike returned nan or +inf"
            raise ValueError(msg)
        return x, ll

    live_u = gen.random((nlive, ndim))
    live_x, live_l = evaluate(live_u)
    ncall = nlive
    dead_x, dead_l, dead_n = [], [], []
    logvol, logz = 0.0, -np.inf
    ells: list[Ellipsoid] | None = None
    last_update = 0
    accepted = evaluated = 0
    queue_u = np.empty((0, ndim))
    queue_x = np.empty((0, ndim))
    queue_l = np.empty(0)
    niter = 0
    while niter < maxiter:
        lmax = live_l.max()
        if logz == -np.inf:
            remaining = np.inf if lmax + logvol > -np.inf else 0.0
        else:
            remaining = np.logaddexp(logz, lmax + logvol) - logz
        if remaining < dlogz:
            break
        lstar = live_l.min()
        tied = np.flatnonzero(live_l == lstar)
        if tied.size == nlive:
            break
        for j, i in enumerate(tied):
            n = nlive - j
            logz = np.logaddexp(logz, lstar + logvol + math.log(-math.expm1(-1.0 / n)))
            logvol -= 1.0 / n
            dead_x.append(live_x[i].copy())
            dead_l.append(lstar)
            dead_n.append(n)
            niter += 1
        if bound != "none":
            if ells is None:
                if evaluated >= nlive and (accepted + 1.0) / (evaluated + 1.0) < 0.5:
                    ells = fit_bound(live_u, logvol - math.log(nlive), bound == "multi", enlarge, _COVERAGE_FOLDS, periodic)
                    last_update = niter
            elif niter - last_update >= update_interval:
                ells = fit_bound(live_u, logvol - math.log(nlive), bound == "multi", enlarge, _COVERAGE_FOLDS, periodic)
                last_update = niter
        for i in tied:
            while True:
                if queue_l.size == 0:
                    m = max(1, int(math.ceil((evaluated + 1.0) / (accepted + 1.0))))
                    queue_u = _draw_union(ells, gen, m) if ells is not None else gen.random((m, ndim))
                    queue_x, queue_l = evaluate(queue_u)
                    ncall += m
                u, x, ll = queue_u[0], queue_x[0], queue_l[0]
                queue_u, queue_x, queue_l = queue_u[1:], queue_x[1:], queue_l[1:]
                evaluated += 1
                if ll > lstar:
                    accepted += 1
                    break
            live_u[i], live_x[i], live_l[i] = u, x, ll
    order = np.argsort(live_l, kind="stable")
    logl = np.concatenate([np.array(dead_l), live_l[order]])
    nl = np.array(dead_n, dtype=float)
    _, logwt = expected_weights(logl, nl, nlive, logvol)
    logz_final = float(np.logaddexp.reduce(logwt))
    sims = simulate_logz(logl, nl, nlive, nsim, gen)
    samples = np.concatenate([np.array(dead_x).reshape(-1, ndim), live_x[order]])
    return {
        "logz": logz_final,
        "logzerr": float(np.std(sims, ddof=1)),
        "ncall": ncall,
        "niter": niter,
        "samples": samples,
        "logl": logl,
        "logwt": logwt,
        "weights": np.exp(logwt - logz_final),
        "logvol_end": logvol,
        "nlive_it": nl,
    }
