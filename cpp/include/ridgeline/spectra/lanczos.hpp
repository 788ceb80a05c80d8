// Lanczos-based spectral kernels (no Python here).
//
// Every kernel is a reverse-communication engine: request() gives the block of
// vectors whose products with the operator are needed next, supply() hands
// back the products, done() says when to stop.  Python drives an engine with
// user callbacks; drive() runs one against a built-in C++ operator.
//
// - tridiagonal_eigh: eigenpairs of a symmetric tridiagonal matrix.
// - LanczosEigsT<S>: thick-restart Lanczos for k eigenpairs at one or both ends,
//   with true residual norms; full reorthogonalisation in two sweeps over the
//   basis (float or double storage) per step.
// - Slq: stochastic Lanczos quadrature (probes in lockstep, one block per step),
//   optionally deflating the Ritz pairs that the first probe converged.
// - TraceEstimator: Hutchinson, Hutch++, and an automatic choice between them.
#pragma once

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/random.hpp"
#include "ridgeline/spectra/operators.hpp"

namespace ridgeline::spectra {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix
// with diagonal alpha (m) and off-diagonal beta (m - 1).
inline void tridiagonal_eigh(const Vector& alpha, const Vector& beta, Vector& theta, Matrix& S) {
  const Index m = alpha.size();
  require(beta.size() == std::max<Index>(m - 1, 0), "beta must have len(alpha) - 1 entries");
  require(alpha.allFinite() && beta.allFinite(), "tridiagonal entries contain NaN or inf");
  if (m == 0) {
    theta.resize(0);
    S.resize(0, 0);
    return;
  }
  Eigen::SelfAdjointEigenSolver<Matrix> es;
  Vector a = alpha, b = beta;
  es.computeFromTridiagonal(a, b, Eigen::ComputeEigenvectors);
  if (es.info() != Eigen::Success) throw std::runtime_error("tridiagonal eigensolver did not converge");
  theta = es.eigenvalues();
  S = es.eigenvectors();
}

// Gaussian vector of stream `stream` (Box-Muller normals, in order).
inline void normal_vector(std::uint64_t seed, std::uint64_t stream, double* out, Index n) {
  RandomStream rs(seed, stream);
  for (Index i = 0; i < n; ++i) out[i] = rs.normal();
}

// Rademacher vector of stream `stream`: entry i is +1 when bit (i mod 64) of word i / 64 is set.
inline void rademacher_vector(std::uint64_t seed, std::uint64_t stream, double* out, Index n) {
  std::uint64_t w = 0;
  for (Index i = 0; i < n; ++i) {
    if ((i & 63) == 0) w = philox_word(seed, stream, static_cast<std::uint64_t>(i >> 6));
    out[i] = ((w >> (i & 63)) & 1u) ? 1.0 : -1.0;
  }
}

// Classical Gram-Schmidt twice against the first `ncols` columns of V;
// returns the accumulated coefficients V^T r (before removal).
template <class MatS, class VecRef>
inline Vector cgs2(const MatS& V, Index ncols, VecRef&& r) {
  using S = typename MatS::Scalar;
  Vector h = Vector::Zero(ncols);
  if (ncols == 0) return h;
  for (int pass = 0; pass < 2; ++pass) {
    const Eigen::Matrix<S, Eigen::Dynamic, 1> c = V.leftCols(ncols).transpose() * r;
    r.noalias() -= V.leftCols(ncols) * c;
    h += c.template cast<double>();
  }
  return h;
}

// Reverse communication with blocks of scalar type S (the engine's storage type).
template <class S>
class ReverseCommT {
 public:
  using MatrixS = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using ConstRefS = Eigen::Ref<const MatrixS>;
  virtual ~ReverseCommT() = default;
  virtual bool done() const = 0;
  // The n x b block whose product is needed next.
  virtual const MatrixS& request() const = 0;
  virtual void supply(const ConstRefS& AX) = 0;
  Index n_matvec() const { return n_matvec_; }

 protected:
  void check_supply(const ConstRefS& AX) {
    const MatrixS& X = request();
    require(!done(), "the engine has finished; no product was requested");
    if (AX.rows() != X.rows() || AX.cols() != X.cols()) {
      throw std::invalid_argument("the product has shape (" + std::to_string(AX.rows()) + ", " +
                                  std::to_string(AX.cols()) + "), expected (" + std::to_string(X.rows()) + ", " +
                                  std::to_string(X.cols()) + ")");
    }
    if (!AX.allFinite()) throw std::invalid_argument("the operator returned NaN or inf");
    n_matvec_ += AX.cols();
  }
  Index n_matvec_ = 0;
};
using ReverseComm = ReverseCommT<double>;

// Run an engine against a built-in operator; poll for interrupts between products.
inline void drive(ReverseComm& rc, const LinearOperator& op, const PollFn& poll) {
  Matrix Y;
  while (!rc.done()) {
    const Matrix& X = rc.request();
    require(X.rows() == op.size(), "operator size does not match the engine");
    Y.resize(X.rows(), X.cols());
    op.apply(X, Y);
    rc.supply(Y);
    poll_or_throw(poll);
  }
}

enum class Which { LA, SA, LM, BE };

inline Which parse_which(const std::string& s) {
  if (s == "LA") return Which::LA;
  if (s == "SA") return Which::SA;
  if (s == "LM") return Which::LM;
  if (s == "BE") return Which::BE;
  throw std::invalid_argument("unknown which '" + s + "'; expected one of 'LA', 'SA', 'LM', 'BE'");
}

// Indices of ascending theta, most wanted first.
inline std::vector<Index> wanted_order(const Vector& theta, Which which) {
  const Index m = theta.size();
  std::vector<Index> idx(static_cast<std::size_t>(m));
  std::iota(idx.begin(), idx.end(), Index{0});
  switch (which) {
    case Which::LA:
      std::reverse(idx.begin(), idx.end());
      break;
    case Which::SA:
      break;
    case Which::LM:
      std::stable_sort(idx.begin(), idx.end(), [&](Index a, Index b) { return std::abs(theta(a)) > std::abs(theta(b)); });
      break;
    case Which::BE: {
      std::vector<Index> out;
      Index lo = 0, hi = m - 1;
      bool high = true;
      while (lo <= hi) out.push_back(high ? hi-- : lo++), high = !high;
      idx = out;
      break;
    }
  }
  return idx;
}

// Thick-restart Lanczos for k eigenpairs; the basis (and the stored products) in scalar
// type S (float when the operator computes in float32: half the memory traffic), the
// projected problem in double.
//
// Full reorthogonalisation in two sweeps over the basis per step: the first, over
// cache-sized blocks of rows, subtracts the couplings already known (alpha_j,
// beta_{j-1}, or the arrow right after a thick restart) and takes c = V^T r while
// the block is in cache; the second removes V c.  A third sweep (DGKS) only when
// the second removed a noticeable part of r.  No n-vector is allocated per step;
// a thick restart writes the new basis into spare storage and swaps.
template <class S>
class LanczosEigsT final : public ReverseCommT<S> {
 public:
  using MatrixS = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using VectorS = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using ConstRefS = Eigen::Ref<const MatrixS>;

  LanczosEigsT(Index n, Index k, Which which, double tol, Index ncv, Index max_matvec, std::uint64_t seed,
               const double* v0)
      : n_(n), k_(k), which_(which), tol_(tol), m_(ncv), max_matvec_(max_matvec), seed_(seed) {
    require(n >= 1, "n=" + std::to_string(n) + " must be >= 1");
    require(k >= 1 && k < n, "k=" + std::to_string(k) + " must satisfy 1 <= k < n=" + std::to_string(n));
    require(ncv > k && ncv <= n, "ncv=" + std::to_string(ncv) + " must satisfy k < ncv <= n");
    require(tol > 0.0 && std::isfinite(tol), "tol must be > 0");
    require(max_matvec >= ncv, "max_matvec must be >= ncv");
    V_.resize(n, m_ + 1);
    W_.resize(n, m_);
    T_ = Matrix::Zero(m_ + 1, m_ + 1);
    coef_.resize(m_ + 1);
    known_.resize(m_ + 1);
    Vector v(n);
    if (v0 != nullptr) {
      v = Eigen::Map<const Vector>(v0, n);
      require(v.allFinite(), "v0 contains NaN or inf");
    } else {
      normal_vector(seed_, 0, v.data(), n);
    }
    const double nv = v.norm();
    require(nv > 0.0, "v0 must be nonzero");
    V_.col(0) = (v / nv).template cast<S>();
    request_ = V_.col(0);
  }

  bool done() const override { return done_; }
  const MatrixS& request() const override { return request_; }

  void supply(const ConstRefS& AX) override {
    this->check_supply(AX);
    const Index size = j_ + 1;
    double before = 0.0;
    double a = fused_pass(AX.col(0).data(), before);
    // Second sweep: r -= V c (c = V^T r from the first sweep), then DGKS: one more full
    // pass only when that removed a noticeable part of r.
    auto r = V_.col(size);
    double beta = before;
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1) {
        coef_.head(size) = (V_.leftCols(size).transpose() * r).template cast<double>();
        if (Z_.cols() > 0) coefZ_ = (Z_.transpose() * r).template cast<double>();
      }
      const VectorS c = coef_.head(size).template cast<S>();
      r.noalias() -= V_.leftCols(size) * c;
      if (Z_.cols() > 0) r.noalias() -= Z_ * coefZ_.template cast<S>();
      a += coef_(j_);
      beta = r.template cast<double>().norm();
      if (beta > 0.7071 * before) break;
      before = beta;
    }
    T_(j_, j_) = a;
    // Ritz pairs of the current projection.
    Eigen::SelfAdjointEigenSolver<Matrix> es(T_.topLeftCorner(size, size));
    theta_ = es.eigenvalues();
    S_ = es.eigenvectors();
    anorm_ = std::max(anorm_, theta_.cwiseAbs().maxCoeff());
    last_beta_ = beta;
    ritz_size_ = size;
    ritz_restarts_ = n_restarts_;
    const bool exhausted = size == n_;
    const double eps_s = std::numeric_limits<S>::epsilon();
    const bool breakdown = !exhausted && beta <= std::max(1e-12, 10.0 * eps_s) * std::max(anorm_, kEps);
    if (exhausted) beta = 0.0;
    if (size >= k_) {
      order_ = wanted_order(theta_, which_);
      bool all = true;
      for (Index i = 0; i < k_; ++i) {
        const Index c = order_[static_cast<std::size_t>(i)];
        // ARPACK's test: the Ritz estimate (the residual norm of the Ritz pair) is at most
        // tol * max(|theta|, eps^(2/3) * ||A||), so eigenvectors meet the tolerance as well
        // as eigenvalues (no a-posteriori gap rule: with a repeated eigenvalue the gap to the
        // nearest Ritz value says nothing about the gap to the spectrum).
        const double res = beta * std::abs(S_(j_, c));
        const double scale = tol_ * std::max(std::abs(theta_(c)), std::cbrt(kEps * kEps) * anorm_);
        if (!(res <= scale)) all = false;
      }
      // After a breakdown the Ritz values are exact for the subspace found so far but the
      // start vector may have missed wanted directions: accept only if a fresh random
      // direction breaks down again at once (the rest of the space is then annihilated).
      const bool accept = all && (!breakdown || prev_breakdown_);
      if (accept || exhausted || this->n_matvec_ >= max_matvec_) {
        converged_ = all || exhausted;
        finish(size);
        return;
      }
    }
    prev_breakdown_ = breakdown;
    if (breakdown) {
      // Invariant subspace: continue from a fresh random direction orthogonal to the basis.
      Vector v(n_);
      double nv = 0.0;
      VectorS vs;
      for (int attempt = 0; attempt < 8 && nv <= 1e-8; ++attempt) {
        normal_vector(seed_, static_cast<std::uint64_t>(++restarts_), v.data(), n_);
        const double n0 = v.norm();
        vs = v.template cast<S>();
        if (Z_.cols() > 0) cgs2(Z_, Z_.cols(), vs);
        cgs2(V_, size, vs);
        nv = vs.template cast<double>().norm() / n0;
      }
      require(nv > 1e-8, "could not extend the Krylov basis");
      V_.col(size) = vs / static_cast<S>(vs.template cast<double>().norm());
      beta = 0.0;
    } else {
      V_.col(size) /= static_cast<S>(beta);
    }
    if (size == m_) {
      restart(size, beta);
    } else {
      T_(j_, size) = T_(size, j_) = beta;
      j_ = size;
    }
    request_ = V_.col(j_);
  }

  const Vector& eigenvalues() const { return values_; }
  const Matrix& eigenvectors() const { return vectors_; }
  const Vector& residuals() const { return residuals_; }
  bool converged() const { return converged_; }
  Index n_restarts() const { return n_restarts_; }

  // Work on the orthogonal complement of the orthonormal columns of Z (locked vectors):
  // every new basis vector is kept orthogonal to them in the same sweeps.  Before the
  // first product only.
  void lock(const ConstRefS& Z) {
    require(this->n_matvec_ == 0 && !done_, "lock() must come before the first product");
    require(Z.rows() == n_, "Z must have n rows");
    require(Z.allFinite(), "Z contains NaN or inf");
    Z_ = Z;
    coefZ_.resize(Z_.cols());
    auto v = V_.col(0);
    cgs2(Z_, Z_.cols(), v);
    const double nv = v.template cast<double>().norm();
    require(nv > 1e-8, "the start vector lies in the span of Z");
    v /= static_cast<S>(nv);
    request_ = V_.col(0);
  }
  // Ritz values (ascending) after the last product, their residual estimates
  // beta |s_last|, the last beta before any restart or random extension, and Ritz vectors.
  const Vector& ritz_values() const { return theta_; }
  Vector ritz_residuals() const {
    if (theta_.size() == 0) return Vector();
    return last_beta_ * S_.row(ritz_size_ - 1).transpose().cwiseAbs();
  }
  double last_beta() const { return last_beta_; }
  Vector ritz_vector(Index i) const {
    require(i >= 0 && i < theta_.size(), "Ritz index out of range");
    require(ritz_restarts_ == n_restarts_, "the basis was restarted since the Ritz pairs were computed");
    const VectorS s = S_.col(i).template cast<S>();
    return (V_.leftCols(ritz_size_) * s).template cast<double>();
  }

 private:
  // First sweep, over the rows in cache-sized blocks: W[:, j] = w,
  // r = V[:, j+1] = w - alpha v_j - (known couplings) and coef_ = V[:, :j+1]^T r, with
  // alpha = v_j^T w (returned) and |r| in `norm`.
  double fused_pass(const S* w, double& norm) {
    const Index size = j_ + 1;
    Eigen::Map<const VectorS> wv(w, n_);
    const double a = static_cast<double>(V_.col(j_).dot(wv));
    for (Index i = 0; i < j_; ++i) known_(i) = T_(i, j_);
    known_(j_) = a;
    coef_.head(size).setZero();
    coefZ_.setZero();
    S* wc = W_.col(j_).data();
    S* r = V_.col(size).data();
    double ss = 0.0;
    constexpr Index kBlock = 2048;
    for (Index s0 = 0; s0 < n_; s0 += kBlock) {
      const Index len = std::min(kBlock, n_ - s0);
      Eigen::Map<const VectorS> wb(w + s0, len);
      Eigen::Map<VectorS> rb(r + s0, len);
      Eigen::Map<VectorS>(wc + s0, len) = wb;
      rb = wb;
      for (Index i = 0; i < size; ++i) {
        if (known_(i) != 0.0) {
          rb.noalias() -= static_cast<S>(known_(i)) * Eigen::Map<const VectorS>(V_.col(i).data() + s0, len);
        }
      }
      for (Index i = 0; i < size; ++i) {
        coef_(i) += static_cast<double>(Eigen::Map<const VectorS>(V_.col(i).data() + s0, len).dot(rb));
      }
      for (Index i = 0; i < Z_.cols(); ++i) {
        coefZ_(i) += static_cast<double>(Eigen::Map<const VectorS>(Z_.col(i).data() + s0, len).dot(rb));
      }
      ss += static_cast<double>(rb.squaredNorm());
    }
    norm = std::sqrt(ss);
    return a;
  }

  void restart(Index size, double beta) {
    order_ = wanted_order(theta_, which_);
    const Index l = std::min(size - 1, k_ + (m_ - k_) / 2);
    MatrixS Ssel(size, l);
    Vector th(l), arrow(l);
    for (Index i = 0; i < l; ++i) {
      const Index c = order_[static_cast<std::size_t>(i)];
      Ssel.col(i) = S_.col(c).template cast<S>();
      th(i) = theta_(c);
      arrow(i) = beta * S_(size - 1, c);
    }
    // New bases written into spare storage, then swapped (no copy of n-vectors back).
    Vb_.resize(n_, m_ + 1);
    Wb_.resize(n_, m_);
    Vb_.leftCols(l).noalias() = V_.leftCols(size) * Ssel;
    Wb_.leftCols(l).noalias() = W_.leftCols(size) * Ssel;
    Vb_.col(l) = V_.col(size);
    V_.swap(Vb_);
    W_.swap(Wb_);
    T_.setZero();
    for (Index i = 0; i < l; ++i) {
      T_(i, i) = th(i);
      T_(i, l) = T_(l, i) = arrow(i);
    }
    j_ = l;
    ++n_restarts_;
  }

  void finish(Index size) {
    order_ = wanted_order(theta_, which_);
    std::vector<Index> sel(order_.begin(), order_.begin() + k_);
    std::sort(sel.begin(), sel.end());  // ascending eigenvalues
    values_.resize(k_);
    vectors_.resize(n_, k_);
    residuals_.resize(k_);
    for (Index i = 0; i < k_; ++i) {
      const Index c = sel[static_cast<std::size_t>(i)];
      values_(i) = theta_(c);
      const VectorS s = S_.col(c).template cast<S>();
      const VectorS x = V_.leftCols(size) * s;
      const VectorS Ax = W_.leftCols(size) * s;
      vectors_.col(i) = x.template cast<double>();
      residuals_(i) = (Ax.template cast<double>() - theta_(c) * vectors_.col(i)).norm();
    }
    done_ = true;
    request_.resize(n_, 0);
    Vb_.resize(0, 0);
    Wb_.resize(0, 0);
  }

  Index n_, k_;
  Which which_;
  double tol_;
  Index m_, max_matvec_;
  std::uint64_t seed_;
  MatrixS V_, W_, Vb_, Wb_, request_, Z_;
  Vector coefZ_;
  double last_beta_ = 0.0;
  Index ritz_size_ = 0, ritz_restarts_ = 0;
  Matrix T_, S_;
  Vector theta_, coef_, known_;
  std::vector<Index> order_;
  Index j_ = 0, restarts_ = 0, n_restarts_ = 0;
  double anorm_ = 0.0;
  bool done_ = false, converged_ = false, prev_breakdown_ = false;
  Vector values_, residuals_;
  Matrix vectors_;
};
using LanczosEigs = LanczosEigsT<double>;
using LanczosEigs32 = LanczosEigsT<float>;

// Stochastic Lanczos quadrature.  Probe p starts from the normalised Gaussian
// vector of stream p.  With deflation, probe 0 runs first; its Ritz pairs with
// residual <= deflate_tol * max|theta| span an (almost) invariant subspace U
// whose eigenvalues enter the measure with weight 1/n each, and the remaining
// probes (and the rest of probe 0, renormalised) estimate the measure of the
// operator restricted to the complement of U, with total weight (n - r) / n.
class Slq final : public ReverseComm {
 public:
  Slq(Index n, Index n_probes, Index n_steps, std::uint64_t seed, bool deflate, double deflate_tol)
      : n_(n), np_(n_probes), m_(std::min(n_steps, n)), seed_(seed), deflate_(deflate), dtol_(deflate_tol) {
    require(n >= 1, "n=" + std::to_string(n) + " must be >= 1");
    require(n_probes >= 1, "n_probes=" + std::to_string(n_probes) + " must be >= 1");
    require(n_steps >= 1, "n_steps=" + std::to_string(n_steps) + " must be >= 1");
    probes_.resize(static_cast<std::size_t>(np_));
    U_.resize(n, 0);
    if (deflate_ && np_ > 1) {
      start_probe(0);
    } else {
      deflate_ = false;
      for (Index p = 0; p < np_; ++p) start_probe(p);
    }
    build_request();
  }

  bool done() const override { return done_; }
  const Matrix& request() const override { return request_; }

  void supply(const ConstMatrixRef& AX) override {
    check_supply(AX);
    for (std::size_t c = 0; c < active_.size(); ++c) step(probes_[static_cast<std::size_t>(active_[c])], AX.col(static_cast<Index>(c)));
    if (deflate_ && !phase2_ && !probes_[0].running) {
      extract_deflation();
      phase2_ = true;
      if (U_.cols() < n_) {
        for (Index p = 1; p < np_; ++p) start_probe(p);
      }
    }
    build_request();
    if (active_.empty()) assemble();
  }

  const Vector& nodes() const { return nodes_; }
  const Vector& weights() const { return weights_; }
  Index n_deflated() const { return U_.cols(); }
  // Tridiagonal coefficients of probe p (for inspection and tests).
  Vector alpha(Index p) const { return probe(p).alpha; }
  Vector beta(Index p) const { return probe(p).beta; }

 private:
  struct Probe {
    Matrix V;
    Vector alpha, beta;  // beta(i) couples v_i and v_{i+1}
    Index j = 0;
    bool running = false, started = false;
  };
  const Probe& probe(Index p) const {
    require(p >= 0 && p < np_, "probe index out of range");
    return probes_[static_cast<std::size_t>(p)];
  }

  void start_probe(Index p) {
    Probe& pr = probes_[static_cast<std::size_t>(p)];
    pr.V.resize(n_, m_);
    pr.alpha.resize(0);
    pr.beta.resize(0);
    Vector v(n_);
    normal_vector(seed_, static_cast<std::uint64_t>(p), v.data(), n_);
    if (U_.cols() > 0) cgs2(U_, U_.cols(), v);
    const double nv = v.norm();
    pr.started = true;
    if (!(nv > 0.0)) return;  // probe inside U: contributes nothing
    pr.V.col(0) = v / nv;
    pr.j = 0;
    pr.running = true;
  }

  void step(Probe& pr, const Eigen::Ref<const Vector>& w) {
    Vector r = w;
    if (U_.cols() > 0) cgs2(U_, U_.cols(), r);
    const Vector h = cgs2(pr.V, pr.j + 1, r);
    const Index j = pr.j;
    pr.alpha.conservativeResize(j + 1);
    pr.alpha(j) = h(j);
    anorm_ = std::max(anorm_, std::abs(h(j)));
    const double b = r.norm();
    anorm_ = std::max(anorm_, b);
    if (j + 1 >= m_ || b <= 1e-12 * std::max(anorm_, kEps) || U_.cols() + j + 1 >= n_) {
      last_beta_ = (&pr == &probes_[0]) ? b : last_beta_;
      pr.running = false;
      return;
    }
    pr.beta.conservativeResize(j + 1);
    pr.beta(j) = b;
    pr.V.col(j + 1) = r / b;
    pr.j = j + 1;
  }

  void extract_deflation() {
    Probe& pr = probes_[0];
    Vector theta;
    Matrix S;
    tridiagonal_eigh(pr.alpha, pr.beta, theta, S);
    const Index k = theta.size();
    const double scale = std::max(theta.cwiseAbs().maxCoeff(), kEps);
    std::vector<Index> conv;
    for (Index i = 0; i < k; ++i) {
      if (last_beta_ * std::abs(S(k - 1, i)) <= dtol_ * scale) conv.push_back(i);
    }
    conv_ = conv;
    const auto r = static_cast<Index>(conv.size());
    U_.resize(n_, r);
    Uvals_.resize(r);
    for (Index c = 0; c < r; ++c) {
      const Index i = conv[static_cast<std::size_t>(c)];
      U_.col(c) = pr.V.leftCols(k) * S.col(i);
      Uvals_(c) = theta(i);
    }
    // Re-orthonormalise U (Ritz vectors are orthonormal up to rounding).
    if (r > 0) {
      Eigen::HouseholderQR<Matrix> qr(U_);
      U_ = qr.householderQ() * Matrix::Identity(n_, r);
    }
  }

  void build_request() {
    active_.clear();
    for (Index p = 0; p < np_; ++p) {
      if (probes_[static_cast<std::size_t>(p)].running) active_.push_back(p);
    }
    request_.resize(n_, static_cast<Index>(active_.size()));
    for (std::size_t c = 0; c < active_.size(); ++c) {
      const Probe& pr = probes_[static_cast<std::size_t>(active_[c])];
      request_.col(static_cast<Index>(c)) = pr.V.col(pr.j);
    }
  }

  void assemble() {
    std::vector<double> nodes, weights;
    const Index r = U_.cols();
    for (Index i = 0; i < r; ++i) {
      nodes.push_back(Uvals_(i));
      weights.push_back(1.0 / static_cast<double>(n_));
    }
    std::vector<std::pair<Vector, Vector>> parts;
    for (Index p = 0; p < np_; ++p) {
      const Probe& pr = probes_[static_cast<std::size_t>(p)];
      if (pr.alpha.size() == 0) continue;
      Vector theta;
      Matrix S;
      tridiagonal_eigh(pr.alpha, pr.beta, theta, S);
      Vector w = S.row(0).transpose().array().square();
      if (deflate_ && p == 0 && r > 0) {
        // Drop the deflated Ritz values (they are in U) and renormalise the rest.
        Vector keep_t(theta.size()), keep_w(theta.size());
        Index q = 0;
        for (Index i = 0; i < theta.size(); ++i) {
          if (std::find(conv_.begin(), conv_.end(), i) == conv_.end()) {
            keep_t(q) = theta(i);
            keep_w(q) = w(i);
            ++q;
          }
        }
        const double mass = keep_w.head(q).sum();
        if (q == 0 || mass <= 1e-8) continue;
        theta = keep_t.head(q);
        w = keep_w.head(q) / mass;
      }
      parts.emplace_back(theta, w);
    }
    if (r < n_ && !parts.empty()) {
      const double scale = static_cast<double>(n_ - r) / static_cast<double>(n_) / static_cast<double>(parts.size());
      for (const auto& [t, w] : parts) {
        for (Index i = 0; i < t.size(); ++i) {
          nodes.push_back(t(i));
          weights.push_back(scale * w(i));
        }
      }
    }
    nodes_ = Eigen::Map<Vector>(nodes.data(), static_cast<Index>(nodes.size()));
    weights_ = Eigen::Map<Vector>(weights.data(), static_cast<Index>(weights.size()));
    done_ = true;
  }

  Index n_, np_, m_;
  std::uint64_t seed_;
  bool deflate_;
  double dtol_;
  std::vector<Probe> probes_;
  std::vector<Index> active_, conv_;
  Matrix U_, request_;
  Vector Uvals_, nodes_, weights_;
  double anorm_ = 0.0, last_beta_ = 0.0;
  bool phase2_ = false, done_ = false;
};

enum class TraceMethod { Auto, Hutchinson, HutchPP, Exact };

inline TraceMethod parse_trace_method(const std::string& s) {
  if (s == "auto") return TraceMethod::Auto;
  if (s == "hutchinson") return TraceMethod::Hutchinson;
  if (s == "hutch++") return TraceMethod::HutchPP;
  if (s == "exact") return TraceMethod::Exact;
  throw std::invalid_argument("unknown method '" + s + "'; expected one of 'auto', 'hutchinson', 'hutch++', 'exact'");
}

// Trace estimation with Rademacher probes (probe i from stream i).
//  hutchinson: mean of z_i^T A z_i over `budget` probes.
//  hutch++: s = budget / 3 sketch probes S, Q = orth(A S), exact tr(Q^T A Q) (s products),
//    Hutchinson on (I - QQ^T) G for the remaining budget - 2 s probes (streams s, s + 1, ...).
//  auto: from the sketch alone, predict the variance of both (Frobenius mass of A
//    and of its part left after deflating with half the sketch, measured on the
//    other half) and continue with the smaller.  If Hutchinson is chosen the sketch
//    probes are Hutchinson samples, so the result equals method="hutchinson".
//  exact: e_i^T A e_i, when budget >= n.
class TraceEstimator final : public ReverseComm {
 public:
  TraceEstimator(Index n, TraceMethod method, Index budget, std::uint64_t seed)
      : n_(n), method_(method), budget_(budget), seed_(seed) {
    require(n >= 1, "n=" + std::to_string(n) + " must be >= 1");
    require(budget >= 1, "budget=" + std::to_string(budget) + " must be >= 1");
    if (method_ == TraceMethod::Exact) {
      require(budget >= n, "method='exact' needs budget >= n=" + std::to_string(n));
    }
    if (budget >= n) method_ = TraceMethod::Exact;
    if (method_ == TraceMethod::HutchPP) {
      require(budget >= 6, "method='hutch++' needs budget >= 6, got " + std::to_string(budget));
    }
    if (method_ == TraceMethod::Auto && budget < 12) method_ = TraceMethod::Hutchinson;
    if (method_ == TraceMethod::Exact) {
      request_ = Matrix::Identity(n, n);
      phase_ = Phase::Exact;
    } else if (method_ == TraceMethod::Hutchinson) {
      probes(0, budget_, request_);
      phase_ = Phase::Plain;
    } else {
      s_ = budget_ / 3;
      probes(0, s_, request_);
      phase_ = Phase::Sketch;
    }
  }

  bool done() const override { return phase_ == Phase::Done; }
  const Matrix& request() const override { return request_; }

  void supply(const ConstMatrixRef& AX) override {
    check_supply(AX);
    switch (phase_) {
      case Phase::Exact: {
        value_ = AX.diagonal().sum();
        stderr_ = 0.0;
        finish("exact");
        break;
      }
      case Phase::Plain: {
        add_samples(request_, AX);
        finish_hutchinson(0.0, "hutchinson");
        break;
      }
      case Phase::Sketch: {
        S_ = request_;
        Y_ = AX;
        bool use_pp = method_ == TraceMethod::HutchPP;
        if (method_ == TraceMethod::Auto) use_pp = prefer_hutchpp();
        if (use_pp) {
          Eigen::HouseholderQR<Matrix> qr(Y_);
          Q_ = qr.householderQ() * Matrix::Identity(n_, s_);
          request_ = Q_;
          phase_ = Phase::LowRank;
        } else {
          add_samples(S_, Y_);
          probes(s_, budget_ - s_, request_);
          phase_ = Phase::Plain;
        }
        break;
      }
      case Phase::LowRank: {
        exact_part_ = (Q_.transpose() * AX).trace();
        const Index ng = budget_ - 2 * s_;
        probes(s_, ng, request_);
        request_ -= Q_ * (Q_.transpose() * request_);
        phase_ = Phase::Deflated;
        break;
      }
      case Phase::Deflated: {
        add_samples(request_, AX);
        finish_hutchinson(exact_part_, "hutch++");
        break;
      }
      case Phase::Done:
        break;
    }
  }

  double value() const { return value_; }
  double standard_error() const { return stderr_; }
  const std::string& method_used() const { return used_; }
  const std::vector<double>& samples() const { return samples_; }
  double predicted_ratio() const { return ratio_; }

 private:
  enum class Phase { Exact, Plain, Sketch, LowRank, Deflated, Done };

  void probes(Index first, Index count, Matrix& out) const {
    out.resize(n_, count);
    for (Index c = 0; c < count; ++c) rademacher_vector(seed_, static_cast<std::uint64_t>(first + c), out.col(c).data(), n_);
  }

  void add_samples(const Matrix& Z, const ConstMatrixRef& AZ) {
    for (Index c = 0; c < Z.cols(); ++c) samples_.push_back(Z.col(c).dot(AZ.col(c)));
  }

  // Predicted variance of hutch++ relative to hutchinson at equal budget (< 1: hutch++ better).
  bool prefer_hutchpp() {
    const Index h = s_ / 2, h2 = s_ - h;
    Eigen::HouseholderQR<Matrix> qr(Y_.leftCols(h));
    const Matrix Q1 = qr.householderQ() * Matrix::Identity(n_, h);
    const Matrix Y2 = Y_.rightCols(h2);
    const double frob = Y2.squaredNorm() / static_cast<double>(h2);
    const double tail = (Y2 - Q1 * (Q1.transpose() * Y2)).squaredNorm() / static_cast<double>(h2);
    const double ng = static_cast<double>(budget_ - 2 * s_);
    ratio_ = frob > 0.0 ? (tail / ng) / (frob / static_cast<double>(budget_)) : 0.0;
    return ratio_ < 1.0;
  }

  void finish_hutchinson(double offset, const char* name) {
    const auto m = static_cast<double>(samples_.size());
    double mean = 0.0;
    for (double x : samples_) mean += x;
    mean /= m;
    double ss = 0.0;
    for (double x : samples_) ss += (x - mean) * (x - mean);
    value_ = offset + mean;
    stderr_ = samples_.size() >= 2 ? std::sqrt(ss / (m - 1.0) / m) : std::numeric_limits<double>::infinity();
    finish(name);
  }

  void finish(const char* name) {
    used_ = name;
    phase_ = Phase::Done;
    request_.resize(n_, 0);
  }

  Index n_;
  TraceMethod method_;
  Index budget_, s_ = 0;
  std::uint64_t seed_;
  Phase phase_ = Phase::Done;
  Matrix request_, S_, Y_, Q_;
  std::vector<double> samples_;
  double exact_part_ = 0.0, value_ = 0.0, stderr_ = 0.0, ratio_ = -1.0;
  std::string used_;
};

}  // namespace ridgeline::spectra
