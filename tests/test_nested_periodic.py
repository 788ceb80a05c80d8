"""Periodic dimensions: the bound's frame, wrapped draws and slice moves, checkpoints, bad input.

The test problem is a product of wrapped normal densities on the circle [0, 1) (one period), each centred on
the faces 0 = 1 where a peak is cut in two by an unperiodic cube.  Each factor integrates to 1 over the circle
(the nearest image alone is used; the next images weigh exp(-0.5 (0.5 / 0.04)^2) ~ 1e-34), so log Z = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ridgeline import _core
from ridgeline.nested import CheckpointError, NestedSampler
from ridgeline.nested import _reference as ref
from ridgeline.nested._checkpoint import read_checkpoint, write_checkpoint
from ridgeline.nested._checkpoint_check import parse_state, serialize_state

SIGMA = 0.04


def wrapped_loglike(centre: np.ndarray) -> object:
    """Vectorised log-likelihood: wrapped normals centred at `centre` (log Z = 0 over the unit cube)."""

    def ll(u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(u)
        dist = (u - centre + 0.5) % 1.0 - 0.5
        return -0.5 * np.sum((dist / SIGMA) ** 2, axis=1) - u.shape[1] * math.log(math.sqrt(2 * math.pi) * SIGMA)

    return ll


def scalar(ll):
    return lambda u: float(ll(u)[0])


def corner_points(n: int, d: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    return np.mod(g.normal(0.0, SIGMA, (n, d)), 1.0)


def test_frame_cuts_the_widest_gap() -> None:
    pts = np.array([[0.1, 0.3], [0.2, 0.4], [0.95, 0.5], [0.15, 0.45]])
    # dim 0: arcs 0.95 -> 0.1 (0.15, across the faces), 0.1 -> 0.15, 0.15 -> 0.2, 0.2 -> 0.95 (0.75): cut at 0.575
    core = _core.nested.fit_bound(pts, math.log(0.5 / 4), False, 1.25, 0, periodic=[0])
    assert np.asarray(core[0].frame) == pytest.approx([0.575, 0.0], abs=1e-15)
    assert ref.periodic_frame(pts, [0]) == pytest.approx([0.575, 0.0], abs=1e-15)
    # the widest arc across the faces: cut there (0.6 -> 1.2 = 0.2: the middle is 0.9)
    pts2 = np.array([[0.2, 0.5], [0.4, 0.5], [0.6, 0.5]])
    assert ref.periodic_frame(pts2, [0])[0] == pytest.approx(0.9, abs=1e-15)
    assert np.asarray(_core.nested.fit_bound(pts2, math.log(0.3), False, 1.25, 0, periodic=[0])[0].frame)[0] == \
        pytest.approx(0.9, abs=1e-15)
    # no periodic dimension: no frame
    assert np.asarray(core[0].frame).shape == (2,)
    assert np.asarray(_core.nested.fit_bound(pts, math.log(0.5 / 4), False)[0].frame).shape == (0,)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_periodic_bound_is_one_ellipsoid_and_matches_reference(seed: int) -> None:
    d, n = 3, 400
    pts = corner_points(n, d, seed)
    pts[:, 1] = np.random.default_rng(seed + 10).normal(0.5, SIGMA, n)  # dimension 1: not periodic, mid-cube
    logpv = math.log(1e-3 / n)
    core = _core.nested.fit_bound(pts, logpv, True, 1.25, 10, periodic=[0, 2])
    rf = ref.fit_bound(pts, logpv, True, 1.25, 10, periodic=[0, 2])
    assert len(core) == len(rf)
    frame = np.asarray(core[0].frame)
    np.testing.assert_allclose(frame, rf[0].frame, rtol=0, atol=1e-15)
    assert frame[1] == 0.0 and 0.3 < frame[0] < 0.7 and 0.3 < frame[2] < 0.7  # cut far from the peak
    # the same pieces (the core and the reference may list them in another order)
    core = sorted(core, key=lambda e: tuple(np.round(np.asarray(e.center), 9)))
    rf = sorted(rf, key=lambda e: tuple(np.round(e.center, 9)))
    for a, b in zip(core, rf):
        np.testing.assert_allclose(np.asarray(a.frame), frame, rtol=0, atol=0)
        np.testing.assert_allclose(np.asarray(a.center), b.center, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.asarray(a.shape), b.shape, rtol=1e-10, atol=1e-15)
        assert a.logvol == pytest.approx(b.logvol, rel=1e-10)
    # the union encloses every point in frame coordinates
    moved = np.where(pts < frame, pts + 1.0, pts)
    inside = np.zeros(n, dtype=bool)
    for e in core:
        diff = moved - np.asarray(e.center)
        inside |= np.einsum("ij,ij->i", diff, np.linalg.solve(np.asarray(e.shape), diff.T).T) <= 1.0
    assert inside.all()
    # one ellipsoid: around the peak in the frame, against one spanning the cube when the faces cut the peak
    one = _core.nested.fit_bound(pts, logpv, False, 1.25, 0, periodic=[0, 2])[0]
    assert ref.fit_bound(pts, logpv, False, 1.25, 0, periodic=[0, 2])[0].logvol == pytest.approx(one.logvol, rel=1e-10)
    cut = _core.nested.fit_bound(pts, logpv, False, 1.25, 0)[0]
    sd = np.std(moved, axis=0)
    assert one.logvol < cut.logvol - 3.0  # more than 20x smaller
    assert np.all(np.sqrt(np.diag(np.asarray(one.shape))) < 6 * sd)


@pytest.mark.parametrize(("sample", "start"), [("unif", "auto"), ("slice", "auto"), ("slice", "live")])
def test_periodic_run_is_calibrated_and_wraps(sample: str, start: str) -> None:
    # slice_start='live': every new point comes from a chain started at a live point, so the posterior's
    # symmetry about the faces shows that the chains cross them
    d = 3
    ll = wrapped_loglike(np.zeros(d))
    zs, calls, frac = [], [], []
    for seed in range(4):
        s = NestedSampler(scalar(ll), None, d, nlive=150, rng=seed, sample=sample, periodic=[0, 1, 2],
                          slice_start=start)
        r = s.run(dlogz=0.1)
        zs.append(r.logz / r.logzerr)
        calls.append(r.ncall)
        assert len(s._core.bound()) == 1  # one ellipsoid around the peak across the faces
        w = r.weights
        # the posterior is symmetric about the faces: half its weight on each side of dimension 0
        frac.append(float(np.sum(w[r.samples[:, 0] > 0.5])))
    assert max(abs(z) for z in zs) < 4.0, zs
    assert abs(np.mean(zs)) < 4.0 / math.sqrt(len(zs)) + 0.5, zs
    assert np.mean(frac) == pytest.approx(0.5, abs=0.1), frac


def test_periodic_saves_calls_on_a_peak_across_the_faces() -> None:
    d = 3
    ll = wrapped_loglike(np.zeros(d))
    on = [NestedSampler(scalar(ll), None, d, nlive=150, rng=s, sample="unif", periodic=[0, 1, 2]).run(dlogz=0.1).ncall
          for s in range(3)]
    off = [NestedSampler(scalar(ll), None, d, nlive=150, rng=s, sample="unif").run(dlogz=0.1).ncall for s in range(3)]
    assert np.mean(on) < np.mean(off), (on, off)


def test_reference_periodic_run_agrees() -> None:
    d = 2
    ll = wrapped_loglike(np.zeros(d))
    zs = []
    for seed in range(3):
        r = ref.run(ll, None, d, nlive=100, dlogz=0.1, rng=seed, periodic=[0, 1])
        zs.append(r["logz"] / r["logzerr"])
    assert max(abs(z) for z in zs) < 4.0, zs


def test_periodic_checkpoint_resume_and_refusals(tmp_path) -> None:
    d = 3
    ll = wrapped_loglike(np.zeros(d))

    def mk(periodic=(0, 1, 2)):
        return NestedSampler(scalar(ll), None, d, nlive=80, rng=5, sample="unif", periodic=list(periodic))

    full = mk().run(dlogz=0.2)
    ck = tmp_path / "p.ckpt"
    mk().run(dlogz=0.2, maxiter=500, checkpoint=ck, checkpoint_every=0)
    meta, body = read_checkpoint(ck)
    t = parse_state(body, d)
    assert t.frame.shape == (d,) and np.all((t.frame >= 0.0) & (t.frame < 1.0))
    resumed = mk().run(dlogz=0.2, checkpoint=ck)
    assert resumed.logz == full.logz and resumed.ncall == full.ncall  # the same run, continued
    # another periodic set than the checkpoint's
    mk().run(dlogz=0.2, maxiter=500, checkpoint=tmp_path / "q.ckpt", checkpoint_every=0)
    with pytest.raises(CheckpointError):
        mk(periodic=(0,)).run(dlogz=0.2, checkpoint=tmp_path / "q.ckpt")
    # a forged frame (out of range; or set on a dimension that is not periodic) is refused
    for edit in ("range", "unperiodic"):
        t2 = parse_state(body, d)
        if edit == "range":
            t2.frame = t2.frame.copy()
            t2.frame[0] = 1.5
            path, maker = tmp_path / "f1.ckpt", mk
        else:
            path, maker = tmp_path / "f2.ckpt", (lambda: mk(periodic=(0, 2)))
            t2.frame = t2.frame.copy()
            t2.frame[1] = 0.25
            meta = dict(meta)
            meta["settings"] = dict(meta["settings"], periodic=[0, 2]) if "settings" in meta else meta.get("settings")
        write_checkpoint(path, meta, serialize_state(t2))
        with pytest.raises(CheckpointError):
            maker().run(dlogz=0.2, checkpoint=path)


def test_periodic_bad_input() -> None:
    ll = lambda u: 0.0  # noqa: E731
    with pytest.raises(ValueError, match="periodic"):
        NestedSampler(ll, None, 3, nlive=50, periodic=[3])
    with pytest.raises(TypeError, match="periodic"):
        NestedSampler(ll, None, 3, nlive=50, periodic=[0.5])
    with pytest.raises(ValueError, match="periodic"):
        NestedSampler(ll, None, 3, nlive=50, periodic=[True, False])
    with pytest.raises(ValueError, match="both periodic and reflective"):
        NestedSampler(ll, None, 3, nlive=50, periodic=[0, 1], reflective=[1])
    with pytest.raises(ValueError, match="reflective"):
        NestedSampler(ll, None, 3, nlive=50, reflective=[-1])
    with pytest.raises(ValueError, match="periodic dimension 7"):
        _core.nested.Sampler(3, 50, 0, periodic=[7])
    with pytest.raises(ValueError, match="periodic dimension"):
        _core.nested.fit_bound(np.full((10, 2), 0.5), -3.0, periodic=[2])
    s = NestedSampler(ll, None, 3, nlive=50, periodic=np.array([True, False, True]), reflective=[1])
    assert s.periodic == [0, 2] and s.reflective == [1]


def test_dynesty_dropin_passes_periodic() -> None:
    from ridgeline.nested import dynesty as dy

    ll = wrapped_loglike(np.zeros(2))
    s = dy.NestedSampler(scalar(ll), lambda u: u, 2, nlive=100, periodic=[0, 1], rstate=np.random.default_rng(3))
    s.run_nested(dlogz=0.2, print_progress=False)
    assert s._sampler.periodic == [0, 1]
    res = s.results
    assert abs(res.logz[-1]) < 4 * res.logzerr[-1]


def test_dynamic_sampler_periodic() -> None:
    from ridgeline.nested import DynamicNestedSampler

    ll = wrapped_loglike(np.zeros(2))
    s = DynamicNestedSampler(scalar(ll), None, 2, nlive=100, rng=2, periodic=[0, 1])
    r = s.run(1000, dlogz_init=0.2)
    assert abs(r.logz) < 4 * r.logzerr, (r.logz, r.logzerr)


@pytest.mark.slow
def test_surrogate_with_periodic_dimensions() -> None:
    """The surrogate's clusters come from the bound's ellipsoids: with periodic dimensions the live points are
    moved into the bound's frame first (else a peak across the faces would be split into corner pieces)."""
    ll = wrapped_loglike(np.zeros(3))
    s = NestedSampler(scalar(ll), None, 3, nlive=200, rng=1, periodic=[0, 1, 2], surrogate="mlp")
    r = s.run(dlogz=0.1)
    assert abs(r.logz) < 4 * r.logzerr, (r.logz, r.logzerr)
    assert r.ncall_surrogate > 0  # the networks answered
