"""Differentiable, device-resident ELBOs in PyTorch (``pip install ridgeline[torch]``).

The masks are those of :func:`ridgeline.elbo.masked_diffusion.plan` (the same Philox
keys, bit for bit): they are drawn once on the host by the compiled planner and moved
to the device in one copy per array (:meth:`TorchPlan.from_plan`); everything after
that (applying the masks, gathering the model's log-probabilities, reducing them) is a
torch op on the device, differentiable with autograd, with no host synchronisation
inside the micro-batch loop of :func:`elbo`.

- :func:`plan` / :meth:`Plan.to <ridgeline.elbo.masked_diffusion.Plan.to>`: a
  :class:`TorchPlan` (masks, coefficients and ``apply`` as tensors on a device).
- :func:`reduce`, :func:`terms`, :func:`stderr`: the reductions of
  :mod:`ridgeline.elbo.masked_diffusion` as torch ops.
- :func:`elbo`: scores a model ``model(noisy) -> logits (B, L, V)`` (or an object with a
  ``.logits`` field, as Hugging Face models return) in micro-batches and reduces.
- :func:`gdpo_loss`: the group-relative clipped policy objective of GDPO on sequence
  ELBOs of the current and the old policy computed on shared masks.
- :func:`gaussian_elbo`: the Gaussian variational ELBO with reparameterised gradients.

This module imports torch; nothing else in ridgeline does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ridgeline._validation import check_callable, check_choice, check_float, check_int, check_rng
from ridgeline.elbo import _gaussian
from ridgeline.elbo import masked_diffusion as md

__all__ = [
    "TorchGaussianELBO",
    "TorchPlan",
    "elbo",
    "gaussian_elbo",
    "gdpo_loss",
    "group_advantages",
    "plan",
    "reduce",
    "stderr",
    "terms",
    "token_logprobs",
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _check_tensor(value: object, name: str, kind: str = "a torch tensor") -> None:
    if not isinstance(value, torch.Tensor):
        msg = f"{name} must be {kind}, got {type(value).__name__}"
        raise TypeError(msg)


def _device(device: Any) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        msg = f"device={device!r} is not a torch device: {err}"
        raise ValueError(msg) from err


def _float_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    if dtype is None:
        return torch.float64
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        msg = f"{name}={dtype!r} must be a floating torch dtype"
        raise TypeError(msg)
    return dtype


class TorchPlan:
    """A :class:`~ridgeline.elbo.masked_diffusion.Plan` as tensors on one device.

    Built by :meth:`from_plan` (or ``Plan.to``, :func:`plan`) rather than directly.

    Parameters
    ----------
    plan : Plan
        The host plan.
    masks : bool tensor of shape (batch * budget, seq_len)
        The dense masks, on the target device.
    coef : floating tensor of shape (batch * budget,)
        The coefficients, on the target device.
    row_of : int64 tensor of shape (batch * budget,)
        Sequence index of each evaluation row, on the target device.

    Attributes
    ----------
    plan : Plan
        The host plan (masks as compact indices, coefficients in float64).
    device : torch.device
    masks : bool tensor of shape (batch * budget, seq_len)
        Row ``j`` is evaluation ``j % budget`` of sequence ``j // budget``.
    coef : tensor of shape (batch * budget,)
        Coefficients in ``dtype``.
    row_of : int64 tensor of shape (batch * budget,)
        Sequence index of each evaluation row.
    """

    def __init__(self, plan: md.Plan, masks: torch.Tensor, coef: torch.Tensor, row_of: torch.Tensor) -> None:
        self.plan = plan
        self.masks = masks
        self.coef = coef
        self.row_of = row_of
        self._coef_as: dict[torch.dtype, torch.Tensor] = {coef.dtype: coef}

    @classmethod
    def from_plan(cls, plan: md.Plan, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TorchPlan:
        """Move a host plan to ``device`` (one copy of the dense masks and one of the coefficients)."""
        p = md._check_plan(plan)
        dev = _device(device)
        dt = _float_dtype(dtype)
        masks = torch.from_numpy(np.ascontiguousarray(p.masks.reshape(p.n_evals, p.seq_len))).to(dev)
        coef = torch.tensor(p.coef.reshape(-1), device=dev, dtype=dt)  # a copy (the plan's arrays are read-only)
        row_of = torch.arange(p.batch, device=dev).repeat_interleave(p.budget)
        return cls(p, masks, coef, row_of)

    # -- shape ---------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The device holding the tensors."""
        return self.masks.device

    @property
    def batch(self) -> int:
        """Number of sequences."""
        return self.plan.batch

    @property
    def budget(self) -> int:
        """Model evaluations per sequence."""
        return self.plan.budget

    @property
    def seq_len(self) -> int:
        """Sequence length."""
        return self.plan.seq_len

    @property
    def n_evals(self) -> int:
        """``batch * budget``."""
        return self.plan.n_evals

    def __repr__(self) -> str:
        from ridgeline import _io

        p = self.plan
        return _io.short_repr(
            "TorchPlan", scheme=p.scheme, batch=p.batch, budget=p.budget, seq_len=p.seq_len, seed=p.seed,
            device=str(self.device), dtype=str(self.coef.dtype),
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TorchPlan:
        """The same plan on another device or with another coefficient dtype.

        Parameters
        ----------
        device : torch.device or str, optional
            Target device (default: the current one).
        dtype : torch.dtype, optional
            Floating dtype of the coefficients (default: the current one).

        Returns
        -------
        TorchPlan
        """
        dev = self.device if device is None else _device(device)
        dt = self.coef.dtype if dtype is None else _float_dtype(dtype)
        return TorchPlan(self.plan, self.masks.to(dev), self.coef.to(device=dev, dtype=dt), self.row_of.to(dev))

    def coef_as(self, dtype: torch.dtype) -> torch.Tensor:
        """The coefficients in ``dtype`` (cast once, cached).

        Parameters
        ----------
        dtype : torch.dtype
            The wanted dtype.

        Returns
        -------
        tensor of shape (batch * budget,)
        """
        c = self._coef_as.get(dtype)
        if c is None:
            c = self.coef.to(dtype)
            self._coef_as[dtype] = c
        return c

    def apply(self, tokens: torch.Tensor, mask_id: int, *, rows: slice | None = None) -> torch.Tensor:
        """Masked copies of the clean sequences (a tensor on the plan's device).

        Parameters
        ----------
        tokens : integer tensor of shape (batch, seq_len)
            Clean token ids, on the plan's device.
        mask_id : int
        rows : slice, optional
            A contiguous range of evaluation rows; default all.

        Returns
        -------
        tensor of shape (n_rows, seq_len)
        """
        tok = _check_tokens(tokens, self)
        mask_id = check_int(mask_id, "mask_id")
        sl = _rows(rows, self.n_evals)
        return tok.index_select(0, self.row_of[sl]).masked_fill(self.masks[sl], mask_id)


def _rows(rows: slice | None, n: int) -> slice:
    start, stop, step = (rows or slice(None)).indices(n)
    if step != 1:
        msg = f"rows={rows!r} must be a contiguous slice"
        raise ValueError(msg)
    return slice(start, max(start, stop))


def _check_tokens(tokens: torch.Tensor, p: TorchPlan) -> torch.Tensor:
    _check_tensor(tokens, "tokens", "a torch tensor of token ids")
    if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        msg = f"tokens must be an integer tensor, got dtype {tokens.dtype}"
        raise TypeError(msg)
    if tuple(tokens.shape) != (p.batch, p.seq_len):
        msg = f"tokens must have shape ({p.batch}, {p.seq_len}), got {tuple(tokens.shape)}"
        raise ValueError(msg)
    if tokens.device != p.device:
        msg = f"tokens are on {tokens.device} but the plan is on {p.device}; use plan.to(tokens.device)"
        raise ValueError(msg)
    out: torch.Tensor = tokens if tokens.dtype == torch.int64 else tokens.long()
    return out


def _as_torch_plan(plan: object, device: torch.device) -> TorchPlan:
    if isinstance(plan, TorchPlan):
        if plan.device != device:
            msg = f"logp is on {device} but the plan is on {plan.device}; use plan.to({str(device)!r})"
            raise ValueError(msg)
        return plan
    p = md._check_plan(plan)
    key = f"torch:{device}"
    if key not in p._cache:
        p._cache[key] = TorchPlan.from_plan(p, device)
    out: TorchPlan = p._cache[key]
    return out


def plan(*args: Any, device: torch.device | str | None = None, dtype: torch.dtype | None = None, **kwargs: Any) -> TorchPlan:
    """:func:`ridgeline.elbo.masked_diffusion.plan` moved to ``device`` (same arguments).

    Parameters
    ----------
    *args, **kwargs
        The arguments of :func:`ridgeline.elbo.masked_diffusion.plan`.
    device : torch.device or str, optional
        Target device (default: the CPU).
    dtype : torch.dtype, optional
        Floating dtype of the coefficients (default ``torch.float64``).

    Returns
    -------
    TorchPlan

    Examples
    --------
    >>> p = plan([5, 3], 4, seed=1)
    >>> tuple(p.masks.shape)
    (8, 5)
    """
    out: TorchPlan = md.plan(*args, **kwargs).to(device, dtype)
    return out


def _logp_rows(p: TorchPlan, logp: Any) -> torch.Tensor:
    _check_tensor(logp, "logp")
    if not logp.dtype.is_floating_point:
        msg = f"logp must be a floating tensor, got dtype {logp.dtype}"
        raise TypeError(msg)
    shape = tuple(logp.shape)
    if shape == (p.batch, p.budget, p.seq_len):
        logp = logp.reshape(p.n_evals, p.seq_len)
    elif shape != (p.n_evals, p.seq_len):
        msg = (
            f"logp must have shape ({p.n_evals}, {p.seq_len}) or ({p.batch}, {p.budget}, {p.seq_len}) "
            f"(per-token log-probabilities of the clean tokens), got {shape}"
        )
        raise ValueError(msg)
    out: torch.Tensor = logp
    return out


def _row_terms(p: TorchPlan, lp: torch.Tensor, sl: slice) -> torch.Tensor:
    """``coef[j] * sum(lp[j, masked])`` for the rows of ``sl`` (unmasked entries never read)."""
    picked = torch.where(p.masks[sl], lp, torch.zeros((), dtype=lp.dtype, device=lp.device))
    return p.coef_as(lp.dtype)[sl] * picked.sum(dim=-1)


def _check_finite(t: torch.Tensor, p: TorchPlan, lp: torch.Tensor) -> None:
    # one synchronisation, after all the work: NaN or +inf at a masked position
    bad = torch.where(p.masks, lp, torch.zeros((), dtype=lp.dtype, device=lp.device))
    if bool(torch.isnan(bad).any() | torch.isposinf(bad).any()):
        msg = "logp has a nan or +inf at a masked position"
        raise ValueError(msg)


def terms(plan: TorchPlan | md.Plan, logp: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Per-evaluation contributions ``coef * sum(masked logp)``, a tensor of shape (batch, budget).

    Parameters
    ----------
    plan : TorchPlan or Plan
        A :class:`TorchPlan` on ``logp``'s device, or a host
        :class:`~ridgeline.elbo.masked_diffusion.Plan` (moved there once and cached).
    logp : floating tensor of shape (batch * budget, seq_len) or (batch, budget, seq_len)
        The model's log-probabilities of the clean tokens, one row per evaluation.
    check : bool, default=True
        Refuse NaN or +inf at masked positions (one host synchronisation).

    Returns
    -------
    tensor of shape (batch, budget)
    """
    _check_tensor(logp, "logp")
    p = _as_torch_plan(plan, logp.device)
    lp = _logp_rows(p, logp)
    out = _row_terms(p, lp, slice(0, p.n_evals))
    if check:
        _check_finite(out, p, lp)
    return out.reshape(p.batch, p.budget)


def reduce(plan: TorchPlan | md.Plan, logp: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """ELBO estimate of each row, a differentiable tensor of shape (batch,).

    The torch twin of :func:`ridgeline.elbo.masked_diffusion.reduce`: ``logp`` of shape
    (batch * budget, seq_len) or (batch, budget, seq_len) holds the model's
    log-probabilities of the clean tokens; only masked positions are read, so their
    gradients are the plan's coefficients and every other entry gets a zero gradient.

    Parameters
    ----------
    plan : TorchPlan or Plan
        A :class:`TorchPlan` on ``logp``'s device, or a host
        :class:`~ridgeline.elbo.masked_diffusion.Plan` (moved there once and cached).
    logp : floating tensor of shape (batch * budget, seq_len) or (batch, budget, seq_len)
        The model's log-probabilities of the clean tokens, one row per evaluation.
    check : bool, default=True
        Refuse NaN or +inf at masked positions (one host synchronisation).

    Returns
    -------
    tensor of shape (batch,)

    Examples
    --------
    >>> import torch
    >>> p = plan([4, 2], 3, seed=0, dtype=torch.float64)
    >>> logp = torch.full((6, 4), -1.0, dtype=torch.float64, requires_grad=True)
    >>> reduce(p, logp).shape
    torch.Size([2])
    """
    return terms(plan, logp, check=check).sum(dim=1)


def stderr(plan: TorchPlan | md.Plan, logp: torch.Tensor) -> torch.Tensor:
    """Standard error of each row's estimate (as :func:`ridgeline.elbo.masked_diffusion.stderr`), a tensor.

    Parameters
    ----------
    plan : TorchPlan or Plan
        A :class:`TorchPlan` on ``logp``'s device, or a host
        :class:`~ridgeline.elbo.masked_diffusion.Plan` (moved there once and cached).
    logp : floating tensor of shape (batch * budget, seq_len) or (batch, budget, seq_len)
        The model's log-probabilities of the clean tokens, one row per evaluation.

    Returns
    -------
    tensor of shape (batch,)
    """
    _check_tensor(logp, "logp")
    p = _as_torch_plan(plan, logp.device)
    return _stderr_from_terms(p, terms(p, logp))


def _stderr_from_terms(p: TorchPlan, T: torch.Tensor) -> torch.Tensor:
    if p.budget < 2:
        msg = f"stderr needs budget >= 2, got budget={p.budget}"
        raise ValueError(msg)
    var = torch.zeros(p.batch, dtype=T.dtype, device=T.device)
    for g in md._groups(p.plan):
        x = T[:, torch.as_tensor(g, device=T.device)]
        m = g.size
        var = var + m / (m - 1) * ((x - x.mean(dim=1, keepdim=True)) ** 2).sum(dim=1)
    return var.sqrt()


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[..., tokens]``: log-probabilities of ``tokens`` (float16/bfloat16 in float32).

    Parameters
    ----------
    logits : floating tensor of shape (..., vocabulary)
        Unnormalised scores.
    tokens : integer tensor of shape (...)
        Token ids whose log-probabilities are taken.

    Returns
    -------
    tensor of shape (...)
    """
    lg = logits.float() if logits.dtype in _LOW_PRECISION else logits
    return torch.log_softmax(lg, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _logits(out: Any, rows: int, L: int, device: torch.device) -> torch.Tensor:
    lg = getattr(out, "logits", out)
    if not isinstance(lg, torch.Tensor):
        msg = f"model must return a tensor of logits (or an object with .logits), got {type(lg).__name__}"
        raise TypeError(msg)
    if lg.ndim != 3 or tuple(lg.shape[:2]) != (rows, L):
        msg = f"model returned logits of shape {tuple(lg.shape)}; expected ({rows}, {L}, vocabulary)"
        raise ValueError(msg)
    if not lg.dtype.is_floating_point:
        msg = f"model returned logits of dtype {lg.dtype}; expected a floating dtype"
        raise TypeError(msg)
    if lg.device != device:
        msg = f"model returned logits on {lg.device} but the plan and tokens are on {device}"
        raise ValueError(msg)
    return lg


def elbo(
    model: Callable[[torch.Tensor], Any],
    tokens: torch.Tensor,
    plan: TorchPlan | md.Plan,
    *,
    mask_id: int,
    micro_batch: int | None = None,
    return_terms: bool = False,
) -> Any:
    """Masked-diffusion ELBO of each sequence under a torch model, differentiable.

    Parameters
    ----------
    model : callable
        ``model(noisy)`` with ``noisy`` an int64 tensor (rows, seq_len) returns logits
        of shape (rows, seq_len, V), or an object with a ``.logits`` field; float32,
        bfloat16 or float64 (low-precision logits are normalised in float32).
    tokens : integer tensor of shape (batch, seq_len)
        Clean sequences, on the plan's device.
    plan : TorchPlan or Plan
        A host plan is moved to ``tokens``' device (and cached there).
    mask_id : int
        Id written at masked positions.
    micro_batch : int, optional
        Evaluation rows per model call (default: all ``batch * budget`` at once).  Each
        row is reduced on its own, so the result does not depend on it beyond the
        model's own batch-size effects.
    return_terms : bool, default=False
        Also return the (batch, budget) per-evaluation terms.

    Returns
    -------
    tensor of shape (batch,), or (elbo, terms)
        In the logits' dtype (float32 for float16/bfloat16 logits).

    Notes
    -----
    The loop makes no host synchronisation: masks, rows and coefficients are already
    on the device and all checks inside it read only shapes, dtypes and devices.
    """
    check_callable(model, "model")
    mask_id = check_int(mask_id, "mask_id")
    _check_tensor(tokens, "tokens", "a torch tensor of token ids")
    p = _as_torch_plan(plan, tokens.device)
    tok = _check_tokens(tokens, p)
    n = p.n_evals
    mb = n if micro_batch is None else check_int(micro_batch, "micro_batch", 1)
    parts = []
    for start in range(0, n, max(mb, 1)):
        sl = slice(start, min(start + mb, n))
        noisy = p.apply(tok, mask_id, rows=sl)
        lg = _logits(model(noisy), sl.stop - sl.start, p.seq_len, p.device)
        lp = token_logprobs(lg, tok.index_select(0, p.row_of[sl]))
        parts.append(_row_terms(p, lp, sl))
    if parts:
        T = torch.cat(parts).reshape(p.batch, p.budget)
    else:
        T = torch.zeros((p.batch, p.budget), dtype=p.coef.dtype, device=p.device)
    value = T.sum(dim=1)
    return (value, T) if return_terms else value


# ---------------------------------------------------------------------------------------------
# GDPO-style policy objective


def group_advantages(rewards: torch.Tensor, group_size: int, *, eps: float = 1e-6) -> torch.Tensor:
    """Group-relative advantages ``A_i = (r_i - mean_g r) / (std_g r + eps)``.

    Rows ``g * group_size .. (g + 1) * group_size - 1`` form group ``g`` (the completions
    of one prompt); ``std_g`` is the sample standard deviation (divisor ``G - 1``).

    Parameters
    ----------
    rewards : tensor of shape (n_groups * group_size,)
        One reward per completion.
    group_size : int
        Completions per group, >= 2.
    eps : float, default=1e-6
        Added to the standard deviation.

    Returns
    -------
    tensor of shape (n_groups * group_size,)
    """
    G = check_int(group_size, "group_size", 2)
    r = torch.as_tensor(rewards)
    if r.ndim != 1 or r.numel() % G:
        msg = f"rewards must be 1-D with a multiple of group_size={G} entries, got shape {tuple(r.shape)}"
        raise ValueError(msg)
    if not r.dtype.is_floating_point:
        r = r.to(torch.get_default_dtype())
    rg = r.detach().reshape(-1, G)
    adv = (rg - rg.mean(dim=1, keepdim=True)) / (rg.std(dim=1, keepdim=True) + eps)
    return adv.reshape(-1)


def gdpo_loss(
    elbo: torch.Tensor,
    elbo_old: torch.Tensor,
    rewards: torch.Tensor,
    *,
    group_size: int,
    clip: float = 0.2,
    lengths: torch.Tensor | None = None,
    elbo_ref: torch.Tensor | None = None,
    beta: float = 0.0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """GDPO-style group-relative clipped policy loss on sequence ELBOs (minimise it).

    Parameters
    ----------
    elbo : tensor of shape (N,)
        Per-sequence ELBOs under the current policy (with gradients), e.g. from :func:`elbo`.
    elbo_old : tensor of shape (N,)
        The same sequences under the policy that sampled them, **on the same plan**
        (same seed and row ids: common random numbers, so the ratio's noise cancels);
        detached here.
    rewards : tensor of shape (N,)
        One reward per sequence; rows ``g G .. (g + 1) G - 1`` are group ``g``.
    group_size : int
        ``G >= 2`` completions per prompt.
    clip : float, default=0.2
        PPO clipping ``epsilon``.
    lengths : tensor of shape (N,), optional
        Completion lengths ``n_i``; when given the log-ratios are per token,
        ``(ELBO - ELBO_old) / n_i`` (keeps the ratios near 1 for long sequences).
    elbo_ref : tensor of shape (N,), optional
        ELBOs under a frozen reference policy (same plan) for the KL penalty.
    beta : float, default=0
        Weight of the KL penalty (needs ``elbo_ref`` when > 0).
    eps : float, default=1e-6
        Added to the group standard deviation.

    Returns
    -------
    tensor (scalar)
        ``loss = -mean_i min(rho_i A_i, clip(rho_i, 1 - clip, 1 + clip) A_i) + beta mean_i k_i``
        with ``A_i`` from :func:`group_advantages`, ``rho_i = exp(s_i)``,
        ``s_i = (ELBO_i - ELBO_old_i) / n_i`` and the non-negative KL estimate
        ``k_i = exp(q_i) - q_i - 1``, ``q_i = (ELBO_ref_i - ELBO_i) / n_i``.
    """
    given: tuple[tuple[str, object], ...] = (("elbo", elbo), ("elbo_old", elbo_old))
    for name, t in given:
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or not t.dtype.is_floating_point:
            msg = f"{name} must be a 1-D floating tensor"
            raise TypeError(msg)
    if elbo_old.shape != elbo.shape:
        msg = f"elbo_old has shape {tuple(elbo_old.shape)}, elbo {tuple(elbo.shape)}; they must match"
        raise ValueError(msg)
    clip = check_float(clip, "clip", 0.0, low_inclusive=False)
    beta = check_float(beta, "beta", 0.0)
    eps = check_float(eps, "eps", 0.0)
    adv = group_advantages(rewards, group_size, eps=eps).to(device=elbo.device, dtype=elbo.dtype)
    if adv.shape != elbo.shape:
        msg = f"rewards has {adv.numel()} entries but elbo has {elbo.numel()}"
        raise ValueError(msg)
    norm = torch.ones_like(elbo) if lengths is None else torch.as_tensor(lengths).to(elbo)
    if norm.shape != elbo.shape:
        msg = f"lengths must have shape {tuple(elbo.shape)}, got {tuple(norm.shape)}"
        raise ValueError(msg)
    s = (elbo - elbo_old.detach()) / norm
    rho = torch.exp(s)
    obj = torch.minimum(rho * adv, torch.clamp(rho, 1.0 - clip, 1.0 + clip) * adv)
    loss = -obj.mean()
    if beta > 0:
        if elbo_ref is None:
            msg = f"beta={beta} needs elbo_ref"
            raise ValueError(msg)
        q = (elbo_ref.detach().to(elbo) - elbo) / norm
        loss = loss + beta * (torch.exp(q) - q - 1.0).mean()
    return loss


# ---------------------------------------------------------------------------------------------
# Gaussian variational ELBO


@dataclass(frozen=True)
class TorchGaussianELBO:
    """Result of :func:`gaussian_elbo`: ``value`` (differentiable), ``stderr`` and ``entropy`` as tensors."""

    value: torch.Tensor
    stderr: torch.Tensor
    entropy: torch.Tensor
    n: int
    sampler: str
    estimator: str

    def __repr__(self) -> str:
        from ridgeline import _io

        return _io.short_repr(
            "TorchGaussianELBO", value=float(self.value.detach()), stderr=float(self.stderr), n=self.n,
            sampler=self.sampler, estimator=self.estimator,
        )


def gaussian_elbo(
    logjoint: Callable[[torch.Tensor], torch.Tensor],
    mean: torch.Tensor,
    scale: torch.Tensor,
    *,
    n: int = 256,
    sampler: str = "mc",
    rng: int | np.random.Generator | None = None,
    replicates: int = 1,
    estimator: str = "cv",
) -> TorchGaussianELBO:
    """ELBO of ``q = N(mean, scale scale^T)`` with reparameterised gradients.

    The torch twin of :func:`ridgeline.elbo.gaussian_elbo` (same draws for the same
    ``rng``, same estimators): ``z = mean + scale eps`` (``scale`` a lower-triangular
    factor of shape (d, d) or standard deviations of shape (d,)), ``logjoint(z)`` a
    differentiable tensor of shape (n,); ``value.backward()`` gives the gradients with
    respect to ``mean`` and ``scale``.

    Parameters
    ----------
    logjoint : callable
        Maps an (n, d) tensor of ``z`` to ``log p(x, z)``, a differentiable tensor of shape (n,).
    mean : floating tensor of shape (d,)
        Mean of ``q``.
    scale : floating tensor of shape (d, d) or (d,)
        Lower-triangular factor of the covariance of ``q``, or its standard deviations.
    n : int, default=256
        Draws per replicate.
    sampler : {"mc", "rqmc", "antithetic"}, default="mc"
        How the standard normal draws are made (as in :func:`ridgeline.elbo.gaussian_elbo`).
    rng : int, numpy Generator or None
        Seed of the draws; the same seed gives the same draws as the numpy version.
    replicates : int, default=1
        For ``"rqmc"``: independent scrambles (as in :func:`ridgeline.elbo.gaussian_elbo`).
    estimator : {"cv", "sampled", "analytic"}, default="cv"
        How the entropy term is estimated (as in :func:`ridgeline.elbo.gaussian_elbo`).

    Returns
    -------
    TorchGaussianELBO
    """
    check_callable(logjoint, "logjoint")
    for name, t in (("mean", mean), ("scale", scale)):
        _check_tensor(t, name)
        if not t.dtype.is_floating_point:
            msg = f"{name} must be a real floating tensor, got dtype {t.dtype}"
            raise TypeError(msg)
    n = _gaussian._check_n(n)
    reps = _gaussian._check_n(replicates, "replicates")
    sampler = check_choice(sampler, "sampler", _gaussian.SAMPLERS)
    est = check_choice(estimator, "estimator", _gaussian.ESTIMATORS)
    if reps > 1 and sampler != "rqmc":
        msg = f"replicates={reps} applies to sampler='rqmc' only"
        raise ValueError(msg)
    if mean.ndim != 1 or mean.numel() < 1:
        msg = f"mean must be a non-empty 1-D tensor, got shape {tuple(mean.shape)}"
        raise ValueError(msg)
    d = mean.numel()
    full = scale.ndim == 2
    if tuple(scale.shape) not in ((d,), (d, d)):
        msg = f"scale must have shape ({d},) or ({d}, {d}), got {tuple(scale.shape)}"
        raise ValueError(msg)
    if scale.device != mean.device:
        msg = f"scale is on {scale.device} but mean is on {mean.device}"
        raise ValueError(msg)
    diag = torch.diagonal(scale) if full else scale
    eps_np = _gaussian._draw(n, d, sampler, check_rng(rng), reps)
    eps = torch.from_numpy(eps_np).to(device=mean.device, dtype=mean.dtype)
    L = torch.tril(scale) if full else scale
    z = mean + (eps @ L.T if full else eps * L)
    vals: object = logjoint(z)
    if not isinstance(vals, torch.Tensor) or tuple(vals.shape) != (n,):
        msg = f"logjoint must map an (n, d) tensor to a tensor of shape (n,), got {getattr(vals, 'shape', type(vals))}"
        raise ValueError(msg)
    entropy = 0.5 * d * (1.0 + math.log(2.0 * math.pi)) + torch.log(diag).sum()
    h = 0.5 * (d - (eps**2).sum(dim=1))
    if sampler == "antithetic":
        f_u, h_u = 0.5 * (vals[0::2] + vals[1::2]), 0.5 * (h[0::2] + h[1::2])
    else:
        f_u, h_u = vals, h
    part, resid = _combine_torch(f_u, h_u, est)
    value = part + entropy
    r = resid.detach()
    if sampler == "rqmc" and reps > 1:
        means = r.reshape(reps, -1).mean(dim=1)
        se = means.std() / math.sqrt(reps)
    else:
        se = r.std() / math.sqrt(r.numel()) if r.numel() > 1 else torch.tensor(float("nan"))
    return TorchGaussianELBO(value=value, stderr=se, entropy=entropy, n=n, sampler=sampler, estimator=est)


def _combine_torch(f: torch.Tensor, h: torch.Tensor, estimator: str) -> tuple[torch.Tensor, torch.Tensor]:
    """As ``_gaussian._combine``; the control-variate weights are constants for autograd."""
    if estimator == "analytic":
        return f.mean(), f
    if estimator == "sampled":
        r = f - h
        return r.mean(), r
    m = f.numel()
    if m < 4:
        return f.mean(), f
    k = m // 2
    fd = f.detach()

    def weight(a: slice) -> torch.Tensor:
        hc = h[a] - h[a].mean()
        vh = hc @ hc
        return torch.where(vh > 0, ((fd[a] - fd[a].mean()) @ hc) / vh, torch.zeros((), dtype=h.dtype, device=h.device))

    first, second = slice(0, k), slice(k, m)
    r = torch.cat([f[first] - weight(second) * h[first], f[second] - weight(first) * h[second]])
    return 0.5 * (r[first].mean() + r[second].mean()), r
