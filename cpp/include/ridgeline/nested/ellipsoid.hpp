// Bounding ellipsoids for nested sampling (plain C++ and Eigen, no Python).
//
// An ellipsoid is {x : (x - c)^T C^{-1} (x - c) <= 1}.  We keep the centre c,
// the shape matrix C, its inverse, a square root A (C = A A^T, from the
// eigen-decomposition) and the log volume.  Everything is plain data so that a
// sampler state holding a set of ellipsoids can be saved and restored exactly.
//
// The multi-ellipsoid decomposition follows the MultiNest/nestle recipe: fit one
// ellipsoid to the points, split them in two with 2-means started at the ends of
// the major axis, fit an ellipsoid to each half and keep the split (recursively)
// when it reduces the total volume enough.  Sampling is uniform in the union:
// pick an ellipsoid with probability proportional to its volume, draw uniformly
// in it, and accept the draw with probability 1 / (number of ellipsoids that
// contain it), which removes the double counting of overlaps.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "ridgeline/common/random.hpp"
#include "ridgeline/common/simd.hpp"

namespace ridgeline::nested {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// log of the volume of the unit d-ball.
inline double log_unit_ball_volume(int d) {
  const double h = 0.5 * d;
  return h * std::log(3.14159265358979323846) - std::lgamma(h + 1.0);
}

struct Ellipsoid {
  Eigen::VectorXd center;
  Eigen::MatrixXd shape;      // C
  Eigen::MatrixXd precision;  // C^{-1}
  Eigen::MatrixXd axes;       // A, C = A A^T
  // Half major axis (vector from the centre to an end), or empty when not
  // computed yet: a bound fitted from a Cholesky factor computes it only where a
  // split test needs it (major_axis).
  Eigen::VectorXd major;
  double logvol = 0.0;
  // Whether `axes` is lower triangular (a Cholesky factor): a draw then needs
  // half the products (see EllipsoidUnion::sample).
  bool lower = false;

  int dim() const { return static_cast<int>(center.size()); }

  // Squared Mahalanobis radius of x (<= 1 inside).
  double radius2(const double* x) const {
    const int d = dim();
    double acc = 0.0;
    for (int i = 0; i < d; ++i) {
      const double di = x[i] - center[i];
      double row = 0.0;
      for (int j = 0; j < d; ++j) row += precision(i, j) * (x[j] - center[j]);
      acc += di * row;
    }
    return acc;
  }
  bool contains(const double* x) const { return radius2(x) <= 1.0; }

  // Multiply C by exp(log_factor) (lengths by exp(log_factor / 2)).
  void scale_log(double log_factor) {
    const double f = std::exp(log_factor);
    const double s = std::exp(0.5 * log_factor);
    shape *= f;
    precision /= f;
    axes *= s;
    major *= s;  // (empty stays empty)
    logvol += 0.5 * dim() * log_factor;
  }
  void set_logvol(double target) { scale_log(2.0 * (target - logvol) / dim()); }
};

// The ellipsoid with centre c and shape matrix C (eigenvalues floored so that it
// is never singular).
inline Ellipsoid ellipsoid_from_shape(const Eigen::VectorXd& c, const Eigen::MatrixXd& C) {
  const int d = static_cast<int>(c.size());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
  Eigen::VectorXd lam = es.eigenvalues();
  const Eigen::MatrixXd& V = es.eigenvectors();
  const double lmax = std::max(lam.maxCoeff(), 1e-300);
  const double floor = std::max(lmax * 1e-12, 1e-300);
  for (int i = 0; i < d; ++i) lam[i] = std::max(lam[i], floor);
  Ellipsoid e;
  e.center = c;
  e.shape = V * lam.asDiagonal() * V.transpose();
  e.precision = V * lam.cwiseInverse().asDiagonal() * V.transpose();
  e.axes = V * lam.cwiseSqrt().asDiagonal();
  Eigen::Index imax = 0;
  lam.maxCoeff(&imax);
  e.major = V.col(imax) * std::sqrt(lam[imax]);
  e.logvol = log_unit_ball_volume(d) + 0.5 * lam.array().log().sum();
  return e;
}

// The half major axis of the shape matrix C (its top eigenvector scaled by the
// square root of its eigenvalue).
inline Eigen::VectorXd major_axis(const Eigen::MatrixXd& C) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
  const Eigen::Index last = C.rows() - 1;
  return es.eigenvectors().col(last) * std::sqrt(std::max(es.eigenvalues()[last], 0.0));
}

// The ellipsoid with centre c and shape C from a Cholesky factor C = L L^T
// instead of an eigen-decomposition (several times cheaper at d ~ 10; most
// refits of the bound need no eigenvectors): axes L (lower triangular),
// precision L^-T L^-1, the major axis left to major_axis.  Only where
// ellipsoid_from_shape's eigenvalue floor (1e-12 of the largest) cannot apply:
// the smallest eigenvalue is at least 1 / |L^-1|_F^2 and the largest at most
// tr C, so 1 / |L^-1|_F^2 > 1e-9 tr C is asked.  False (e untouched) otherwise;
// on success `llt` holds the factor.
inline bool ellipsoid_from_cholesky(const Eigen::VectorXd& c, const Eigen::MatrixXd& C, Eigen::LLT<Eigen::MatrixXd>& llt,
                                    Ellipsoid& e) {
  const auto d = C.rows();
  if (d == 0) return false;
  llt.compute(C);
  if (llt.info() != Eigen::Success) return false;
  const Eigen::MatrixXd& L = llt.matrixLLT();
  const Eigen::VectorXd diag = L.diagonal();
  if (!(diag.minCoeff() > 0.0) || !std::isfinite(diag.maxCoeff())) return false;
  Eigen::MatrixXd Linv = Eigen::MatrixXd::Identity(d, d);
  llt.matrixL().solveInPlace(Linv);
  const double inv_f2 = Linv.squaredNorm();
  const double tr = C.trace();
  if (!(std::isfinite(inv_f2) && std::isfinite(tr) && 1.0 > 1e-9 * tr * inv_f2)) return false;
  e.center = c;
  e.shape = C;
  e.precision.noalias() = Linv.transpose() * Linv;
  e.axes = L.triangularView<Eigen::Lower>();
  e.major.resize(0);
  e.lower = true;
  e.logvol = log_unit_ball_volume(static_cast<int>(d)) + diag.array().log().sum();
  return true;
}

// The points pts[idx] centred on their mean, transposed (d x n: one row per
// coordinate, so that the moments and radii below are long vector operations
// over the points), their mean, and their covariance (n - 1 normalisation;
// zero for n < 2).  Half the instructions of a general matrix product with its
// packing at d ~ 10, n ~ 500; this runs several times at every refit.
inline void centred_moments(const RowMatrix& pts, const std::vector<int>& idx, RowMatrix& yt,
                            Eigen::VectorXd& mean, Eigen::MatrixXd& cov) {
  const int d = static_cast<int>(pts.cols());
  const auto n = static_cast<Eigen::Index>(idx.size());
  yt.resize(d, n);
  for (Eigen::Index k = 0; k < n; ++k) {
    const double* p = pts.data() + static_cast<std::size_t>(idx[static_cast<std::size_t>(k)]) * static_cast<std::size_t>(d);
    for (int i = 0; i < d; ++i) yt(i, k) = p[i];
  }
  mean.resize(d);
  cov.setZero(d, d);
  if (n == 0) {
    mean.setZero();
    return;
  }
  mean = yt.rowwise().mean();
  yt.colwise() -= mean;
  simd::gram(yt.data(), static_cast<std::size_t>(n), d, cov.data(), static_cast<std::size_t>(d));
  if (n > 1) cov /= static_cast<double>(n - 1);
}

// The largest squared Mahalanobis radius y^T C^{-1} y of the columns y of yt
// (centred points, d x n), with C = L L^T given by its lower Cholesky factor:
// forward substitution on whole rows (yt is overwritten by L^{-1} yt).
// (AVX2 lanes where the CPU has them, the same bits either way.)
inline double max_radius2(RowMatrix& yt, const Eigen::MatrixXd& L) {
  if (yt.cols() == 0) return 0.0;
  thread_local std::vector<double> r2;
  r2.resize(static_cast<std::size_t>(yt.cols()));
  return simd::forward_radii(yt.data(), static_cast<std::size_t>(yt.cols()), static_cast<int>(yt.rows()), L.data(),
                             static_cast<std::size_t>(L.rows()), r2.data());
}

// The smallest scaled-covariance ellipsoid containing the points pts[idx], with
// a volume of at least |idx| * exp(logpointvol) (the expected volume they fill).
inline Ellipsoid fit_ellipsoid(const RowMatrix& pts, const std::vector<int>& idx, double logpointvol) {
  const int d = static_cast<int>(pts.cols());
  const std::size_t n = idx.size();
  RowMatrix yt;
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  centred_moments(pts, idx, yt, mean, cov);
  // from a Cholesky factor of the covariance where its eigenvalue floor cannot
  // matter, else from its eigen-decomposition
  Ellipsoid e;
  Eigen::LLT<Eigen::MatrixXd> llt;
  const bool chol = n > 1 && ellipsoid_from_cholesky(mean, cov, llt, e);
  if (!chol) e = ellipsoid_from_shape(mean, cov);
  // squared Mahalanobis radius of every point (in the metric of the floored
  // shape), by a Cholesky factor of it; the precision matrix when that fails
  double rmax = 0.0;
  if (n > 0) {
    if (!chol) llt.compute(e.shape);
    if (llt.info() == Eigen::Success && llt.matrixLLT().diagonal().minCoeff() > 0.0) {
      rmax = max_radius2(yt, llt.matrixLLT());
    } else {
      for (const int r : idx) rmax = std::max(rmax, e.radius2(pts.row(r).data()));
    }
  }
  if (rmax > 0.0) e.scale_log(std::log(rmax) + 1e-10);
  // An ellipsoid fitted to few points (n / d small) misses much of the region
  // they were drawn from (its shape is poorly estimated).  Simulating uniform
  // points in d-balls, the volume factor that restores ~99% coverage is about
  // exp(d g(n / d)) with g(r) = 2.5 r^-1.65 for r up to ~25 (and ~1 beyond).
  // Applying it here both protects small clusters and makes splits into them
  // correspondingly less attractive.
  if (n > 0) {
    const double ratio = static_cast<double>(n) / d;
    if (ratio < 25.0) {
      const double g = 2.5 * (std::pow(ratio, -1.65) - std::pow(25.0, -1.65));
      if (g > 0.0) e.scale_log(2.0 * std::min(g, 5.0));
    }
  }
  const double minvol = std::log(static_cast<double>(std::max<std::size_t>(n, 1))) + logpointvol;
  if (e.logvol < minvol) e.set_logvol(minvol);
  return e;
}

// Shape shrinkage for an ellipsoid of live points (all of them, a cluster of
// a split, a refit in the coverage check) when they are few for their
// dimension (n / d < kShrinkRatio, d >= kShrinkMinDim).  The sample covariance of n points in
// d dimensions spreads its eigenvalues by a factor of about
// ((1 + sqrt(d / n)) / (1 - sqrt(d / n)))^2 (7.5 at d / n = 0.1) even when the
// region is a ball, and the ellipsoid scaled to contain every point is then far
// larger than the region: uniform points in a 50-ball, 500 of them, give an
// ellipsoid about 20x the ball's volume, and fit_ellipsoid's coverage factor
// (needed because that shape is poorly known) makes it ~90x.  The Ledoit-Wolf
// shape a m I + (1 - a) S (S the covariance, m its mean eigenvalue, a the
// estimated optimal weight, 0 when the spread is real) keeps the eigenvectors
// and pulls the eigenvalues toward their mean by what the sampling noise
// explains.  Its coverage cannot come from fit_ellipsoid's rule (that rule is
// calibrated for the plain shape), so it is measured: kShrinkFolds-fold (5)
// cross-validation, the held-out points' squared radii in the shape refitted
// without them, enlarged so that at most a fraction kCoverageMiss is missed.
// The smaller of the two ellipsoids is kept.  Measured on uniform points in
// ellipsoids (10 draws each, acceptance = the region's share of the ellipsoid):
// d = 50, n = 500, a ball: held-out coverage >= 0.990 and acceptance 0.48
// (the plain fit: 0.011); axis ratios of 10 and 100 (random rotations): the
// plain fit is smaller and kept; d = 30, n = 500, a ball: 0.59 against 0.13.
// In a run (gaussian(50), 500 live points, slice sampling with fresh starts,
// 10 seeds): 0.39M calls instead of 7.9M, mean z -0.00 instead of +1.41.
// mixture(30) (two modes, clusters of ~250 points): z +2.6, +2.9, +5.0 and
// mode weights 0.27-0.66 with plain cluster fits; with shrunk ones -0.9,
// -1.8, +1.7 and 0.49-0.51, at half the calls (3x the CPU: the fits).
constexpr double kShrinkRatio = 25.0;
// Fraction of held-out live points the enlarged bound may still miss (one in
// 500).  A bound missing a fraction f of the contour biases log Z up by about
// f per e-fold of compression, so f must stay well below sqrt(H / nlive) / H.
constexpr double kCoverageMiss = 0.002;
constexpr int kShrinkFolds = 5;
// Only from this dimension (where slice sampling takes over by default): below
// it the sampling noise of the covariance is modest and the plain fit is kept.
constexpr int kShrinkMinDim = 21;

// The Ledoit-Wolf shape a m I + (1 - a) S of n points from their scatter
// matrix about their mean (S = scatter / n) and the sum of their |y|^4 (y
// centred): m = tr S / d, a = min(b2, d2) / d2 with d2 = |S - m I|_F^2 and
// b2 = (sum |y|^4 - n |S|_F^2) / n^2 (= sum |y y^T - S|_F^2 / n^2).
inline Eigen::MatrixXd ledoit_wolf_shape(const Eigen::MatrixXd& scatter, double sum4, double n) {
  const auto d = scatter.rows();
  Eigen::MatrixXd S = scatter / n;
  const double m = S.trace() / static_cast<double>(d);
  const double d2 = (S - m * Eigen::MatrixXd::Identity(d, d)).squaredNorm();
  double b2 = (sum4 - n * S.squaredNorm()) / (n * n);
  b2 = std::min(std::max(b2, 0.0), d2);
  const double a = d2 > 0.0 ? b2 / d2 : 1.0;
  S *= 1.0 - a;
  S.diagonal().array() += a * m;
  return S;
}

// The ellipsoid of the points pts[idx]: fit_ellipsoid's, or when d >=
// kShrinkMinDim and n / d < kShrinkRatio the cross-validated Ledoit-Wolf
// ellipsoid if that is smaller
// (see above).  The folds (point k of idx in fold k mod kShrinkFolds) are
// refitted by downdating the total scatter matrix by the held-out points, and
// only a Cholesky factor of each fold's shape is formed.
inline Ellipsoid fit_best_ellipsoid(const RowMatrix& pts, const std::vector<int>& idx, double logpointvol) {
  Ellipsoid plain = fit_ellipsoid(pts, idx, logpointvol);
  const int d = static_cast<int>(pts.cols());
  const std::size_t n = idx.size();
  if (d < kShrinkMinDim || static_cast<double>(n) >= kShrinkRatio * d || n < static_cast<std::size_t>(std::max(d + 2, 2 * kShrinkFolds)))
    return plain;
  const double nn = static_cast<double>(n);
  RowMatrix yt;
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  centred_moments(pts, idx, yt, mean, cov);
  const Eigen::MatrixXd total = cov * (nn - 1.0);  // scatter about the mean
  const Eigen::ArrayXd sq = yt.array().square().colwise().sum().transpose();  // |y_k|^2
  // the ellipsoid of all the points, scaled to contain them
  Ellipsoid e = ellipsoid_from_shape(mean, ledoit_wolf_shape(total, sq.square().sum(), nn));
  {
    double rmax = 0.0;
    for (std::size_t k = 0; k < n; ++k) rmax = std::max(rmax, e.radius2(pts.row(idx[k]).data()));
    if (rmax > 0.0) e.scale_log(std::log(rmax) + 1e-10);
  }
  // held-out squared radii, each in the fold's shape scaled to contain the fold's own points
  std::vector<double> need(n, 0.0);
  Eigen::MatrixXd z(d, static_cast<Eigen::Index>(n));
  for (int j = 0; j < kShrinkFolds; ++j) {
    Eigen::VectorXd sh = Eigen::VectorXd::Zero(d);
    Eigen::MatrixXd th = Eigen::MatrixXd::Zero(d, d);
    std::size_t nh = 0;
    for (std::size_t k = static_cast<std::size_t>(j); k < n; k += kShrinkFolds, ++nh) {
      const auto y = yt.col(static_cast<Eigen::Index>(k));
      sh += y;
      th.selfadjointView<Eigen::Lower>().rankUpdate(y);
    }
    th = th.selfadjointView<Eigen::Lower>();
    const double nk = nn - static_cast<double>(nh);
    const Eigen::VectorXd mu = -sh / nk;  // the fold's mean, relative to the overall mean
    const Eigen::MatrixXd scatter = total - th - nk * mu * mu.transpose();
    const Eigen::ArrayXd ymu = (yt.transpose() * mu).array();
    const Eigen::ArrayXd r = sq - 2.0 * ymu + mu.squaredNorm();  // |y - mu|^2
    double sum4 = 0.0;
    for (std::size_t k = 0; k < n; ++k)
      if (static_cast<int>(k % kShrinkFolds) != j) sum4 += r[static_cast<Eigen::Index>(k)] * r[static_cast<Eigen::Index>(k)];
    Eigen::LLT<Eigen::MatrixXd> llt(ledoit_wolf_shape(scatter, sum4, nk));
    if (llt.info() != Eigen::Success) return plain;
    z = yt;
    z.colwise() -= mu;
    llt.matrixL().solveInPlace(z);
    const Eigen::ArrayXd r2 = z.colwise().squaredNorm().transpose();
    double rmax = 0.0;
    for (std::size_t k = 0; k < n; ++k)
      if (static_cast<int>(k % kShrinkFolds) != j) rmax = std::max(rmax, r2[static_cast<Eigen::Index>(k)]);
    if (!(rmax > 0.0)) return plain;
    for (std::size_t k = static_cast<std::size_t>(j); k < n; k += kShrinkFolds)
      need[k] = r2[static_cast<Eigen::Index>(k)] / (rmax * std::exp(1e-10));
  }
  const std::size_t kmiss = static_cast<std::size_t>(kCoverageMiss * nn);
  std::nth_element(need.begin(), need.begin() + static_cast<std::ptrdiff_t>(kmiss), need.end(), std::greater<double>());
  e.scale_log(std::log(std::max(need[kmiss], 1.0)));
  const double minvol = std::log(nn) + logpointvol;
  if (e.logvol < minvol) e.set_logvol(minvol);
  // (a tie, such as both at the minimum volume, keeps the plain fit)
  return e.logvol < plain.logvol - 1e-9 * (1.0 + std::abs(plain.logvol)) ? e : plain;
}

// The log volume that fit_ellipsoid(pts, idx, logpointvol) would give, from a
// Cholesky factor instead of an eigen-decomposition (about 3x cheaper): the
// cheap test before a split is fitted in full.  False (and no value) when the
// covariance is singular or so ill-conditioned that fit_ellipsoid's eigenvalue
// floor could matter; the caller then fits in full.
inline bool fit_logvol(const RowMatrix& pts, const std::vector<int>& idx, double logpointvol, double& logvol) {
  const int d = static_cast<int>(pts.cols());
  const std::size_t n = idx.size();
  if (n < 2) return false;
  RowMatrix yt;
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  centred_moments(pts, idx, yt, mean, cov);
  Eigen::LLT<Eigen::MatrixXd> llt(cov);
  if (llt.info() != Eigen::Success) return false;
  const Eigen::VectorXd diag = llt.matrixLLT().diagonal();
  // the smallest eigenvalue is at most min L_ii^2 and at least ... unknown: ask
  // for a comfortable margin above the floor (1e-12 of the largest eigenvalue,
  // which is at most the trace)
  if (!(diag.minCoeff() > 0.0) || diag.array().square().minCoeff() < 1e-6 * cov.trace()) return false;
  const double rmax = max_radius2(yt, llt.matrixLLT());
  double lv = log_unit_ball_volume(d) + diag.array().log().sum();
  if (rmax > 0.0) lv += 0.5 * d * (std::log(rmax) + 1e-10);
  const double ratio = static_cast<double>(n) / d;
  if (ratio < 25.0) {
    const double g = 2.5 * (std::pow(ratio, -1.65) - std::pow(25.0, -1.65));
    if (g > 0.0) lv += d * std::min(g, 5.0);
  }
  logvol = std::max(lv, std::log(static_cast<double>(n)) + logpointvol);
  return true;
}

// 2-means on pts[idx] started at the two ends of the major axis of `e`.
// Returns the labels (0/1) of each point of idx.  (Plain loops over the rows:
// this runs at every refit of the bound.)
inline std::vector<int> two_means(const RowMatrix& pts, const std::vector<int>& idx, const Ellipsoid& e,
                                  int max_iter = 10) {
  const int d = static_cast<int>(pts.cols());
  const auto du = static_cast<std::size_t>(d);
  std::vector<double> c0(du), c1(du), s0(du), s1(du);
  const Eigen::VectorXd major = e.major.size() == d ? e.major : major_axis(e.shape);
  for (int i = 0; i < d; ++i) {
    c0[i] = e.center[i] + major[i];
    c1[i] = e.center[i] - major[i];
  }
  std::vector<int> lab(idx.size(), -1);
  std::vector<double> dc(du);
  for (int it = 0; it < max_iter; ++it) {
    bool changed = false;
    // |p - c0|^2 <= |p - c1|^2  <=>  p . (c0 - c1) >= (|c0|^2 - |c1|^2) / 2: one
    // dot product per point instead of two distances
    double thr = 0.0;
    for (int i = 0; i < d; ++i) {
      dc[i] = c0[i] - c1[i];
      thr += 0.5 * dc[i] * (c0[i] + c1[i]);
    }
    for (std::size_t k = 0; k < idx.size(); ++k) {
      const double* p = pts.data() + static_cast<std::size_t>(idx[k]) * du;
      double dot = 0.0;
      for (int i = 0; i < d; ++i) dot += p[i] * dc[i];
      const int l = dot >= thr ? 0 : 1;
      if (l != lab[k]) {
        lab[k] = l;
        changed = true;
      }
    }
    if (!changed) break;
    std::fill(s0.begin(), s0.end(), 0.0);
    std::fill(s1.begin(), s1.end(), 0.0);
    std::size_t n0 = 0, n1 = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) {
      const double* p = pts.data() + static_cast<std::size_t>(idx[k]) * du;
      double* acc = lab[k] == 0 ? s0.data() : s1.data();
      for (int i = 0; i < d; ++i) acc[i] += p[i];
      (lab[k] == 0 ? n0 : n1) += 1;
    }
    if (n0 == 0 || n1 == 0) break;
    for (int i = 0; i < d; ++i) {
      c0[i] = s0[i] / static_cast<double>(n0);
      c1[i] = s1[i] / static_cast<double>(n1);
    }
  }
  return lab;
}

constexpr int max_lookahead = 64;
// A split (or a deeper decomposition) is kept when it shrinks the total volume
// below this fraction of the parent's.  nestle uses 0.5; with the coverage
// factor protecting small clusters, 0.85 follows curved and multimodal shapes
// with fewer calls and the same calibration.
constexpr double kSplitGain = 0.85;

// Recursive splitting (MultiNest/nestle volume criteria).  `e` is already the
// fitted ellipsoid of pts[idx]; the result is appended to `out`.
inline void split_ellipsoid(const RowMatrix& pts, const std::vector<int>& idx, const Ellipsoid& e,
                            double logpointvol, int min_points, int depth, std::vector<Ellipsoid>& out,
                            int lookahead = max_lookahead) {
  const std::size_t n = idx.size();
  // A parent within a factor 2 of the volume its points fill (n * pointvol,
  // which is also the least its children can have together) is not split.
  const bool tight = e.logvol < std::log(2.0 * static_cast<double>(n)) + logpointvol;
  if (tight || depth > 40 || n < 2 * static_cast<std::size_t>(min_points)) {
    out.push_back(e);
    return;
  }
  const std::vector<int> lab = two_means(pts, idx, e);
  std::vector<int> a, b;
  for (std::size_t k = 0; k < n; ++k) (lab[k] == 0 ? a : b).push_back(idx[k]);
  if (a.size() < static_cast<std::size_t>(min_points) || b.size() < static_cast<std::size_t>(min_points)) {
    out.push_back(e);
    return;
  }
  const double log_gain = std::log(kSplitGain);
  // (the cheap test knows only the plain fit: not used where a child may take the shrunk one)
  const bool plain_children = pts.cols() < kShrinkMinDim ||
                              static_cast<double>(std::min(a.size(), b.size())) >= kShrinkRatio * static_cast<double>(pts.cols());
  if (lookahead <= 0 && plain_children) {
    // cheap test first: the children's volumes from Cholesky factors; a split
    // that clearly does not pay is rejected without the full fits (the margin
    // keeps the decision that of the full fits up to rounding)
    double va = 0.0, vb = 0.0;
    if (fit_logvol(pts, a, logpointvol, va) && fit_logvol(pts, b, logpointvol, vb)) {
      const double v = std::max(va, vb) + std::log1p(std::exp(-std::fabs(va - vb)));
      if (v > e.logvol + log_gain + 1e-6) {
        out.push_back(e);
        return;
      }
    }
  }
  const Ellipsoid ea = fit_best_ellipsoid(pts, a, logpointvol), eb = fit_best_ellipsoid(pts, b, logpointvol);
  const double logv_split = std::max(ea.logvol, eb.logvol) + std::log1p(std::exp(-std::fabs(ea.logvol - eb.logvol)));
  if (logv_split < e.logvol + log_gain) {
    split_ellipsoid(pts, a, ea, logpointvol, min_points, depth + 1, out, max_lookahead);
    split_ellipsoid(pts, b, eb, logpointvol, min_points, depth + 1, out, max_lookahead);
    return;
  }
  // The split alone is not a big enough gain, but the parent is much bigger
  // than the volume its points fill: look deeper (a limited number of levels
  // without an accepted split, which bounds the cost).
  if (lookahead <= 0) {
    out.push_back(e);
    return;
  }
  std::vector<Ellipsoid> deeper;
  split_ellipsoid(pts, a, ea, logpointvol, min_points, depth + 1, deeper, lookahead - 1);
  split_ellipsoid(pts, b, eb, logpointvol, min_points, depth + 1, deeper, lookahead - 1);
  double logv = -std::numeric_limits<double>::infinity();
  for (const auto& x : deeper) {
    const double m = std::max(logv, x.logvol);
    logv = m + std::log(std::exp(logv - m) + std::exp(x.logvol - m));
  }
  if (logv < e.logvol + log_gain) {
    out.insert(out.end(), deeper.begin(), deeper.end());
  } else {
    out.push_back(e);
  }
}

// A union of ellipsoids with uniform (overlap-corrected) sampling.
//
// Periodic dimensions.  The ellipsoids live in a frame, the box
// [frame_i, frame_i + 1) (frame empty: the unit cube).  A periodic dimension is
// a circle; fit_bound cuts it at the middle of the largest gap between the live
// points' coordinates on the circle (frame_i) instead of at 0, so a mode that
// wraps around the faces 0 and 1 is one contiguous cluster in the frame.
// Relabelling a circle's points by where it is cut maps the uniform
// distribution to itself, so a draw uniform in (union ∩ frame box), wrapped
// back to [0, 1) (v - floor(v)), is uniform in the wrapped union inside the
// cube: every rule of the unperiodic bound (overlap correction, coverage,
// enlargement) holds unchanged in the frame.  Non-periodic dimensions have
// frame_i = 0.  Slice moves (slice.hpp) run in the frame too, so chains cross
// the faces of a periodic dimension wherever the live points do.
struct EllipsoidUnion {
  std::vector<Ellipsoid> ells;
  std::vector<double> cumprob;  // cumulative selection probabilities (by volume)
  double logvol_sum = -std::numeric_limits<double>::infinity();
  std::vector<double> frame;    // lower edges of the frame box (empty: the unit cube)

  bool empty() const { return ells.empty(); }
  bool framed() const { return !frame.empty(); }
  double frame_lo(int i) const { return frame.empty() ? 0.0 : frame[static_cast<std::size_t>(i)]; }
  // A frame coordinate back in [0, 1).
  static double wrap(double v) {
    const double w = v - std::floor(v);
    return w < 1.0 ? w : 0.0;
  }
  // Cube coordinates (in [0, 1]) to frame coordinates, in place.
  void to_frame(double* u, int d) const {
    if (frame.empty()) return;
    for (int i = 0; i < d; ++i)
      if (u[i] < frame[static_cast<std::size_t>(i)]) u[i] += 1.0;
  }
  // Frame coordinates to cube coordinates, in place.
  void to_cube(double* w, int d) const {
    if (frame.empty()) return;
    for (int i = 0; i < d; ++i)
      if (frame[static_cast<std::size_t>(i)] != 0.0) w[i] = wrap(w[i]);
  }

  void finalize() {
    cumprob.assign(ells.size(), 0.0);
    double m = -std::numeric_limits<double>::infinity();
    for (const auto& e : ells) m = std::max(m, e.logvol);
    double s = 0.0;
    for (std::size_t k = 0; k < ells.size(); ++k) {
      s += std::exp(ells[k].logvol - m);
      cumprob[k] = s;
    }
    for (auto& c : cumprob) c /= s;
    if (!cumprob.empty()) cumprob.back() = 1.0;
    logvol_sum = m + std::log(s);
  }

  int count_containing(const double* x) const {
    int q = 0;
    for (const auto& e : ells) q += e.contains(x) ? 1 : 0;
    return q;
  }

  // One draw of sample() that is kept only inside the open unit cube: the same
  // random numbers as sample(), but with a single ellipsoid the coordinates are
  // computed kRowChunk at a time and the draw is abandoned (false) after the
  // first chunk with one outside the cube, which in high dimension is most of
  // the draws early in a run.  (With several ellipsoids the point is completed:
  // whether the overlap test draws a number depends on all of it.)
  // With a frame (periodic dimensions) the draw is kept inside the frame box and
  // written wrapped back to the cube.
  static constexpr int kRowChunk = 8;
  bool sample_in_cube(RandomStream& rs, double* out, Eigen::VectorXd& z) const {
    if (ells.size() > 1) {
      sample(rs, out, z);
      const int d = ells.front().dim();
      for (int i = 0; i < d; ++i) {
        const double lo = frame_lo(i);
        if (!(out[i] > lo && out[i] < lo + 1.0)) return false;
      }
      to_cube(out, d);
      return true;
    }
    const Ellipsoid& e = ells.front();
    const int d = e.dim();
    z.resize(d);
    const double nrm2 = ziggurat_normals(rs, z.data(), d);
    const double scale = std::pow(rs.uniform(), 1.0 / d) / std::sqrt(nrm2);
    for (int j = 0; j < d; ++j) z[j] *= scale;
    // kRowChunk coordinates at a time, each checked before the next chunk
    for (int r0 = 0; r0 < d; r0 += kRowChunk) {
      const int r1 = std::min(d, r0 + kRowChunk);
      simd::affine_rows(e.center.data(), e.axes.data(), static_cast<std::size_t>(d), d, e.lower, z.data(), r0, r1, out);
      for (int i = r0; i < r1; ++i) {
        const double v = out[i];
        const double lo = frame_lo(i);
        if (!(v > lo && v < lo + 1.0)) return false;
        if (lo != 0.0) out[i] = wrap(v);
      }
    }
    return true;
  }

  // One point uniform in the union (written to out[0..d)).
  void sample(RandomStream& rs, double* out, Eigen::VectorXd& z) const {
    const int d = ells.front().dim();
    z.resize(d);
    for (;;) {
      std::size_t k = 0;
      if (ells.size() > 1) {
        const double r = rs.uniform();
        k = static_cast<std::size_t>(std::lower_bound(cumprob.begin(), cumprob.end(), r) - cumprob.begin());
        if (k >= ells.size()) k = ells.size() - 1;
      }
      const Ellipsoid& e = ells[k];
      // uniform in the unit ball: a normal direction and a radius u^(1/d)
      const double nrm2 = ziggurat_normals(rs, z.data(), d);
      const double scale = std::pow(rs.uniform(), 1.0 / d) / std::sqrt(nrm2);
      for (int j = 0; j < d; ++j) z[j] *= scale;
      simd::affine_rows(e.center.data(), e.axes.data(), static_cast<std::size_t>(d), d, e.lower, z.data(), 0, d, out);
      if (ells.size() == 1) return;
      const int q = count_containing(out);
      if (q <= 1 || rs.uniform() * q < 1.0) return;
    }
  }
};

// Largest log volume factor the cross-validation may ask of the bound (a factor
// of 2 in volume, whatever the dimension: beyond it the rejection efficiency
// loss outweighs the coverage gained).
const double kMaxCoverageLogVolume = std::log(2.0);

// Cross-validated coverage of a union of (not yet enlarged) ellipsoids fitted
// to pts: the log volume factor by which every ellipsoid must be enlarged so
// that the union misses at most a fraction kCoverageMiss of held-out points.
//
// Each point is assigned to the ellipsoid in which it lies deepest (smallest
// Mahalanobis radius); the points are split into `folds` folds (point i in fold
// i mod folds, no random numbers); for each fold, every ellipsoid is refitted
// to its points outside the fold, and each held-out point gets the squared
// radius factor that the nearest refitted ellipsoid needs to reach it.
//
// A bound fitted to n points misses a part of the region they come from that
// the points themselves cannot show: curved regions cut into many small
// ellipsoids taper where the pieces meet (thin shells), and small clusters have
// a poorly known shape.  Sampling from such a bound shrinks the volume faster
// than nested sampling assumes and biases log Z upwards.  Held-out points
// measure the miss, as the bootstrap expansion of nestle/dynesty and the
// bootstrapped radius of UltraNest's MLFriends do; a quantile instead of their
// maximum leaves well-fitted bounds (a Gaussian's single ellipsoid) at the
// default enlargement.  Only the assignment of points to the ellipsoids is kept
// fixed (refitting the decomposition in every fold would cost `folds` times
// the split search).
inline double coverage_log_factor(const RowMatrix& pts, const std::vector<Ellipsoid>& ells, double logpointvol,
                                  int folds) {
  const int d = static_cast<int>(pts.cols());
  const std::size_t n = static_cast<std::size_t>(pts.rows()), ne = ells.size();
  // A single ellipsoid fitted to all live points keeps its own coverage rule: the
  // misses come from unions of many small pieces (checked: a Gaussian's single
  // ellipsoid needed no more than the default enlargement), and skipping it saves
  // the 10 refits per update on unimodal problems.
  if (folds < 2 || ne < 2 || n < static_cast<std::size_t>(folds)) return 0.0;
  std::vector<std::vector<int>> members(ne);
  for (std::size_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    std::size_t owner = 0;
    for (std::size_t k = 0; k < ne; ++k) {
      const double r = ells[k].radius2(pts.row(static_cast<Eigen::Index>(i)).data());
      if (r < best) {
        best = r;
        owner = k;
      }
    }
    members[owner].push_back(static_cast<int>(i));
  }
  const std::size_t min_points = static_cast<std::size_t>(d) + 1;
  std::vector<double> need(n, 0.0);
  std::vector<Ellipsoid> refit(ne);
  std::vector<int> keep;
  for (int j = 0; j < folds; ++j) {
    for (std::size_t k = 0; k < ne; ++k) {
      keep.clear();
      for (const int i : members[k])
        if (i % folds != j) keep.push_back(i);
      // too few points left to refit: this ellipsoid is kept as it is
      refit[k] = keep.size() >= min_points ? fit_best_ellipsoid(pts, keep, logpointvol) : ells[k];
    }
    for (std::size_t i = static_cast<std::size_t>(j); i < n; i += static_cast<std::size_t>(folds)) {
      const double* x = pts.row(static_cast<Eigen::Index>(i)).data();
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < ne; ++k) best = std::min(best, refit[k].radius2(x));
      need[i] = best;
    }
  }
  // the (kmiss + 1)-th largest need: at most kmiss held-out points stay outside
  const std::size_t kmiss = static_cast<std::size_t>(kCoverageMiss * static_cast<double>(n));
  std::nth_element(need.begin(), need.begin() + static_cast<std::ptrdiff_t>(kmiss), need.end(), std::greater<double>());
  return std::min(0.5 * d * std::log(std::max(need[kmiss], 1.0)), kMaxCoverageLogVolume);
}

// The frame of periodic dimensions (see EllipsoidUnion): for each dimension i
// with periodic[i] != 0, the middle of the largest gap between the points'
// coordinates on the circle [0, 1) (the first one in sorted order on ties; the
// gap across the faces counts as one gap); 0 elsewhere.  Empty when no
// dimension is periodic.
inline std::vector<double> periodic_frame(const RowMatrix& pts, const std::vector<std::uint8_t>& periodic) {
  const auto d = static_cast<std::size_t>(pts.cols());
  bool any = false;
  for (std::size_t i = 0; i < periodic.size() && i < d; ++i) any = any || periodic[i] != 0;
  if (!any || pts.rows() == 0) return {};
  std::vector<double> frame(d, 0.0), col(static_cast<std::size_t>(pts.rows()));
  for (std::size_t i = 0; i < d && i < periodic.size(); ++i) {
    if (periodic[i] == 0) continue;
    for (std::size_t k = 0; k < col.size(); ++k) col[k] = pts(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(i));
    std::sort(col.begin(), col.end());
    // the gap across the faces, from the largest coordinate to the smallest + 1
    double best = col.front() + 1.0 - col.back(), mid = col.back() + 0.5 * best;
    for (std::size_t k = 1; k < col.size(); ++k) {
      const double g = col[k] - col[k - 1];
      if (g > best) {
        best = g;
        mid = col[k - 1] + 0.5 * g;
      }
    }
    frame[i] = EllipsoidUnion::wrap(mid);
  }
  return frame;
}

// Fit the bound of the live points: one ellipsoid (multi = false) or a
// multi-ellipsoid decomposition, each enlarged in volume by `enlarge`, or by
// more when a `folds`-fold cross-validation (coverage_log_factor) shows that
// the union misses held-out points (folds = 0: no check).  With periodic
// dimensions (`periodic[i] != 0`) the points are moved into the frame cut at
// their largest circular gap first (periodic_frame) and the bound is fitted
// there.
inline EllipsoidUnion fit_bound(const RowMatrix& pts_in, double logpointvol, bool multi, double enlarge,
                                int max_depth = max_lookahead, int folds = 0,
                                const std::vector<std::uint8_t>& periodic = {}) {
  std::vector<double> frame = periodic_frame(pts_in, periodic);
  RowMatrix moved;
  if (!frame.empty()) {
    moved = pts_in;
    for (Eigen::Index k = 0; k < moved.rows(); ++k)
      for (Eigen::Index i = 0; i < moved.cols(); ++i)
        if (moved(k, i) < frame[static_cast<std::size_t>(i)]) moved(k, i) += 1.0;
  }
  const RowMatrix& pts = frame.empty() ? pts_in : moved;
  const int d = static_cast<int>(pts.cols());
  std::vector<int> idx(static_cast<std::size_t>(pts.rows()));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
  const Ellipsoid root = fit_best_ellipsoid(pts, idx, logpointvol);
  EllipsoidUnion u;
  if (multi) {
    split_ellipsoid(pts, idx, root, logpointvol, std::max(2 * d, d + 2), 0, u.ells, max_depth);
  } else {
    u.ells.push_back(root);
  }
  const double logf = std::max(std::log(enlarge), coverage_log_factor(pts, u.ells, logpointvol, folds));
  for (auto& e : u.ells) e.scale_log(2.0 * logf / d);
  u.finalize();
  u.frame = std::move(frame);
  return u;
}

}  // namespace ridgeline::nested
