// Rounding an SDP factor to labels: top-K left singular vectors of U, then
// k-means++ seeding (Philox draws, one stream per init) and Lloyd iterations,
// best of n_init by inertia.  Mirrors python/ridgeline/cluster/_reference.py.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "ridgeline/cluster/nlr.hpp"
#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/common/random.hpp"

namespace ridgeline::cluster {

// n x K matrix of the top-K left singular vectors of U (from the eigenvectors of U^T U).
inline Mat round_factor(const Mat& U, int K) {
  const Eigen::MatrixXd G = U.transpose() * U;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(G);
  const Eigen::Index r = U.cols();
  Mat L = Mat::Zero(U.rows(), K);
  for (int k = 0; k < K && k < r; ++k) {
    const Eigen::Index col = r - 1 - k;  // eigenvalues ascending
    const double sv = std::sqrt(std::max(es.eigenvalues()[col], 0.0));
    if (sv <= 1e-300) continue;
    L.col(k) = (U * es.eigenvectors().col(col)) / sv;
  }
  return L;
}

// Lloyd's iterations from the centres C until the labels repeat (at most max_iter), as
// python/ridgeline/cluster/_lloyd.lloyd: nearest centre by ||x||^2 - 2 x.c + ||c||^2 (one
// n x K product, clipped at 0, first index on ties); an empty cluster takes the point
// farthest from its centre (while that distance is > 0); then the centres become the means.
// Returns the fixed point, its means and K-means cost, and the iterations.  Sequential
// sums in row order: the result does not depend on the thread count.
struct LloydResult {
  std::vector<std::int64_t> labels;
  Mat centers;
  double cost = 0.0;
  int n_iter = 0;
};

inline void cluster_means(const Eigen::Ref<const Mat>& X, const std::vector<std::int64_t>& lab, int K, Mat& C) {
  C.setZero(K, X.cols());
  std::vector<double> cnt(static_cast<std::size_t>(K), 0.0);
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    C.row(lab[static_cast<std::size_t>(i)]) += X.row(i);
    cnt[static_cast<std::size_t>(lab[static_cast<std::size_t>(i)])] += 1.0;
  }
  for (int k = 0; k < K; ++k)
    if (cnt[static_cast<std::size_t>(k)] > 0.0) C.row(k) /= cnt[static_cast<std::size_t>(k)];
}

inline LloydResult lloyd(const Eigen::Ref<const Mat>& X, Mat C, int max_iter) {
  const Eigen::Index n = X.rows();
  const int K = static_cast<int>(C.rows());
  const Vec x2 = X.rowwise().squaredNorm();
  LloydResult out;
  out.labels.assign(static_cast<std::size_t>(n), -1);
  std::vector<std::int64_t> nw(static_cast<std::size_t>(n));
  std::vector<double> dmin(static_cast<std::size_t>(n));
  std::vector<long> cnt(static_cast<std::size_t>(K));
  Mat D(n, K);
  for (int it = 1; it <= max_iter; ++it) {
    out.n_iter = it;
    const Eigen::RowVectorXd c2 = C.rowwise().squaredNorm().transpose();
    D.noalias() = X * C.transpose();
    std::fill(cnt.begin(), cnt.end(), 0L);
    for (Eigen::Index i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      std::int64_t arg = 0;
      for (int k = 0; k < K; ++k) {
        const double dk = std::max(-2.0 * D(i, k) + x2[i] + c2[k], 0.0);
        if (dk < best) {
          best = dk;
          arg = k;
        }
      }
      nw[static_cast<std::size_t>(i)] = arg;
      dmin[static_cast<std::size_t>(i)] = best;
      ++cnt[static_cast<std::size_t>(arg)];
    }
    for (int k = 0; k < K; ++k) {
      if (cnt[static_cast<std::size_t>(k)] > 0) continue;
      const auto far = static_cast<std::size_t>(std::max_element(dmin.begin(), dmin.end()) - dmin.begin());
      if (!(dmin[far] > 0.0)) break;
      --cnt[static_cast<std::size_t>(nw[far])];
      nw[far] = k;
      ++cnt[static_cast<std::size_t>(k)];
      dmin[far] = 0.0;
    }
    if (nw == out.labels) break;
    out.labels = nw;
    cluster_means(X, out.labels, K, C);
  }
  double cost = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) cost += (X.row(i) - C.row(out.labels[static_cast<std::size_t>(i)])).squaredNorm();
  out.centers = std::move(C);
  out.cost = cost;
  return out;
}

struct KMeansResult {
  std::vector<std::int64_t> labels;
  Mat centers;
  double inertia = 0.0;
};

inline KMeansResult kmeans_once(const Mat& Y, int K, int max_iter, std::uint64_t seed, std::uint64_t stream) {
  const Eigen::Index n = Y.rows(), p = Y.cols();
  RandomStream rs(seed, stream);
  std::vector<double> u(static_cast<std::size_t>(K));
  for (auto& x : u) x = rs.uniform();
  auto pick = [&](double q) { return std::min<Eigen::Index>(static_cast<Eigen::Index>(q * static_cast<double>(n)), n - 1); };
  Mat C(K, p);
  C.row(0) = Y.row(pick(u[0]));
  std::vector<double> d2(static_cast<std::size_t>(n)), cum(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) d2[static_cast<std::size_t>(i)] = (Y.row(i) - C.row(0)).squaredNorm();
  for (int k = 1; k < K; ++k) {
    double tot = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      tot += d2[static_cast<std::size_t>(i)];
      cum[static_cast<std::size_t>(i)] = tot;
    }
    Eigen::Index idx;
    if (tot <= 0.0) {
      idx = pick(u[static_cast<std::size_t>(k)]);
    } else {
      const double target = u[static_cast<std::size_t>(k)] * tot;
      idx = static_cast<Eigen::Index>(std::upper_bound(cum.begin(), cum.end(), target) - cum.begin());
      idx = std::min(idx, n - 1);
    }
    C.row(k) = Y.row(idx);
    for (Eigen::Index i = 0; i < n; ++i)
      d2[static_cast<std::size_t>(i)] = std::min(d2[static_cast<std::size_t>(i)], (Y.row(i) - C.row(k)).squaredNorm());
  }
  std::vector<std::int64_t> lab(static_cast<std::size_t>(n), -1), nw(static_cast<std::size_t>(n));
  std::vector<double> dmin(static_cast<std::size_t>(n));
  for (int iter = 0; iter < max_iter; ++iter) {
    for (Eigen::Index i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      std::int64_t arg = 0;
      for (int k = 0; k < K; ++k) {
        const double dk = (Y.row(i) - C.row(k)).squaredNorm();
        if (dk < best) {
          best = dk;
          arg = k;
        }
      }
      nw[static_cast<std::size_t>(i)] = arg;
      dmin[static_cast<std::size_t>(i)] = best;
    }
    for (int k = 0; k < K; ++k) {  // an empty cluster takes the point farthest from its centre
      if (std::find(nw.begin(), nw.end(), k) != nw.end()) continue;
      const auto far = std::max_element(dmin.begin(), dmin.end()) - dmin.begin();
      nw[static_cast<std::size_t>(far)] = k;
      dmin[static_cast<std::size_t>(far)] = (Y.row(far) - C.row(k)).squaredNorm();
    }
    if (nw == lab) break;
    lab = nw;
    C.setZero();
    std::vector<double> cnt(static_cast<std::size_t>(K), 0.0);
    for (Eigen::Index i = 0; i < n; ++i) {
      C.row(lab[static_cast<std::size_t>(i)]) += Y.row(i);
      cnt[static_cast<std::size_t>(lab[static_cast<std::size_t>(i)])] += 1.0;
    }
    for (int k = 0; k < K; ++k) C.row(k) /= std::max(cnt[static_cast<std::size_t>(k)], 1.0);
  }
  double inertia = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) inertia += (Y.row(i) - C.row(lab[static_cast<std::size_t>(i)])).squaredNorm();
  return {std::move(lab), std::move(C), inertia};
}

// Best of n_init k-means runs (init j uses Philox stream 1000 + j); inits run in parallel.
inline KMeansResult kmeans(const Mat& Y, int K, int n_init, int max_iter, std::uint64_t seed, int threads) {
  require(K >= 1, "n_clusters=" + std::to_string(K) + " must be >= 1");
  require(Y.rows() >= K, "n_samples=" + std::to_string(Y.rows()) + " should be >= n_clusters=" + std::to_string(K));
  require(n_init >= 1, "n_init=" + std::to_string(n_init) + " must be >= 1");
  require(max_iter >= 1, "max_iter=" + std::to_string(max_iter) + " must be >= 1");
  require(Y.cols() >= 1, "Y must have at least one column");
  std::vector<KMeansResult> runs(static_cast<std::size_t>(n_init));
  parallel_for(static_cast<std::size_t>(n_init), resolve_threads(threads), [&](std::size_t a, std::size_t b, int) {
    for (std::size_t j = a; j < b; ++j) runs[j] = kmeans_once(Y, K, max_iter, seed, 1000 + j);
  });
  std::size_t best = 0;
  for (std::size_t j = 1; j < runs.size(); ++j)
    if (runs[j].inertia < runs[best].inertia - 1e-12 * std::max(1.0, std::abs(runs[best].inertia))) best = j;
  return std::move(runs[best]);
}

}  // namespace ridgeline::cluster
