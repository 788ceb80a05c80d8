"""ridgeline.elbo.torch against the numpy path, autograd and hand-written references."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ridgeline.elbo import gaussian_elbo, masked_diffusion as md  # noqa: E402
from ridgeline.elbo import torch as rt  # noqa: E402
from ridgeline.elbo.testbed import MarkovChain  # noqa: E402

V = 6
MASK = V


class TinyModel(torch.nn.Module):
    """Embedding, a neighbour-mixing layer and a linear head: row-wise, deterministic."""

    def __init__(self, dtype: torch.dtype = torch.float64, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.emb = torch.nn.Parameter(torch.randn(V + 1, 8, generator=g, dtype=dtype))
        self.mix = torch.nn.Parameter(torch.randn(3, dtype=dtype, generator=g) * 0.5)
        self.head = torch.nn.Parameter(torch.randn(8, V, generator=g, dtype=dtype))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        e = self.emb[noisy]
        left = torch.nn.functional.pad(e[:, :-1], (0, 0, 1, 0))
        right = torch.nn.functional.pad(e[:, 1:], (0, 0, 0, 1))
        h = torch.tanh(self.mix[0] * left + self.mix[1] * e + self.mix[2] * right)
        return h @ self.head


def _numpy_fn(model: TinyModel):  # type: ignore[no-untyped-def]
    def fn(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            lg = model(torch.from_numpy(noisy))
            return rt.token_logprobs(lg, torch.from_numpy(clean)).double().numpy()

    return fn


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    chain = MarkovChain.random(V, alpha=0.5, rng=1)
    x = chain.sample(5, 12, rng=2)
    lengths = np.array([12, 9, 0, 5, 12])
    return x, lengths


def test_torch_plan_is_the_numpy_plan(data) -> None:  # type: ignore[no-untyped-def]
    x, lengths = data
    for scheme in ("stratified_l", "double_mc", "quadrature", "coupled_l"):
        p = md.plan(lengths, 4, scheme=scheme, seed=3, seq_len=12)
        tp = p.to("cpu")
        np.testing.assert_array_equal(tp.masks.numpy().reshape(p.masks.shape), p.masks)
        np.testing.assert_array_equal(tp.coef.numpy(), p.coef.ravel())
        np.testing.assert_array_equal(tp.apply(torch.from_numpy(x), MASK).numpy(), p.apply(x, MASK))
        np.testing.assert_array_equal(
            tp.apply(torch.from_numpy(x), MASK, rows=slice(3, 11)).numpy(), p.apply(x, MASK, rows=slice(3, 11))
        )
    assert len(repr(tp)) < 300 and "TorchPlan(" in repr(tp)
    tp32 = rt.plan(lengths, 4, seed=3, seq_len=12, dtype=torch.float32)
    assert tp32.coef.dtype == torch.float32


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_reduce_matches_numpy(data, dtype, rtol) -> None:  # type: ignore[no-untyped-def]
    _, lengths = data
    p = md.plan(lengths, 6, seed=1, seq_len=12)
    gen = np.random.default_rng(0)
    logp = -gen.random((p.n_evals, 12)) * 4
    t = torch.tensor(logp, dtype=dtype)
    want = md.reduce(p, t.double().numpy())
    got = rt.reduce(p, t)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.double().numpy(), want, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(rt.stderr(p, t).double().numpy(), md.stderr(p, t.double().numpy()), rtol=10 * rtol)
    # md.reduce of a tensor that requires grad: a differentiable torch result
    out = md.reduce(p, t.clone().requires_grad_())
    assert out.requires_grad
    out.sum().backward()


def test_reduce_gradient_is_the_coefficients_and_gradcheck() -> None:
    p = md.plan([5, 3], 3, scheme="double_mc", seed=2)
    logp = torch.full((6, 5), -1.0, dtype=torch.float64, requires_grad=True)
    logp_nan = logp.detach().clone()
    logp_nan[~p.to().masks] = float("nan")  # never read
    assert torch.isfinite(rt.reduce(p, logp_nan)).all()
    rt.reduce(p, logp).sum().backward()
    want = (p.masks.reshape(6, 5) * p.coef.reshape(6, 1)).astype(np.float64)
    np.testing.assert_array_equal(logp.grad.numpy(), want)
    x = -torch.rand(6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: rt.reduce(p, a), (x,))
    bad = x.detach().clone()
    bad[p.to().masks] = float("nan")
    with pytest.raises(ValueError, match="nan"):
        rt.reduce(p, bad)


def test_elbo_matches_numpy_estimate_float64_and_float32(data) -> None:  # type: ignore[no-untyped-def]
    x, lengths = data
    for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        model = TinyModel(dtype)
        est = md.estimate(_numpy_fn(model), x, lengths, 5, MASK, seed=4, micro_batch=7)
        p = md.plan(lengths, 5, seed=4, seq_len=12).to("cpu")
        got = rt.elbo(model, torch.from_numpy(x), p, mask_id=MASK, micro_batch=7)
        assert got.dtype == dtype and got.requires_grad
        np.testing.assert_allclose(got.detach().double().numpy(), est.value, rtol=rtol, atol=1e-300)
    # bfloat16 models: normalised in float32, close to the float64 value
    m64 = TinyModel(torch.float64)
    m16 = TinyModel(torch.float64).to(torch.bfloat16)
    a = rt.elbo(m64, torch.from_numpy(x), p, mask_id=MASK)
    b = rt.elbo(m16, torch.from_numpy(x), p, mask_id=MASK)
    assert b.dtype == torch.float32
    np.testing.assert_allclose(b.detach().double().numpy(), a.detach().numpy(), rtol=0.05, atol=0.05)


def test_elbo_independent_of_micro_batch(data) -> None:  # type: ignore[no-untyped-def]
    x, lengths = data
    tok = torch.from_numpy(x)
    p = md.plan(lengths, 6, seed=9, seq_len=12).to("cpu")
    for dtype in (torch.float64, torch.float32):
        model = TinyModel(dtype)
        vals = [rt.elbo(model, tok, p, mask_id=MASK, micro_batch=mb).detach() for mb in (None, 1, 4, 7, 1000)]
        for v in vals[1:]:
            if dtype == torch.float64:
                torch.testing.assert_close(v, vals[0], rtol=0, atol=0)  # identical
            else:
                torch.testing.assert_close(v, vals[0], rtol=1e-6, atol=0)


def test_elbo_gradcheck_wrt_model_parameters() -> None:
    x = torch.tensor([[0, 3, 2, 5], [1, 1, 4, 0]])
    p = md.plan([4, 3], 3, seed=0).to("cpu")
    model = TinyModel(torch.float64)

    def f(head: torch.Tensor) -> torch.Tensor:
        return rt.elbo(lambda z: torch.tanh(model.emb[z]) @ head, x, p, mask_id=MASK, micro_batch=2)

    head = model.head.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (head,))


def test_elbo_makes_no_host_synchronisation(data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    x, lengths = data
    tok = torch.from_numpy(x)
    model = TinyModel(torch.float32)
    p = md.plan(lengths, 4, seed=1, seq_len=12).to("cpu")
    want = rt.elbo(model, tok, p, mask_id=MASK, micro_batch=3)
    calls = {"model": 0}

    def counted(z: torch.Tensor) -> torch.Tensor:
        calls["model"] += 1
        return model(z)

    def forbidden(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("host synchronisation inside the ELBO loop")

    with monkeypatch.context() as m:
        for name in ("item", "cpu", "numpy", "tolist", "__bool__", "__int__", "__float__", "__index__"):
            m.setattr(torch.Tensor, name, forbidden)
        got = rt.elbo(counted, tok, p, mask_id=MASK, micro_batch=3)
    assert calls["model"] == math.ceil(p.n_evals / 3)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_elbo_accepts_hugging_face_style_outputs_and_checks_them(data) -> None:  # type: ignore[no-untyped-def]
    x, lengths = data
    tok = torch.from_numpy(x)
    model = TinyModel(torch.float64)

    class Out:
        def __init__(self, logits: torch.Tensor) -> None:
            self.logits = logits

    p = md.plan(lengths, 2, seed=0, seq_len=12)
    a = rt.elbo(model, tok, p, mask_id=MASK)
    torch.testing.assert_close(rt.elbo(model, tok.int(), p, mask_id=MASK), a, rtol=0, atol=0)  # int32 ids
    b = rt.elbo(lambda z: Out(model(z)), tok, p, mask_id=MASK)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="logits of shape"):
        rt.elbo(lambda z: model(z)[:, :5], tok, p, mask_id=MASK)
    with pytest.raises(TypeError, match="dtype"):
        rt.elbo(lambda z: model(z).long(), tok, p, mask_id=MASK)
    with pytest.raises(ValueError, match="meta"):
        rt.elbo(lambda z: model(z).to("meta"), tok, p, mask_id=MASK)
    with pytest.raises(ValueError, match="plan is on cpu"):
        rt.elbo(model, tok.to("meta"), p.to("cpu"), mask_id=MASK)
    with pytest.raises(TypeError, match="mask_id=1.5"):
        rt.elbo(model, tok, p, mask_id=1.5)
    with pytest.raises(TypeError, match="integer tensor"):
        rt.elbo(model, tok.double(), p, mask_id=MASK)
    with pytest.raises(ValueError, match="logp is on meta"):
        rt.reduce(p.to("cpu"), torch.zeros(10, 12, device="meta"))


# ----------------------------------------------------------------------------- GDPO
def _gdpo_reference(new, old, rewards, G, clip, lengths, ref, beta, eps=1e-6):  # type: ignore[no-untyped-def]
    """Hand-written, one sequence at a time."""
    N = len(new)
    total = 0.0
    for i in range(N):
        g = i // G
        grp = [float(rewards[j]) for j in range(g * G, (g + 1) * G)]
        mu = sum(grp) / G
        sd = math.sqrt(sum((r - mu) ** 2 for r in grp) / (G - 1))
        adv = (float(rewards[i]) - mu) / (sd + eps)
        n = 1.0 if lengths is None else float(lengths[i])
        rho = torch.exp((new[i] - float(old[i])) / n)
        term = torch.minimum(rho * adv, torch.clamp(rho, 1 - clip, 1 + clip) * adv)
        total = total - term / N
        if beta:
            q = (float(ref[i]) - new[i]) / n
            total = total + beta * (torch.exp(q) - q - 1) / N
    return total


def test_gdpo_loss_matches_reference_values_and_gradients() -> None:
    gen = torch.Generator().manual_seed(0)
    N, G = 8, 4
    old = -20 + torch.randn(N, generator=gen, dtype=torch.float64)
    rewards = torch.randn(N, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([10, 12, 8, 9, 11, 10, 7, 12], dtype=torch.float64)
    ref = old + 0.3 * torch.randn(N, generator=gen, dtype=torch.float64)
    for delta in (0.05, 3.0):  # inside and outside the clipping range
        new0 = old + delta * torch.randn(N, generator=gen, dtype=torch.float64)
        for kw in ({"lengths": None, "elbo_ref": None, "beta": 0.0}, {"lengths": lengths, "elbo_ref": ref, "beta": 0.1}):
            a = new0.clone().requires_grad_()
            b = new0.clone().requires_grad_()
            got = rt.gdpo_loss(a, old, rewards, group_size=G, clip=0.2, **kw)
            want = _gdpo_reference(b, old, rewards, G, 0.2, kw["lengths"], kw["elbo_ref"], kw["beta"])
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
            got.backward()
            want.backward()
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)
            x = new0.clone().requires_grad_()
            assert torch.autograd.gradcheck(lambda e: rt.gdpo_loss(e, old, rewards, group_size=G, **kw), (x,))
    # at the old policy: ratio 1, gradient = -A_i / (N n_i)
    e = old.clone().requires_grad_()
    rt.gdpo_loss(e, old, rewards, group_size=G).backward()
    torch.testing.assert_close(e.grad, -rt.group_advantages(rewards, G) / N)
    with pytest.raises(ValueError, match="multiple of group_size"):
        rt.gdpo_loss(e, old, rewards[:7], group_size=G)
    with pytest.raises(ValueError, match="needs elbo_ref"):
        rt.gdpo_loss(e, old, rewards, group_size=G, beta=0.1)


def test_gdpo_on_shared_masks_end_to_end(data) -> None:  # type: ignore[no-untyped-def]
    """ELBOs of a policy and of its frozen copy on one plan: ratio exactly 1, gradient = REINFORCE-like."""
    x, _ = data
    tok = torch.from_numpy(x[:4])
    model = TinyModel(torch.float64)
    old = TinyModel(torch.float64)
    old.load_state_dict(model.state_dict())
    p = md.plan(np.full(4, 12), 4, seed=7).to("cpu")
    e_new = rt.elbo(model, tok, p, mask_id=MASK)
    with torch.no_grad():
        e_old = rt.elbo(old, tok, p, mask_id=MASK)
    torch.testing.assert_close(e_new.detach(), e_old, rtol=0, atol=0)  # common random numbers
    loss = rt.gdpo_loss(e_new, e_old, torch.tensor([1.0, 0.0, 0.5, 2.0]), group_size=2)
    loss.backward()
    assert model.head.grad is not None and torch.isfinite(model.head.grad).all()


# ----------------------------------------------------------------------------- Gaussian VI
@pytest.mark.parametrize("sampler", ["mc", "antithetic", "rqmc"])
@pytest.mark.parametrize("estimator", ["cv", "sampled", "analytic"])
def test_torch_gaussian_elbo_matches_numpy(sampler: str, estimator: str) -> None:
    gen = np.random.default_rng(1)
    d = 3
    A = np.eye(d) * 2 + 0.3
    b = gen.normal(size=d)

    def lj_np(z):  # type: ignore[no-untyped-def]
        return -0.5 * np.einsum("ni,ij,nj->n", z, A, z) + z @ b, -z @ A + b

    At, bt = torch.tensor(A), torch.tensor(b)
    mu = gen.normal(size=d)
    L = np.tril(gen.normal(size=(d, d)) * 0.2) + np.eye(d)
    want = gaussian_elbo(lj_np, mu, L, n=64, sampler=sampler, rng=5, estimator=estimator)
    m = torch.tensor(mu, requires_grad=True)
    S = torch.tensor(L, requires_grad=True)
    got = rt.gaussian_elbo(lambda z: -0.5 * ((z @ At) * z).sum(1) + z @ bt, m, S, n=64, sampler=sampler, rng=5,
                           estimator=estimator)
    assert float(got.value.detach()) == pytest.approx(want.value, rel=1e-12)
    assert float(got.stderr) == pytest.approx(want.stderr, rel=1e-9)
    got.value.backward()
    np.testing.assert_allclose(m.grad.numpy(), want.grad_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.tril(S.grad.numpy()), want.grad_scale, rtol=1e-10, atol=1e-12)
    assert len(repr(got)) < 300
    with pytest.raises(TypeError, match="mean must be a real"):
        rt.gaussian_elbo(lambda z: z.sum(1), torch.zeros(2, dtype=torch.complex128), torch.ones(2))


def _example():  # type: ignore[no-untyped-def]
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "elbo_train_tiny.py"
    spec = importlib.util.spec_from_file_location("elbo_train_tiny", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_training_example_quick(capsys: pytest.CaptureFixture[str]) -> None:
    """The example end to end at a tiny size (the full run is a slow test)."""
    threads = torch.get_num_threads()
    try:
        out = _example().main(["--quick"])
    finally:
        torch.set_num_threads(threads)
    text = capsys.readouterr().out
    assert "gradient variance (40 plans each) at budget 8 per sequence" in text and "GDPO steps" in text and "held-out" in text
    assert "coupled l" in text
    assert out["grad_variance_ratio"] > 0 and out["grad_variance_ratio_coupled"] > 0 and np.isfinite(out["elbo_per_token"])
    assert out["elbo_per_token"] < 0 and out["exact_per_token"] < 0


def test_bench_torch_rows_run(capsys: pytest.CaptureFixture[str]) -> None:
    from ridgeline._bench import elbo as bench

    threads = torch.get_num_threads()
    try:
        out = bench.torch_overhead(quick=True, repeats=1)
    finally:
        torch.set_num_threads(threads)
    assert "plan + copy + apply + reduce" in capsys.readouterr().out
    assert out["overhead_fraction"] > 0 and out["forward_us"] > 0


def test_example_double_mc_variance_estimator_is_unbiased() -> None:
    """The example's importance-sampled estimate of double MC's gradient variance (log-uniform t, non-empty
    masks, weighted) against the exact variance: every Bernoulli mask of n = 3 tokens enumerated, the t-integrals
    of t^(m-2) (1-t)^(n-m) and t^(m-1) (1-t)^(n-m) on [t_min, 1] done exactly (polynomials)."""
    mod = _example()
    torch.manual_seed(0)
    V, n, budget, t_min = 3, 3, 4, 1e-3

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(V + 1, 4)
            self.out = torch.nn.Linear(4 * n, n * V)

        def forward(self, noisy: torch.Tensor) -> torch.Tensor:
            h = torch.tanh(self.emb(noisy)).reshape(noisy.shape[0], -1)
            return self.out(h).reshape(noisy.shape[0], n, V)

    model = Tiny().double()
    x = np.array([[0, 2, 1], [1, 1, 0]])
    P = np.polynomial.polynomial

    def integral(coeffs: np.ndarray) -> float:
        c = P.polyint(coeffs)
        return float(P.polyval(1.0, c) - P.polyval(t_min, c)) / (1.0 - t_min)

    exact = 0.0
    for b in range(x.shape[0]):
        second, mean = 0.0, 0.0
        for bits in range(1, 2**n):
            m = np.array([(bits >> i) & 1 for i in range(n)], dtype=bool)
            k = int(m.sum())
            model.zero_grad(set_to_none=True)
            tok = torch.from_numpy(x[b : b + 1])
            lp = torch.log_softmax(model(tok.masked_fill(torch.from_numpy(m)[None], V)), -1)[0]
            lp.gather(-1, tok[0][:, None])[:, 0][torch.from_numpy(m)].sum().backward()
            g = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
            base = P.polypow([1.0, -1.0], n - k)  # (1 - t)^(n - k)
            # E[|X|^2] term: t^(k-2) (1-t)^(n-k) |g|^2; k = 1 has 1/t, integrated as log
            if k >= 2:
                second += integral(P.polymul(base, [0.0] * (k - 2) + [1.0])) * float(g @ g)
            else:
                c = P.polyint(base[1:]) if base.size > 1 else np.zeros(1)  # (base(t) - base(0)) / t, integrated
                lo_hi = float(P.polyval(1.0, c) - P.polyval(t_min, c)) + P.polyval(0.0, base) * np.log(1.0 / t_min)
                second += lo_hi / (1.0 - t_min) * float(g @ g)
            mean = mean + integral(P.polymul(base, [0.0] * (k - 1) + [1.0])) * g
        exact += (second - float(mean @ mean)) / budget
    est = [mod.double_mc_gradient_variance(model, V, x, budget, 100, seed=s) for s in range(8)]
    m, se = float(np.mean(est)), float(np.std(est, ddof=1) / np.sqrt(len(est)))
    assert abs(m - exact) < 4 * se + 1e-9 * exact, (m, se, exact)
    assert se < 0.05 * exact  # the estimate is not heavy-tailed
