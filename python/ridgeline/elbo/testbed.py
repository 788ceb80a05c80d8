"""A sequence model with exact answers: the oracle for masked-diffusion ELBO estimators.

A first-order Markov chain over ``V`` symbols.  Given any set of observed tokens, the
conditional of a hidden token depends only on its nearest observed neighbours ``j < i < k``:

.. math:: p(x_i = v \\mid \\cdot) \\propto [P^{i-j}]_{x_j v} \\, [P^{k-i}]_{v x_k},

(with the marginal ``pi_0 P^i`` when nothing is observed on the left), so every
conditional, ``log p(x)`` and the exact ELBO of deliberately imperfect models are
computable:

``"exact"``
    the true conditionals; the ELBO equals ``log p(x)`` (or ``log p(completion | prompt)``).
``"tempered"``
    ``q(v | .) \\propto p(v | .)^{1/T}``: not the conditionals of any joint, so the ELBO is
    strictly below ``log p(x)``.
``"left"``
    conditions on the nearest observed token on the left only (ignores the right context).

:meth:`MarkovChain.mask_profile` returns ``f(l)``, the expected sum of masked-token
log-probabilities over uniformly random masks of exactly ``l`` tokens, computed exactly by
counting the masks that make ``(j, k)`` the nearest observed neighbours of ``i``; the ELBO
is ``sum_l f(l) / l`` and :func:`ridgeline.elbo.masked_diffusion.expectation` turns ``f``
into the exact mean of every estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ridgeline._validation import check_int

__all__ = ["MODELS", "MarkovChain", "gaussian_target"]

MODELS = ("exact", "tempered", "left")


class MarkovChain:
    """First-order Markov chain ``x_0 ~ init``, ``x_{i+1} | x_i ~ trans[x_i]``.

    Parameters
    ----------
    init : array-like of shape (V,)
        Distribution of the first token.
    trans : array-like of shape (V, V)
        Row-stochastic transition matrix.

    Examples
    --------
    >>> chain = MarkovChain.random(4, rng=0)
    >>> x = chain.sample(1, 6, rng=1)[0]
    >>> bool(abs(chain.exact_elbo(x) - chain.log_prob(x)) < 1e-9)
    True
    """

    def __init__(self, init: ArrayLike, trans: ArrayLike) -> None:
        p0 = np.asarray(init, dtype=np.float64)
        P = np.asarray(trans, dtype=np.float64)
        if p0.ndim != 1 or P.shape != (p0.size, p0.size) or p0.size < 1:
            msg = f"init must be (V,) and trans (V, V), got {p0.shape} and {P.shape}"
            raise ValueError(msg)
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(p0))) or np.any(P < 0) or np.any(p0 < 0):
            msg = "init and trans must be finite and non-negative"
            raise ValueError(msg)
        if not (np.allclose(P.sum(axis=1), 1.0, atol=1e-10) and abs(p0.sum() - 1.0) < 1e-10):
            msg = "init and the rows of trans must sum to 1"
            raise ValueError(msg)
        self.init = p0
        self.trans = P
        self.V = p0.size
        self._pow: np.ndarray = np.eye(self.V)[None]
        self._marg: np.ndarray = p0[None]

    @classmethod
    def random(cls, V: int, *, alpha: float = 0.3, rng: int | np.random.Generator | None = None) -> MarkovChain:
        """A chain with Dirichlet(alpha) transition rows and a uniform first token.

        Parameters
        ----------
        V : int
            Vocabulary size.
        alpha : float, default=0.3
            Concentration of the Dirichlet distribution of each transition row.
        rng : int, numpy Generator or None
            Source of randomness (None: fresh entropy).

        Returns
        -------
        MarkovChain
        """
        gen = np.random.default_rng(rng)
        P = gen.dirichlet(np.full(V, alpha), size=V)
        P = np.maximum(P, 1e-300)
        P /= P.sum(axis=1, keepdims=True)
        return cls(np.full(V, 1.0 / V), P)

    # -- exact quantities --------------------------------------------------------------
    def _ensure(self, L: int) -> None:
        while self._pow.shape[0] <= L:
            self._pow = np.concatenate([self._pow, (self._pow[-1] @ self.trans)[None]])
            self._marg = np.concatenate([self._marg, (self._marg[-1] @ self.trans)[None]])

    def sample(self, n: int, L: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """``n`` sequences of length ``L`` (int64 array of shape (n, L)).

        Parameters
        ----------
        n : int
            Number of sequences.
        L : int
            Length of each sequence.
        rng : int, numpy Generator or None
            Source of randomness (None: fresh entropy).

        Returns
        -------
        ndarray of int64, shape (n, L)
        """
        gen = np.random.default_rng(rng)
        x = np.empty((n, L), dtype=np.int64)
        if L == 0:
            return x
        cum0 = np.cumsum(self.init)
        cum = np.cumsum(self.trans, axis=1)
        x[:, 0] = np.minimum(np.searchsorted(cum0, gen.random(n), side="right"), self.V - 1)
        for i in range(1, L):
            u = gen.random(n)
            x[:, i] = np.minimum((cum[x[:, i - 1]] <= u[:, None]).sum(axis=1), self.V - 1)
        return x

    def _ids(self, x: Any, name: str, extra: int | None = None) -> np.ndarray:
        """Token ids as int64, refusing non-integers and ids outside [0, V) (or ``extra``)."""
        a = np.asarray(x)
        if a.dtype.kind not in "iu":
            msg = f"{name} must hold integer token ids, got dtype {a.dtype}"
            raise TypeError(msg)
        a = a.astype(np.int64)
        bad = (a < 0) | (a >= self.V)
        if extra is not None:
            bad &= a != extra
        if np.any(bad):
            v = int(a[bad][0])
            msg = f"{name} has a token id {v} outside [0, {self.V})" + ("" if extra is None else f" and not mask_id={extra}")
            raise ValueError(msg)
        return a

    def log_prob(self, x: ArrayLike) -> np.ndarray | float:
        """Exact ``log p(x)`` of one sequence (float) or of each row of a 2-D array.

        Parameters
        ----------
        x : array-like of int, shape (L,) or (n, L)
            One sequence or a batch of sequences.

        Returns
        -------
        float or ndarray of shape (n,)
        """
        a = self._ids(x, "x")
        one = a.ndim == 1
        a = np.atleast_2d(a)
        with np.errstate(divide="ignore"):
            lp = np.log(self.init[a[:, 0]]) + np.log(self.trans[a[:, :-1], a[:, 1:]]).sum(axis=1)
        return float(lp[0]) if one else lp

    def _cond_logq(
        self, i: np.ndarray, j: np.ndarray, k: np.ndarray, xi: np.ndarray, xj: np.ndarray, xk: np.ndarray,
        L: int, model: str, temperature: float,
    ) -> np.ndarray:
        """log q(x_i | nearest observed x_j (j = -1: none) and x_k (k = L: none))."""
        self._ensure(L)
        has_l, has_r = j >= 0, k < L
        if model in ("exact", "left"):
            # scalar path: p(x_i | .) = A[x_i] B[x_i] / sum_v A[v] B[v], with the sum in closed form
            jj, kk = np.where(has_l, j, 0), np.where(has_r, k, 0)
            a = np.where(has_l, self._pow[np.where(has_l, i - jj, 0), np.where(has_l, xj, 0), xi], self._marg[i, xi])
            with np.errstate(divide="ignore"):
                if model == "left":
                    left: np.ndarray = np.log(a)
                    return left
                b = np.where(has_r, self._pow[np.where(has_r, kk - i, 0), xi, np.where(has_r, xk, 0)], 1.0)
                norm = np.where(
                    has_l & has_r,
                    self._pow[np.where(has_l & has_r, kk - jj, 0), np.where(has_l, xj, 0), np.where(has_r, xk, 0)],
                    np.where(has_r, self._marg[kk, np.where(has_r, xk, 0)], 1.0),
                )
                both: np.ndarray = np.log(a) + np.log(b) - np.log(norm)
                return both
        A = np.where(has_l[:, None], self._pow[np.where(has_l, i - j, 0), np.where(has_l, xj, 0)], self._marg[i])
        if model == "left":
            w = A
        else:
            Bf = self._pow[np.where(has_r, k - i, 0), :, np.where(has_r, xk, 0)]
            w = A * np.where(has_r[:, None], Bf, 1.0)
        with np.errstate(divide="ignore"):
            logw = np.log(w)
        if model == "tempered":
            logw = logw / temperature
        m = logw.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(logw - m).sum(axis=1, keepdims=True)))[:, 0]
        out: np.ndarray = logw[np.arange(i.size), xi] - lse
        return out

    def logprob_fn(
        self, model: str = "exact", *, temperature: float = 0.9, mask_id: int | None = None
    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A batched scorer ``fn(noisy, clean) -> logp`` for :func:`masked_diffusion.estimate`.

        ``noisy`` has ``mask_id`` (default ``V``) at masked positions; ``logp[r, i]`` is the
        model's log-probability of ``clean[r, i]`` at masked positions, 0 elsewhere.

        Parameters
        ----------
        model : {"exact", "tempered", "left"}, default="exact"
            The denoiser: the chain's exact conditional given the nearest visible tokens on both
            sides, the same with log-probabilities divided by ``temperature``, or the exact
            conditional given the left neighbour only (a biased model).
        temperature : float, default=0.9
            For ``model="tempered"``.
        mask_id : int, optional
            Token id of the mask (default ``V``, one past the vocabulary).

        Returns
        -------
        callable
        """
        model = _check_model(model, temperature)
        mid = self.V if mask_id is None else check_int(mask_id, "mask_id")

        def fn(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
            z = self._ids(noisy, "noisy", extra=mid)
            c = self._ids(clean, "clean")
            if z.ndim != 2 or c.shape != z.shape:
                msg = f"noisy and clean must be 2-D of one shape, got {z.shape} and {c.shape}"
                raise ValueError(msg)
            R, L = z.shape
            hidden = z == mid
            idx = np.arange(L)
            left = np.maximum.accumulate(np.where(~hidden, idx, -1), axis=1)
            right = np.minimum.accumulate(np.where(~hidden, idx, L)[:, ::-1], axis=1)[:, ::-1]
            # nearest observed strictly left / right of i (i itself is hidden when it matters)
            lj = np.concatenate([np.full((R, 1), -1), left[:, :-1]], axis=1)
            rk = np.concatenate([right[:, 1:], np.full((R, 1), L)], axis=1)
            r, i = np.nonzero(hidden)
            out = np.zeros((R, L))
            if r.size:
                j, k = lj[r, i], rk[r, i]
                xj = np.where(j >= 0, c[r, np.maximum(j, 0)], 0)
                xk = np.where(k < L, c[r, np.minimum(k, L - 1)], 0)
                out[r, i] = self._cond_logq(i, j, k, c[r, i], xj, xk, L, model, temperature)
            return out

        return fn

    def mask_profile(
        self, x: ArrayLike, maskable: ArrayLike | int | None = None, *, model: str = "exact", temperature: float = 0.9
    ) -> np.ndarray:
        """``f[l]``, l = 0..n: expected sum of masked log q over uniform masks of exactly l tokens.

        Parameters
        ----------
        x : array-like of int, shape (L,)
            A clean sequence.
        maskable : array-like of bool of shape (L,) or int, optional
            Completion mask, or the number of maskable leading tokens; default all.
        model : {"exact", "tempered", "left"}, default="exact"
            The denoiser: the chain's exact conditional given the nearest visible tokens on both
            sides, the same with log-probabilities divided by ``temperature``, or the exact
            conditional given the left neighbour only (a biased model).
        temperature : float, default=0.9
            For ``model="tempered"``.

        Returns
        -------
        ndarray of shape (n + 1,)
        """
        model = _check_model(model, temperature)
        xs = self._ids(x, "x")
        if xs.ndim != 1:
            msg = f"x must be one sequence (1-D), got shape {xs.shape}"
            raise ValueError(msg)
        L = xs.size
        if maskable is None:
            mk = np.ones(L, dtype=bool)
        elif np.ndim(maskable) == 0:
            mk = np.arange(L) < int(np.asarray(maskable))
        else:
            mk = np.asarray(maskable, dtype=bool)
            if mk.shape != (L,):
                msg = f"maskable must have shape ({L},), got {mk.shape}"
                raise ValueError(msg)
        n = int(mk.sum())
        f = np.zeros(n + 1)
        if n == 0:
            return f
        # Candidate neighbour pairs (j, k) of every maskable i, with a = #maskable strictly
        # between j and k other than i (all masked) and c = #maskable among j, k (unmasked).
        I, J, K, A, C = [], [], [], [], []
        for i in np.flatnonzero(mk):
            js = []
            j = i - 1
            while True:
                if j < 0:
                    js.append(-1)
                    break
                js.append(j)
                if not mk[j]:
                    break
                j -= 1
            ks = []
            k = i + 1
            while True:
                if k >= L:
                    ks.append(L)
                    break
                ks.append(k)
                if not mk[k]:
                    break
                k += 1
            for j in js:
                for k in ks:
                    I.append(i)
                    J.append(j)
                    K.append(k)
                    A.append((i - j - 1) + (k - i - 1))
                    C.append(int(j >= 0 and mk[j]) + int(k < L and mk[k]))
        Ia, Ja, Ka, Aa, Ca = (np.asarray(v, dtype=np.int64) for v in (I, J, K, A, C))
        xj = np.where(Ja >= 0, xs[np.maximum(Ja, 0)], 0)
        xk = np.where(Ka < L, xs[np.minimum(Ka, L - 1)], 0)
        lq = self._cond_logq(Ia, Ja, Ka, xs[Ia], xj, xk, L, model, temperature)
        # sum log q over triples sharing (a, c): the probability depends on those only
        keyv = Aa * 3 + Ca
        sums = np.bincount(keyv, weights=lq, minlength=(L + 1) * 3)
        present = [divmod(int(key), 3) for key in np.flatnonzero(np.bincount(keyv, minlength=(L + 1) * 3))]
        for l in range(1, n + 1):
            denom = math.comb(n - 1, l - 1)
            acc = 0.0
            for a, c in present:
                key = a * 3 + c
                free, need = n - 1 - a - c, l - 1 - a
                if need < 0 or free < need:
                    continue
                acc += sums[key] * (math.comb(free, need) / denom)
            f[l] = l / n * acc
        return f

    def exact_elbo(self, x: ArrayLike, maskable: ArrayLike | int | None = None, *, model: str = "exact", temperature: float = 0.9) -> float:
        """Exact ELBO ``sum_l f(l) / l`` of one sequence under ``model``.

        Parameters
        ----------
        x : array-like of int, shape (L,)
            A clean sequence.
        maskable : array-like of bool of shape (L,) or int, optional
            Completion mask, or the number of maskable leading tokens; default all.
        model : {"exact", "tempered", "left"}, default="exact"
            The denoiser: the chain's exact conditional given the nearest visible tokens on both
            sides, the same with log-probabilities divided by ``temperature``, or the exact
            conditional given the left neighbour only (a biased model).
        temperature : float, default=0.9
            For ``model="tempered"``.

        Returns
        -------
        float
        """
        f = self.mask_profile(x, maskable, model=model, temperature=temperature)
        n = f.size - 1
        return float(np.sum(f[1:] / np.arange(1, n + 1))) if n else 0.0


def _check_model(model: str, temperature: float) -> str:
    if model not in MODELS:
        msg = f"unknown model {model!r}; expected one of 'exact', 'tempered', 'left'"
        raise ValueError(msg)
    if model == "tempered" and not (np.isfinite(temperature) and temperature > 0):
        msg = f"temperature={temperature} must be > 0"
        raise ValueError(msg)
    return model


def gaussian_target(
    d: int, *, rng: int | np.random.Generator | None = None, scale_error: float = 0.1, log_z: float = 1.7
) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray, float]:
    """A Gaussian VI problem with an exact ELBO.

    The target is ``p(x, z) = exp(log_z) N(z; m, diag(s^2))`` with random ``m`` and ``s``;
    the variational ``q = N(mu, diag(sigma^2))`` has ``sigma = s u``, ``u ~ U(1 - scale_error,
    1 + scale_error)``, and ``mu = m + 0.1 s e``, ``e ~ N(0, 1)``.

    Parameters
    ----------
    d : int
        Dimension of ``z``.
    rng : int, numpy Generator or None
        Source of randomness of ``m``, ``s``, ``u`` and ``e`` (None: fresh entropy).
    scale_error : float, default=0.1
        Half-width of the relative error of the variational scales.
    log_z : float, default=1.7
        Log normalising constant of the target.

    Returns
    -------
    logjoint, mean, scale, exact
        ``logjoint`` maps (n, d) to (n,); ``exact = log_z - KL(q || p / exp(log_z))``.
    """
    gen = np.random.default_rng(rng)
    m, s = gen.normal(size=d), np.exp(0.3 * gen.normal(size=d))
    c = float(-np.log(s).sum() - 0.5 * d * math.log(2 * math.pi) + log_z)

    def logjoint(z: np.ndarray) -> np.ndarray:
        out: np.ndarray = -0.5 * (((z - m) / s) ** 2).sum(axis=1) + c
        return out

    sigma = s * gen.uniform(1 - scale_error, 1 + scale_error, size=d)
    mu = m + 0.1 * s * gen.normal(size=d)
    kl = float((np.log(s / sigma) + (sigma**2 + (mu - m) ** 2) / (2 * s**2) - 0.5).sum())
    return logjoint, mu, sigma, log_z - kl
