// The nested sampler's result types (read-only, picklable; results.hpp): what
// _core.nested returns instead of dicts and tuples.  Included by nested.cpp only.
#pragma once

#include "results.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ridgeline/nested/ellipsoid.hpp"
#include "ridgeline/nested/sampler.hpp"
#include "ridgeline/nested/slice.hpp"

namespace ridgeline::bind::nested_results {

namespace nested = ridgeline::nested;

// The slice sampler's adaptation statistics (SamplerState::slice_stats, layout in slice.hpp).
struct SliceStats {
  bool recorded = false;  // whether the slice sampler has stored statistics (false before its first step)
  double window_n = 0.0, sum_a = 0.0, sum_aa = 0.0;
  std::int64_t dir_calls = 0, rad_calls = 0, steps = 0;
  double corr_1 = 0.0, corr_k = 0.0;
  std::int64_t windows = 0;
  double fresh_tries = 0.0, fresh_ok = 0.0;
  std::int64_t fresh_calls = 0, fresh_starts = 0;
  py::array_t<double> moments = frozen_array<double>(nullptr, {0, 3});  // (K, 3): sum b, sum b^2, sum a b
};

struct SamplerState {
  py::array_t<double> dead_u, dead_x, dead_logl, dead_birth, dead_logvol;
  py::array_t<int> dead_nlive;
  py::array_t<double> live_u, live_x, live_logl, live_birth;
  double logvol = 0.0, logz = 0.0;
  std::int64_t niter = 0, ncall = 0;
  int nbound = 0;
  bool initialized = false, slice_active = false;
  std::int64_t slice_calls = 0, slice_replacements = 0;
  int slice_nsteps = 0;
  SliceStats slice_stats;
};

struct Ellipsoid {
  py::array_t<double> center, shape, frame;
  double logvol = 0.0;
};

struct Counters {
  std::int64_t niter = 0, ncall = 0;
  double logz = 0.0;
};

struct Draw {
  py::array_t<double> u, x, logl;
};

struct Evaluation {
  py::array_t<double> x, logl;
};

struct Weights {
  py::array_t<double> logvol, logwt;
};

// A run as one sequence: the dead points in order of death, then the live
// points sorted by log-likelihood (stable: ties in index order).  Writeable
// arrays, built once (the result's arrays, without a copy of the state first).
struct RunArrays {
  py::array_t<double> u, x, logl, birth;
  py::array_t<int> nlive;  // of the dead part
  std::int64_t nfinal = 0;
  double logvol_end = 0.0;
};

// A new (n, d) float64 array whose buffer comes from the BufferCache and goes
// back to it when numpy frees the array (the result arrays of repeated runs
// reuse touched memory).
inline py::array_t<double> cached_array(py::ssize_t n, py::ssize_t d) {
  const std::size_t bytes = static_cast<std::size_t>(n) * static_cast<std::size_t>(d) * sizeof(double);
  void* p = BufferCache::instance().take(bytes);
  py::capsule owner(p, [](void* q) { BufferCache::instance().give(q); });
  return py::array_t<double>({n, d}, static_cast<double*>(p), owner);
}

inline RunArrays run_arrays(const nested::SamplerState& s) {
  const auto d = static_cast<std::size_t>(s.settings.ndim);
  const std::size_t nd = s.dead_logl.size();
  const auto nl = static_cast<std::size_t>(s.live_logl.size());
  std::vector<std::size_t> order(nl);
  for (std::size_t i = 0; i < nl; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&s](std::size_t a, std::size_t b) {
    return s.live_logl[static_cast<Eigen::Index>(a)] < s.live_logl[static_cast<Eigen::Index>(b)];
  });
  const auto n = static_cast<py::ssize_t>(nd + nl), dd = static_cast<py::ssize_t>(d);
  RunArrays r;
  r.u = cached_array(n, dd);
  r.x = cached_array(n, dd);
  r.logl = py::array_t<double>(n);
  r.birth = py::array_t<double>(n);
  double *u = r.u.mutable_data(), *x = r.x.mutable_data(), *l = r.logl.mutable_data(), *b = r.birth.mutable_data();
  std::copy(s.dead_u.begin(), s.dead_u.end(), u);
  std::copy(s.dead_x.begin(), s.dead_x.end(), x);
  std::copy(s.dead_logl.begin(), s.dead_logl.end(), l);
  std::copy(s.dead_birth.begin(), s.dead_birth.end(), b);
  for (std::size_t k = 0; k < nl; ++k) {
    const auto i = static_cast<Eigen::Index>(order[k]);
    std::copy_n(s.live_u.row(i).data(), d, u + (nd + k) * d);
    std::copy_n(s.live_x.row(i).data(), d, x + (nd + k) * d);
    l[nd + k] = s.live_logl[i];
    b[nd + k] = s.live_birth[i];
  }
  r.nlive = py::array_t<int>(static_cast<py::ssize_t>(nd));
  std::copy(s.dead_nlive.begin(), s.dead_nlive.end(), r.nlive.mutable_data());
  r.nfinal = static_cast<std::int64_t>(nl);
  r.logvol_end = s.logvol;
  return r;
}

inline SliceStats slice_stats(const std::vector<double>& v) {
  SliceStats r;
  if (v.size() < static_cast<std::size_t>(nested::kStatHeader)) return r;
  auto i64 = [&v](int k) { return static_cast<std::int64_t>(v[static_cast<std::size_t>(k)]); };
  auto f = [&v](int k) { return v[static_cast<std::size_t>(k)]; };
  r.recorded = true;
  r.window_n = f(nested::kStatN);
  r.sum_a = f(nested::kStatA);
  r.sum_aa = f(nested::kStatAA);
  r.dir_calls = i64(nested::kStatDirCalls);
  r.rad_calls = i64(nested::kStatRadCalls);
  r.steps = i64(nested::kStatSteps);
  r.corr_1 = f(nested::kStatCorr1);
  r.corr_k = f(nested::kStatCorrK);
  r.windows = i64(nested::kStatWindows);
  r.fresh_tries = f(nested::kStatFreshTries);
  r.fresh_ok = f(nested::kStatFreshOk);
  r.fresh_calls = i64(nested::kStatFreshCalls);
  r.fresh_starts = i64(nested::kStatFreshStarts);
  const auto k = static_cast<py::ssize_t>((v.size() - nested::kStatHeader) / 3);
  r.moments = frozen_array(v.data() + nested::kStatHeader, {k, 3});
  return r;
}

inline SamplerState sampler_state(const nested::SamplerState& s) {
  const auto d = static_cast<py::ssize_t>(s.settings.ndim);
  const auto nd = static_cast<py::ssize_t>(s.dead_logl.size());
  const auto nl = static_cast<py::ssize_t>(s.live_logl.size());
  SamplerState r;
  r.dead_u = frozen_array(s.dead_u.data(), {nd, d});
  r.dead_x = frozen_array(s.dead_x.data(), {nd, d});
  r.dead_logl = frozen_array(s.dead_logl);
  r.dead_birth = frozen_array(s.dead_birth);
  r.dead_logvol = frozen_array(s.dead_logvol);
  r.dead_nlive = frozen_array(s.dead_nlive);
  r.live_u = frozen_array(s.live_u.data(), {static_cast<py::ssize_t>(s.live_u.rows()), d});
  r.live_x = frozen_array(s.live_x.data(), {static_cast<py::ssize_t>(s.live_x.rows()), d});
  r.live_logl = frozen_array(s.live_logl.data(), {nl});
  r.live_birth = frozen_array(s.live_birth.data(), {static_cast<py::ssize_t>(s.live_birth.size())});
  r.logvol = s.logvol;
  r.logz = s.logz;
  r.niter = s.niter;
  r.ncall = s.ncall;
  r.nbound = static_cast<int>(s.use_bound ? s.bound.ells.size() : 0);
  r.initialized = s.initialized;
  r.slice_active = s.slice_active;
  r.slice_calls = s.slice_calls;
  r.slice_replacements = s.slice_replacements;
  r.slice_nsteps = s.slice_nsteps;
  r.slice_stats = slice_stats(s.slice_stats);
  return r;
}

inline std::vector<Ellipsoid> ellipsoids(const nested::EllipsoidUnion& u) {
  std::vector<Ellipsoid> out;
  for (const auto& e : u.ells) {
    Ellipsoid r;
    const auto d = static_cast<py::ssize_t>(e.center.size());
    r.center = frozen_array(e.center.data(), {d});
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> shape = e.shape;
    r.shape = frozen_array(shape.data(), {static_cast<py::ssize_t>(shape.rows()), static_cast<py::ssize_t>(shape.cols())});
    r.logvol = e.logvol;
    r.frame = frozen_array(u.frame.data(), {static_cast<py::ssize_t>(u.frame.size())});
    out.push_back(std::move(r));
  }
  return out;
}

// Freeze the arrays of a freshly built result (those made by pybind11, not frozen_array).
template <class... A>
void freeze_all(A&... a) {
  (freeze(a), ...);
}

inline void bind(py::module_& m) {
  using ridgeline::bind::field;
  using ridgeline::bind::result_class;
  result_class<SliceStats>(
      m, "SliceStats", "the slice sampler's adaptation statistics (read-only)",
      field("recorded", &SliceStats::recorded, "whether the slice sampler has stored statistics yet"),
      field("window_n", &SliceStats::window_n, "replacements in the current adaptation window"),
      field("sum_a", &SliceStats::sum_a, "sum of the start ranks a (fractions of the live set) in the window"),
      field("sum_aa", &SliceStats::sum_aa, "sum of a^2 in the window"),
      field("dir_calls", &SliceStats::dir_calls, "likelihood calls of directional steps (whole run)"),
      field("rad_calls", &SliceStats::rad_calls, "likelihood calls of radial steps (whole run)"),
      field("steps", &SliceStats::steps, "slice steps (whole run)"),
      field("corr_1", &SliceStats::corr_1, "rank correlation after one step, last window"),
      field("corr_k", &SliceStats::corr_k, "rank correlation after K steps, last window"),
      field("windows", &SliceStats::windows, "adaptation windows completed"),
      field("fresh_tries", &SliceStats::fresh_tries, "draws from the bound for fresh starts (decayed count)"),
      field("fresh_ok", &SliceStats::fresh_ok, "of which accepted (decayed count)"),
      field("fresh_calls", &SliceStats::fresh_calls, "likelihood calls of fresh-start draws (whole run)"),
      field("fresh_starts", &SliceStats::fresh_starts, "replacements that started fresh (whole run)"),
      field("moments", &SliceStats::moments, "(K, 3): sum b, sum b^2, sum a b of the rank after k = 1..K steps"));
  result_class<SamplerState>(
      m, "SamplerState", "a copy of the sampler's dead and live points and counters (read-only)",
      field("dead_u", &SamplerState::dead_u, "(n_dead, ndim) unit-cube coordinates, in order of death"),
      field("dead_x", &SamplerState::dead_x, "(n_dead, ndim) physical coordinates"),
      field("dead_logl", &SamplerState::dead_logl, "(n_dead,) log-likelihoods"),
      field("dead_birth", &SamplerState::dead_birth, "(n_dead,) birth contours"),
      field("dead_logvol", &SamplerState::dead_logvol, "(n_dead,) log prior volumes at death"),
      field("dead_nlive", &SamplerState::dead_nlive, "(n_dead,) live points when each died"),
      field("live_u", &SamplerState::live_u, "(nlive, ndim) unit-cube coordinates"),
      field("live_x", &SamplerState::live_x, "(nlive, ndim) physical coordinates"),
      field("live_logl", &SamplerState::live_logl, "(nlive,) log-likelihoods"),
      field("live_birth", &SamplerState::live_birth, "(nlive,) birth contours"),
      field("logvol", &SamplerState::logvol, "log prior volume inside the current contour"),
      field("logz", &SamplerState::logz, "running log evidence"), field("niter", &SamplerState::niter, "iterations"),
      field("ncall", &SamplerState::ncall, "likelihood calls"),
      field("nbound", &SamplerState::nbound, "ellipsoids of the current bound (0 before the first)"),
      field("initialized", &SamplerState::initialized, "whether the live points have been drawn"),
      field("slice_active", &SamplerState::slice_active, "whether replacements are drawn by slice sampling"),
      field("slice_calls", &SamplerState::slice_calls, "likelihood calls of slice sampling"),
      field("slice_replacements", &SamplerState::slice_replacements, "replacements drawn by slice sampling"),
      field("slice_nsteps", &SamplerState::slice_nsteps, "current number of slice steps per replacement"),
      field("slice_stats", &SamplerState::slice_stats, "the slice sampler's adaptation statistics"));
  result_class<Ellipsoid>(m, "Ellipsoid", "one ellipsoid of a bound: {x : (x - center)^T shape^-1 (x - center) <= 1}",
                          field("center", &Ellipsoid::center, "(ndim,) center"),
                          field("shape", &Ellipsoid::shape, "(ndim, ndim) shape matrix C (the covariance-like matrix; its inverse defines the ellipsoid)"),
                          field("logvol", &Ellipsoid::logvol, "log volume"),
                          field("frame", &Ellipsoid::frame,
                                "(ndim,) lower edges of the box [frame, frame + 1) the bound lives in (periodic "
                                "dimensions are cut at their largest gap; the centre is in these coordinates), "
                                "or (0,) for the unit cube"));
  result_class<Counters>(m, "Counters", "iteration counters of a run", field("niter", &Counters::niter, "iterations"),
                         field("ncall", &Counters::ncall, "likelihood calls"),
                         field("logz", &Counters::logz, "running log evidence"));
  result_class<Draw>(m, "Draw", "new points drawn above a likelihood contour",
                     field("u", &Draw::u, "(m, ndim) unit-cube coordinates"),
                     field("x", &Draw::x, "(m, ndim) physical coordinates"),
                     field("logl", &Draw::logl, "(m,) log-likelihoods"));
  result_class<Evaluation>(m, "Evaluation", "prior transform and likelihood at given unit-cube points",
                           field("x", &Evaluation::x, "(m, ndim) physical coordinates"),
                           field("logl", &Evaluation::logl, "(m,) log-likelihoods"));
  result_class<RunArrays>(m, "RunArrays", "a run as one sequence: dead points, then the live points sorted by logl",
                          field("u", &RunArrays::u, "(n, ndim) unit-cube coordinates"),
                          field("x", &RunArrays::x, "(n, ndim) physical coordinates"),
                          field("logl", &RunArrays::logl, "(n,) log-likelihoods"),
                          field("birth", &RunArrays::birth, "(n,) log-likelihood contours the points were drawn above"),
                          field("nlive", &RunArrays::nlive, "(n - nfinal,) live points at each death"),
                          field("nfinal", &RunArrays::nfinal, "number of final live points (the tail)"),
                          field("logvol_end", &RunArrays::logvol_end, "log prior volume when the run stopped"));
  result_class<Weights>(m, "Weights", "expected log volumes and log weights of a run",
                        field("logvol", &Weights::logvol, "(n,) expected log prior volumes"),
                        field("logwt", &Weights::logwt, "(n,) log weights"));
}

}  // namespace ridgeline::bind::nested_results
