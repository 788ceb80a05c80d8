"""Neural surrogate likelihood for expensive likelihoods (BAMBI style).

During a run, every true likelihood evaluation is stored.  A small feed-forward
network is trained on the stored points near and above the current contour L*
(whitened coordinates, standardised target), validated on a held-out split, and
switched on only when its validation error of log L above L* is small.  While it
is on, new candidates get the network's value instead of a true call, except:

- spot checks: one candidate in ``check_every`` replacements that the network
  places above L* is also evaluated truly (its true value is used); a single
  error above ``4 tol`` or a running RMS of the last 16 checks above
  ``1.5 tol`` switches the network off;
- candidates outside the training envelope, or predicted above the best true
  value seen (extrapolation), are evaluated truly;
- when ``max_proposals`` network evaluations in a row find nothing above L*
  (a network that under-predicts the peak would stall the run), it is switched
  off.

The network is retrained every ``train_every`` iterations on the newest data
(the contour shrinks, the region that matters moves); while off, it is
retrained and re-validated on the same schedule and switched back on when it
passes.  A failure therefore costs true calls, never a wrong run.

Bias.  Nested sampling only needs the prior-mass weights w_i of the recorded
points, so for any function f, sum_i w_i f(x_i) estimates its prior integral.
The recorded log L of points whose value came from the network carries an error
delta_i = log L_true - log L_net, and

    Z_true = sum_i w_i L_i exp(delta_i) = Z * E_post[exp(delta)].

At the end of the run ``final_checks`` points are drawn from the posterior
weights; the ones with a network value are evaluated truly, and log Z is
corrected by log mean(exp(delta)) with the standard error of that mean added to
``logzerr`` in quadrature.  This removes the first-order bias (a systematic
offset of the network) at a fixed cost of at most ``final_checks`` true calls,
instead of re-evaluating every dead point (which would cost a true call per
iteration and remove most of the saving).  The shift is also applied to
``logwt`` and ``logz_sim``; the per-point ``logl`` stay as recorded.

Why the switch-on tolerance is 0.1 nat (RMS above L*): random errors of RMS s
change log Z by about the posterior mean of delta plus s^2 / 2; with s = 0.1 the
second term is 0.005 nat and the random part of the mean averages down over
thousands of posterior points, both far below the typical statistical error
sqrt(H / nlive) of 0.1-0.3 nat.  The remaining risk, a systematic offset, is
what the final correction measures.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ridgeline._random import mix_seed
from ridgeline._validation import check_int

__all__ = ["SurrogateLoglike", "SurrogateOptions", "make_options", "run_surrogate", "surrogate_loglike"]


@dataclass(frozen=True)
class SurrogateOptions:
    """Settings of the neural surrogate likelihood (``NestedSampler(surrogate=...)``).

    Parameters
    ----------
    hidden : int, default=32
        Units in each of the two tanh hidden layers.  The network also has a
        linear skip path on the whitened inputs and their products (all
        z_i z_j up to 15 dimensions, the squares beyond), initialised by ridge
        regression, so a locally Gaussian log L is easy for it.
    tol : float, default=0.1
        Switch on only when the held-out RMS error of log L (nats) on points at
        or above the current contour is below ``tol`` (and the mean error below
        ``tol / 2``).
    check_every : int, default=5
        Spot-check one candidate that the network places above L* per this many
        replacements.
    train_every : int, optional
        Iterations between trainings (default ``nlive // 4``).
    min_train : int, optional
        Fewest stored points in the training region before a training (default
        ``max(200, 20 * (2 ndim + 1))``).
    max_train : int, default=3000
        Most points per training (a seeded random subset beyond this).
    steps : int, default=600
        Adam steps (mini-batches of 192 points) per training.
    learning_rate : float, default=0.005
        Adam step size.
    valid_frac : float, default=0.2
        Held-out fraction for validation.
    max_proposals : int, default=5000
        Network evaluations in a row without any point above L* after which the
        network is switched off.
    final_checks : int, default=100
        Posterior draws re-evaluated truly at the end for the bias correction.
    """

    hidden: int = 32
    tol: float = 0.1
    check_every: int = 5
    train_every: int | None = None
    min_train: int | None = None
    max_train: int = 3000
    steps: int = 600
    learning_rate: float = 0.005
    valid_frac: float = 0.2
    max_proposals: int = 5000
    final_checks: int = 100

    def __post_init__(self) -> None:
        ints = {"hidden": 1, "check_every": 1, "max_train": 10, "steps": 1, "max_proposals": 1, "final_checks": 0}
        for name, lo in ints.items():
            check_int(getattr(self, name), name, low=lo)
        for name in ("train_every", "min_train"):
            v = getattr(self, name)
            if v is not None:
                check_int(v, name, low=1)
        for name, lo, hi in (("tol", 0.0, math.inf), ("learning_rate", 0.0, math.inf), ("valid_frac", 0.0, 0.9)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                msg = f"{name}={v!r} must be a float"
                raise TypeError(msg)
            if not (lo < float(v) <= hi) or math.isnan(float(v)):
                msg = f"{name}={v} must be in ({lo}, {hi}]"
                raise ValueError(msg)


def make_options(surrogate: Any) -> SurrogateOptions | None:
    """Turn the ``surrogate=`` argument into options (None: no surrogate)."""
    if surrogate is None or surrogate is False:
        return None
    if isinstance(surrogate, SurrogateOptions):
        return surrogate
    if isinstance(surrogate, str):
        if surrogate != "mlp":
            msg = f"surrogate={surrogate!r} is unknown; expected 'mlp', a SurrogateOptions or a dict"
            raise ValueError(msg)
        return SurrogateOptions()
    if isinstance(surrogate, dict):
        known = {f.name for f in dataclasses.fields(SurrogateOptions)}
        opts = dict(surrogate)
        kind = opts.pop("kind", "mlp")
        if kind != "mlp":
            msg = f"surrogate kind={kind!r} is unknown; expected 'mlp'"
            raise ValueError(msg)
        bad = sorted(set(opts) - known)
        if bad:
            msg = f"surrogate has unknown option(s) {', '.join(map(repr, bad))}; expected some of {sorted(known)}"
            raise ValueError(msg)
        return SurrogateOptions(**opts)
    msg = f"surrogate={surrogate!r} must be None, 'mlp', a SurrogateOptions or a dict"
    raise TypeError(msg)


_BATCH = 192
_BLAS_SIZE = 200_000  # rows * hidden^2 of one product: below OpenBLAS's threading threshold
_FULL_QUADRATIC = 15  # up to this dimension the skip path has every product z_i z_j, beyond it only z_i^2

# ---------------------------------------------------------------------------
# The network: whitening, 2 tanh layers, a skip path on [z, z^2], Adam.


class _Net:
    """Feed-forward regression network on whitened inputs with a quadratic skip path."""

    def __init__(self, x: np.ndarray, y: np.ndarray, hidden: int, rng: np.random.Generator) -> None:
        d = x.shape[1]
        self.mu = x.mean(axis=0)
        cov = np.atleast_2d(np.cov(x, rowvar=False))
        lam, vec = np.linalg.eigh(cov)
        lam = np.maximum(lam, 1e-12 * max(float(lam.max()), 1e-300))
        self.wh = vec / np.sqrt(lam)  # z = (x - mu) @ wh: whitened, principal axes
        self.ym = float(y.mean())
        self.ys = float(y.std()) or 1.0
        z = self.whiten(x)
        self.r2max = float(np.max(np.sum(z * z, axis=1)))
        t = (y - self.ym) / self.ys
        f = self._features(z)
        # skip path by ridge regression (the starting point of the training)
        a = np.column_stack([np.ones(len(t)), f])
        reg = 1e-6 * len(t) * np.eye(a.shape[1])
        reg[0, 0] = 0.0
        coef = np.linalg.solve(a.T @ a + reg, a.T @ t)
        self.p = {
            "w1": rng.normal(0.0, 1.0 / math.sqrt(d), (d, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, 1.0 / math.sqrt(hidden), (hidden, hidden)),
            "b2": np.zeros(hidden),
            "w3": rng.normal(0.0, 0.1 / math.sqrt(hidden), hidden),
            "b3": np.array(coef[0]),
            "s": coef[1:].copy(),
        }

    def whiten(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) @ self.wh

    def _features(self, z: np.ndarray) -> np.ndarray:
        d = z.shape[1]
        if d > _FULL_QUADRATIC:
            return np.concatenate([z, z * z], axis=1)
        iu, ju = np.triu_indices(d)
        return np.concatenate([z, z[:, iu] * z[:, ju]], axis=1)

    def _forward(self, z: np.ndarray, p: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        h1 = np.tanh(z @ p["w1"] + p["b1"])
        h2 = np.tanh(h1 @ p["w2"] + p["b2"])
        f = self._features(z)
        out = h2 @ p["w3"] + p["b3"] + f @ p["s"]
        return out, h1, h2, f

    def fit(self, x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, steps: int, lr: float,
            rng: np.random.Generator) -> None:
        """Adam on mini-batches of the standardised squared error; keeps the best validation state.

        Mini-batches of at most ``_BATCH`` rows keep every matrix product below
        the size at which a threaded BLAS starts threads (slow on a busy machine).
        """
        z, zv = self.whiten(x), self.whiten(xv)
        t = (y - self.ym) / self.ys
        tv = (yv - self.ym) / self.ys
        p = self.p
        m = {k: np.zeros_like(v) for k, v in p.items()}
        v2 = {k: np.zeros_like(v) for k, v in p.items()}
        b1, b2, eps, wd = 0.9, 0.999, 1e-8, 1e-5
        n = len(t)
        nb = min(n, self._batch_rows())
        order = rng.permutation(n)
        pos = 0
        best = (self._mse(zv, tv, p), {k: a.copy() for k, a in p.items()})
        for step in range(1, steps + 1):
            if pos + nb > n:
                order = rng.permutation(n)
                pos = 0
            rows = order[pos : pos + nb]
            pos += nb
            zb, tb = z[rows], t[rows]
            out, h1, h2, f = self._forward(zb, p)
            g = 2.0 * (out - tb) / nb
            ga2 = np.outer(g, p["w3"]) * (1.0 - h2 * h2)
            ga1 = (ga2 @ p["w2"].T) * (1.0 - h1 * h1)
            grads = {
                "w3": h2.T @ g + 2 * wd * p["w3"],
                "b3": np.array(g.sum()),
                "s": f.T @ g,
                "w2": h1.T @ ga2 + 2 * wd * p["w2"],
                "b2": ga2.sum(axis=0),
                "w1": zb.T @ ga1 + 2 * wd * p["w1"],
                "b1": ga1.sum(axis=0),
            }
            rate = lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))  # cosine decay
            c1, c2 = 1.0 - b1**step, 1.0 - b2**step
            for k, gk in grads.items():
                m[k] = b1 * m[k] + (1 - b1) * gk
                v2[k] = b2 * v2[k] + (1 - b2) * gk * gk
                p[k] = p[k] - rate * (m[k] / c1) / (np.sqrt(v2[k] / c2) + eps)
            if step % 50 == 0 or step == steps:
                e = self._mse(zv, tv, p)
                if e < best[0]:
                    best = (e, {k: a.copy() for k, a in p.items()})
        self.p = best[1]

    def _batch_rows(self) -> int:
        h = self.p["w2"].shape[0]
        return max(16, min(_BATCH, _BLAS_SIZE // (h * h)))

    def _out(self, z: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        nb = self._batch_rows()
        if z.shape[0] <= nb:
            return self._forward(z, p)[0]
        return np.concatenate([self._forward(z[i : i + nb], p)[0] for i in range(0, z.shape[0], nb)])

    def _mse(self, z: np.ndarray, t: np.ndarray, p: dict[str, np.ndarray]) -> float:
        return float(np.mean((self._out(z, p) - t) ** 2))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted log L and whether each point lies inside the training envelope."""
        z = self.whiten(x)
        out = self._out(z, self.p)
        return self.ym + self.ys * out, np.sum(z * z, axis=1) <= self.r2max


# ---------------------------------------------------------------------------
# The likelihood wrapper seen by the compiled run loop.


class SurrogateLoglike:
    """Vectorised log-likelihood that answers with the network when it is on.

    Parameters
    ----------
    true_fn : callable
        The true likelihood, vectorised: (m, ndim) -> (m,).
    ndim, nlive : int
        Run dimensions.
    opts : SurrogateOptions
    seed : int
        Run seed (training and the final draws derive their streams from it).
    """

    def __init__(self, true_fn: Callable[[np.ndarray], np.ndarray], ndim: int, nlive: int, opts: SurrogateOptions,
                 seed: int) -> None:
        self.true_fn = true_fn
        self.ndim = ndim
        self.nlive = nlive
        self.opts = opts
        self.seed = seed
        self.train_every = opts.train_every or max(1, nlive // 4)
        self.min_train = opts.min_train or max(200, 20 * (2 * ndim + 1))
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self.ntrue = 0
        self.nsur = 0
        self.net: _Net | None = None
        self.active = False
        self.lstar = -math.inf
        self.lmax_true = -math.inf
        self.sur_values: dict[bytes, float] = {}
        self.above_count = 0
        self.above_block = 0
        self.check_period = opts.check_every
        self.since_above = 0
        self.recent_err: list[float] = []
        self.stats = {"trainings": 0, "switch_on": 0, "switch_off_check": 0, "switch_off_proposals": 0,
                      "switch_off_validation": 0, "spot_checks": 0, "valid_rms": math.nan, "valid_mean": math.nan,
                      "first_on_iter": -1, "history": []}
        self.ncheck_true = 0
        self.backoff = 1  # training interval multiplier after failed validations (1, 2, 4, 8)

    # -- true evaluations -------------------------------------------------
    def _true(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.true_fn(x), dtype=np.float64).reshape(-1)
        if y.shape[0] != x.shape[0]:
            msg = f"loglike returned {y.shape[0]} values for a batch of {x.shape[0]} points"
            raise ValueError(msg)
        self.ntrue += x.shape[0]
        self._xs.append(np.array(x, dtype=np.float64, copy=True))
        self._ys.append(y.copy())
        fin = y[np.isfinite(y)]
        if fin.size:
            self.lmax_true = max(self.lmax_true, float(fin.max()))
        return y

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.active or self.net is None:
            return self._true(x)
        pred, inside = self.net.predict(x)
        margin = 3.0 * self.opts.tol
        need = ~inside | (pred > self.lmax_true + margin) | ~np.isfinite(pred)
        above = pred > self.lstar
        check = np.zeros(x.shape[0], dtype=bool)
        for k in np.flatnonzero(above & ~need):
            self.above_count += 1
            if self.above_count % self.check_period == 0:
                check[k] = True
        self.above_block += int(np.count_nonzero(above))
        if np.any(above):
            self.since_above = 0
        else:
            self.since_above += x.shape[0]
            if self.since_above > self.opts.max_proposals:
                self._switch_off("switch_off_proposals")
                return self._true(x)
        out = pred.copy()
        ev = need | check
        if np.any(ev):
            yt = self._true(x[ev])
            out[ev] = yt
            # compare where either value is above the contour (the region that matters)
            rel = (yt > self.lstar) | (pred[ev] > self.lstar)
            err = yt[rel] - pred[ev][rel]
            self.ncheck_true += int(np.count_nonzero(check))
            self.stats["spot_checks"] += int(err.size)
            for e in err:
                self.recent_err.append(float(e) if np.isfinite(e) else math.inf)
            self.recent_err = self.recent_err[-16:]
            tol = self.opts.tol
            bad_single = err.size > 0 and (not np.all(np.isfinite(err)) or float(np.max(np.abs(err))) > 4 * tol)
            recent_rms = math.sqrt(float(np.mean(np.square(self.recent_err)))) if self.recent_err else 0.0
            bad_rms = len(self.recent_err) >= 8 and recent_rms > 1.5 * tol
            if bad_single or bad_rms:
                self._switch_off("switch_off_check")
        used = ~ev
        self.nsur += int(np.count_nonzero(used))
        for k in np.flatnonzero(used & above):
            self.sur_values[x[k].tobytes()] = float(pred[k])
        return out

    def _switch_off(self, why: str) -> None:
        if self.active:
            self.active = False
            self.stats[why] += 1
        self.recent_err = []

    # -- training ---------------------------------------------------------
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """All true evaluations so far: (x, log L)."""
        if not self._xs:
            return np.empty((0, self.ndim)), np.empty(0)
        if len(self._xs) > 1:
            self._xs = [np.concatenate(self._xs)]
            self._ys = [np.concatenate(self._ys)]
        return self._xs[0], self._ys[0]

    def train(self, lstar: float, llow: float, niter: int) -> None:
        """Train on the stored points with log L >= llow; switch on or off by validation above lstar."""
        x, y = self.data()
        fin = np.isfinite(y)
        if np.count_nonzero(fin) < self.min_train:
            self._switch_off("switch_off_validation")
            return
        # widen the region down to the best min_train points when it holds fewer
        llow = min(llow, float(np.sort(y[fin])[-self.min_train]))
        sel = fin & (y >= llow)
        rng = np.random.default_rng(mix_seed(self.seed, 0x5A11 + self.stats["trainings"]))
        idx = np.flatnonzero(sel)
        if idx.size > self.opts.max_train:
            idx = np.sort(rng.choice(idx, self.opts.max_train, replace=False))
        perm = rng.permutation(idx.size)
        nval = max(1, int(round(self.opts.valid_frac * idx.size)))
        vi, ti = idx[perm[:nval]], idx[perm[nval:]]
        net = _Net(x[ti], y[ti], self.opts.hidden, rng)
        net.fit(x[ti], y[ti], x[vi], y[vi], self.opts.steps, self.opts.learning_rate, rng)
        self.stats["trainings"] += 1
        top = vi[y[vi] >= lstar]
        if top.size < 15:
            self.stats["history"].append((niter, int(idx.size), int(top.size), math.nan, False))
            self._switch_off("switch_off_validation")
            return
        err = y[top] - net.predict(x[top])[0]
        rms = float(np.sqrt(np.mean(err * err)))
        mean = float(np.mean(err))
        self.stats["history"].append((niter, int(idx.size), int(top.size), rms, rms < self.opts.tol))
        self.stats["valid_rms"] = rms
        self.stats["valid_mean"] = mean
        self.net = net
        ok = rms < self.opts.tol and abs(mean) < 0.5 * self.opts.tol
        # a network that keeps failing is retried less often (saves CPU on hopeless likelihoods)
        self.backoff = 1 if ok else min(2 * self.backoff, 8)
        if ok:
            if not self.active:
                self.stats["switch_on"] += 1
                if self.stats["first_on_iter"] < 0:
                    self.stats["first_on_iter"] = niter
            self.active = True
            self.since_above = 0
        else:
            self._switch_off("switch_off_validation")

    # -- end of the run: bias correction -----------------------------------
    def finish(self, res: Any) -> Any:
        """Correct log Z for the network values among the recorded points and report the counts."""
        info = dict(self.stats)
        corr, corr_err, nfinal = 0.0, 0.0, 0
        keys = [row.tobytes() for row in res.samples]
        is_sur = np.array([k in self.sur_values for k in keys], dtype=bool)
        k_draw = self.opts.final_checks
        if k_draw > 0 and np.any(is_sur):
            rng = np.random.default_rng(mix_seed(self.seed, 0xF1A1))
            cdf = np.cumsum(res.weights)
            cdf /= cdf[-1]
            pos = (rng.random() + np.arange(k_draw)) / k_draw
            idx = np.minimum(np.searchsorted(cdf, pos, side="right"), cdf.size - 1)
            delta = np.zeros(k_draw)
            todo = np.unique(idx[is_sur[idx]])
            if todo.size:
                yt = self._true(res.samples[todo])
                nfinal = int(todo.size)
                d_of = dict(zip(todo.tolist(), (yt - res.logl[todo]).tolist()))
                delta = np.array([d_of.get(int(i), 0.0) for i in idx])
            with np.errstate(over="ignore"):
                e = np.exp(delta)
            c = float(np.mean(e))
            if c > 0 and math.isfinite(c):
                corr = math.log(c)
                corr_err = float(np.std(e, ddof=1)) / math.sqrt(k_draw) / c if k_draw > 1 else 0.0
            else:  # pragma: no cover - the network was wildly wrong on every draw
                corr, corr_err = 0.0, math.inf
        info.update({"logz_correction": corr, "logz_correction_err": corr_err, "final_true_calls": nfinal,
                     "n_surrogate_points": int(np.count_nonzero(is_sur)),
                     "surrogate_fraction_posterior": float(np.sum(res.weights[is_sur]))})
        return dataclasses.replace(
            res,
            logz=res.logz + corr,
            logzerr=math.sqrt(res.logzerr**2 + corr_err**2),
            logwt=res.logwt + corr,
            logz_sim=res.logz_sim + corr,
            ncall=self.ntrue,
            ncall_surrogate=self.nsur,
            surrogate=info,
        )


def surrogate_loglike(surrogate: Any, loglike: Any, executor_loglike: Any, vectorized: bool, ndim: int, nlive: int,
                      seed: int) -> SurrogateLoglike:
    """Build the wrapper for ``NestedSampler(surrogate=...)`` around the user's likelihood."""
    from ridgeline.nested._sampler import CLikelihood
    from ridgeline.nested.problems import BuiltinLoglike

    opts = make_options(surrogate)
    if opts is None:  # pragma: no cover - the caller checks
        msg = "surrogate=None"
        raise ValueError(msg)
    if isinstance(loglike, CLikelihood):
        msg = "surrogate= needs a Python loglike (a compiled CLikelihood is too cheap to replace)"
        raise TypeError(msg)
    true_fn: Callable[[np.ndarray], np.ndarray]
    if executor_loglike is not None:
        true_fn = executor_loglike
    elif isinstance(loglike, BuiltinLoglike):
        true_fn = loglike.batch
    elif vectorized:
        def true_fn(x: np.ndarray) -> np.ndarray:
            return np.asarray(loglike(x), dtype=np.float64)
    else:
        def true_fn(x: np.ndarray) -> np.ndarray:
            return np.array([float(loglike(row)) for row in x], dtype=np.float64)
    return SurrogateLoglike(true_fn, ndim, nlive, opts, seed)


def run_surrogate(sampler: Any, dlogz: float, maxiter: int, maxcall: int, progress: bool) -> str:
    """Run the compiled sampler in blocks, training and switching the surrogate between blocks."""
    from ridgeline._progress import Progress
    from ridgeline.nested._runloop import progress_fraction

    sur: SurrogateLoglike = sampler._surrogate
    core = sampler._core
    nlive = sampler.nlive
    block = max(1, nlive // 20)
    rep = Progress("nested", "nested sampling (surrogate)", total=1.0, progress=progress)
    first: float | None = None
    last_train = int(core.niter())
    stop = "maxiter"
    try:
        while True:
            it0 = int(core.niter())
            target = it0 + block
            block_max = target if maxiter < 0 else min(target, maxiter)
            sur.above_block = 0
            stop = core.run(dlogz, block_max, -1, None, 0)
            st = core.state()
            niter = int(st["niter"])
            if rep.active:
                dl = float(core.delta_logz())
                frac, first = progress_fraction(first, dl, dlogz)
                rep.update(frac, iter=niter, ncall=sur.ntrue, logz=float(st["logz"]), dlogz=dl)
            if maxcall >= 0 and sur.ntrue >= maxcall and stop == "maxiter":
                stop = "maxcall"
            done = stop != "maxiter" or (maxiter >= 0 and block_max >= maxiter)
            if done:
                break
            live = st["live_logl"]
            sur.lstar = float(np.min(live))
            if sur.active and niter > it0:  # spot checks at the rate of replacements
                rate = sur.above_block / (niter - it0)
                sur.check_period = max(1, int(round(sur.opts.check_every * max(rate, 1.0))))
            if niter - last_train >= sur.train_every * (2 if sur.active else sur.backoff):
                dead = st["dead_logl"]
                back = niter - 2 * nlive  # the contour two e-folds of volume back
                llow = float(dead[back]) if back >= 0 else -math.inf
                sur.train(sur.lstar, llow, niter)
                last_train = niter
    except BaseException:
        if rep.bar:
            rep.stream.write("\n")
        raise
    rep.close(f"stop: {stop}", ncall=sur.ntrue)
    return str(stop)
