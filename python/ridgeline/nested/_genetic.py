"""Genetic-algorithm starts with an exact evidence: posterior repartitioning.

Nested sampling must start from the prior: live points seeded at a genetic
algorithm's optima would bias log Z.  Repartitioning keeps it exact.  The prior
pi (uniform on the unit cube u, mapped to parameters by the user's
``prior_transform``) and the likelihood L are replaced by a proposal q and
L * pi / q.  Their product is unchanged, so the posterior and the evidence

    Z = int L(u) pi(u) du = int [L(u) pi(u) / q(u)] q(u) du

are the same, for any normalised q > 0 wherever L pi > 0.  Nested sampling then
runs on (q, L pi / q): its unit cube v is mapped to u ~ q by q's exact inverse
conditional CDFs (the Rosenblatt transform) and then to parameters.

The proposal
------------
A small genetic algorithm (:func:`genetic_search`; tournament selection, blend
crossover BLX-alpha, Gaussian mutation scaled by the population's spread,
elitism) finds high-likelihood regions.  Its final population is split into
modes (greedy: the best unassigned member starts a mode, which takes the
members within ``radius`` or within 4 fitted widths); for each mode a separable
quadratic fitted to log L at the nearest evaluated points gives a centre and a
width per coordinate (the population's spread when the fit is not concave), and
the width is at least the spread of the evaluated points within ``5 radius`` whose
log L is within the 99% chi-square range of the best (curved posteriors).  q
is the mixture

    q(u) = eps + (1 - eps) sum_k w_k prod_j f_kj(u_j)

of products of 1-d logistic densities truncated to [0, 1] (scale = ``broaden``
times the fitted width, exponential tails) and a defensive uniform component of
weight ``eps``, so q >= eps everywhere and L pi / q <= L / eps.  Mode weights
w_k follow each mode's Laplace evidence.  A mixture of products has an exact
density and an exact inverse-CDF transform: u_1 from the marginal mixture CDF,
then u_j from the conditional mixture CDF given u_1..u_{j-1} (the weights are
multiplied by the densities already drawn), each inverted by a bracketed Newton
iteration to ~1e-13 in probability.

Why it is exact, and the limits
-------------------------------
The evidence of the repartitioned problem equals the original's whatever the
genetic algorithm found: q is normalised in closed form and positive on the
whole cube.  A poor q costs calls, never correctness, but

- with ``eps`` too small and a mode missed (or a q narrower than the
  posterior), L pi / q has a heavy tail: a spike of height L / eps in a region
  where q has little mass, which nested sampling reaches late; the run stays
  unbiased but its error and the number of calls grow.  ``eps`` of 0.05-0.2
  keeps the cost of a miss at most ~log(1 / eps) nats of extra compression;
- q is separable within a mode: strongly correlated or curved posteriors get a
  box-shaped component that is broader than needed (fewer savings, no bias);
- the genetic algorithm spends calls (``ncall_search``) that only pay off when
  the posterior is a small part of the prior (the saving is roughly the
  information H in nats, e.g. ~14 nats for a posterior of 1e-6 of the prior);
- in high dimension the search and the widths per coordinate are less
  reliable, and the Rosenblatt transform costs O(d K) Newton solves per point.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ridgeline._validation import check_bool, check_float, check_int, check_rng
from ridgeline.nested._results import NestedResult

__all__ = ["GeneticSearch", "Repartition", "genetic_search", "repartition"]


@dataclass(frozen=True)
class GeneticSearch:
    """The outcome of :func:`genetic_search`.

    Attributes
    ----------
    population : ndarray of shape (popsize, ndim)
        The final population in the unit cube, best first.
    logl : ndarray of shape (popsize,)
        Its log-likelihoods.
    archive_u : ndarray of shape (ncall, ndim)
        Every evaluated point in the unit cube.
    archive_logl : ndarray of shape (ncall,)
        Their log-likelihoods.
    ncall : int
        Likelihood calls made.
    ngen : int
        Generations run.
    """

    population: np.ndarray
    logl: np.ndarray
    archive_u: np.ndarray
    archive_logl: np.ndarray
    ncall: int
    ngen: int

    def __repr__(self) -> str:
        return f"GeneticSearch(ncall={self.ncall}, ngen={self.ngen}, best_logl={float(self.logl[0]):.6g})"


def _evaluator(loglike: Callable[..., Any], prior_transform: Callable[..., Any] | None, vectorized: bool) -> Callable[[np.ndarray], np.ndarray]:
    def evaluate(u: np.ndarray) -> np.ndarray:
        if vectorized:
            x = u if prior_transform is None else np.asarray(prior_transform(u), dtype=np.float64)
            out = np.asarray(loglike(x), dtype=np.float64).reshape(-1)
        else:
            vals = []
            for row in u:
                x = row if prior_transform is None else np.asarray(prior_transform(row), dtype=np.float64)
                vals.append(float(loglike(x)))
            out = np.asarray(vals, dtype=np.float64)
        if np.isnan(out).any():
            msg = "loglike returned NaN during the genetic search"
            raise ValueError(msg)
        return np.where(np.isposinf(out), np.finfo(float).max, out)

    return evaluate


def genetic_search(
    loglike: Callable[..., Any],
    prior_transform: Callable[..., Any] | None,
    ndim: int,
    *,
    popsize: int | None = None,
    ngen: int = 20,
    nelite: int | None = None,
    tournament: int = 3,
    alpha: float = 0.5,
    pmut: float | None = None,
    vectorized: bool = False,
    rng: int | np.random.Generator | None = None,
) -> GeneticSearch:
    """Search the unit cube for high log-likelihood with a real-coded genetic algorithm.

    Each generation keeps the ``nelite`` best members, and fills the rest with
    children of two parents chosen by tournaments: blend crossover (BLX-alpha:
    each coordinate uniform on the parents' interval widened by ``alpha`` times
    its length on both sides), then Gaussian mutation of each coordinate with
    probability ``pmut`` and a scale of the population's spread in that
    coordinate; coordinates are reflected into [0, 1].

    Parameters
    ----------
    loglike : callable
        Log-likelihood of a parameter point (batches with ``vectorized=True``).
    prior_transform : callable or None
        Map from the unit cube to parameters (None: identity).
    ndim : int
        Number of parameters.
    popsize : int, optional
        Population size (default ``max(40, 20 * ndim)``).
    ngen : int, default=20
        Generations after the initial uniform population.
    nelite : int, optional
        Members kept unchanged each generation (default ``max(2, popsize // 10)``).
    tournament : int, default=3
        Tournament size of parent selection.
    alpha : float, default=0.5
        Widening of the blend crossover.
    pmut : float, optional
        Mutation probability per coordinate (default ``1 / ndim``).
    vectorized : bool, default=False
        Whether ``loglike`` and ``prior_transform`` take batches.
    rng : int, numpy Generator or None
        Seed; the same seed gives the same search.

    Returns
    -------
    GeneticSearch
        Final population (best first), every evaluated point and the call count.
    """
    ndim = check_int(ndim, "ndim", low=1, high=100_000)
    popsize = max(40, 20 * ndim) if popsize is None else check_int(popsize, "popsize", low=4, high=10_000_000)
    ngen = check_int(ngen, "ngen", low=0, high=10_000_000)
    nelite = max(2, popsize // 10) if nelite is None else check_int(nelite, "nelite", low=0, high=popsize - 1)
    tournament = check_int(tournament, "tournament", low=1, high=popsize)
    alpha = check_float(alpha, "alpha", 0.0, 10.0)
    pmut = 1.0 / ndim if pmut is None else check_float(pmut, "pmut", 0.0, 1.0)
    vectorized = check_bool(vectorized, "vectorized")
    gen = np.random.default_rng(check_rng(rng))
    evaluate = _evaluator(loglike, prior_transform, vectorized)

    pop = gen.random((popsize, ndim))
    logl = evaluate(pop)
    arch_u, arch_l = [pop], [logl]
    nchild = popsize - nelite
    for _ in range(ngen):
        order = np.argsort(-logl, kind="stable")
        pop, logl = pop[order], logl[order]
        # tournaments: the best (lowest index after sorting) of `tournament` random members
        pa = gen.integers(0, popsize, size=(nchild, tournament)).min(axis=1)
        pb = gen.integers(0, popsize, size=(nchild, tournament)).min(axis=1)
        a, b = pop[pa], pop[pb]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        span = hi - lo
        child = lo - alpha * span + (1.0 + 2.0 * alpha) * span * gen.random((nchild, ndim))
        scale = np.maximum(pop.std(axis=0), 1e-12)
        mutate = gen.random((nchild, ndim)) < pmut
        child = child + mutate * gen.standard_normal((nchild, ndim)) * scale
        child = np.abs(child)  # reflect into [0, 1]
        child = 1.0 - np.abs(1.0 - np.mod(child, 2.0))
        child_logl = evaluate(child)
        arch_u.append(child)
        arch_l.append(child_logl)
        pop = np.concatenate([pop[:nelite], child])
        logl = np.concatenate([logl[:nelite], child_logl])
    order = np.argsort(-logl, kind="stable")
    archive_u = np.concatenate(arch_u)
    archive_logl = np.concatenate(arch_l)
    return GeneticSearch(pop[order], logl[order], archive_u, archive_logl, int(archive_u.shape[0]), ngen)


# --- truncated logistic mixtures -------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def _log_logistic_pdf(z: np.ndarray) -> np.ndarray:
    a = np.abs(z)
    out: np.ndarray = -a - 2.0 * np.log1p(np.exp(-a))
    return out


class _Mixture:
    """q(u) = w_0 + sum_k w_k prod_j f_kj(u_j) on [0, 1]^d, f_kj truncated logistic (loc m, scale s)."""

    def __init__(self, weights: np.ndarray, loc: np.ndarray, scale: np.ndarray, eps: float) -> None:
        self.loc = loc  # (K, d), in [0, 1]
        self.scale = scale  # (K, d)
        self.logw = np.concatenate([[math.log(eps)], np.log1p(-eps) + np.log(weights)])  # uniform first
        g0 = _sigmoid(-loc / scale)
        g1 = 1.0 - _sigmoid(-(1.0 - loc) / scale)
        self.g0 = g0
        self.mass = g1 - g0  # > 0 since loc is in [0, 1]
        self.lognorm = np.log(self.mass) + np.log(scale)
        # bracket points per coordinate: the ends and each component's quantiles at a few scales,
        # with every component's CDF there (G,) and (G, K)
        offs = np.array([-8.0, -3.0, -1.0, 0.0, 1.0, 3.0, 8.0])
        self._grids = []
        for j in range(loc.shape[1]):
            grid = np.unique(np.clip(np.concatenate([[0.0, 1.0], (loc[:, j, None] + offs * scale[:, j, None]).ravel()]), 0.0, 1.0))
            z = (grid[:, None] - loc[None, :, j]) / scale[None, :, j]
            gk = np.clip((_sigmoid(z) - g0[None, :, j]) / self.mass[None, :, j], 0.0, 1.0)
            gk[0], gk[-1] = 0.0, 1.0
            self._grids.append((grid, gk))

    def log_comp(self, u: np.ndarray, j: int) -> np.ndarray:
        """log f_kj(u) for u of shape (m,), returns (m, K)."""
        z = (u[:, None] - self.loc[None, :, j]) / self.scale[None, :, j]
        out: np.ndarray = _log_logistic_pdf(z) - self.lognorm[None, :, j]
        return out

    def log_density(self, u: np.ndarray) -> np.ndarray:
        """log q(u) for u of shape (m, d)."""
        lc = np.zeros((u.shape[0], self.loc.shape[0]))
        for j in range(u.shape[1]):
            lc += self.log_comp(u[:, j], j)
        terms = np.concatenate([np.zeros((u.shape[0], 1)), lc], axis=1) + self.logw[None, :]
        out: np.ndarray = np.logaddexp.reduce(terms, axis=1)
        return out

    def _cdf_pdf(self, x: np.ndarray, w: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Conditional mixture CDF and density at x (m,), weights w (m, K+1) normalised."""
        z = (x[:, None] - self.loc[None, :, j]) / self.scale[None, :, j]
        cdf_k = (_sigmoid(z) - self.g0[None, :, j]) / self.mass[None, :, j]
        pdf_k = np.exp(_log_logistic_pdf(z) - self.lognorm[None, :, j])
        cdf = w[:, 0] * x + np.sum(w[:, 1:] * cdf_k, axis=1)
        pdf = w[:, 0] + np.sum(w[:, 1:] * pdf_k, axis=1)
        return cdf, pdf

    def transform(self, v: np.ndarray) -> np.ndarray:
        """The Rosenblatt map of v ~ U[0, 1]^d to u ~ q, shape (m, d)."""
        m, d = v.shape
        out = np.empty_like(v)
        logw = np.broadcast_to(self.logw, (m, self.logw.size)).copy()
        for j in range(d):
            w = np.exp(logw - np.logaddexp.reduce(logw, axis=1, keepdims=True))
            grid, gk = self._grids[j]
            gcdf = w[:, :1] * grid[None, :] + w[:, 1:] @ gk.T  # (m, G): the mixture CDF at the bracket points
            target = v[:, j]
            idx = np.clip(np.sum(gcdf <= target[:, None], axis=1) - 1, 0, grid.size - 2)
            rows = np.arange(m)
            lo, hi = grid[idx], grid[idx + 1]
            flo, fhi = gcdf[rows, idx], gcdf[rows, idx + 1]
            x = lo + (hi - lo) * np.clip((target - flo) / np.maximum(fhi - flo, 1e-300), 0.0, 1.0)
            for _ in range(200):
                cdf, pdf = self._cdf_pdf(x, w, j)
                err = cdf - target
                done = (np.abs(err) <= 1e-14) | (hi - lo <= 4e-16 * np.maximum(1.0, np.abs(x)))
                if done.all():
                    break
                lo = np.where(err < 0, x, lo)
                hi = np.where(err > 0, x, hi)
                with np.errstate(divide="ignore", invalid="ignore"):
                    newton = x - err / pdf
                ok = np.isfinite(newton) & (newton > lo) & (newton < hi)
                x = np.where(done, x, np.where(ok, newton, 0.5 * (lo + hi)))
            out[:, j] = x
            logw[:, 1:] += self.log_comp(x, j)
        return out


def _fit_modes(search: GeneticSearch, max_modes: int, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Modes of the final population: centres, widths per coordinate and log Laplace masses."""
    pop, logl = search.population, search.logl
    d = pop.shape[1]
    finite = np.isfinite(logl)
    if not finite.any():
        msg = "the genetic search found no point with a finite log-likelihood"
        raise ValueError(msg)
    free = finite.copy()
    arch_ok = np.isfinite(search.archive_logl)
    au, al = search.archive_u[arch_ok], search.archive_logl[arch_ok]
    centres: list[np.ndarray] = []
    widths: list[np.ndarray] = []
    logmass: list[float] = []
    while free.any() and len(centres) < max_modes:
        i = int(np.flatnonzero(free)[0])  # best unassigned (the population is sorted)
        dist = np.sqrt(np.sum((pop - pop[i]) ** 2, axis=1))
        members = free & (dist <= radius)
        spread = pop[members].std(axis=0) if members.sum() > 1 else np.zeros(d)
        c = pop[i].copy()
        sig = np.full(d, np.nan)
        # separable quadratic fit of log L at the archive points nearest the centre
        nfit = min(au.shape[0], max(12 * d + 8, 40))
        if nfit >= 2 * d + 2:
            near = np.argsort(np.sum((au - c) ** 2, axis=1), kind="stable")[:nfit]
            dx = au[near] - c
            design = np.concatenate([np.ones((nfit, 1)), dx, 0.5 * dx * dx], axis=1)
            coef = np.linalg.lstsq(design, al[near], rcond=None)[0]
            b, h = coef[1 : d + 1], coef[d + 1 :]
            reach = np.max(np.abs(dx), axis=0)
            good = (h < 0) & np.isfinite(h)
            with np.errstate(divide="ignore", invalid="ignore"):
                shift = np.where(good, -b / h, 0.0)
            good &= np.abs(shift) <= 2.0 * reach + 1e-300
            sig = np.where(good, 1.0 / np.sqrt(np.where(good, -h, 1.0)), np.nan)
            c = np.where(good, c + shift, c)
        fallback = np.maximum(spread, 1e-3)
        sig = np.where(np.isfinite(sig), sig, fallback)
        # never narrower than the spread of the evaluated points near this mode whose log L is within
        # the 99% chi-square range of its best (guards against curved or non-quadratic posteriors)
        thresh = float(logl[i]) - 0.5 * (d + 3.0 * math.sqrt(2.0 * d) + 3.0)
        near_mode = (al >= thresh) & (np.sqrt(np.sum((au - c) ** 2, axis=1)) <= max(5.0 * radius, 1e-300))
        if near_mode.sum() > d:
            sig = np.maximum(sig, au[near_mode].std(axis=0))
        sig = np.clip(sig, 1e-9, 1.0)
        c = np.clip(c, 0.0, 1.0)
        # the mode takes the members within the radius or within 4 fitted widths in every coordinate
        members |= free & np.all(np.abs(pop - c) <= 4.0 * sig, axis=1)
        free &= ~members
        centres.append(c)
        widths.append(sig)
        logmass.append(float(logl[i]) + float(np.sum(np.log(sig))))
    return np.array(centres), np.array(widths), np.array(logmass)


class Repartition:
    """A repartitioned problem: proposal q from a genetic search, likelihood L pi / q.

    Made by :func:`repartition`; its evidence equals the original problem's
    exactly (see :mod:`ridgeline.nested._genetic`).

    Parameters
    ----------
    loglike : callable
        Scalar log-likelihood of a parameter point.
    prior_transform : callable or None
        Scalar map from the unit cube to parameters (None: identity).
    ndim : int
        Number of parameters.
    search : GeneticSearch
        The search whose final population defines the proposal.
    eps : float
        Weight of the defensive uniform component, in (0, 1).
    broaden : float
        Factor on each component's fitted width.
    max_modes : int
        Most mixture components.
    radius : float
        Distance in the unit cube within which population members join a mode.

    Attributes
    ----------
    search : GeneticSearch
        The genetic search the proposal was built from.
    ncall_search : int
        Likelihood calls of the search.
    eps : float
        Weight of the defensive uniform component of q.
    centres, scales : ndarray of shape (K, ndim)
        Locations and logistic scales of the mixture components in the unit cube.
    weights : ndarray of shape (K,)
        Their weights (summing to 1; q gives them 1 - eps in total).
    """

    def __init__(
        self,
        loglike: Callable[..., Any],
        prior_transform: Callable[..., Any] | None,
        ndim: int,
        search: GeneticSearch,
        eps: float,
        broaden: float,
        max_modes: int,
        radius: float,
    ) -> None:
        self._loglike = loglike
        self._transform = prior_transform
        self.ndim = ndim
        self.search = search
        self.ncall_search = search.ncall
        self.eps = eps
        centres, widths, logmass = _fit_modes(search, max_modes, radius)
        w = np.exp(logmass - logmass.max())
        self.weights = w / w.sum()
        self.centres = centres
        # logistic scale with the fitted standard deviation, broadened
        self.scales = np.minimum(broaden * widths * math.sqrt(3.0) / math.pi, 1.0)
        self._q = _Mixture(self.weights, self.centres, self.scales, eps)

    def log_q(self, u: Any) -> np.ndarray:
        """The proposal's log density at points u of the unit cube, shape (m, ndim) -> (m,).

        Parameters
        ----------
        u : array_like of shape (m, ndim) or (ndim,)
            Points of the unit cube.

        Returns
        -------
        ndarray of shape (m,)
        """
        return self._q.log_density(np.atleast_2d(np.asarray(u, dtype=np.float64)))

    def prior_transform(self, v: Any) -> np.ndarray:
        """Map v ~ U[0, 1]^ndim to u ~ q in the original unit cube (exact inverse conditional CDFs).

        Parameters
        ----------
        v : array_like of shape (ndim,) or (m, ndim)
            Points of the sampler's unit cube.

        Returns
        -------
        ndarray of the same shape
            Points u of the original problem's unit cube.
        """
        arr = np.asarray(v, dtype=np.float64)
        out = self._q.transform(np.atleast_2d(arr))
        return out.reshape(arr.shape)

    def loglike(self, u: Any) -> float:
        """The repartitioned log-likelihood log L(T(u)) + log pi(u) - log q(u) at a point u of the unit cube.

        Parameters
        ----------
        u : array_like of shape (ndim,)
            A point of the original unit cube (from :meth:`prior_transform`).

        Returns
        -------
        float
        """
        u = np.asarray(u, dtype=np.float64)
        x = u if self._transform is None else np.asarray(self._transform(u), dtype=np.float64)
        val = float(self._loglike(x))
        if val == -math.inf:
            return val
        return val - float(self._q.log_density(u[None, :])[0])

    def run(self, *, nlive: int = 500, dlogz: float = 0.01, rng: int | np.random.Generator | None = None,
            maxiter: int | None = None, maxcall: int | None = None, **kwargs: Any) -> NestedResult:
        """Run nested sampling on the repartitioned problem.

        Parameters
        ----------
        nlive : int, default=500
            Live points.
        dlogz : float, default=0.01
            Stopping criterion (see :meth:`NestedSampler.run`).
        rng : int, numpy Generator or None
            Seed of the nested-sampling run.
        maxiter, maxcall : int, optional
            Limits of the nested-sampling run (``maxcall`` counts its calls only).
        **kwargs
            Further keyword arguments of :class:`NestedSampler`.

        Returns
        -------
        NestedResult
            log Z and its error are those of the original problem.  ``samples``
            are in parameter space and ``samples_u`` in the original unit cube;
            ``logl`` holds the repartitioned log-likelihood log(L pi / q);
            ``ncall`` counts the genetic search's calls plus the sampler's.
        """
        from ridgeline.nested._sampler import NestedSampler

        sampler = NestedSampler(self.loglike, self.prior_transform, self.ndim, nlive=nlive, rng=rng, **kwargs)
        res = sampler.run(dlogz=dlogz, maxiter=maxiter, maxcall=maxcall)
        u = res.samples
        if self._transform is None:
            x = u.copy()
        else:
            x = np.array([np.asarray(self._transform(row), dtype=np.float64) for row in u]).reshape(u.shape)
        return dataclasses.replace(res, samples=x, samples_u=u, ncall=res.ncall + self.ncall_search)

    def __repr__(self) -> str:
        return f"Repartition(ndim={self.ndim}, modes={self.weights.size}, eps={self.eps:g}, ncall_search={self.ncall_search})"


def repartition(
    loglike: Callable[..., Any],
    prior_transform: Callable[..., Any] | None,
    ndim: int,
    *,
    eps: float = 0.1,
    broaden: float = 2.0,
    max_modes: int = 4,
    radius: float = 0.1,
    popsize: int | None = None,
    ngen: int = 20,
    vectorized: bool = False,
    rng: int | np.random.Generator | None = None,
) -> Repartition:
    """A genetic-algorithm start for nested sampling that keeps the evidence exact.

    Runs :func:`genetic_search`, builds the proposal q (a broadened mixture
    around the modes of the final population plus a uniform component of
    weight ``eps``) and returns the repartitioned problem (prior q, likelihood
    L pi / q), whose evidence and posterior are the original's.  Run it with
    :meth:`Repartition.run`, or pass ``rep.loglike`` and ``rep.prior_transform``
    to :class:`NestedSampler` (then ``samples`` are points of the original unit
    cube and the search's calls, ``rep.ncall_search``, come on top).

    Parameters
    ----------
    loglike : callable
        Log-likelihood of a parameter point.
    prior_transform : callable or None
        Map from the unit cube to parameters (None: identity).
    ndim : int
        Number of parameters.
    eps : float, default=0.1
        Weight of the defensive uniform component (0 < eps < 1): q >= eps on the
        whole cube, so L pi / q <= L / eps.
    broaden : float, default=2.0
        Factor on each component's fitted width.
    max_modes : int, default=4
        Most mixture components.
    radius : float, default=0.1
        Distance in the unit cube within which population members join a mode.
    popsize : int, optional
        Population of the search (default ``max(40, 20 * ndim)``).
    ngen : int, default=20
        Generations of the search.
    vectorized : bool, default=False
        Whether ``loglike`` and ``prior_transform`` take batches (the search
        only; the sampler calls the repartitioned likelihood one point at a time).
    rng : int, numpy Generator or None
        Seed of the search.

    Returns
    -------
    Repartition

    Examples
    --------
    >>> from ridgeline.nested import problems, repartition
    >>> p = problems.gaussian(2)
    >>> rep = repartition(p.loglike, p.prior_transform, p.ndim, rng=0, ngen=10)
    >>> res = rep.run(nlive=200, dlogz=0.5, rng=0)
    >>> abs(res.logz - p.logz_true) < 4 * res.logzerr
    True
    """
    ndim = check_int(ndim, "ndim", low=1, high=100_000)
    eps = check_float(eps, "eps", 0.0, 1.0)
    if not 0.0 < eps < 1.0:
        msg = f"eps={eps} must be in (0, 1)"
        raise ValueError(msg)
    broaden = check_float(broaden, "broaden", 1e-3, 1e6)
    max_modes = check_int(max_modes, "max_modes", low=1, high=1000)
    radius = check_float(radius, "radius", 0.0, 1e6)
    given_loglike: object = loglike
    if not callable(given_loglike):
        msg = f"loglike={loglike!r} must be callable"
        raise TypeError(msg)
    given_transform: object = prior_transform
    if given_transform is not None and not callable(given_transform):
        msg = f"prior_transform={prior_transform!r} must be callable or None"
        raise TypeError(msg)
    search = genetic_search(loglike, prior_transform, ndim, popsize=popsize, ngen=ngen, vectorized=vectorized, rng=rng)
    if vectorized:
        # the sampler calls the repartitioned likelihood point by point
        lk, tr = loglike, prior_transform

        def one_like(x: Any) -> float:
            return float(np.asarray(lk(np.asarray(x, dtype=np.float64)[None, :])).reshape(-1)[0])

        def one_tr(u: Any) -> np.ndarray:
            assert tr is not None
            return np.asarray(tr(np.asarray(u, dtype=np.float64)[None, :]), dtype=np.float64).reshape(-1)

        return Repartition(one_like, None if tr is None else one_tr, ndim, search, eps, broaden, max_modes, radius)
    return Repartition(loglike, prior_transform, ndim, search, eps, broaden, max_modes, radius)
