#include "common.hpp"
#include "results.hpp"

#include "ridgeline/cluster/nlr.hpp"
#include "ridgeline/cluster/rounding.hpp"
#include "ridgeline/cluster/peng_wei.hpp"

#include <chrono>
#include <string>
#include <type_traits>
#include <cmath>
#include <memory>

namespace rc = ridgeline::cluster;
namespace api = ridgeline::clusterapi;

api::PengWeiOut api::peng_wei_baseline(const double* X, long n, long p, int K, int rank, std::uint64_t seed,
                                       const NLROptions& opt, const PollFn& poll) {
  return rc::peng_wei_flat(X, n, p, K, rank, seed, opt, poll);
}

api::LAOut api::la_sdp_baseline(const double* X, long n, long p, const double* covs, int K, const double* U0, int rank,
                                const NLROptions& opt, const PollFn& poll) {
  return rc::la_sdp_flat(X, n, p, covs, K, U0, rank, opt, poll);
}

namespace {

rc::Mat to_mat(const ridgeline::bind::farray& a, const char* name) {
  ridgeline::bind::require_ndim(a, 2, name);
  rc::Mat m(a.shape(0), a.shape(1));
  if (m.size() > 0) std::copy(a.data(), a.data() + m.size(), m.data());
  if (!m.allFinite()) throw std::invalid_argument(std::string(name) + " contains NaN or infinity");
  return m;
}

py::array_t<double> from_mat(const rc::Mat& m) {
  py::array_t<double> out({m.rows(), m.cols()});
  if (m.size() > 0) std::copy(m.data(), m.data() + m.size(), out.mutable_data());
  return out;
}

// The solver's progress report: calls the Python callable cb(n_iter, infeasibility,
// stationarity) with the GIL held, at most every `interval` seconds (the solver reports every 16
// iterations; every 16 with interval 0).  cb is borrowed: the caller's argument keeps it alive during the call.
// An exception from cb is restored into Python and stops the solver (Interrupted),
// so the binding re-raises it unchanged.
std::function<void(long, double, double)> make_report(const py::object& cb, double interval) {
  if (cb.is_none()) return {};
  if (!PyCallable_Check(cb.ptr())) throw py::type_error("progress must be callable or None");
  if (!(interval >= 0.0) || !std::isfinite(interval))
    throw std::invalid_argument("progress_interval must be finite and >= 0");
  PyObject* fn = cb.ptr();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  const auto gap = std::chrono::duration<double>(interval);
  return [fn, last, gap](long it, double infeas, double stat) {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last < gap) return;
    *last = now;
    py::gil_scoped_acquire gil;
    try {
      py::handle callback(fn);
      callback(it, infeas, stat);
    } catch (py::error_already_set& e) {
      e.restore();
      throw ridgeline::Interrupted();
    }
  };
}

rc::NLROptions options(double tol, long max_iter, double beta0, int threads, double dual_c = 1.0, double dual_bb = 100.0) {
  if (!(tol > 0.0)) throw std::invalid_argument("tol=" + std::to_string(tol) + " must be > 0");
  if (max_iter < 1) throw std::invalid_argument("max_iter=" + std::to_string(max_iter) + " must be >= 1");
  // a non-finite penalty or dual setting turns every iterate into NaN
  if (!std::isfinite(beta0)) throw std::invalid_argument("beta0=" + std::to_string(beta0) + " must be finite (<= 0: automatic)");
  if (!std::isfinite(dual_c)) throw std::invalid_argument("dual_c=" + std::to_string(dual_c) + " must be finite");
  if (!std::isfinite(dual_bb)) throw std::invalid_argument("dual_bb=" + std::to_string(dual_bb) + " must be finite");
  rc::NLROptions o;
  o.tol = tol;
  o.max_iter = max_iter;
  o.beta0 = beta0;
  o.threads = threads;
  o.dual_c = dual_c;
  o.dual_bb = dual_bb;
  return o;
}

// The results (read-only classes, results.hpp).
struct SdpSolution {  // la_sdp
  py::array_t<double> U, y;
  double beta = 0.0, objective = 0.0, infeasibility = 0.0, stationarity = 0.0;
  std::int64_t n_iter = 0, n_dual = 0;
  bool converged = false;
  bool settled = false;
};

struct PengWeiSolution {  // peng_wei: the same, and the data scale and the build used
  py::array_t<double> U, y;
  double beta = 0.0, objective = 0.0, infeasibility = 0.0, stationarity = 0.0;
  std::int64_t n_iter = 0, n_dual = 0;
  bool converged = false;
  double scale2 = 1.0;
  std::string isa;
  bool settled = false;
  bool stalled = false;
  py::array_t<std::int64_t> best_rounding;
  double best_cost = 0.0;
  std::int64_t best_iter = 0;
};

struct KMeansResult {
  py::array_t<std::int64_t> labels;
  py::array_t<double> centers;
  double inertia = 0.0;
};

template <class Out, class R>
void copy_scalars(Out& o, const R& r) {
  o.beta = r.beta;
  o.objective = r.objective;
  o.infeasibility = r.infeasibility;
  o.stationarity = r.stationarity;
  o.n_iter = r.n_iter;
  o.n_dual = r.n_dual;
  o.converged = r.converged;
}

template <class T>
py::class_<T> bind_solution(py::module_& m, const char* name, const char* doc) {
  using ridgeline::bind::field;
  if constexpr (std::is_same_v<T, PengWeiSolution>) {
    return ridgeline::bind::result_class<T>(
        m, name, doc, field("U", &T::U, "(n, r) low-rank factor of the SDP solution Z = U U^T"),
        field("y", &T::y, "dual variables of the equality constraints"), field("beta", &T::beta, "final penalty"),
        field("objective", &T::objective, "objective value"),
        field("infeasibility", &T::infeasibility, "relative constraint violation"),
        field("stationarity", &T::stationarity, "relative stationarity residual"),
        field("n_iter", &T::n_iter, "inner iterations"), field("n_dual", &T::n_dual, "dual updates"),
        field("converged", &T::converged, "whether both residuals reached tol"),
        field("scale2", &T::scale2, "||Xc||_2^2, the scale the data were divided by"),
        field("isa", &T::isa, "the build that ran: 'baseline' or 'avx2+fma'"),
        field("settled", &T::settled, "stopped early: the rounding settled on a non-tight solution"),
        field("stalled", &T::stalled, "stopped early by the stall rule (settled is True too)"),
        field("best_rounding", &T::best_rounding,
              "(n,) the early-exit test's rounding with the lowest Lloyd-refined K-means cost (empty: none)"),
        field("best_cost", &T::best_cost, "its Lloyd-refined K-means cost in the units of X (inf: none)"),
        field("best_iter", &T::best_iter, "the iteration it was taken at"));
  } else {
    return ridgeline::bind::result_class<T>(
        m, name, doc, field("U", &T::U, "(n, K * rank) low-rank factor of the block solution"),
        field("y", &T::y, "dual variables of the equality constraints"), field("beta", &T::beta, "final penalty"),
        field("objective", &T::objective, "objective value"),
        field("infeasibility", &T::infeasibility, "relative constraint violation"),
        field("stationarity", &T::stationarity, "relative stationarity residual"),
        field("n_iter", &T::n_iter, "inner iterations"), field("n_dual", &T::n_dual, "dual updates"),
        field("converged", &T::converged, "whether both residuals reached tol"),
        field("settled", &T::settled, "stopped early: the block labels were the same at three readings in a row"));
  }
}

}  // namespace

void bind_cluster(py::module_& m) {
  bind_solution<PengWeiSolution>(m, "PengWeiSolution", "the Peng-Wei K-means SDP solved (read-only)");
  bind_solution<SdpSolution>(m, "SdpSolution", "the likelihood-adjusted SDP solved (read-only)");
  {
    using ridgeline::bind::field;
    ridgeline::bind::result_class<KMeansResult>(
        m, "KMeansResult", "the best of n_init k-means runs (read-only)",
        field("labels", &KMeansResult::labels, "(n,) cluster of each point"),
        field("centers", &KMeansResult::centers, "(n_clusters, n_features) cluster means"),
        field("inertia", &KMeansResult::inertia, "sum of squared distances to the centres"));
  }
  m.def(
      "peng_wei",
      [](const ridgeline::bind::farray& X, int n_clusters, int rank, std::uint64_t seed, double tol, long max_iter,
         double beta0, int threads, double dual_c, double dual_bb, const std::string& isa, const py::object& progress, double progress_interval,
         int settle_n_init, std::uint64_t settle_seed, double settle_infeas, const py::object& init_labels, double init_weight,
         int stall_checks, double stall_rtol) {
        ridgeline::bind::require_ndim(X, 2, "X");
        // X is read in place (c_style array): a finite check instead of a copy
        const double* xd = X.data();
        const long n = static_cast<long>(X.shape(0)), p = static_cast<long>(X.shape(1));
        for (long i = 0; i < n * p; ++i)
          if (!std::isfinite(xd[i])) throw std::invalid_argument("X contains NaN or infinity");
        py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> lab;
        if (!init_labels.is_none()) {
          lab = init_labels.cast<py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>>();
          if (lab.ndim() != 1 || lab.shape(0) != n)
            throw std::invalid_argument("init_labels must have shape (n_samples,)");
          const std::int64_t* l = lab.data();
          for (long i = 0; i < n; ++i)
            if (l[i] < 0 || l[i] >= n_clusters) throw std::invalid_argument("init_labels must lie in [0, n_clusters)");
        }
        rc::NLROptions opt = options(tol, max_iter, beta0, threads, dual_c, dual_bb);
        if (settle_n_init < 0) throw std::invalid_argument("settle_n_init=" + std::to_string(settle_n_init) + " must be >= 0");
        opt.settle_n_init = settle_n_init;
        opt.settle_seed = settle_seed;
        opt.settle_infeas = settle_infeas;
        if (stall_checks < 0) throw std::invalid_argument("stall_checks=" + std::to_string(stall_checks) + " must be >= 0");
        opt.stall_checks = stall_checks;
        if (!(stall_rtol >= 0.0 && stall_rtol < 1.0)) throw std::invalid_argument("stall_rtol must be in [0, 1)");
        opt.stall_rtol = stall_rtol;
        if (!init_labels.is_none()) opt.init_labels = lab.data();
        opt.init_weight = init_weight;
        opt.report = make_report(progress, progress_interval);
        const api::PengWeiFn solve = ridgeline::bind::use_avx2(isa) ? &api::peng_wei_avx2 : &api::peng_wei_baseline;
        api::PengWeiOut res;
        {
          py::gil_scoped_release release;
          res = solve(xd, n, p, n_clusters, rank, seed, opt, ridgeline::bind::python_poll());
        }
        PengWeiSolution o;
        o.U = ridgeline::bind::frozen_array(res.U.data(), {static_cast<py::ssize_t>(res.rows), static_cast<py::ssize_t>(res.cols)});
        o.y = ridgeline::bind::frozen_array(res.y);
        copy_scalars(o, res);
        o.scale2 = res.scale2;
        o.isa = res.isa;
        o.settled = res.settled;
        o.stalled = res.stalled;
        o.best_rounding = ridgeline::bind::frozen_array(res.best_rounding);
        o.best_cost = res.best_cost;
        o.best_iter = res.best_iter;
        return o;
      },
      py::arg("X"), py::arg("n_clusters"), py::arg("rank"), py::arg("seed"), py::arg("tol") = 1e-6,
      py::arg("max_iter") = 20000, py::arg("beta0") = -1.0, py::arg("n_threads") = 1, py::arg("dual_c") = 1.0,
      py::arg("dual_bb") = 100.0, py::arg("isa") = "auto", py::arg("progress") = py::none(), py::arg("progress_interval") = 0.1,
      py::arg("settle_n_init") = 0, py::arg("settle_seed") = 0, py::arg("settle_infeas") = 1e-2,
      py::arg("init_labels") = py::none(), py::arg("init_weight") = 0.5, py::arg("stall_checks") = 0, py::arg("stall_rtol") = 1e-9,
      "Peng-Wei K-means SDP by the non-negative low-rank augmented Lagrangian; returns a PengWeiSolution. isa: 'auto' "
      "(AVX2 + FMA where the CPU has them), 'avx2' or 'baseline'; the two builds may differ in the last bits. "
      "settle_n_init > 0: stop early (result 'settled') once three roundings in a row (kmeans with that many "
      "starts and settle_seed) give one partition that U U^T is not close to (a non-tight solution). "
      "init_labels: warm start at the block matrix of these labels (with the least-squares multiplier). "
      "stall_checks > 0 (with settle_n_init): also stop (settled and stalled) once the rounding refined by Lloyd's "
      "iterations on X has not lowered the best K-means cost seen by more than a relative stall_rtol at that many "
      "roundings in a row; the best "
      "rounding is returned (best_rounding, best_cost)");
  m.def("cpu_has_avx2_fma", &ridgeline::bind::cpu_has_avx2_fma,
        "whether peng_wei(isa='auto') uses the AVX2 + FMA build on this CPU");
  m.def(
      "la_sdp",
      [](const ridgeline::bind::farray& X, const ridgeline::bind::farray& covariances, const ridgeline::bind::farray& U0,
         int rank, double tol, long max_iter, double beta0, int threads, const py::object& progress, double progress_interval,
         long settle_every, double settle_infeas, const std::string& isa) {
        const rc::Mat Xm = to_mat(X, "X");
        ridgeline::bind::require_ndim(covariances, 3, "covariances");
        const py::ssize_t K = covariances.shape(0), p = covariances.shape(1);
        if (p != Xm.cols() || covariances.shape(2) != p)
          throw std::invalid_argument("covariances must have shape (n_clusters, n_features, n_features)");
        std::vector<double> covs(static_cast<std::size_t>(K * p * p));
        for (py::ssize_t k = 0; k < K; ++k)
          for (py::ssize_t i = 0; i < p; ++i)
            for (py::ssize_t j = 0; j < p; ++j) {
              const double v = covariances.at(k, i, j);
              if (!std::isfinite(v)) throw std::invalid_argument("covariances contain NaN or infinity");
              covs[static_cast<std::size_t>((k * p + i) * p + j)] = v;
            }
        const rc::Mat U = to_mat(U0, "U0");
        if (rank < 1) throw std::invalid_argument("rank=" + std::to_string(rank) + " must be >= 1");
        if (K < 1) throw std::invalid_argument("covariances must hold at least one matrix");
        if (U.rows() != Xm.rows() || U.cols() != static_cast<Eigen::Index>(K) * rank)
          throw std::invalid_argument("U0 must have shape (n_samples, n_clusters * rank)");
        rc::NLROptions opt = options(tol, max_iter, beta0, threads);
        opt.report = make_report(progress, progress_interval);
        if (settle_every < 0) throw std::invalid_argument("settle_every=" + std::to_string(settle_every) + " must be >= 0");
        opt.label_settle_every = settle_every;
        opt.settle_infeas = settle_infeas;
        const api::LAFn solve = ridgeline::bind::use_avx2(isa) ? &api::la_sdp_avx2 : &api::la_sdp_baseline;
        api::LAOut res;
        {
          py::gil_scoped_release release;
          res = solve(Xm.data(), static_cast<long>(Xm.rows()), static_cast<long>(Xm.cols()), covs.data(),
                      static_cast<int>(K), U.data(), rank, opt, ridgeline::bind::python_poll());
        }
        SdpSolution o;
        o.U = ridgeline::bind::frozen_array(res.U.data(), {static_cast<py::ssize_t>(res.rows), static_cast<py::ssize_t>(res.cols)});
        o.y = ridgeline::bind::frozen_array(res.y);
        copy_scalars(o, res);
        o.settled = res.settled;
        return o;
      },
      py::arg("X"), py::arg("covariances"), py::arg("U0"), py::arg("rank") = 2, py::arg("tol") = 1e-6,
      py::arg("max_iter") = 20000, py::arg("beta0") = -1.0, py::arg("n_threads") = 1, py::arg("progress") = py::none(), py::arg("progress_interval") = 0.1,
      py::arg("settle_every") = 0, py::arg("settle_infeas") = 1e-2, py::arg("isa") = "auto",
      "likelihood-adjusted SDP on K factor blocks, warm-started at U0; returns an SdpSolution. settle_every > 0: "
      "stop early (result 'settled') once the block labels argmax_k (U_k U_k^T 1)_i, read every settle_every "
      "iterations below infeasibility settle_infeas, are the same three readings in a row. isa: as for peng_wei");
  m.def(
      "round_factor",
      [](const ridgeline::bind::farray& U, int n_clusters) {
        if (n_clusters < 1) throw std::invalid_argument("n_clusters=" + std::to_string(n_clusters) + " must be >= 1");
        ridgeline::bind::require_ndim(U, 2, "U");
        if (U.shape(0) < 1 || U.shape(1) < 1) throw std::invalid_argument("U must have at least one row and one column");
        return from_mat(rc::round_factor(to_mat(U, "U"), n_clusters));
      },
      py::arg("U"), py::arg("n_clusters"), "top n_clusters left singular vectors of U (n x K)");
  m.def(
      "kmeans",
      [](const ridgeline::bind::farray& Y, int n_clusters, int n_init, int max_iter, std::uint64_t seed, int threads) {
        const rc::Mat Ym = to_mat(Y, "Y");
        rc::KMeansResult res;
        {
          py::gil_scoped_release release;
          res = rc::kmeans(Ym, n_clusters, n_init, max_iter, seed, threads);
        }
        if (!std::isfinite(res.inertia))
          throw std::invalid_argument("Y is too large in magnitude: the squared distances overflow (rescale it)");
        KMeansResult o;
        o.labels = py::array_t<std::int64_t>(static_cast<py::ssize_t>(res.labels.size()));
        std::copy(res.labels.begin(), res.labels.end(), o.labels.mutable_data());
        ridgeline::bind::freeze(o.labels);
        o.centers = from_mat(res.centers);
        ridgeline::bind::freeze(o.centers);
        o.inertia = res.inertia;
        return o;
      },
      py::arg("Y"), py::arg("n_clusters"), py::arg("n_init") = 10, py::arg("max_iter") = 300, py::arg("seed") = 0,
      py::arg("n_threads") = 1, "k-means++ (Philox) then Lloyd, best of n_init; returns a KMeansResult");
  m.def(
      "lloyd",
      [](const ridgeline::bind::farray& X, const ridgeline::bind::farray& centers, int max_iter) {
        ridgeline::bind::require_ndim(X, 2, "X");
        const rc::Mat C = to_mat(centers, "centers");
        if (C.cols() != static_cast<Eigen::Index>(X.shape(1)) || C.rows() < 1)
          throw std::invalid_argument("centers must have shape (n_clusters, n_features)");
        if (max_iter < 1) throw std::invalid_argument("max_iter=" + std::to_string(max_iter) + " must be >= 1");
        const Eigen::Map<const rc::Mat> Xm(X.data(), X.shape(0), X.shape(1));  // read in place
        rc::LloydResult res;
        {
          py::gil_scoped_release release;
          res = rc::lloyd(Xm, C, max_iter);
        }
        py::array_t<std::int64_t> lab(static_cast<py::ssize_t>(res.labels.size()));
        std::copy(res.labels.begin(), res.labels.end(), lab.mutable_data());
        return py::make_tuple(lab, from_mat(res.centers), res.cost, res.n_iter);
      },
      py::arg("X"), py::arg("centers"), py::arg("max_iter") = 300,
      "Lloyd's iterations from centers until the labels repeat; returns (labels, centers, cost, n_iter) "
      "(an empty cluster takes the point farthest from its centre)");
}
