"""Neural surrogate likelihood for expensive likelihoods (BAMBI style).

During a run, every true likelihood evaluation is stored.  Small feed-forward
networks are trained on the stored points near and above the current contour L*
(whitened coordinates, standardised target), validated on a held-out split, and
switched on only when their validation error of log L above L* is small.  While
they are on, new candidates get a network's value instead of a true call, except:

- spot checks: one candidate in ``check_every`` replacements that the network
  places above L* is also evaluated truly (its true value is used); a single
  error above ``4 tol`` or a running RMS of the last 16 checks above
  ``1.5 tol`` switches the networks off.  After a clean record the period
  relaxes (``relax_checks`` = n, default 50): n checks in a row with every
  error within ``tol`` double it, 3 n quadruple it, and a check beyond ``tol``
  or a switch-off restores it.  A network whose errors exceed ``tol`` on a
  fraction f of its answers builds such a record with probability
  (1 - f)^n (0.5% for f = 0.1, n = 50), so a loose network is watched at the
  full rate; the validation at every training, the low checks (kept at the
  full rate) and the end correction are unchanged;
- candidates outside the training envelope of their network, routed to a
  cluster without a network, or predicted above the best true value seen
  (extrapolation), are evaluated truly;
- when ``max_proposals`` network evaluations in a row find nothing above L*
  (a network that under-predicts the peak would stall the run), it is switched
  off.

The networks are retrained every ``train_every`` iterations on the newest data
(the contour shrinks, the region that matters moves); while off, they are
retrained and re-validated on the same schedule and switched back on when they
pass.  A failure therefore costs true calls, never a wrong run.

Rejection screening (``screen=True``).  Most true calls of a plain run are
rejected proposals, and a network too poor to replace log L (early in a run
log L spans hundreds of nats over the live points) can still tell that a
proposal lies far below the contour.  While the networks are not trusted (and,
when they are, for the candidates they may not answer), a proposal routed to
cluster c is rejected with its network value and no true call when that value
is below L* - m_c.  The margin m_c is calibrated at each training on the
cluster's held-out points above the contour (at least 10; their errors
e = log L_true - log L_net): with n exchangeable held-out errors, a new point
above the contour has an error beyond their largest with probability at most
1 / (n + 1) (the conformal bound), and m_c = 2 max abs(e) + ``tol`` (times a scale
that doubles at each failure) leaves a wide safety factor beyond it.  Only
rejections are screened: every point that enters the live set and the evidence
has its true value, so a screened run is exact nested sampling except for
false rejections, which would remove a sliver of prior mass just above the
contour (a compression bias of about the false-rejection fraction times the
information H).  They are watched: one screened rejection in
``screen_check_every`` is evaluated truly, and a value at or above the
contour stops the screening until the next training and doubles the margins.

Multimodal and curved likelihoods (per-mode networks).  One network on the
whole live set must fit a sum of separated bumps or a thin curved ridge in
common whitened coordinates, which a small network does badly (the two shells,
a 4-mode mixture never validated).  At every training the live points are
clustered: the connected components of their symmetric k-nearest-neighbour
graph (k = ``knn``, distances in the live set's whitened coordinates and,
separately, in the unit cube: whitening by the covariance of several separated
modes inflates the directions within each mode and can join them), so a
separated mode or a ring-shaped shell is one cluster whatever its shape; the
finer of these two partitions is used.  The bound's ellipsoid clusters are only
a split proposal (see below; with ``split=False`` they refine the partition as
before): late in a run the bound covers one ring with dozens of ellipsoids
whose connectivity depends on the sampler's split schedule, and a ring cut
into arcs fits worse than whole (the shells after the issue-15 schedule).  A
graph edge longer than ``_JOIN`` (3) times the median k-th neighbour distance
is not followed (the few live points of a dying mode between two others would
otherwise bridge them); components with fewer than ``min_cluster`` live points
join the cluster of their nearest live point outside them unless that point
is farther than the same distance (a separated small mode stays a cluster of
its own: joined to another mode it would spoil that mode's network), and at
most ``max_clusters`` are kept (the points of the others are evaluated truly).  A candidate is routed to the
cluster of its nearest live point (the nearest-neighbour rule, which follows
curved clusters, unlike the nearest centre), and each cluster has its own
network with its own whitening (centre and principal axes of that cluster's
training points).  The input encoding adds a radial feature ``r = |z|`` to the
linear and quadratic skip path: a shell is quadratic in r about its centre (the
centre of a ring's points), a Gaussian mode quadratic in z, so both are easy.
Validation is pooled over the clusters (a cluster whose own held-out errors
above L* fail the spot-check rules, one beyond ``4 tol`` or an RMS beyond
``1.5 tol``, is switched off alone: late in a multimodal run a dying mode has a
handful of held-out points, and one of them used to switch off every mode's
network).  When a new model fails while the networks answer, the standing
model is kept if it passes the fresh test of ``revalidate`` (at least 15 true
values stored since its training, at or above the contour, RMS and mean
within the tolerance); a failure late in a run, where a plain proposal costs
tens of true calls, otherwise cost thousands of calls until the next
training.

Splitting clusters one network cannot fit (``split=True``).  Connected live
points need not be one smooth bump: the two shells' contours touch until about
a third of the prior mass is left (their live points are then one annulus pair
joined in the middle), and modes the graph has not separated yet are one
component.  One network (one radial centre, one quadratic) fits such a cluster
to several nats, which neither validates nor screens.  At every training, a
cluster whose network, fitted on three quarters of the training rows, has a
held-out RMS error above the contour beyond the tolerance on the remaining
quarter is split: first as the bound's ellipsoids divide its live points (when
they do, into parts of at least ``min_cluster``), else in two by 2-means of its
live points (unit-cube coordinates),
and the split is kept when the two networks' pooled held-out RMS on that
quarter is below half of the one's (two rounds, at most ``max_clusters``).
The decision uses the training rows only: the validation rows that switch the
networks on are untouched, so the switch-on test and its conformal bounds are
as before.  On the shells the two halves are the two rings, each exactly
quadratic in its radius except in a thin strip where they meet, and the
networks validate from iteration 125-250 instead of 500-875.

Beyond the envelope (the far margin).  A candidate outside its network's
training envelope used to be evaluated truly unless it lay within twice the
radius of its cluster's live points and was predicted 10 ``tol`` below the
contour.  On a multimodal run most such candidates lie between the modes (the
bound still covers space a mode has left), and they were most of the true
calls (4-mode mixture in 6-d: 5000-8000 of 10000-14000).  Each model now
calibrates a far margin on true values beyond its envelopes: those stored
since the previous training, then every later one evaluated truly (fresh draws
of the same proposal).  A point at or above the contour L* would be wrongly
rejected by any margin below t = L* - prediction; with n points and t_max the
largest such t (-inf when none was above L*), a new exchangeable candidate
exceeds t_max with probability <= 1 / (n + 1).  From n >= ``_FAR_MIN`` (100),
candidates beyond the envelope predicted below L* - max(2 t_max, 10 ``tol``)
(times the screening scale) are rejected without a true call, both while the
networks answer (as low values, one in 4 ``check_every`` checked truly; an
error there switches them off) and while they only screen (one in
``screen_check_every`` checked; a value at or above L* stops the screening
and doubles the margins).  Only rejections are made this way: every point that
enters the live set keeps a true or validated network value.

Architecture search (``search='ga'``).  A small genetic algorithm chooses the
network's depth (1-3 hidden layers), width, activation (tanh, relu, softplus),
Adam learning rate, weight decay and training steps.  Fitness of an
architecture = held-out RMS error of log L above the current contour (in units
of ``tol``; the held-out part is a split of the *training* points, so the
validation set that switches the surrogate on stays untouched by the search) +
``ga_cost_weight`` x its cost relative to the default network, the cost being
parameters x training steps (summed over the clusters).  The population of
``ga_population`` starts with the default architecture and random ones; each of
``ga_generations`` generations keeps the best (elitism) and fills up with
children of binary-tournament parents: uniform crossover (probability
``ga_crossover``), then each gene mutated with probability ``ga_mutation``
(a neighbouring width/depth/steps, another activation, a log-normal step of the
rates).  The search is budgeted in parameter-steps, not seconds
(``ga_budget`` default-network trainings): timings never change a result, and
the same seed gives the same architecture.  It runs at the first training and
again at the next training after the surrogate stops validating (switched off
by validation, spot checks or proposals), at most ``ga_max_searches`` times.
The chosen architecture, the number of GA evaluations, their cost and the CPU
seconds they took (measured, reported only) are in ``NestedResult.surrogate``.
The GA is ~60 lines of numpy here rather than a library (DEAP, PyGAD): the
genome is six mixed categorical/continuous genes, the expensive part is the
fitness (training networks), and a dependency would add an import and its
own random streams to seed from the sampler's seed for no gain.

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

Tolerance scaled by the compression (``vol_tol``).  Early in a run log L*
rises by tens or hundreds of nats per e-fold of prior volume, and an error
of e nats near the contour moves the accepted region {L_net > L*} against
{L > L*} by about s e in log X, where s = d log X / d log L* is the run's
compression per nat at the contour; the run measures it on its own dead
points as (k / nlive) / (L*_now - L*_{k back}), k = ``train_every``.  The
points recorded there carry a negligible share of the evidence (their L is
e^-(Lmax - L*) of the peak's), so what an error can spoil is the volume, and
the switch-on, spot-check and per-cluster tolerances are ``max(tol,
vol_tol / s)`` nats: an error moves the contour by at most ``vol_tol`` in
log X.  This is off by default (``vol_tol=0``): the first-order argument
ignores that every change of network (each training, switch on or off)
moves the contour again, and with ``vol_tol=0.02`` the dark-energy LCDM
example's log Z came out 0.11 nat high on average (7 of 7 seeds above
the plain run), while the calls fell only 2.0-3.0x.  As the run nears the peak s grows, the tolerance falls
back to ``tol``, and a network that cannot reach it is switched off by the
next validation or spot check, so the points that carry the evidence are
held to the absolute rule below, and their remaining errors are what the
final correction measures.  Two guards make this honest.  A value above the
best true log L seen by more than 3 ``tol`` (absolute) is always evaluated
truly (such a value would carry the evidence).  And a point valued by a loose
network may be worth far more than its value says (a 20-nat error on a point
that is truly near the peak): every network value is stored with its
network's error bound B (twice the largest held-out error above the contour,
plus ``tol``: by the conformal argument of the screening notes a new point
exceeds the largest of n held-out errors with probability <= 1 / (n + 1)),
and at the end the points with B > 2 nats whose bound w (v + B) on their
share of the evidence is not negligible are evaluated truly (see
:meth:`SurrogateLoglike.finish`).

Fresh revalidation (``revalidate=True``).  While the networks are off, the
true values found since the last training were never seen by it; the ones
above the current contour are accepted points, uniform in the region that
matters.  After every block of ``nlive / 20`` iterations the last model is
tested on them (at least 30, every one inside a network's envelope, RMS and
mean error within the current tolerance) and switched back on when it passes,
instead of waiting up to ``2 train_every`` iterations for the next training.

Training toward the contour (``contour_scale``).  The stored points reach
down to tens of nats below the contour, where log L is steep and its errors
are irrelevant, while the networks must be accurate to ``tol`` above it.
With ``contour_scale = c > 0`` a training point with log L below the
contour L* has weight exp((log L - L*) / s) (at least 1e-3), where
s = max(c, (Lmax - L*) / 4) and Lmax is the best true value: far from the
peak (early, or in a cluster still spanning hundreds of nats) the weighting is
mild, and near it the fit concentrates on the last few nats.  The ridge
start of the skip path is weighted least squares, the Adam mini-batches are
drawn with probability proportional to the weights (the same expected loss
as weighting a uniform batch, with less noise), and the early-stopping loss
is weighted.  Only the fit changes: the held-out validation above L*, the
conformal bounds, spot checks and the end re-evaluation are those above, so
a worse fit costs calls, never calibration.  The same weights screen
worse (predictions far below the contour get less accurate), which is why
this helped the smooth unimodal LCDM likelihood but not the shells or the
mixture, and is off by default.

Staged ordering (``staged=True``, experimental, off by default; the
cosmology example does not use it).  The rules above hold every network value to ``tol`` because a value
enters both the evidence sum and the ordering that assigns prior volumes, and
a network early in a run (errors of tens of nats while log L* rises by
hundreds per e-fold) cannot meet it: the dark-energy models paid a true call
per iteration for most of the run (2.5x fewer calls at best, 1.1x on
w0waCDM).  Nested sampling needs neither.  Ordered by any deterministic
function f, its dead points and their prior-volume weights w_i estimate the
prior integral of any g as sum_i w_i g(x_i); the run's own log Z and logzerr
are those of Z_f, the evidence of f, and Z = Z_f E_pf[L / f] with p_f the
posterior of f, which the ``final_checks`` posterior draws estimate (the
correction of the Bias notes, now the whole correction; its standard error
goes into ``logzerr``).  A staged run is nested sampling of one such f built
in stages:

- until a network orders the live points roughly (held-out RMS above the
  contour below ``max(tol, 0.1 (Lmax - L*))`` and mean below half that), the
  true likelihood orders the run (screened as above).  Such networks are
  trained 3000 Adam steps (``steps``), not 600: on w0waCDM 600 steps left
  the held-out error at 8-15% of the range through the run (the first stage
  came at iteration ~4900 of 5600), 3000 steps at 4-9% (first stage at 125);
  at 5% the w0waCDM stages lapsed between trainings (3.1x against 4.7x on
  seed 0);
- from then on every training whose model passes that test starts a stage:
  the stage's function is the model's value inside a network's envelope,
  min(value + m, log L) beyond it but near the cluster (m = max(error bound,
  10 tol) at the stage's start: a candidate whose value + m is below the
  contour is rejected without a true call), min(value + m_far, log L)
  farther out (m_far: the default path's far margin, calibrated on the
  latest true values beyond the near radius and frozen for the stage; inf
  before 100 such values), and the true value in a cluster without a
  network (deterministic; before these rules the envelopes' edges took up
  to 6000 true calls in the last 250 iterations of a w0waCDM run, around a
  stray live point the network had over-valued, a cluster of its own), the
  live points are re-scored by
  it (``_core`` ``set_live_logl``), and the stage that ends leaves the region
  {f_old > c}, c the last dead point's value, as a constraint on every later
  point (lexicographic order: the old stage's function, then the new);
- a candidate is checked against the constraints only when it would be
  accepted: a network stage by its own model (exact), a true-likelihood
  value by the network that took over or the current one when its value is
  above c by its error bound (the conformal bound of the screening notes),
  else by a true call (``region_true_calls``);
- spot checks only watch the networks and feed them data: a failure asks for
  an early training (``stage_check_failures``), since a poor network is
  still a valid ordering; a new model that fails the test above but is 30%
  better than the standing one on the same held-out rows also starts a stage,
  and no cluster's network is dropped (a dropped cluster sent its candidates
  to the true likelihood and left trainings without validation rows);
- while a network orders, the only new true values are the spot checks, a
  few hundred rows near the contour, too few for a fresh network: on
  w0waCDM the fresh one was worse than the standing one (trained on more)
  at most trainings (held-out RMS 0.09-0.25 of the range against
  0.06-0.18).  So each such training also fits a correction of the standing
  model, networks of 600 steps on its errors (``_Residual``, chained at most
  ``_RESID_DEPTH`` = 12 deep), and keeps it instead of the fresh model when
  it fits the held-out rows better (``residual_models``);
- while a network orders, training and validation use the contour in true
  log L: the lowest known true value among the live points (the spot-checked
  ones are a random subset of them);
- when the last 16 spot checks have an RMS beyond 3 tolerances (30% of the
  range above the contour) and beyond 1 nat (the final weights would keep
  less than 1/e of their draws; 1.5 tolerances fell back on sound wCDM runs
  early, where errors of 10-20 nats harm nothing) and the
  next training does not pass, the stage ends and the true likelihood orders
  the run again (``fallbacks``; the live points are evaluated truly, at most
  nlive calls): without this a network far off (a spurious peak) ordered
  whole runs (wCDM and w0waCDM, log Z off by 2-15 sigma, corrections of 25
  and 118 nats).

What remains approximate: the conformal shortcut of the constraint checks,
and a region that a network under-predicts by more than the gap between its
value there and the contour is left behind for good (no later stage returns to
it, and the importance weights see it only through the posterior draws).  Such
a region is still in the quadrature, through a few early dead points with
large weights, so the estimate stays unbiased in expectation, but its
correction is heavy-tailed and a typical run misses it: the likely reason
why w0waCDM's staged log Z came out low on most seeds (0.1-2.9 sigma low on 6
of 7 seeds before the envelope margins, and on most seeds after: networks
with errors of 5-10% of the range near cliffs at the prior's edges).
Early stages cut only far below the peak, where that would take errors of
hundreds of nats; late stages are validated to a fraction of a nat.  The test
``test_staged_ordering_by_a_wrong_function_is_corrected_exactly`` orders a
whole run by log L + 10 (x0 - 1/2), whose evidence is e^0.5 Z, and recovers Z.

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
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Literal, TypedDict

import numpy as np

from ridgeline._random import mix_seed
from ridgeline._validation import check_float, check_int
from ridgeline.nested._results import _logsumexp

__all__ = ["Architecture", "SurrogateLoglike", "SurrogateOptions", "make_options", "run_surrogate",
           "surrogate_loglike"]

_ACTIVATIONS = ("tanh", "relu", "softplus")
_WIDTHS = (8, 16, 24, 32, 48, 64)
_STEPS = (200, 300, 400, 600, 900)
_STEPS_DEFAULT = 600  # Adam steps per training of the default network
_STAGED_STEPS = 3000  # ... with staged ordering (see SurrogateOptions.steps)
_RESID_DEPTH = 12  # staged ordering: most corrections chained on a standing model (each adds a network evaluation)


@dataclass(frozen=True)
class Architecture:
    """A network architecture and its training settings (the genome of the search).

    Parameters
    ----------
    depth : int
        Hidden layers (1-3).
    width : int
        Units per hidden layer.
    activation : {'tanh', 'relu', 'softplus'}
        Hidden-layer activation.
    learning_rate : float
        Adam step size (cosine-decayed over the training).
    weight_decay : float
        L2 penalty on the hidden and output weights.
    steps : int
        Adam steps (mini-batches) per training.
    """

    depth: int
    width: int
    activation: str
    learning_rate: float
    weight_decay: float
    steps: int

    def n_params(self, ndim: int) -> int:
        """Weights of the network's tanh/relu/softplus part and output (the skip path excluded)."""
        h = self.width
        return ndim * h + h + (self.depth - 1) * (h * h + h) + h + 1

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for reports)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SurrogateOptions:
    """Settings of the neural surrogate likelihood (``NestedSampler(surrogate=...)``).

    Parameters
    ----------
    hidden : int, default=32
        Units in each of the two tanh hidden layers of the default network
        (the starting point of the architecture search).  The network also has
        a linear skip path on the whitened inputs, their products (all
        z_i z_j up to 15 dimensions, the squares beyond) and the radius ``|z|``,
        initialised by ridge regression, so a locally Gaussian log L or a
        shell is easy for it.
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
    steps : int, optional
        Adam steps (mini-batches of 192 points) per training of the default
        network (default 600; 3000 with ``staged=True``, whose networks take
        over at a relative accuracy that 600 steps rarely reach on curved
        likelihoods).
    learning_rate : float, default=0.005
        Adam step size of the default network.
    valid_frac : float, default=0.2
        Held-out fraction for validation.
    max_proposals : int, default=5000
        Network evaluations in a row without any point above L* after which the
        network is switched off.
    final_checks : int, default=100
        Posterior draws re-evaluated truly at the end for the bias correction.
    clusters : {'auto'} or int, default='auto'
        'auto': one network per cluster of the live points (k-nearest-neighbour
        components, see the module notes); 1: a single network (the behaviour
        before per-mode networks).
    knn : int, default=10
        Neighbours per live point in the clustering graph.
    min_cluster : int, optional
        Fewest live points of a cluster (default ``max(20, 2 ndim + 2)``);
        smaller components join their nearest cluster.
    max_clusters : int, default=8
        Most clusters with a network (the largest are kept).
    search : {'none', 'ga'}, default='none'
        'ga': choose the architecture by the genetic algorithm of the module
        notes (``surrogate='ga'`` is the short form).
    ga_population : int, default=8
        Architectures per generation.
    ga_generations : int, default=4
        Generations (the first is the initial population).
    ga_crossover : float, default=0.7
        Probability that a child mixes its two parents' genes (uniform crossover).
    ga_mutation : float, default=0.25
        Probability that each gene of a child mutates.
    ga_cost_weight : float, default=0.05
        Weight of the cost (parameters x steps, relative to the default
        network's) in the fitness, whose other term is the held-out RMS error
        above L* in units of ``tol``.
    ga_budget : float, default=24.0
        Budget of one search in trainings of the default network
        (parameter-steps; deterministic, unlike a CPU-time budget): the
        search stops before an evaluation that would exceed it.
    ga_max_searches : int, default=3
        Most searches in a run.
    screen : bool, default=True
        While the networks are not trusted to replace the likelihood, use them
        to reject proposals they place far below the contour (conformal
        margin, see the module notes) without a true call; every accepted
        point keeps its true value.
    screen_check_every : int, default=20
        Evaluate one screened rejection in this many truly (a true value at or
        above the contour stops the screening and doubles its margins).
    vol_tol : float, default=0.0
        Log-volume tolerance of the switch-on rule (see the module notes): the
        tolerance in nats is ``max(tol, vol_tol / s)`` where ``s`` is the
        run's own compression per nat at the contour (log-volume per unit of
        log L*, measured on the last ``train_every`` dead points), so an error
        of that size moves the contour by at most ``vol_tol`` in log X.  0 (the
        default) keeps the absolute ``tol`` throughout.  Experimental: 0.02
        gave 2.0-3.0x fewer true calls on the dark-energy LCDM example but a
        log Z 0.11 nat (about one sigma) above the plain run on 7 of 7 seeds,
        so it is off by default.
    revalidate : bool, default=True
        While the networks are off, test the last trained model after every
        block of iterations on the true values found since its training (fresh
        data, at least 30 above the contour) and switch it back on when they
        pass, instead of waiting for the next training.
    staged : bool, default=False
        Staged ordering (experimental, see the module notes): once a network
        orders the live points roughly (held-out RMS above the contour within
        ``max(tol, 0.1 x`` the range of log L above it``)``), the run becomes
        nested sampling of a sequence of deterministic functions, each new
        network re-scoring the live set inside the region the previous ones
        left, and log Z is corrected at the end by importance weights
        L / f on ``final_checks`` posterior draws; a network that fails its
        spot checks persistently hands the ordering back to the true
        likelihood.  Exact whatever the networks' errors, except where a
        network under-predicts a region by more than its contour gap (which no
        later stage can revisit); a result whose importance weights collapse
        warns and has ``res.surrogate["certified"] = False``.  Dark-energy
        example (bench/results/nested_surrogate.md): LCDM 5.4-6.7x fewer true
        calls, wCDM 7.2-7.4x, w0waCDM 1.9-5.9x (median 4.3), but w0waCDM's
        log Z came out low on 6 of 7 seeds (z -2.9 to +1.0); worse than the
        default on the shells and the 4-mode mixture (measured before the
        longer training).
    split : bool, default=True
        Split a cluster that one network fits worse than ``tol`` in two
        (2-means of its live points) when two networks fit it at least twice
        better on an inner held-out part of the training rows (see the module
        notes; the validation rows are not used).
    relax_checks : int, default=50
        Spot checks in a row with every error within ``tol`` after which the
        spot-check period doubles (quadruples after 3x as many); an error beyond
        ``tol`` or a switch-off restores it.  0: never relax.
    contour_scale : float, default=0.0
        Train toward the contour (see the module notes): a training point
        below the contour L* gets weight exp((log L - L*) / s), at least 1e-3,
        with s = max(``contour_scale``, (best true log L - L*) / 4) nats; 0
        (the default) trains unweighted.  Validation and every safety rule are
        unchanged.  1.0 trusted the networks on the dark-energy LCDM example
        from iteration ~2000 instead of ~2500 (2.0-2.1x fewer true calls
        instead of 1.7-1.8x, log Z unchanged); on the shells and the 4-mode
        mixture it cost calls (weaker screening), so it is off by default.
    """

    hidden: int = 32
    tol: float = 0.1
    check_every: int = 5
    train_every: int | None = None
    min_train: int | None = None
    max_train: int = 3000
    steps: int | None = None
    learning_rate: float = 0.005
    valid_frac: float = 0.2
    max_proposals: int = 5000
    final_checks: int = 100
    clusters: Literal["auto"] | int = "auto"
    knn: int = 10
    min_cluster: int | None = None
    max_clusters: int = 8
    search: Literal["none", "ga"] = "none"
    ga_population: int = 8
    ga_generations: int = 4
    ga_crossover: float = 0.7
    ga_mutation: float = 0.25
    ga_cost_weight: float = 0.05
    ga_budget: float = 24.0
    ga_max_searches: int = 3
    screen: bool = True
    screen_check_every: int = 20
    vol_tol: float = 0.0
    revalidate: bool = True
    contour_scale: float = 0.0
    relax_checks: int = 50
    split: bool = True
    staged: bool = False

    def __post_init__(self) -> None:
        ints = {"hidden": 1, "check_every": 1, "max_train": 10, "max_proposals": 1, "final_checks": 0,
                "knn": 1, "max_clusters": 1, "ga_population": 2, "ga_generations": 1, "ga_max_searches": 1,
                "screen_check_every": 1, "relax_checks": 0}
        for name, least in ints.items():
            check_int(getattr(self, name), name, low=least)
        for name in ("train_every", "min_train", "min_cluster", "steps"):
            v = getattr(self, name)
            if v is not None:
                check_int(v, name, low=1)
        clusters: object = self.clusters
        if clusters != "auto":
            if isinstance(clusters, str):
                msg = f"clusters={clusters!r} must be 'auto' or an int"
                raise ValueError(msg)
            check_int(clusters, "clusters", low=1)
        for flag in ("screen", "revalidate", "split", "staged"):
            val: object = getattr(self, flag)
            if not isinstance(val, (bool, np.bool_)):
                msg = f"{flag}={val!r} must be a bool"
                raise TypeError(msg)
        if self.search not in ("none", "ga"):
            msg = f"search={self.search!r} must be 'none' or 'ga'"
            raise ValueError(msg)
        bounds: tuple[tuple[str, float, float], ...] = (
            ("tol", 0.0, math.inf), ("learning_rate", 0.0, math.inf), ("valid_frac", 0.0, 0.9),
            ("ga_budget", 0.0, math.inf),
        )
        check_float(self.ga_crossover, "ga_crossover", 0.0, 1.0)
        check_float(self.ga_mutation, "ga_mutation", 0.0, 1.0)
        check_float(self.ga_cost_weight, "ga_cost_weight", 0.0)
        check_float(self.vol_tol, "vol_tol", 0.0)
        check_float(self.contour_scale, "contour_scale", 0.0)
        for name, lo, hi in bounds:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                msg = f"{name}={v!r} must be a float"
                raise TypeError(msg)
            if not (lo < float(v) <= hi) or math.isnan(float(v)):
                msg = f"{name}={v} must be in ({lo}, {hi}]"
                raise ValueError(msg)

    def default_architecture(self) -> Architecture:
        """The fixed network used without a search (and the search's first individual)."""
        steps = self.steps if self.steps is not None else (_STAGED_STEPS if self.staged else _STEPS_DEFAULT)
        return Architecture(2, self.hidden, "tanh", float(self.learning_rate), 1e-5, steps)


def make_options(surrogate: Any) -> SurrogateOptions | None:
    """Turn the ``surrogate=`` argument into options (None: no surrogate)."""
    if surrogate is None or surrogate is False:
        return None
    if isinstance(surrogate, SurrogateOptions):
        return surrogate
    if isinstance(surrogate, str):
        if surrogate == "mlp":
            return SurrogateOptions()
        if surrogate == "ga":
            return SurrogateOptions(search="ga")
        msg = f"surrogate={surrogate!r} is unknown; expected 'mlp', 'ga', a SurrogateOptions or a dict"
        raise ValueError(msg)
    if isinstance(surrogate, dict):
        known = {f.name for f in dataclasses.fields(SurrogateOptions)}
        opts = dict(surrogate)
        kind = opts.pop("kind", "mlp")
        if kind not in ("mlp", "ga"):
            msg = f"surrogate kind={kind!r} is unknown; expected 'mlp' or 'ga'"
            raise ValueError(msg)
        if kind == "ga":
            opts.setdefault("search", "ga")
        bad = sorted(set(opts) - known)
        if bad:
            msg = f"surrogate has unknown option(s) {', '.join(map(repr, bad))}; expected some of {sorted(known)}"
            raise ValueError(msg)
        return SurrogateOptions(**opts)
    msg = f"surrogate={surrogate!r} must be None, 'mlp', 'ga', a SurrogateOptions or a dict"
    raise TypeError(msg)


_BATCH = 192
_BLAS_SIZE = 200_000  # rows * hidden^2 of one product: below OpenBLAS's threading threshold
_FULL_QUADRATIC = 15  # up to this dimension the skip path has every product z_i z_j, beyond it only z_i^2
_ROUTE_ROWS = 256  # candidates per chunk of the nearest-live-point routing
_NEAR = 2.0  # beyond its training envelope a network may still reject points within this many live radii
_REACH = 1.3  # a cluster's network is trained on points within this many times its live points' radius
_SCREEN_MIN = 10  # fewest held-out points above the contour that calibrate a cluster's screening margin
_FRESH_MIN = 30  # fewest fresh true values above the contour that can switch a model back on
_VALID_MIN = 15  # fewest held-out (or fresh) values above the contour that validate a model (or keep one on)
_FAR_MIN = 100  # fewest recent true values beyond a model's envelope that calibrate its far margin
_FAR_ROWS = 5000  # ... taken from at most this many of the latest true values
_JOIN = 3.0  # a small cluster farther than this many typical neighbour distances from the rest stays apart
_EXACT_BOUND = 2.0  # network values with a larger error bound (nats) may be re-evaluated at the end (finish)
_EXACT_SHARE = 1e-3  # ... until the bound on the evidence the others could hide is below this share of Z
_STAGE_REL = 0.1  # staged ordering: a network takes over when its held-out RMS above L* is this share of the range
_STAGE_ESS = 0.2  # ... and its result is certified when the final importance weights keep this share of the draws
_STAGE_SHIFT = 2.0  # ... and correct log Z by at most this many nats
_STAGE_MARGIN = 10.0  # ... beyond a network's envelope f = min(value + margin, log L), margin >= this many tol


@dataclass(frozen=True)
class _Stage:
    """A finished stage of a staged run: the region it leaves is {f > c} (see ``SurrogateOptions.staged``).

    ``model`` None: the true likelihood ordered the stage; ``vouch`` (with its error bound ``bound``) is the
    network that took over from it, whose value above ``c + bound`` stands for a true value above ``c``.
    """

    model: Any
    c: float
    vouch: Any = None
    bound: float = math.inf
    margin: tuple[float, float] = (math.inf, math.inf)  # margins beyond the networks' envelopes (see _stage_f)

# ---------------------------------------------------------------------------
# The network: whitening, hidden layers, a skip path on [z, z z, |z|], Adam.


def _act(a: np.ndarray, kind: str) -> np.ndarray:
    out: np.ndarray
    if kind == "tanh":
        out = np.tanh(a)
    elif kind == "relu":
        out = np.maximum(a, 0.0)
    else:
        out = np.logaddexp(0.0, a)  # softplus
    return out


def _dact(a: np.ndarray, h: np.ndarray, kind: str) -> np.ndarray:
    """Derivative of the activation at pre-activation a (h = activation(a))."""
    out: np.ndarray
    if kind == "tanh":
        out = 1.0 - h * h
    elif kind == "relu":
        out = (a > 0.0).astype(np.float64)
    else:
        out = 0.5 * (1.0 + np.tanh(0.5 * a))  # the logistic function
    return out


def _fit_centre(z: np.ndarray, t: np.ndarray, iters: int = 25) -> np.ndarray:
    """Centre c of the radial feature |z - c|: least squares of t ~ a + b r + q r^2 over c (a, b, q projected out).

    Levenberg-Marquardt with a forward-difference Jacobian, from c = 0 (the
    points' mean); a shell's centre makes its log L exactly quadratic in r.
    Falls back to 0 when the fit wanders beyond 10 units (of the points' spread).
    """
    d = z.shape[1]
    if z.shape[0] < d + 4:
        return np.zeros(d)

    def resid(c: np.ndarray) -> np.ndarray:
        r = np.sqrt(np.sum((z - c) ** 2, axis=1))
        a = np.column_stack([np.ones_like(r), r, r * r])
        coef = np.linalg.lstsq(a, t, rcond=None)[0]
        out: np.ndarray = t - a @ coef
        return out

    c = np.zeros(d)
    res = resid(c)
    cost = float(res @ res)
    lam = 1e-3
    h = 1e-5
    eye = np.eye(d)
    for _ in range(iters):
        jac = np.column_stack([(resid(c + h * eye[i]) - res) / h for i in range(d)])
        a = jac.T @ jac
        step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -(jac.T @ res))
        cn = c + step
        rn = resid(cn)
        cn_cost = float(rn @ rn)
        if cn_cost < cost:
            c, res, cost = cn, rn, cn_cost
            lam *= 0.3
            if float(np.max(np.abs(step))) < 1e-6:
                break
        else:
            lam *= 10.0
    return c if float(np.sqrt(c @ c)) < 10.0 else np.zeros(d)


class _Net:
    """Feed-forward regression network on whitened inputs with a quadratic and radial skip path."""

    def __init__(self, x: np.ndarray, y: np.ndarray, arch: Architecture, rng: np.random.Generator,
                 xw: np.ndarray | None = None, w: np.ndarray | None = None) -> None:
        d = x.shape[1]
        self.arch = arch
        # whitening by the cluster's live points when given (a ring's live points are isotropic about its
        # centre; its training points, down to a lower contour, need not be)
        xw = x if xw is None or xw.shape[0] <= d + 1 else xw
        self.mu = xw.mean(axis=0)
        cov = np.atleast_2d(np.cov(xw, rowvar=False))
        lam, vec = np.linalg.eigh(cov)
        lam = np.maximum(lam, 1e-12 * max(float(lam.max()), 1e-300))
        self.wh = vec / np.sqrt(lam)  # z = (x - mu) @ wh: whitened, principal axes
        # the radial feature lives in the unwhitened coordinates scaled by one number, u = (x - mu) / rs
        # (whitening by a sample covariance would turn a round shell into an ellipse by its sampling noise)
        self.unwh = (vec * np.sqrt(lam)).T / math.sqrt(float(np.mean(lam)))  # u = z @ unwh
        self.ym = float(y.mean())
        self.ys = float(y.std()) or 1.0
        z = self.whiten(x)
        self.r2max = float(np.max(np.sum(z * z, axis=1)))
        zw = self.whiten(xw)
        self.r2near = max(self.r2max, _NEAR**2 * float(np.max(np.sum(zw * zw, axis=1))))
        t = (y - self.ym) / self.ys
        self.rc = np.zeros(d)
        top = np.argsort(-t, kind="stable")[: max(3 * d + 6, min(800, t.size // 2))]
        self.rc = _fit_centre(z[top] @ self.unwh, t[top])
        f = self._features(z)
        # skip path by ridge regression (the starting point of the training)
        a = np.column_stack([np.ones(len(t)), f])
        reg = 1e-6 * len(t) * np.eye(a.shape[1])
        reg[0, 0] = 0.0
        aw = a if w is None else a * (w / np.mean(w))[:, None]
        coef = np.linalg.solve(aw.T @ a + reg, aw.T @ t)
        h = arch.width
        p: dict[str, np.ndarray] = {}
        fan = d
        for i in range(arch.depth):
            p[f"w{i}"] = rng.normal(0.0, 1.0 / math.sqrt(fan), (fan, h))
            p[f"b{i}"] = np.zeros(h)
            fan = h
        p["wo"] = rng.normal(0.0, 0.1 / math.sqrt(h), h)
        p["bo"] = np.array(coef[0])
        p["s"] = coef[1:].copy()
        self.p = p

    def whiten(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = (x - self.mu) @ self.wh
        return out

    def _features(self, z: np.ndarray) -> np.ndarray:
        d = z.shape[1]
        zc = z @ self.unwh - self.rc
        r = np.sqrt(np.sum(zc * zc, axis=1, keepdims=True))
        if d > _FULL_QUADRATIC:
            return np.concatenate([z, z * z, r], axis=1)
        iu, ju = np.triu_indices(d)
        return np.concatenate([z, z[:, iu] * z[:, ju], r], axis=1)

    def _forward(self, z: np.ndarray, p: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray],
                                                                          list[np.ndarray], np.ndarray]:
        kind = self.arch.activation
        pre: list[np.ndarray] = []
        hs: list[np.ndarray] = [z]
        h = z
        for i in range(self.arch.depth):
            a = h @ p[f"w{i}"] + p[f"b{i}"]
            h = _act(a, kind)
            pre.append(a)
            hs.append(h)
        f = self._features(z)
        out = h @ p["wo"] + p["bo"] + f @ p["s"]
        return out, pre, hs, f

    def fit(self, x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, rng: np.random.Generator,
            w: np.ndarray | None = None, wv: np.ndarray | None = None) -> None:
        """Adam on mini-batches of the standardised squared error; keeps the best validation state.

        Mini-batches of at most ``_BATCH`` rows keep every matrix product below
        the size at which a threaded BLAS starts threads (slow on a busy machine).
        """
        arch = self.arch
        steps, lr, wd, kind = arch.steps, arch.learning_rate, arch.weight_decay, arch.activation
        z, zv = self.whiten(x), self.whiten(xv)
        t = (y - self.ym) / self.ys
        tv = (yv - self.ym) / self.ys
        p = self.p
        m = {k: np.zeros_like(v) for k, v in p.items()}
        v2 = {k: np.zeros_like(v) for k, v in p.items()}
        b1, b2, eps = 0.9, 0.999, 1e-8
        n = len(t)
        nb = min(n, self._batch_rows())
        order = rng.permutation(n)
        pos = 0
        # rows drawn with probability proportional to their weight (an unbiased estimate of the weighted
        # loss whose mini-batches are full of the rows that matter, unlike a weighted mean of uniform ones)
        cum = None if w is None else np.cumsum(w / np.sum(w))
        best = (self._mse(zv, tv, p, wv), {k: a.copy() for k, a in p.items()})
        for step in range(1, steps + 1):
            if pos + nb > n:
                order = rng.permutation(n)
                pos = 0
            rows = order[pos : pos + nb]
            pos += nb
            if cum is not None:
                rows = np.minimum(np.searchsorted(cum, rng.random(nb) * cum[-1], side="right"), n - 1)
            zb, tb = z[rows], t[rows]
            out, pre, hs, f = self._forward(zb, p)
            g = 2.0 * (out - tb) / nb
            grads = {"wo": hs[-1].T @ g + 2 * wd * p["wo"], "bo": np.array(g.sum()), "s": f.T @ g}
            back = np.outer(g, p["wo"])
            for i in range(arch.depth - 1, -1, -1):
                ga = back * _dact(pre[i], hs[i + 1], kind)
                grads[f"w{i}"] = hs[i].T @ ga + 2 * wd * p[f"w{i}"]
                grads[f"b{i}"] = ga.sum(axis=0)
                if i > 0:
                    back = ga @ p[f"w{i}"].T
            rate = lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))  # cosine decay
            c1, c2 = 1.0 - b1**step, 1.0 - b2**step
            for k, gk in grads.items():
                m[k] = b1 * m[k] + (1 - b1) * gk
                v2[k] = b2 * v2[k] + (1 - b2) * gk * gk
                p[k] = p[k] - rate * (m[k] / c1) / (np.sqrt(v2[k] / c2) + eps)
            if step % 50 == 0 or step == steps:
                e = self._mse(zv, tv, p, wv)
                if e < best[0]:
                    best = (e, {k: a.copy() for k, a in p.items()})
        self.p = best[1]

    def _batch_rows(self) -> int:
        h = self.arch.width
        return int(max(16, min(_BATCH, _BLAS_SIZE // (h * h))))

    def _out(self, z: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        nb = self._batch_rows()
        if z.shape[0] <= nb:
            return self._forward(z, p)[0]
        return np.concatenate([self._forward(z[i : i + nb], p)[0] for i in range(0, z.shape[0], nb)])

    def _mse(self, z: np.ndarray, t: np.ndarray, p: dict[str, np.ndarray], w: np.ndarray | None = None) -> float:
        if z.shape[0] == 0:
            return 0.0
        if w is None:
            return float(np.mean((self._out(z, p) - t) ** 2))
        return float(np.sum(w * (self._out(z, p) - t) ** 2) / np.sum(w))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted log L, whether each point lies inside the training envelope, and whether it is near
        (within ``_NEAR`` times the radius of the live points that set the whitening)."""
        z = self.whiten(x)
        out = self._out(z, self.p)
        r2 = np.sum(z * z, axis=1)
        return self.ym + self.ys * out, r2 <= self.r2max, r2 <= self.r2near


# ---------------------------------------------------------------------------
# Clusters of the live points and the routing of candidates to them.


class _Router:
    """Labels points by the cluster of their nearest live point (in the live set's whitened coordinates)."""

    def __init__(self, live: np.ndarray, labels: np.ndarray) -> None:
        self.live = live
        self.mu = live.mean(axis=0)
        cov = np.atleast_2d(np.cov(live, rowvar=False)) if live.shape[0] > 1 else np.eye(live.shape[1])
        lam, vec = np.linalg.eigh(cov)
        lam = np.maximum(lam, 1e-12 * max(float(lam.max()), 1e-300))
        self.wh = vec / np.sqrt(lam)
        self.z = (live - self.mu) @ self.wh
        self.z2 = np.sum(self.z * self.z, axis=1)
        self.labels = labels
        self.k = int(labels.max()) + 1 if labels.size else 0

    def route(self, x: np.ndarray) -> np.ndarray:
        """Cluster label of each row of x (ties go to the lowest live-point index)."""
        if self.k <= 1:
            return np.zeros(x.shape[0], dtype=np.int64)
        zx = (x - self.mu) @ self.wh
        out = np.empty(x.shape[0], dtype=np.int64)
        for i in range(0, x.shape[0], _ROUTE_ROWS):
            zc = zx[i : i + _ROUTE_ROWS]
            d2 = np.sum(zc * zc, axis=1)[:, None] - 2.0 * (zc @ self.z.T) + self.z2[None, :]
            out[i : i + _ROUTE_ROWS] = self.labels[np.argmin(d2, axis=1)]
        return out


def _find(parent: list[int], a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _knn_clusters(live: np.ndarray, knn: int, min_size: int, max_clusters: int, whiten: bool = True) -> np.ndarray:
    """Cluster labels 0..k-1 of the live points, -1 for points of clusters beyond ``max_clusters``.

    Connected components of the symmetric k-nearest-neighbour graph in the live
    set's whitened coordinates (then :func:`_finish_labels`).
    """
    n = live.shape[0]
    if n <= max(knn, 1) + 1:
        return np.zeros(n, dtype=np.int64)
    d2 = _sqdist(live, whiten)
    k = min(knn, n - 1)
    nbr = np.argpartition(d2, k - 1, axis=1)[:, :k]
    # an edge longer than _JOIN times the median k-th neighbour distance is not followed: a few points of
    # a small mode between two others (their k nearest neighbours lie in both) would bridge them
    kth = np.take_along_axis(d2, nbr, axis=1).max(axis=1)
    cut2 = _JOIN**2 * float(np.median(kth))
    parent = list(range(n))
    for i in range(n):
        for j in nbr[i].tolist():
            if d2[i, j] <= cut2:
                _union(parent, i, int(j))
    return _finish_labels(np.array([_find(parent, i) for i in range(n)]), d2, min_size, max_clusters)


def _ellipsoid_clusters(live: np.ndarray, live_u: np.ndarray, ells: list[tuple[np.ndarray, np.ndarray]],
                        min_size: int, max_clusters: int) -> np.ndarray:
    """Cluster labels from the sampler's multi-ellipsoid bound (unit-cube coordinates ``live_u``).

    Each live point belongs to the ellipsoids that contain it (the nearest in
    Mahalanobis distance when none does); ellipsoids sharing a live point are
    one cluster (a curved shell covered by overlapping ellipsoids stays one),
    then :func:`_finish_labels`.
    """
    n = live.shape[0]
    m = len(ells)
    if m <= 1:
        return np.zeros(n, dtype=np.int64)
    q = np.empty((n, m))
    for j, (c, shape) in enumerate(ells):
        du = live_u - c
        q[:, j] = np.sum(du * np.linalg.solve(shape, du.T).T, axis=1)
    inside = q <= 1.0
    own = np.argmin(q, axis=1)
    inside[np.arange(n), own] = True
    parent = list(range(m))
    for row in inside:
        js = np.flatnonzero(row)
        for j in js[1:].tolist():
            _union(parent, int(js[0]), int(j))
    root = np.array([_find(parent, int(j)) for j in own])
    return _finish_labels(root, _sqdist(live), min_size, max_clusters)


def _sqdist(live: np.ndarray, whiten: bool = True) -> np.ndarray:
    z = _Router(live, np.zeros(live.shape[0], dtype=np.int64)).z if whiten else live
    z2 = np.sum(z * z, axis=1)
    d2: np.ndarray = z2[:, None] - 2.0 * (z @ z.T) + z2[None, :]
    np.fill_diagonal(d2, np.inf)
    return d2


def _finish_labels(root: np.ndarray, d2: np.ndarray, min_size: int, max_clusters: int) -> np.ndarray:
    """Components smaller than ``min_size`` join the component of their nearest point outside them,
    unless that point is farther than ``_JOIN`` times the typical neighbour distance (a separated
    small mode, e.g. one whose peak the contour is passing, stays a cluster of its own: joined to
    another mode it would spoil that mode's network); the largest ``max_clusters`` keep a label
    0.. (by size, then first point), the rest get -1."""
    n = root.size
    root = root.copy()
    k = min(10, n - 1)
    join2 = math.inf
    if k >= 1:
        kth = np.partition(d2, k - 1, axis=1)[:, k - 1]
        join2 = _JOIN**2 * float(np.median(kth[np.isfinite(kth)])) if np.any(np.isfinite(kth)) else math.inf
    apart: set[int] = set()
    while True:
        roots, counts = np.unique(root, return_counts=True)
        is_small = (counts < min_size) & ~np.isin(roots, list(apart))
        if not np.any(is_small) or roots.size == 1:
            break
        small, scount = roots[is_small], counts[is_small]
        r0 = int(small[np.argmin(scount)])
        inside = root == r0
        sub = d2[np.ix_(inside, ~inside)]
        near = np.min(sub, axis=0)
        j = int(np.argmin(near))
        if float(near[j]) > join2:
            apart.add(r0)
            continue
        root[inside] = root[int(np.flatnonzero(~inside)[j])]
    roots, first, counts = np.unique(root, return_index=True, return_counts=True)
    order = sorted(range(roots.size), key=lambda i: (-int(counts[i]), int(first[i])))
    labels = np.full(n, -1, dtype=np.int64)
    for lab, i in enumerate(order[:max_clusters]):
        labels[root == roots[i]] = lab
    return labels


@dataclass
class _FarRecord:
    """Calibration of a model's far margin: n points beyond its envelopes, t_max = max(L* - prediction)
    over those at or above the contour (-inf when none), and the floor of the margin."""

    n: int = 0
    t_max: float = -math.inf
    floor: float = math.inf

    @property
    def margin(self) -> float:
        return max(2.0 * self.t_max, self.floor) if self.n >= _FAR_MIN else math.inf

    def add(self, pred: np.ndarray, ytrue: np.ndarray, lstar: float) -> None:
        self.n += int(pred.size)
        above = ytrue >= lstar
        if np.any(above):
            self.t_max = max(self.t_max, float(np.max(lstar - pred[above])))


def _two_means(z: np.ndarray, rng: np.random.Generator, iters: int = 30) -> np.ndarray:
    """2-means of the rows of z (k-means++ start, Lloyd iterations); True for the rows of the second centre."""
    a = z[int(rng.integers(z.shape[0]))]
    d2 = np.sum((z - a) ** 2, axis=1)
    b = z[int(np.searchsorted(np.cumsum(d2), rng.random() * float(np.sum(d2)), side="right").clip(0, z.shape[0] - 1))]
    second = np.zeros(z.shape[0], dtype=bool)
    for _ in range(iters):
        new = np.sum((z - b) ** 2, axis=1) < np.sum((z - a) ** 2, axis=1)
        if new.all() or not new.any():
            break
        if np.array_equal(new, second):
            break
        second = new
        a, b = z[~second].mean(axis=0), z[second].mean(axis=0)
    return second


class _Model:
    """Per-cluster networks with their router; a cluster without a network (None) is evaluated truly."""

    def __init__(self, router: _Router, nets: list[_Net | None], far: _FarRecord | None = None) -> None:
        self.router = router
        self.nets = nets
        # true values beyond the envelopes that calibrate the far margin (shared by the screening copy)
        self.far = _FarRecord() if far is None else far

    @property
    def far_margin(self) -> float:
        """Margin below the contour under which a point beyond its network's envelope may be rejected
        (see :meth:`SurrogateLoglike._calibrate_far`; inf: not calibrated)."""
        return self.far.margin

    def predict(self, x: np.ndarray, lab: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted log L, whether a network may answer (a cluster with a network, inside its envelope)
        and whether the point is near its cluster (see :meth:`_Net.predict`)."""
        if lab is None:
            lab = self.router.route(x)
        pred = np.full(x.shape[0], -np.inf)
        ok = np.zeros(x.shape[0], dtype=bool)
        near = np.zeros(x.shape[0], dtype=bool)
        for c, net in enumerate(self.nets):
            rows = np.flatnonzero(lab == c)
            if net is None or rows.size == 0:
                continue
            pr, inside, nr = net.predict(x[rows])
            pred[rows] = pr
            ok[rows] = inside
            near[rows] = nr
        return pred, ok, near


class _Residual(_Model):
    """A standing model plus per-cluster networks fitted to its errors (staged ordering, see train).

    While a network orders the run, the only new true values are the spot checks, a few hundred rows
    near the contour: a fresh network fitted to them is usually worse than the standing one, which
    was trained on more; a correction of the standing one needs less data.  ``depth`` counts the
    corrections in the chain.
    """

    def __init__(self, base: _Model, corr: _Model) -> None:
        super().__init__(corr.router, corr.nets, corr.far)
        self.base = base
        self.depth: int = (base.depth if isinstance(base, _Residual) else 0) + 1

    def predict(self, x: np.ndarray, lab: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pc, okc, nc = super().predict(x, lab)
        pb, okb, nb = self.base.predict(x)
        return pb + pc, okc & okb, nc & nb


def _min_fit(ndim: int) -> int:
    nfeat = ndim + (ndim * (ndim + 1) // 2 if ndim <= _FULL_QUADRATIC else ndim) + 1
    return max(40, 2 * (nfeat + 1))


def _fit_model(router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, tr: np.ndarray, va: np.ndarray,
               arch: Architecture, rng: np.random.Generator, lstar: float = -math.inf,
               scale: float = 0.0, wy: np.ndarray | None = None) -> tuple[_Model, int]:
    """Train one network per cluster on rows ``tr`` (early stopping on ``va``); returns the model and its cost.

    The contour weights are those of the values ``wy`` (default ``y``; a residual model's targets are not
    log L values).
    """
    wy = y if wy is None else wy
    nets: list[_Net | None] = []
    cost = 0
    need = _min_fit(x.shape[1])
    for c in range(max(router.k, 1)):
        tc, vc = tr[lab[tr] == c], va[lab[va] == c]
        lc = router.live[router.labels == c] if router.k > 1 else router.live
        if tc.size < need:
            nets.append(None)
            continue
        wt: np.ndarray | None = None
        wv: np.ndarray | None = None
        if scale > 0.0 and math.isfinite(lstar):
            wt, wv = _contour_weights(wy[tc], lstar, scale), _contour_weights(wy[vc], lstar, scale)
        net = _Net(x[tc], y[tc], arch, rng, lc, wt)
        net.fit(x[tc], y[tc], x[vc], y[vc], rng, wt, wv)
        nets.append(net)
        cost += arch.n_params(x.shape[1]) * arch.steps
    return _Model(router, nets), cost


def _contour_weights(y: np.ndarray, lstar: float, scale: float) -> np.ndarray:
    """Training weights: 1 at or above the contour, exp((y - lstar) / scale) below it (at least 1e-3)."""
    out: np.ndarray = np.maximum(np.exp(np.minimum(y - lstar, 0.0) / scale), 1e-3)
    return out


def _errors_above(model: _Model, x: np.ndarray, y: np.ndarray, lab: np.ndarray, rows: np.ndarray,
                  lstar: float) -> tuple[np.ndarray, np.ndarray]:
    """Errors (true - predicted) at the rows at or above lstar that a network answers, and their clusters."""
    top = rows[y[rows] >= lstar]
    pred, ok, _ = model.predict(x[top], lab[top])
    return (y[top] - pred)[ok], lab[top][ok]


# ---------------------------------------------------------------------------
# The genetic algorithm over architectures.


def _mutate(a: Architecture, rate: float, rng: np.random.Generator) -> Architecture:
    u = rng.random(6)
    step = rng.choice(np.array([-1, 1]), size=3)
    depth, width, act, lr, wd, steps = a.depth, a.width, a.activation, a.learning_rate, a.weight_decay, a.steps
    if u[0] < rate:
        depth = int(min(3, max(1, depth + int(step[0]))))
    if u[1] < rate:
        i = int(np.argmin([abs(w - width) for w in _WIDTHS]))
        width = _WIDTHS[min(len(_WIDTHS) - 1, max(0, i + int(step[1])))]
    if u[2] < rate:
        act = _ACTIVATIONS[int(rng.integers(len(_ACTIVATIONS)))]
    if u[3] < rate:
        lr = float(np.clip(lr * math.exp(0.7 * rng.standard_normal()), 3e-4, 0.03))
    if u[4] < rate:
        wd = float(np.clip(wd * math.exp(1.5 * rng.standard_normal()), 1e-8, 1e-2))
    if u[5] < rate:
        i = int(np.argmin([abs(s - steps) for s in _STEPS]))
        steps = _STEPS[min(len(_STEPS) - 1, max(0, i + int(step[2])))]
    return Architecture(depth, width, act, lr, wd, steps)


def _random_arch(rng: np.random.Generator) -> Architecture:
    return Architecture(int(rng.integers(1, 4)), _WIDTHS[int(rng.integers(len(_WIDTHS)))],
                        _ACTIVATIONS[int(rng.integers(len(_ACTIVATIONS)))],
                        float(10.0 ** rng.uniform(-3.0, -1.7)), float(10.0 ** rng.uniform(-7.0, -3.0)),
                        _STEPS[int(rng.integers(len(_STEPS)))])


def _crossover(a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
    fa, fb = dataclasses.astuple(a), dataclasses.astuple(b)
    pick = rng.random(len(fa)) < 0.5
    return Architecture(*[x if s else y for x, y, s in zip(fa, fb, pick)])


@dataclass
class _Search:
    """Outcome of one architecture search."""

    arch: Architecture
    fitness: float
    evaluations: int
    cost: float  # parameter-steps, in default-network trainings
    cpu: float


def _ga_search(router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, train: np.ndarray, lstar: float,
               opts: SurrogateOptions, rng: np.random.Generator, tol: float | None = None,
               scale: float = 0.0) -> _Search:
    """Genetic search of the architecture on an inner split of the training rows (see the module notes)."""
    t0 = time.process_time()
    tol = opts.tol if tol is None else tol
    d = x.shape[1]
    default = opts.default_architecture()
    ref = float(default.n_params(d) * default.steps * max(router.k, 1))
    budget = opts.ga_budget * ref
    perm = rng.permutation(train.size)
    nin = max(1, train.size // 4)
    inner_va, inner_tr = train[perm[:nin]], train[perm[nin:]]
    spent = 0.0
    evals = 0
    cache: dict[Architecture, float] = {}

    def fitness(a: Architecture) -> float:
        nonlocal spent, evals
        if a in cache:
            return cache[a]
        mrng = np.random.default_rng(mix_seed(int(rng.integers(2**62)), evals))
        model, cost = _fit_model(router, x, y, lab, inner_tr, inner_va, a, mrng, lstar, scale)
        spent += cost
        evals += 1
        err, _ = _errors_above(model, x, y, lab, inner_va, lstar)
        rms = float(np.sqrt(np.mean(err * err))) if err.size >= 5 else math.inf
        f = rms / tol + opts.ga_cost_weight * cost / ref
        cache[a] = f
        return f

    def affordable(a: Architecture) -> bool:
        return a in cache or spent + a.n_params(d) * a.steps * max(router.k, 1) <= budget

    pop = [default] + [_random_arch(rng) for _ in range(opts.ga_population - 1)]
    scored: list[tuple[float, int, Architecture]] = []
    for gen in range(opts.ga_generations):
        if gen > 0:
            best = min(scored, key=lambda s: (s[0], s[1]))[2]
            pop = [best]
            while len(pop) < opts.ga_population:
                i, j, k, m = (int(v) for v in rng.integers(len(scored), size=4))
                pa = scored[i] if scored[i][:2] <= scored[j][:2] else scored[j]
                pb = scored[k] if scored[k][:2] <= scored[m][:2] else scored[m]
                child = _crossover(pa[2], pb[2], rng) if rng.random() < opts.ga_crossover else pa[2]
                pop.append(_mutate(child, opts.ga_mutation, rng))
        scored_gen: list[tuple[float, int, Architecture]] = []
        for a in pop:
            if not affordable(a):
                continue
            scored_gen.append((fitness(a), len(scored) + len(scored_gen), a))
        if not scored_gen:
            break
        scored = scored + scored_gen if gen == 0 else [min(scored, key=lambda s: (s[0], s[1]))] + scored_gen
    best_f, _, best_a = min(scored, key=lambda s: (s[0], s[1])) if scored else (math.inf, 0, default)
    return _Search(best_a, best_f, evals, spent / ref, time.process_time() - t0)


# ---------------------------------------------------------------------------
# The likelihood wrapper seen by the compiled run loop.


class SurrogateStats(TypedDict):
    """Counters of a surrogate run (reported in ``NestedResult.surrogate``)."""

    trainings: int
    switch_on: int
    switch_off_check: int
    switch_off_proposals: int
    switch_off_validation: int
    spot_checks: int
    valid_rms: float
    valid_mean: float
    first_on_iter: int
    # (iteration, training points, validation points above the contour, rms error, accepted)
    history: list[tuple[int, int, int, float, bool]]
    low_checks: int
    true_calls_off: int
    true_calls_need: int
    clusters: int
    clusters_on: int
    architecture: dict[str, Any]
    ga_searches: int
    ga_evaluations: int
    ga_cost: float
    ga_cpu: float
    # (iteration, fitness, evaluations, chosen architecture)
    ga_history: list[tuple[int, float, int, dict[str, Any]]]
    screened: int
    screen_checks: int
    screen_failures: int
    screen_trainings: int
    screen_first_iter: int
    # (iteration, calibration points, margins per cluster)
    screen_history: list[tuple[int, int, list[float]]]
    # (iteration, tolerance in nats of that validation)
    tol_history: list[tuple[int, float]]
    fresh_switch_on: int
    splits: int
    kept_standing: int
    stages: int
    region_true_calls: int
    stage_check_failures: int
    fallbacks: int
    residual_models: int


_SwitchOff = Literal["switch_off_check", "switch_off_proposals", "switch_off_validation"]


class SurrogateLoglike:
    """Vectorised log-likelihood that answers with the networks when they are on.

    Parameters
    ----------
    true_fn : callable
        The true likelihood, vectorised: (m, ndim) -> (m,).
    ndim, nlive : int
        Run dimensions.
    opts : SurrogateOptions
    seed : int
        Run seed (training, clustering, the search and the final draws derive their streams from it).
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
        self.min_cluster = opts.min_cluster or max(20, 2 * ndim + 2)
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self.ntrue = 0
        self.nsur = 0
        self.net: _Model | None = None
        self.arch = opts.default_architecture()
        self.search_due = opts.search == "ga"
        self.active = False
        self.lstar = -math.inf
        self.lmax_true = -math.inf
        # network value of each point it answered above the contour, and the error bound of that network
        self.sur_values: dict[bytes, tuple[float, float]] = {}
        self.net_bound = math.inf
        self.net_margin = (math.inf, math.inf)  # staged: margins beyond the envelopes (see _stage_f)
        self.net_rows = 0
        self.above_count = 0
        self.low_count = 0
        self.above_block = 0
        self.check_period = opts.check_every
        self.base_period = opts.check_every  # the period before relax_checks (low checks keep 4x this one)
        self.clean_streak = 0  # spot checks in a row with |error| <= tol since the networks were last switched off
        self.since_above = 0
        self.recent_err: list[float] = []
        self.stats: SurrogateStats = {
            "trainings": 0, "switch_on": 0, "switch_off_check": 0, "switch_off_proposals": 0,
            "switch_off_validation": 0, "spot_checks": 0, "valid_rms": math.nan, "valid_mean": math.nan,
            "first_on_iter": -1, "history": [], "low_checks": 0, "true_calls_off": 0, "true_calls_need": 0, "clusters": 0, "clusters_on": 0,
            "architecture": self.arch.as_dict(), "ga_searches": 0, "ga_evaluations": 0, "ga_cost": 0.0,
            "ga_cpu": 0.0, "ga_history": [], "screened": 0, "screen_checks": 0, "screen_failures": 0,
            "screen_trainings": 0, "screen_first_iter": -1, "screen_history": [], "tol_history": [], "fresh_switch_on": 0,
            "splits": 0, "kept_standing": 0, "stages": 0, "region_true_calls": 0,
            "stage_check_failures": 0, "fallbacks": 0, "residual_models": 0}
        # rejection screening while the networks are not trusted (see the module notes)
        self.screen_model: _Model | None = None
        self.screen_margin = np.empty(0)
        self.screen_scale = 1.0
        self.screen_count = 0
        self.ncheck_true = 0
        self.backoff = 1  # training interval multiplier after failed validations (1, 2, 4, 8)
        self.sens = math.inf  # compression per nat at the contour (log X per unit of log L*), set by the run loop
        self.train_rows = 0  # stored true values at the last training (the later ones calibrate the far margin)
        self.screen_last: np.ndarray | None = None  # inside-envelope flags of the last screened batch
        self.ell_labels: np.ndarray | None = None  # the bound's partition of the live points (a split proposal)
        # staged ordering (opts.staged): the finished stages,
        # every true value by point, and the loop's flags
        self.stages: list[_Stage] = []
        self.true_of: dict[bytes, float] = {}
        self.rescore_due = False
        self.retrain_soon = False
        self.stage_bad = False
        self.fallback_due = False
        self.last_dead = -math.inf

    def _weight_scale(self, lstar: float) -> float:
        """Scale (nats) of the training weights below the contour: ``contour_scale``, widened to a quarter
        of the way from the contour to the best true value (0: unweighted)."""
        cs = self.opts.contour_scale
        if cs <= 0.0 or not math.isfinite(lstar) or not math.isfinite(self.lmax_true):
            return 0.0
        return max(cs, 0.25 * (self.lmax_true - lstar))

    def tol_eff(self) -> float:
        """Tolerance in nats: ``max(tol, vol_tol / s)`` (an error moving the contour by <= vol_tol in log X)."""
        tol = self.opts.tol
        if self.opts.staged and math.isfinite(self.lmax_true) and math.isfinite(self.lstar):
            return max(tol, _STAGE_REL * (self.lmax_true - self.lstar))
        if self.opts.vol_tol > 0.0 and self.sens > 0.0:
            tol = max(tol, self.opts.vol_tol / self.sens)
        return tol

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
        if self.opts.staged:
            for row, v in zip(x, y.tolist()):
                self.true_of[row.tobytes()] = v
        return y

    def _true_lookup(self, x: np.ndarray) -> np.ndarray:
        """True values of x, from the store where known (staged ordering)."""
        out = np.empty(x.shape[0])
        miss = []
        for i, row in enumerate(x):
            v = self.true_of.get(row.tobytes())
            if v is None:
                miss.append(i)
            else:
                out[i] = v
        if miss:
            out[miss] = self._true(x[miss])
        return out

    # -- staged ordering (see SurrogateOptions.staged) --------------------
    def _stage_f(self, model: _Model, x: np.ndarray, margin: tuple[float, float],
                 lstar: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A stage's ordering function at x, whether its network gave it inside its envelope, and whether
        the value is exact (the true log L).

        Inside a network's envelope f is the network's value; beyond it, f = min(value + m, log L) with
        m = ``margin[0]`` near the cluster (see :meth:`_Net.predict`) and ``margin[1]`` farther (inf:
        f = log L); in a cluster without a network f = log L.  With ``lstar`` (a candidate against the
        contour) log L is only needed where it can matter: a candidate whose value + m is at or below
        lstar is below it either way.  (The staged ordering needs a fixed function, not an accurate one:
        the final importance weights L / f correct it, and the margin keeps f >= log L wherever the
        extrapolation errs by less.)
        """
        pred, ok, near = model.predict(x)
        fin = np.isfinite(pred)
        net = ok & fin
        f = pred.copy()
        exact = np.zeros(x.shape[0], dtype=bool)
        if np.all(net):
            return f, net, exact
        with np.errstate(invalid="ignore"):
            cap = pred + np.where(near, margin[0], margin[1])
        capped = ~net & fin & np.isfinite(cap)
        f[capped] = cap[capped]
        need = ~net & ~capped
        if lstar is None:
            need |= capped
        else:
            need |= capped & (cap > lstar)
        if np.any(need):
            yt = self._true_lookup(x[need])
            rows = np.flatnonzero(need)
            f[rows] = np.where(capped[rows], np.minimum(cap[rows], yt), yt)
            exact[rows] = ~capped[rows] | (yt <= cap[rows])
        return f, net, exact

    def _in_region(self, x: np.ndarray, f: np.ndarray, by_net: np.ndarray) -> np.ndarray:
        """Whether each row of x lies in the region every finished stage left ({f_j > c_j} for all j).

        ``f`` (``by_net``): the current stage's values of x (given by its network).  Where a stage's value
        is the true log L (a stage the true likelihood ordered, or a point its networks did not answer),
        a network value above c_j by that network's error bound stands for log L > c_j (the network that
        took over from a true stage, or the current one: the conformal bound of the screening notes),
        else x is evaluated truly.
        """
        inside = np.ones(x.shape[0], dtype=bool)
        n0 = self.ntrue
        for st in self.stages:
            rows = np.flatnonzero(inside)
            if rows.size == 0:
                break
            sure = by_net[rows] & (f[rows] > st.c + self.net_bound)
            if st.model is not None:
                pred, ok, near = st.model.predict(x[rows])
                known = ok & np.isfinite(pred)
                inside[rows[known & ~(pred > st.c)]] = False
                sure |= known  # decided by the stage's own network
                # beyond its envelopes the stage's f is min(value + margin, log L) (see _stage_f)
                with np.errstate(invalid="ignore"):
                    cap = pred + np.where(near, st.margin[0], st.margin[1])
                low = ~known & np.isfinite(cap) & ~(cap > st.c)
                inside[rows[low]] = False
                sure |= low
            else:
                pred, ok, _ = st.vouch.predict(x[rows])
                sure |= ok & np.isfinite(pred) & (pred > st.c + st.bound)
            todo = rows[~sure]
            if todo.size:
                yt = self._true_lookup(x[todo])
                inside[todo[~(yt > st.c)]] = False
        self.stats["region_true_calls"] += self.ntrue - n0
        return inside

    def _far_margin(self, model: _Model, lstar: float, floor: float) -> float:
        """Margin of a new stage's model far beyond its envelopes (the far rule of the default path, see
        :meth:`_calibrate_far`, frozen for the stage): on the latest ``_FAR_ROWS`` true values beyond the
        near radius, t_max = max(L* - value) over those at or above the contour L*; the margin is
        max(2 t_max, ``floor``) from ``_FAR_MIN`` such values on, else inf (such candidates are
        evaluated truly)."""
        x, y = self.data()
        rows = np.arange(max(0, y.shape[0] - _FAR_ROWS), y.shape[0])
        rows = rows[np.isfinite(y[rows])]
        if rows.size < _FAR_MIN or not math.isfinite(lstar):
            return math.inf
        pred, ok, near = model.predict(x[rows])
        far = ~ok & ~near & np.isfinite(pred)
        rec = _FarRecord(floor=floor)
        rec.add(pred[far], y[rows][far], lstar)
        return rec.margin

    def _new_stage(self, model: _Model, bound: float, lstar: float = math.inf) -> None:
        """Let ``model`` order the run from here: the current stage becomes a constraint {f > c}, c the
        last dead point's value, and the live set is re-scored by the loop (``rescore``)."""
        if self.active and self.net is not None:
            self.stages.append(_Stage(self.net, self.last_dead, margin=self.net_margin))
        else:
            self.stages.append(_Stage(None, self.last_dead, model, bound))
        self.net = model
        self.net_bound = bound
        near = max(bound, _STAGE_MARGIN * self.tol_eff())
        self.net_margin = (near, self._far_margin(model, lstar, near))
        self.active = True
        self.rescore_due = True
        self.stage_bad = False
        self.recent_err = []
        self.stats["stages"] += 1

    def contour_true(self, live_x: np.ndarray) -> float:
        """The contour in true log L for training and validation while a network orders the run (the live
        values are then the network's, not comparable with true values when it is biased): the lowest
        known true value among the live points (the spot-checked ones are a random subset), when at least
        20 are known, else the network's contour."""
        known = [v for v in (self.true_of.get(row.tobytes()) for row in live_x) if v is not None]
        return float(min(known)) if len(known) >= 20 else self.lstar

    def fallback(self, live_x: np.ndarray) -> np.ndarray:
        """The standing network failed its spot checks persistently and no new one passed: its stage ends
        (a constraint like any other) and the true likelihood orders the run again; the live points'
        true values (at most nlive true calls) are returned for the loop to write back."""
        assert self.net is not None
        self.stages.append(_Stage(self.net, self.last_dead, margin=self.net_margin))
        y = self._true_lookup(live_x)
        for row in live_x:
            self.sur_values.pop(row.tobytes(), None)
        self.active = False
        self.stage_bad = False
        self.fallback_due = False
        self.recent_err = []
        self.clean_streak = 0
        self.lstar = float(np.min(y))
        self.stats["fallbacks"] += 1
        return y

    def rescore(self, live_x: np.ndarray) -> np.ndarray:
        """The live points' values under the current stage's function (the loop writes them back)."""
        assert self.net is not None
        f, _, exact = self._stage_f(self.net, live_x, self.net_margin)
        for row, v, ex in zip(live_x, f.tolist(), exact.tolist()):
            key = row.tobytes()
            if not ex:
                self.sur_values[key] = (v, self.net_bound)
            else:
                self.sur_values.pop(key, None)
        self.rescore_due = False
        self.lstar = float(np.min(f))
        return f

    def _staged_call(self, x: np.ndarray) -> np.ndarray:
        """Values of candidates under the current stage's function; a candidate above the contour outside
        the finished stages' region gets -inf.  Spot checks only watch the network (and give it data)."""
        assert self.net is not None
        f, net, exact = self._stage_f(self.net, x, self.net_margin, self.lstar)
        above = np.flatnonzero(f > self.lstar)
        if above.size:
            inside = self._in_region(x[above], f[above], net[above])
            f[above[~inside]] = -np.inf
            above = above[inside]
        check = []
        for k in above:
            if net[k]:
                self.above_count += 1
                if self.above_count % self.check_period == 0:
                    check.append(k)
        self.above_block += int(above.size)
        if check:
            idx = np.array(check)
            yt = self._true_lookup(x[idx])
            err = yt - f[idx]
            self.ncheck_true += int(idx.size)
            self.stats["spot_checks"] += int(idx.size)
            self._watch_stage(err)
        self.nsur += int(np.count_nonzero(~exact))
        for k in above:
            if not exact[k]:
                self.sur_values[x[k].tobytes()] = (float(f[k]), self.net_bound)
        return f

    def _watch_stage(self, err: np.ndarray) -> None:
        """Spot-check errors (true - network) of the standing stage: ask for an early training on a
        failure, and mark the stage bad (``stage_bad``, see fallback) when it is persistently off."""
        tol = self.tol_eff()
        for e in err.tolist():
            self.recent_err.append(e / tol if math.isfinite(e) else math.inf)
            self.clean_streak = self.clean_streak + 1 if abs(self.recent_err[-1]) <= 1.0 else 0
        self.recent_err = self.recent_err[-16:]
        rms = math.sqrt(float(np.mean(np.square(self.recent_err))))
        if not np.all(np.isfinite(err)) or float(np.max(np.abs(err))) > 4 * tol or (
                len(self.recent_err) >= 8 and rms > 1.5):
            self.retrain_soon = True
            self.stats["stage_check_failures"] += 1
            self.clean_streak = 0
        # persistently off (16 checks with an RMS beyond 3 tol and beyond 1 nat, where the final
        # importance weights would lose more than 1 - 1/e of their draws): unless the next training
        # passes, the true likelihood orders the run again (see fallback).  (The median error, which
        # a few wild over-predictions below the contour do not move, fell back as often on w0waCDM
        # and later, when no network could take over again: 2.4x more true calls on one seed.)
        if len(self.recent_err) >= 16 and rms > 3.0 and rms * tol > 1.0:
            self.stage_bad = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.active or self.net is None:
            vals = self._screened(x)
            if self.stages:  # a true-likelihood stage after a fallback: inside the finished stages' region only
                above = np.flatnonzero(vals > self.lstar)
                if above.size:
                    inside = self._in_region(x[above], vals[above], np.zeros(above.size, dtype=bool))
                    vals[above[~inside]] = -np.inf
            return vals
        if self.opts.staged:
            return self._staged_call(x)
        pred, ok, near = self.net.predict(x)
        tol = self.tol_eff()
        # above the best true value the absolute tol applies: such a value would carry the evidence
        margin = 3.0 * self.opts.tol
        # beyond the training envelope but near the cluster, a prediction well below the contour may reject
        # (a spot check of these at a quarter of the rate turns the networks off if one was above L*)
        low = ~ok & near & np.isfinite(pred) & (pred < self.lstar - 10.0 * tol)
        # beyond the near radius too, once calibrated on this model's recent far candidates (see _calibrate_far)
        low |= ~ok & ~near & np.isfinite(pred) & (pred < self.lstar - self.net.far_margin * self.screen_scale)
        need = (~ok & ~low) | (pred > self.lmax_true + margin) | ~np.isfinite(pred)
        # candidates the networks cannot answer may still be screened out (far below the contour)
        srej = np.zeros(x.shape[0], dtype=bool)
        scheck = np.zeros(x.shape[0], dtype=bool)
        if np.any(need) and self.screen_model is not None:
            rows = np.flatnonzero(need)
            r_rej, r_pred, r_check = self._screen(x[rows])
            srej[rows[r_rej]] = True
            scheck[rows[r_check]] = True
            pred = pred.copy()
            pred[rows[r_rej]] = r_pred[r_rej]
            need &= ~(srej & ~scheck)
            low = low | (srej & ~scheck)
        above = (pred > self.lstar) & ~need
        check = np.zeros(x.shape[0], dtype=bool)
        for k in np.flatnonzero(above):
            self.above_count += 1
            if self.above_count % self.check_period == 0:
                check[k] = True
        for k in np.flatnonzero(low & ~need & ~srej):
            self.low_count += 1
            if self.low_count % (4 * self.base_period) == 0:
                check[k] = True
                self.stats["low_checks"] += 1
        self.above_block += int(np.count_nonzero(above))
        if np.any(above):
            self.since_above = 0
        else:
            self.since_above += int(np.count_nonzero(~need))
            if self.since_above > self.opts.max_proposals:
                self._switch_off("switch_off_proposals")
                return self._true(x)
        out: np.ndarray = pred.copy()
        ev = need | check
        self.stats["true_calls_need"] += int(np.count_nonzero(need))
        if np.any(ev):
            yt = self._true(x[ev])
            out[ev] = yt
            beyond = (~ok & np.isfinite(pred))[ev]
            if np.any(beyond):
                self.net.far.add(pred[ev][beyond], yt[beyond], self.lstar)
            self._screen_checked(out[scheck])
            # compare where either value is above the contour (the region that matters), network answers only
            rel = ((yt > self.lstar) | (pred[ev] > self.lstar)) & ~need[ev]
            err = yt[rel] - pred[ev][rel]
            self.ncheck_true += int(np.count_nonzero(check))
            self.stats["spot_checks"] += int(err.size)
            for e in err:  # in units of the tolerance at the time of the check
                self.recent_err.append(float(e) / tol if np.isfinite(e) else math.inf)
                self.clean_streak = self.clean_streak + 1 if abs(self.recent_err[-1]) <= 1.0 else 0
            self.recent_err = self.recent_err[-16:]
            bad_single = err.size > 0 and (not np.all(np.isfinite(err)) or float(np.max(np.abs(err))) > 4 * tol)
            recent_rms = math.sqrt(float(np.mean(np.square(self.recent_err)))) if self.recent_err else 0.0
            bad_rms = len(self.recent_err) >= 8 and recent_rms > 1.5
            if bad_single or bad_rms:
                self._switch_off("switch_off_check")
        used = ~ev
        self.nsur += int(np.count_nonzero(used))
        for k in np.flatnonzero(used & above):
            self.sur_values[x[k].tobytes()] = (float(pred[k]), self.net_bound)
        return out

    def _screen(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Screened rejections of x (network value below the contour by the cluster's margin), their
        values, and the screened rows picked for a true spot check."""
        n = x.shape[0]
        model = self.screen_model
        if model is None or not math.isfinite(self.lstar) or n == 0:
            self.screen_last = None
            return np.zeros(n, dtype=bool), np.full(n, -np.inf), np.zeros(n, dtype=bool)
        lab = model.router.route(x)
        pred, ok, _ = model.predict(x, lab)
        self.screen_last = ok
        # lab -1 (a cluster without a network) reads the last margin, +inf
        rej = ok & np.isfinite(pred) & (pred < self.lstar - self.screen_margin[lab])
        # beyond the envelope: the larger of the cluster's margin and the calibrated far margin
        far_m = np.maximum(self.screen_margin[lab], model.far_margin * self.screen_scale)
        rej |= ~ok & np.isfinite(pred) & (pred < self.lstar - far_m)
        check = np.zeros(n, dtype=bool)
        for k in np.flatnonzero(rej):
            self.screen_count += 1
            if self.screen_count % self.opts.screen_check_every == 0:
                check[k] = True
        self.stats["screened"] += int(np.count_nonzero(rej & ~check))
        self.stats["screen_checks"] += int(np.count_nonzero(check))
        return rej, pred, check

    def _screen_checked(self, ytrue: np.ndarray) -> None:
        """True values of screened spot checks: one at or above the contour stops the screening until the
        next training and doubles the margins from then on."""
        if ytrue.size and np.any(~(ytrue < self.lstar)):
            self.stats["screen_failures"] += 1
            self.screen_model = None
            self.screen_scale *= 2.0

    def _screened(self, x: np.ndarray) -> np.ndarray:
        """Networks off: true values, except proposals the screening networks place far below the contour."""
        rej, pred, check = self._screen(x)
        ev = ~rej | check
        out: np.ndarray = pred.copy()
        self.stats["true_calls_off"] += int(np.count_nonzero(ev))
        if np.any(ev):
            out[ev] = self._true(x[ev])
            if self.screen_model is not None and self.screen_last is not None:
                beyond = (~self.screen_last & np.isfinite(pred))[ev]
                if np.any(beyond):
                    self.screen_model.far.add(pred[ev][beyond], out[ev][beyond], self.lstar)
        self._screen_checked(out[check])
        return out

    def _calibrate_screen(self, model: _Model, err: np.ndarray, elab: np.ndarray, niter: int) -> None:
        """Screening margins per cluster from the held-out errors above the contour (module notes)."""
        self.screen_model = None
        if not self.opts.screen:
            return
        k = len(model.nets)
        margin = np.full(k + 1, math.inf)
        for c in range(k):
            ec = err[elab == c]
            if model.nets[c] is None or ec.size < _SCREEN_MIN:
                continue
            # conformal: a new point above the contour has an error beyond the largest of n exchangeable
            # held-out errors with probability <= 1 / (n + 1); the margin is twice that, plus tol
            margin[c] = self.screen_scale * (2.0 * float(np.max(np.abs(ec))) + self.tol_eff())
        if np.all(np.isinf(margin)):
            return
        self.screen_model = _Model(model.router, list(model.nets), model.far)
        self.screen_margin = margin
        self.stats["screen_trainings"] += 1
        if self.stats["screen_first_iter"] < 0:
            self.stats["screen_first_iter"] = niter
        self.stats["screen_history"].append((niter, int(err.size), [float(m) for m in margin[:k]]))

    def _calibrate_far(self, model: _Model, x: np.ndarray, y: np.ndarray, lab: np.ndarray, lstar: float) -> None:
        """Start the calibration of the margin under which a candidate beyond its network's envelope is rejected.

        Such candidates were all evaluated truly before.  The calibration set is the true values beyond
        this model's envelopes stored since the previous training (never trained on by it; the latest
        draws of the sampler's proposal), then every later one evaluated truly (fresh draws, exchangeable
        with the next candidates).  Each one at or above the contour L* of its time would be falsely
        rejected by any margin below t = L* - prediction; with n such points and t_max their largest t
        (-inf when none is above L*), a new exchangeable candidate has t > t_max with probability
        <= 1 / (n + 1).  The margin is max(2 t_max, 10 ``tol``) (the near rule's margin), used only
        from n >= ``_FAR_MIN``; the screening scale (doubled by each failed check) multiplies it.
        """
        start = max(self.train_rows, y.shape[0] - _FAR_ROWS)
        self.train_rows = int(y.shape[0])
        model.far = _FarRecord(floor=10.0 * self.opts.tol)
        rows = np.flatnonzero(np.isfinite(y[start:])) + start
        if rows.size == 0 or not math.isfinite(lstar):
            return
        pred, ok, _ = model.predict(x[rows], lab[rows])
        out = ~ok & np.isfinite(pred)
        model.far.add(pred[out], y[rows][out], lstar)

    def relax(self) -> int:
        """Multiplier of the spot-check period after a clean record (``relax_checks``, see the module notes)."""
        n = self.opts.relax_checks
        if n <= 0:
            return 1
        return 1 if self.clean_streak < n else (2 if self.clean_streak < 3 * n else 4)

    def _switch_off(self, why: _SwitchOff) -> None:
        if self.active:
            self.active = False
            self.stats[why] += 1
            # the architecture stopped serving: search again at the next training
            if self.opts.search == "ga" and self.stats["ga_searches"] < self.opts.ga_max_searches:
                self.search_due = True
        self.recent_err = []
        self.clean_streak = 0

    # -- training ---------------------------------------------------------
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """All true evaluations so far: (x, log L)."""
        if not self._xs:
            return np.empty((0, self.ndim)), np.empty(0)
        if len(self._xs) > 1:
            self._xs = [np.concatenate(self._xs)]
            self._ys = [np.concatenate(self._ys)]
        return self._xs[0], self._ys[0]

    def _router(self, live: np.ndarray | None, x: np.ndarray, live_u: np.ndarray | None = None,
                ells: list[tuple[np.ndarray, np.ndarray]] | None = None) -> _Router:
        """Clusters of the live points (or one cluster of ``x`` when no live set is given or clusters=1).

        With the bound's ellipsoids (``ells``, unit-cube ``live_u``) they give the clusters, else the
        k-nearest-neighbour components of the live points do.
        """
        if live is None or self.opts.clusters == 1 or live.shape[0] < 2:
            base = x if live is None or live.shape[0] < 2 else live
            return _Router(base, np.zeros(base.shape[0], dtype=np.int64))
        maxc = self.opts.max_clusters if self.opts.clusters == "auto" else int(self.opts.clusters)
        live = np.asarray(live, dtype=np.float64)
        # the finest of three partitions: k-nearest-neighbour components in the live set's whitened
        # coordinates and in the unit cube (whitening by the covariance of several separated modes inflates
        # the directions within each mode and can join them), and the bound's ellipsoids
        labels = _knn_clusters(live, self.opts.knn, self.min_cluster, maxc)
        fin_d2 = _sqdist(live)
        if live_u is not None:
            lu = np.asarray(live_u, dtype=np.float64)
            fin_d2 = _sqdist(lu, whiten=False)
            by_cube = _knn_clusters(lu, self.opts.knn, self.min_cluster, maxc, whiten=False)
            pair = (labels + 1) * (maxc + 2) + (by_cube + 1)
            labels = _finish_labels(pair, fin_d2, self.min_cluster, maxc)
        self.ell_labels = None
        if ells is not None and live_u is not None:
            # separated in the bound (high dimensions, where kNN graphs of a few hundred points join separated
            # modes).  With split=True the bound's partition is only a proposal that _split tests like its
            # own 2-means (kept where one network cannot fit the kNN cluster and the parts fit it twice
            # better): late in a run the bound covers one ring with dozens of ellipsoids whose connectivity
            # depends on the sampler's split schedule, and a ring cut into arcs fits worse than whole
            by_ell = _ellipsoid_clusters(live, np.asarray(live_u, dtype=np.float64), ells, self.min_cluster, maxc)
            if self.opts.split:
                self.ell_labels = by_ell
            else:
                pair = (labels + 1) * (maxc + 2) + (by_ell + 1)
                labels = _finish_labels(pair, fin_d2, self.min_cluster, maxc)
        return _Router(np.asarray(live, dtype=np.float64), labels)

    def _split(self, router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, ti: np.ndarray, lstar: float,
               live_u: np.ndarray | None, rng: np.random.Generator) -> tuple[_Router, np.ndarray]:
        """Split the clusters one network fits badly in two (2-means of their live points), when two fit better.

        Connected live points need not be one smooth bump: two shells whose contours still touch, or
        two modes the graph has not separated yet, are one component for a while, and one network
        (one radial centre, one quadratic) cannot fit them.  On an inner split of the training rows
        ``ti`` (a quarter held out; the validation rows are not used, so the switch-on test stays
        clean) a cluster whose held-out RMS error above the contour exceeds the tolerance is split by
        2-means of its live points (unit-cube coordinates when given) and the split is kept when the
        two networks' pooled held-out RMS is below half of the one's; two rounds, at most
        ``max_clusters`` clusters.  Returns the router and the rows' labels.
        """
        maxc = self.opts.max_clusters if self.opts.clusters == "auto" else int(self.opts.clusters)
        if self.opts.clusters == 1 or router.live.shape[0] < 2 * self.min_cluster:
            return router, lab
        tol = self.tol_eff()
        perm = rng.permutation(ti.size)
        nin = ti.size // 4
        iva, itr = ti[perm[:nin]], ti[perm[nin:]]
        coords = router.z if live_u is None else np.asarray(live_u, dtype=np.float64)
        labels = router.labels.copy() if router.k > 1 else np.zeros(router.live.shape[0], dtype=np.int64)
        for _ in range(2):
            changed = False
            for c in range(max(router.k, 1)):
                k = max(router.k, 1)
                members = np.flatnonzero(labels == c)
                if k >= maxc or members.size < 2 * self.min_cluster:
                    continue
                e1 = self._inner_errors(router, x, y, lab, itr, iva, [c], lstar, rng)
                if e1.size < _SCREEN_MIN or math.sqrt(float(np.mean(e1 * e1))) <= tol:
                    continue
                rms1 = math.sqrt(float(np.mean(e1 * e1)))
                # proposals: the bound's partition of the cluster's live points (when it cuts the cluster into
                # parts of at least min_cluster), then 2-means; the first that fits twice better is kept
                proposals: list[np.ndarray | None] = []
                ell = self.ell_labels
                if ell is not None and ell.shape[0] == labels.shape[0]:
                    parts, counts = np.unique(ell[members], return_counts=True)
                    if parts.size >= 2 and counts.min() >= self.min_cluster and np.all(parts >= 0):
                        proposals.append(np.searchsorted(parts, ell[members]))
                proposals.append(None)  # 2-means, drawn only when reached
                for part in proposals:
                    if part is None:
                        part = _two_means(coords[members], rng).astype(np.int64)
                    npart = int(part.max()) + 1
                    if npart < 2 or k + npart - 1 > maxc or np.bincount(part).min() < self.min_cluster:
                        continue
                    new = labels.copy()
                    for j in range(1, npart):
                        new[members[part == j]] = k + j - 1
                    r2 = _Router(router.live, new)
                    lab2 = lab.copy()
                    rows = np.flatnonzero(lab == c) if router.k > 1 else np.flatnonzero(lab >= 0)
                    lab2[rows] = r2.route(x[rows])
                    e2 = self._inner_errors(r2, x, y, lab2, itr, iva, [c, *range(k, k + npart - 1)], lstar, rng)
                    if e2.size >= _SCREEN_MIN and math.sqrt(float(np.mean(e2 * e2))) < 0.5 * rms1:
                        labels, router, lab = new, r2, lab2
                        self.stats["splits"] += npart - 1
                        changed = True
                        break
            if not changed:
                break
        return router, lab

    def _inner_errors(self, router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, tr: np.ndarray,
                      va: np.ndarray, clusters: list[int], lstar: float, rng: np.random.Generator) -> np.ndarray:
        """Held-out errors above lstar of one network per listed cluster, trained on rows ``tr``."""
        out = []
        need = _min_fit(x.shape[1])
        for c in clusters:
            tc, vc = tr[lab[tr] == c], va[lab[va] == c]
            if tc.size < need:
                continue
            lc = router.live[router.labels == c] if router.k > 1 else router.live
            net = _Net(x[tc], y[tc], self.arch, rng, lc)
            net.fit(x[tc], y[tc], x[vc], y[vc], rng)
            top = vc[y[vc] >= lstar]
            if top.size:
                pred, inside, _ = net.predict(x[top])
                out.append((y[top] - pred)[inside])
        return np.concatenate(out) if out else np.empty(0)

    def _training_rows(self, router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, sel: np.ndarray,
                       lstar: float, rng: np.random.Generator) -> np.ndarray:
        """Rows to train (and validate) on, per cluster.

        The rows of ``sel`` routed to the cluster and, with several clusters, within ``_REACH`` times
        the radius of its live points (between modes log L is a sum of bumps, which would spoil the fit of
        this cluster's own); topped up with the cluster's best ``_min_fit`` points of the whole history
        when fewer (while the networks answer, few true values fall near the contour); at most
        ``max_train`` in all (a seeded subset per cluster).
        """
        k = max(router.k, 1)
        kmin = 2 * _min_fit(self.ndim)
        cap = max(kmin, self.opts.max_train // k)
        out = []
        for c in range(k):
            rc = np.flatnonzero(lab == c)
            keep = sel[rc]
            lc = router.live[router.labels == c]
            if router.k > 1 and lc.shape[0] > self.ndim + 1:
                near = _Router(lc, np.zeros(lc.shape[0], dtype=np.int64))
                r2 = _REACH**2 * float(np.max(np.sum(near.z * near.z, axis=1)))
                keep &= np.sum(((x[rc] - near.mu) @ near.wh) ** 2, axis=1) <= r2
            base = rc[keep]
            if base.size < kmin:
                base = np.union1d(base, rc[np.argsort(-y[rc], kind="stable")[:kmin]])
            if base.size > cap:
                base = np.sort(rng.choice(base, cap, replace=False))
            out.append(base)
        return np.sort(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)

    def train(self, lstar: float, llow: float, niter: int, live: np.ndarray | None = None,
              live_u: np.ndarray | None = None, ells: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Train on the stored points with log L >= llow; switch on or off by validation above lstar.

        ``live`` (the live points' coordinates) and the bound's ellipsoids ``ells`` (centre, shape in the
        unit cube, where the live points are ``live_u``) define the clusters; without ``live`` one network
        is trained, without ``ells`` the k-nearest-neighbour components of ``live`` are the clusters.
        """
        x, y = self.data()
        fin = np.isfinite(y)
        staged_on = self.opts.staged and self.active  # a staged run keeps its standing stage on a failure
        if np.count_nonzero(fin) < self.min_train:
            self.fallback_due = staged_on and self.stage_bad
            if not staged_on:
                self._switch_off("switch_off_validation")
            return
        # early in a run (no contour two e-folds back yet) train no lower than lstar - max(20, 2 (max - lstar))
        # nats: a fit over a range of hundreds of nats is poor in the few nats above lstar that matter
        if math.isfinite(lstar) and math.isfinite(self.lmax_true):
            llow = max(llow, lstar - max(20.0, 2.0 * (self.lmax_true - lstar)))
        # widen the region down to the best min_train points when it holds fewer
        llow = min(llow, float(np.sort(y[fin])[-self.min_train]))
        sel = fin & (y >= llow)
        rng = np.random.default_rng(mix_seed(self.seed, 0x5A11 + self.stats["trainings"]))
        router = self._router(live, x[sel], live_u, ells)
        lab = np.full(y.shape[0], -1, dtype=np.int64)
        allfin = np.flatnonzero(fin)
        lab[allfin] = router.route(x[allfin])
        idx = self._training_rows(router, x, y, lab, sel, lstar, rng)
        perm = rng.permutation(idx.size)
        nval = max(1, int(round(self.opts.valid_frac * idx.size)))
        vi, ti = idx[perm[:nval]], idx[perm[nval:]]
        if self.opts.split and math.isfinite(lstar):
            srng = np.random.default_rng(mix_seed(self.seed, 0x5B11 + self.stats["trainings"]))
            router, lab = self._split(router, x, y, lab, ti, lstar, live_u, srng)
        self.stats["clusters"] = router.k
        if self.search_due:
            grng = np.random.default_rng(mix_seed(self.seed, 0x6A00 + self.stats["ga_searches"]))
            found = _ga_search(router, x, y, lab, ti, lstar, self.opts, grng, self.tol_eff(), self._weight_scale(lstar))
            self.search_due = False
            self.arch = found.arch
            self.stats["ga_searches"] += 1
            self.stats["ga_evaluations"] += found.evaluations
            self.stats["ga_cost"] += found.cost
            self.stats["ga_cpu"] += found.cpu
            self.stats["architecture"] = found.arch.as_dict()
            self.stats["ga_history"].append((niter, found.fitness, found.evaluations, found.arch.as_dict()))
        model, _ = _fit_model(router, x, y, lab, ti, vi, self.arch, rng, lstar, self._weight_scale(lstar))
        self.stats["trainings"] += 1
        tol = self.tol_eff()
        err, elab = _errors_above(model, x, y, lab, vi, lstar)
        self._calibrate_far(model, x, y, lab, lstar)
        self._calibrate_screen(model, err, elab, niter)
        # a cluster whose own held-out errors fail the spot-check rules (one error beyond 4 tol, or an RMS
        # beyond 1.5 tol) is left to the true likelihood alone: late in a multimodal run a dying mode has a
        # handful of held-out points, and one of them would otherwise switch off every mode's network
        dropped = False
        for c in range(len(model.nets)):
            ec = err[elab == c]
            # (staged: the RMS rule only; there a poor network costs efficiency, not correctness)
            if model.nets[c] is not None and ec.size >= 1 and not self.opts.staged and (
                    float(np.sqrt(np.mean(ec * ec))) > 1.5 * tol or float(np.max(np.abs(ec))) > 4 * tol):
                model.nets[c] = None
                dropped = True
        keep = np.array([model.nets[int(c)] is not None for c in elab], dtype=bool)
        err = err[keep]
        self.stats["clusters_on"] = sum(net is not None for net in model.nets)
        if err.size < _VALID_MIN:
            # too few true values above the contour to judge (the networks answer there): an active
            # surrogate keeps its validated model, watched by the spot checks
            # (not when a cluster was just dropped for failing: the rest cannot vouch for the new model)
            keep_old = self.active and not dropped
            self.stats["history"].append((niter, int(idx.size), int(err.size), math.nan, keep_old))
            if staged_on:
                self.fallback_due = self.stage_bad
                return
            if not keep_old and not self._keep_standing(self.net, self.net_rows, self.net_bound):
                self._switch_off("switch_off_validation")
            return
        rms = float(np.sqrt(np.mean(err * err)))
        mean = float(np.mean(err))
        self.stats["history"].append((niter, int(idx.size), int(err.size), rms, rms < tol))
        self.stats["valid_rms"] = rms
        self.stats["valid_mean"] = mean
        if self.opts.staged:
            if self.active and self.net is not None:
                # the standing model plus a correction: kept instead of the fresh model when it fits the
                # same held-out rows better
                cand = self._residual_model(router, x, y, lab, ti, vi, lstar, rng)
                if cand is not None:
                    err_c, _ = _errors_above(cand, x, y, lab, vi, lstar)
                    # (on at least as many held-out rows: a chain answers only inside every member's envelope,
                    # and a point it does not answer costs a true call)
                    if err_c.size >= max(_VALID_MIN, err.size) and float(np.sqrt(np.mean(err_c * err_c))) < rms:
                        model, err = cand, err_c
                        rms, mean = float(np.sqrt(np.mean(err * err))), float(np.mean(err))
                        self.stats["residual_models"] += 1
                        self.stats["valid_rms"] = rms
                        self.stats["valid_mean"] = mean
            better = False
            if not (rms < tol and abs(mean) < 0.5 * tol) and self.active and self.net is not None:
                # a poor network is still a valid ordering: the new one replaces the standing one when it
                # is clearly better on the same held-out rows (which the standing one may even have seen)
                lab_old = np.full(y.shape[0], -1, dtype=np.int64)
                lab_old[vi] = self.net.router.route(x[vi])
                err_old, _ = _errors_above(self.net, x, y, lab_old, vi, lstar)
                if err_old.size >= _VALID_MIN:
                    better = rms < 0.7 * float(np.sqrt(np.mean(err_old * err_old)))
            if better or (rms < tol and abs(mean) < 0.5 * tol):
                if self.stats["first_on_iter"] < 0:
                    self.stats["first_on_iter"] = niter
                    self.stats["switch_on"] += 1
                self.net_rows = int(y.shape[0])
                self._new_stage(model, 2.0 * float(np.max(np.abs(err))) + self.opts.tol, lstar)
            elif self.active and self.stage_bad:
                self.fallback_due = True
            self.stats["tol_history"].append((niter, tol))
            return
        old_net, old_rows, old_bound = self.net, self.net_rows, self.net_bound
        self.net = model
        self.net_rows = int(y.shape[0])  # true values from this row on are fresh data for this model
        # error bound of this model's values: twice the largest held-out error above the contour, plus tol
        # (conformal: a new point exceeds the largest of n exchangeable errors with probability <= 1 / (n + 1))
        self.net_bound = 2.0 * float(np.max(np.abs(err))) + self.opts.tol
        ok = rms < tol and abs(mean) < 0.5 * tol
        self.stats["tol_history"].append((niter, tol))
        # a network that keeps failing is retried less often (saves CPU on hopeless likelihoods)
        self.backoff = 1 if ok else min(2 * self.backoff, 8 if self.screen_model is None else 2)
        if ok:
            if not self.active:
                self.stats["switch_on"] += 1
                if self.stats["first_on_iter"] < 0:
                    self.stats["first_on_iter"] = niter
            self.active = True
            self.since_above = 0
        elif not self._keep_standing(old_net, old_rows, old_bound):
            self._switch_off("switch_off_validation")

    def _residual_model(self, router: _Router, x: np.ndarray, y: np.ndarray, lab: np.ndarray, ti: np.ndarray,
                        vi: np.ndarray, lstar: float, rng: np.random.Generator) -> _Residual | None:
        """The standing model plus networks (``_STEPS_DEFAULT`` steps) fitted to its errors on the training
        rows it answers, early-stopped on the validation rows; None when the chain is ``_RESID_DEPTH`` long."""
        base = self.net
        assert base is not None
        if (base.depth if isinstance(base, _Residual) else 0) >= _RESID_DEPTH:
            return None
        rows = np.concatenate([ti, vi])
        pb, okb, _ = base.predict(x[rows])
        res = np.full(y.shape[0], np.nan)
        good = okb & np.isfinite(pb)
        res[rows[good]] = y[rows[good]] - pb[good]
        tr, va = ti[np.isfinite(res[ti])], vi[np.isfinite(res[vi])]
        arch = dataclasses.replace(self.arch, steps=min(self.arch.steps, _STEPS_DEFAULT))
        corr, _ = _fit_model(router, x, res, lab, tr, va, arch, rng, lstar, self._weight_scale(lstar), wy=y)
        return _Residual(base, corr)

    def _keep_standing(self, net: _Model | None, rows: int, bound: float) -> bool:
        """A new model failed its validation while the networks answer: keep the standing model ``net``
        (the one answering until now, watched by the spot checks; trained before row ``rows``, error
        bound ``bound``) when it passes on the true values stored since its training (the test of
        :meth:`revalidate`, on at least as many points as a validation, ``_VALID_MIN``)."""
        if not self.active or net is None or self._fresh_errors(net, rows, _VALID_MIN) is None:
            return False
        self.net, self.net_rows, self.net_bound = net, rows, bound
        self.stats["kept_standing"] += 1
        return True

    def _fresh_errors(self, model: _Model, since: int, least: int = _FRESH_MIN) -> np.ndarray | None:
        """Errors of ``model`` on the true values stored from row ``since`` on at or above the contour, when
        they pass (at least ``least``, RMS and mean within the tolerance), else None.

        Points routed to a cluster without a network are left out (the true likelihood answers there);
        every other one must be inside its network's envelope (one the networks would answer).
        """
        x, y = self.data()
        fx, fy = x[since:], y[since:]
        top = np.flatnonzero(np.isfinite(fy) & (fy >= self.lstar))
        if top.size < least:
            return None
        lab = model.router.route(fx[top])
        has_net = np.array([lab_i >= 0 and model.nets[int(lab_i)] is not None for lab_i in lab], dtype=bool)
        top, lab = top[has_net], lab[has_net]
        if top.size < least:
            return None
        pred, ok, _ = model.predict(fx[top], lab)
        if not np.all(ok):  # every fresh point must be one the networks would answer
            return None
        err = fy[top] - pred
        tol = self.tol_eff()
        rms, mean = float(np.sqrt(np.mean(err * err))), float(np.mean(err))
        return err if rms < tol and abs(mean) < 0.5 * tol else None

    def revalidate(self, niter: int) -> None:
        """Networks off: test the last trained model on the true values found since its training.

        Those points were never seen by its training or its validation, and the ones above the
        current contour are draws from the region that matters (the accepted points of a run are
        uniform in it): at least ``_FRESH_MIN`` of them, with RMS error and mean within the current
        tolerance, switch the networks back on without waiting for the next training.
        """
        if self.active or self.net is None or self.opts.staged:
            return
        err = self._fresh_errors(self.net, self.net_rows)
        if err is not None:
            self.net_bound = max(self.net_bound, 2.0 * float(np.max(np.abs(err))) + self.opts.tol)
            self.active = True
            self.since_above = 0
            self.backoff = 1
            self.stats["switch_on"] += 1
            self.stats["fresh_switch_on"] += 1
            if self.stats["first_on_iter"] < 0:
                self.stats["first_on_iter"] = niter

    # -- end of the run: bias correction -----------------------------------
    def finish(self, res: Any) -> Any:
        """Correct log Z for the network values among the recorded points and report the counts.

        Two parts.  (1) Points whose network value could hide evidence: a value v from a network with
        error bound B (see :meth:`train`) stands for a true log L of at most v + B; the points with
        B > ``_EXACT_BOUND`` nats are taken in decreasing order of w (v + B) (prior-mass weight w) and
        evaluated truly until the bound on the rest is below ``_EXACT_SHARE`` of Z (at most ``nlive``
        of them; a remainder is added to ``logzerr``).  Their true values replace the network's in
        the evidence sum (sum_i w_i f(x_i) estimates the prior integral of any f), and the square of
        each change (relative to Z) is added to the variance of log Z: one point stands for its
        whole shell of prior mass, a heavy-tailed estimate when it is far off.  (2) The other
        network values (errors within a few tenths of a nat) by ``final_checks`` posterior draws:
        log Z gains log mean(exp(delta)) and its standard error.
        """
        info = dict(self.stats)
        corr, corr_err, nfinal = 0.0, 0.0, 0
        keys = [row.tobytes() for row in res.samples]
        vals = [self.sur_values.get(k) for k in keys]
        is_sur = np.array([v is not None for v in vals], dtype=bool)
        bound = np.array([v[1] if v is not None else 0.0 for v in vals], dtype=np.float64)
        logwt = np.array(res.logwt, dtype=np.float64)
        logz0 = _logsumexp(logwt)
        # (1) exact re-evaluation of the points a loose network could have under-valued
        # (a staged run orders by the networks' values: the importance weights of (2) correct them all)
        loose = np.flatnonzero(is_sur & (bound > _EXACT_BOUND)) if not self.opts.staged else np.zeros(0, int)
        nexact, rest_share, exact_var = 0, 0.0, 0.0
        if loose.size and math.isfinite(logz0):
            with np.errstate(over="ignore"):
                up = np.exp(np.minimum(logwt[loose] + bound[loose] - logz0, 700.0))
            order = np.argsort(-up, kind="stable")
            tail = np.cumsum(up[order][::-1])[::-1]  # bound of the points from this one on
            nexact = int(np.count_nonzero(tail > _EXACT_SHARE))
            nexact = min(nexact, self.nlive)
            rest_share = float(tail[nexact]) if nexact < tail.size else 0.0
            todo = loose[order[:nexact]]
            if todo.size:
                yt = self._true(res.samples[todo])
                old = logwt[todo].copy()
                logwt[todo] = logwt[todo] + (yt - np.asarray(res.logl)[todo])
                is_sur[todo] = False
                # each term w_i (L_true - L_net) is a one-point estimate of its shell's share: its square is
                # the variance counted for it (a point far off its network value is a heavy-tailed draw)
                with np.errstate(over="ignore", invalid="ignore"):
                    terms = np.exp(logwt[todo] - logz0) - np.exp(old - logz0)
                exact_var = float(np.sum(np.square(terms[np.isfinite(terms)])))
        logz1 = _logsumexp(logwt)
        shift = logz1 - logz0 if math.isfinite(logz0) and math.isfinite(logz1) else 0.0
        weights = np.exp(logwt - logz1) if math.isfinite(logz1) else np.asarray(res.weights)
        # (2) posterior draws for the remaining network values
        k_draw = self.opts.final_checks
        if k_draw > 0 and np.any(is_sur):
            rng = np.random.default_rng(mix_seed(self.seed, 0xF1A1))
            cdf = np.cumsum(weights)
            cdf /= cdf[-1]
            pos = (rng.random() + np.arange(k_draw)) / k_draw
            idx = np.minimum(np.searchsorted(cdf, pos, side="right"), cdf.size - 1)
            delta = np.zeros(k_draw)
            todo = np.unique(idx[is_sur[idx]])
            if todo.size:
                yt = self._true_lookup(res.samples[todo]) if self.opts.staged else self._true(res.samples[todo])
                nfinal = int(todo.size)
                d_of = dict(zip(todo.tolist(), (yt - res.logl[todo]).tolist()))
                delta = np.array([d_of.get(int(i), 0.0) for i in idx])
            with np.errstate(over="ignore"):
                e = np.exp(delta)
            if self.opts.staged:
                ess = float(np.sum(e)) ** 2 / float(np.sum(e * e)) if np.all(np.isfinite(e)) and np.any(e > 0) else 0.0
                certified = ess >= _STAGE_ESS * k_draw and abs(math.log(max(float(np.mean(e)), 1e-300))) <= _STAGE_SHIFT
                info["staged_ess"] = ess
                info["certified"] = certified
                if not certified:
                    warnings.warn(
                        f"surrogate staged=True: the final importance weights do not certify log Z (effective "
                        f"sample size {ess:.1f} of {k_draw} draws, correction "
                        f"{math.log(max(float(np.mean(e)), 1e-300)):+.2f} nat): the networks ordered the run far "
                        "from the likelihood; rerun with staged=False", RuntimeWarning, stacklevel=4)
            c = float(np.mean(e))
            if c > 0 and math.isfinite(c):
                corr = math.log(c)
                corr_err = float(np.std(e, ddof=1)) / math.sqrt(k_draw) / c if k_draw > 1 else 0.0
            else:  # pragma: no cover - the network was wildly wrong on every draw
                corr, corr_err = 0.0, math.inf
        rel = math.exp(logz0 - logz1) if math.isfinite(logz1) and math.isfinite(logz0) else 1.0
        corr_err = math.sqrt(corr_err**2 + rest_share**2 + exact_var * rel * rel)
        info.update({"logz_correction": shift + corr, "logz_correction_err": corr_err, "final_true_calls": nfinal,
                     "exact_true_calls": nexact, "exact_shift": shift, "exact_rest_bound": rest_share,
                     "n_surrogate_points": int(np.count_nonzero(is_sur)),
                     "surrogate_fraction_posterior": float(np.sum(weights[is_sur]))})
        logwt = logwt + corr
        logz = logz1 + corr if math.isfinite(logz1) else res.logz + corr
        return dataclasses.replace(
            res,
            logz=logz,
            logzerr=math.sqrt(res.logzerr**2 + corr_err**2),
            logwt=logwt,
            weights=weights,
            logz_sim=res.logz_sim + shift + corr,
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
            niter = int(st.niter)
            if rep.active:
                dl = float(core.delta_logz())
                frac, first = progress_fraction(first, dl, dlogz)
                rep.update(frac, iter=niter, ncall=sur.ntrue, logz=float(st.logz), dlogz=dl)
            if maxcall >= 0 and sur.ntrue >= maxcall and stop == "maxiter":
                stop = "maxcall"
            done = stop != "maxiter" or (maxiter >= 0 and block_max >= maxiter)
            if done:
                break
            live = st.live_logl
            sur.lstar = float(np.min(live))
            dead_all = st.dead_logl
            if len(dead_all):
                sur.last_dead = float(dead_all[-1])
            k = min(sur.train_every, len(dead_all) - 1)
            if k >= 1:  # compression per nat: k / nlive e-folds of volume over the contour's last rise
                rise = float(dead_all[-1] - dead_all[-1 - k])
                sur.sens = (k / nlive) / rise if rise > 0.0 and math.isfinite(rise) else math.inf
            if sur.opts.revalidate:
                sur.revalidate(niter)
            if sur.active and niter > it0:  # spot checks at the rate of replacements
                rate = sur.above_block / (niter - it0)
                sur.base_period = max(1, int(round(sur.opts.check_every * max(rate, 1.0))))
                sur.check_period = sur.base_period * sur.relax()
            every = sur.train_every * (1 if sur.opts.staged else 2 if sur.active else sur.backoff)
            if niter - last_train >= every or (sur.retrain_soon and niter - last_train >= sur.train_every // 4):
                sur.retrain_soon = False
                dead = st.dead_logl
                back = niter - 2 * nlive  # the contour two e-folds of volume back
                llow = float(dead[back]) if back >= 0 else -math.inf
                bound = core.bound()
                ells = [(np.asarray(e.center), np.asarray(e.shape)) for e in bound]
                live_u = np.asarray(st.live_u)
                frame = np.asarray(bound[0].frame) if bound else np.zeros(0)
                if frame.size:  # periodic dimensions: the ellipsoids live in the bound's frame
                    live_u = np.where(live_u < frame, live_u + 1.0, live_u)
                lstar_fit = sur.contour_true(np.asarray(st.live_x)) if sur.opts.staged and sur.active else sur.lstar
                sur.train(lstar_fit, llow, niter, np.asarray(st.live_x), live_u, ells)
                last_train = niter
                if sur.rescore_due:  # a new stage: the live set is ordered by the new function from here
                    core.set_live_logl(sur.rescore(np.asarray(st.live_x)))
                elif sur.fallback_due:  # the standing network failed: the true likelihood orders again
                    core.set_live_logl(sur.fallback(np.asarray(st.live_x)))
    except BaseException:
        if rep.bar:
            rep.stream.write("\n")
        raise
    rep.close(f"stop: {stop}", ncall=sur.ntrue)
    return str(stop)
