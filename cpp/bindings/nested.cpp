// Thin bindings of the nested sampler: the run loop with the GIL released and
// accessors for the plain-data state.  The evaluator that calls the likelihood
// (built-in C++ problem, C function pointer, scalar or vectorised Python) is in
// nested_evaluator.cpp.
#include "common.hpp"

#include <cstring>
#include <memory>

#include "ridgeline/nested/problems.hpp"
#include "ridgeline/nested/sampler.hpp"
#include "ridgeline/nested/slice.hpp"
#include "ridgeline/nested/checkpoint.hpp"
#include "nested_results.hpp"

#include "gil.hpp"
#include "nested_evaluator.hpp"

namespace {

namespace nested = ridgeline::nested;
namespace results = ridgeline::bind::nested_results;
using ridgeline::bind::CLogLike;
using ridgeline::bind::LKind;
using ridgeline::bind::TKind;

// --- the Python-facing sampler ---------------------------------------------

nested::BoundKind parse_bound(const std::string& b) {
  if (b == "none") return nested::BoundKind::none;
  if (b == "single") return nested::BoundKind::single;
  if (b == "multi") return nested::BoundKind::multi;
  throw std::invalid_argument("bound='" + b + "' is unknown; expected one of 'none', 'single', 'multi'");
}

// Per-dimension periodic flags from a list of dimension indices.
std::vector<std::uint8_t> periodic_flags(const std::vector<int>& dims, int ndim) {
  std::vector<std::uint8_t> flags;
  if (dims.empty()) return flags;
  flags.assign(static_cast<std::size_t>(std::max(ndim, 0)), 0);
  for (const int i : dims) {
    if (i < 0 || i >= ndim)
      throw std::invalid_argument("periodic dimension " + std::to_string(i) + " is out of range for ndim=" +
                                  std::to_string(ndim));
    flags[static_cast<std::size_t>(i)] = 1;
  }
  return flags;
}

class PySampler {
  // Set while run / run_until / draw_above / evaluate execute: a callback of this
  // sampler that calls one of its mutating methods (which would free or resize
  // what the running loop uses) gets a RuntimeError instead.
  bool busy_ = false;
  struct Busy {
    bool& b;
    explicit Busy(bool& f) : b(f) { b = true; }
    ~Busy() { b = false; }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
  };
  void not_busy(const char* method) const {
    if (busy_)
      throw std::runtime_error(std::string(method) +
                               "() called while this sampler is running (from one of its own callbacks)");
  }

 public:
  PySampler(int ndim, int nlive, std::uint64_t seed, const std::string& bound, double enlarge, int update_interval,
            double first_update_eff, int batch_min, int batch_max, const std::vector<int>& periodic) {
    nested::Settings st;
    st.periodic = periodic_flags(periodic, ndim);
    st.ndim = ndim;
    st.nlive = nlive;
    st.bound = parse_bound(bound);
    st.enlarge = enlarge;
    st.update_interval = update_interval;
    st.first_update_eff = first_update_eff;
    st.batch_min = batch_min;
    st.batch_max = batch_max;
    sampler_ = std::make_unique<nested::Sampler>(st, seed);
    ev_.d = ndim;
    ev_.lo.assign(static_cast<std::size_t>(ndim), 0.0);
    ev_.scale.assign(static_cast<std::size_t>(ndim), 1.0);
  }

  void set_loglike_builtin(const std::string& name) {
    not_busy("set_loglike_builtin");
    ev_.problem = nested::BuiltinProblem::make(name, ev_.d);
    ev_.lkind = LKind::builtin;
    ev_.lfn = py::none();
  }
  void set_loglike_cfunc(std::uintptr_t address, std::uintptr_t data) {
    not_busy("set_loglike_cfunc");
    if (address == 0) throw std::invalid_argument("address=0 is not a valid function pointer");
    ev_.cfn = reinterpret_cast<CLogLike>(address);
    ev_.cdata = reinterpret_cast<void*>(data);
    ev_.lkind = LKind::cfunc;
    ev_.lfn = py::none();
  }
  void set_loglike_python(py::object fn, bool vectorized) {
    not_busy("set_loglike_python");
    if (!PyCallable_Check(fn.ptr())) throw py::type_error("loglike must be callable");
    ev_.lfn = std::move(fn);
    ev_.lkind = vectorized ? LKind::py_vector : LKind::py_scalar;
  }
  void set_transform_affine(const std::vector<double>& lo, const std::vector<double>& hi) {
    not_busy("set_transform_affine");
    if (lo.size() != static_cast<std::size_t>(ev_.d) || hi.size() != lo.size())
      throw std::invalid_argument("lo and hi must have length ndim=" + std::to_string(ev_.d));
    for (std::size_t i = 0; i < lo.size(); ++i) {
      ev_.lo[i] = lo[i];
      ev_.scale[i] = hi[i] - lo[i];
    }
    ev_.tkind = TKind::affine;
    ev_.tfn = py::none();
  }
  void set_transform_builtin() {
    not_busy("set_transform_builtin");
    if (ev_.lkind != LKind::builtin || ev_.problem.lo.size() != static_cast<std::size_t>(ev_.d))
      throw std::invalid_argument("set_transform_builtin needs a built-in likelihood of ndim=" + std::to_string(ev_.d) +
                                  " (call set_loglike_builtin first)");
    ev_.lo = ev_.problem.lo;
    ev_.scale.resize(ev_.lo.size());
    for (std::size_t i = 0; i < ev_.lo.size(); ++i) ev_.scale[i] = ev_.problem.hi[i] - ev_.problem.lo[i];
    ev_.tkind = TKind::affine;
    ev_.tfn = py::none();
  }
  void set_transform_python(py::object fn, bool vectorized) {
    not_busy("set_transform_python");
    if (!PyCallable_Check(fn.ptr())) throw py::type_error("prior_transform must be callable");
    ev_.tfn = std::move(fn);
    ev_.tkind = vectorized ? TKind::py_vector : TKind::py_scalar;
  }

  std::string run(double dlogz, std::int64_t maxiter, std::int64_t maxcall, py::object progress,
                  std::int64_t progress_every) {
    not_busy("run");
    if (!(dlogz >= 0.0)) throw std::invalid_argument("dlogz=" + std::to_string(dlogz) + " must be >= 0");
    nested::RunLimits lim;
    lim.dlogz = dlogz;
    if (maxiter >= 0) lim.maxiter = maxiter;
    if (maxcall >= 0) lim.maxcall = maxcall;
    nested::ProgressFn pf;
    if (!progress.is_none()) {
      pf = [&progress](const nested::SamplerState& s, double dl) {
        py::gil_scoped_acquire gil;
        progress(s.niter, s.ncall, s.logz, dl);
      };
    }
    nested::StopReason reason;
    released([&] { reason = sampler_->run(ev_, lim, ridgeline::bind::python_poll(), pf, progress_every); });
    return nested::stop_reason_name(reason);
  }

  // How replacements are drawn: 'unif' (bounded rejection), 'slice' or 'auto'.
  void set_sample(const std::string& kind, int slice_steps, double chord_scale, int slice_dim,
                  const std::string& slice_start) {
    not_busy("set_sample");
    nested::SliceSettings ss;
    ss.nsteps = slice_steps;
    ss.chord_scale = chord_scale;
    if (slice_start != "auto" && slice_start != "live")
      throw std::invalid_argument("slice_start='" + slice_start + "' is unknown; expected 'auto' or 'live'");
    ss.fresh = slice_start == "auto";
    if (kind == "unif") {
      sampler_->set_proposal(std::make_unique<nested::RejectionProposal>());
    } else if (kind == "slice") {
      sampler_->state().slice_active = true;
      sampler_->set_proposal(std::make_unique<nested::SliceProposal>(ss));
    } else if (kind == "auto") {
      sampler_->set_proposal(std::make_unique<nested::AutoProposal>(ss, slice_dim));
    } else {
      throw std::invalid_argument("sample='" + kind + "' is unknown; expected one of 'auto', 'unif', 'slice'");
    }
  }

  // --- dynamic nested sampling (batches of live points) ---
  void set_live(const ridgeline::bind::farray& u, const ridgeline::bind::farray& x, const ridgeline::bind::farray& logl,
                const ridgeline::bind::farray& birth, double logvol) {
    not_busy("set_live");
    ridgeline::bind::require_ndim(u, 2, "u");
    ridgeline::bind::require_ndim(x, 2, "x");
    ridgeline::bind::require_ndim(logl, 1, "logl");
    ridgeline::bind::require_ndim(birth, 1, "birth");
    nested::RowMatrix mu(u.shape(0), u.shape(1)), mx(x.shape(0), x.shape(1));
    if (u.size() > 0) std::memcpy(mu.data(), u.data(), static_cast<std::size_t>(u.size()) * sizeof(double));
    if (x.size() > 0) std::memcpy(mx.data(), x.data(), static_cast<std::size_t>(x.size()) * sizeof(double));
    const Eigen::VectorXd vl = Eigen::Map<const Eigen::VectorXd>(logl.data(), logl.shape(0));
    const Eigen::VectorXd vb = Eigen::Map<const Eigen::VectorXd>(birth.data(), birth.shape(0));
    sampler_->set_live(mu, mx, vl, vb, logvol);
  }

  void set_live_logl(const ridgeline::bind::farray& logl) {
    not_busy("set_live_logl");
    ridgeline::bind::require_ndim(logl, 1, "logl");
    sampler_->set_live_logl(Eigen::Map<const Eigen::VectorXd>(logl.data(), logl.shape(0)));
  }

  results::Draw draw_above(double lstar, std::size_t m) {
    not_busy("draw_above");
    const auto d = static_cast<py::ssize_t>(ev_.d);
    const auto pm = static_cast<py::ssize_t>(m);
    py::array_t<double> u({pm, d}), x({pm, d}), logl(pm);
    double* pu = u.mutable_data();
    double* px = x.mutable_data();
    double* pl = logl.mutable_data();
    released([&] { sampler_->draw_above(ev_, lstar, m, pu, px, pl, ridgeline::bind::python_poll()); });
    results::freeze_all(u, x, logl);
    return {u, x, logl};
  }

  std::string run_until(double logl_stop, double dlogz, std::int64_t maxcall) {
    not_busy("run_until");
    nested::RunLimits lim;
    lim.dlogz = dlogz;
    lim.logl_stop = logl_stop;
    if (maxcall >= 0) lim.maxcall = maxcall;
    nested::StopReason reason = nested::StopReason::maxiter;
    released([&] { reason = sampler_->run(ev_, lim, ridgeline::bind::python_poll()); });
    return nested::stop_reason_name(reason);
  }

  // Run body with the GIL released (the evaluator re-takes it for Python calls).
  template <class F>
  void released(F&& body) {
    ridgeline::bind::ReleasedGil release(ev_.tstate);
    const Busy busy(busy_);
    body();
  }

  double delta_logz() const { return sampler_->delta_logz(); }

  std::int64_t niter() const { return sampler_->state().niter; }

  // (niter, ncall, logz) without copying the points (progress reports).
  results::Counters counters() const {
    const nested::SamplerState& s = sampler_->state();
    return {s.niter, s.ncall, s.logz};
  }

  void set_threads(int n) {
    not_busy("set_threads");
    ev_.set_threads(n);
  }

  // The complete state as bytes (checkpoint payload) and its restoration.
  py::bytes dump_state() const { return py::bytes(nested::dump_state(sampler_->state())); }
  void load_state(const py::bytes& data) {
    not_busy("load_state");
    const std::string s = data;
    try {
      nested::load_state(sampler_->state(), s);
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(std::string("invalid sampler state: ") + e.what());
    }
  }

  // Evaluate prior transform and likelihood at the rows of u (no counters change).
  results::Evaluation evaluate(const ridgeline::bind::farray& u) {
    not_busy("evaluate");
    ridgeline::bind::require_ndim(u, 2, "u");
    if (u.shape(1) != ev_.d) throw std::invalid_argument("u must have ndim=" + std::to_string(ev_.d) + " columns");
    const auto m = static_cast<std::size_t>(u.shape(0));
    py::array_t<double> x({u.shape(0), u.shape(1)}), logl(u.shape(0));
    const Busy busy(busy_);
    ev_.evaluate(u.data(), m, x.mutable_data(), logl.mutable_data());
    results::freeze_all(x, logl);
    return {x, logl};
  }

  results::SamplerState state() const { return results::sampler_state(sampler_->state()); }
  results::RunArrays run_arrays() const { return results::run_arrays(sampler_->state()); }

  // The current bound: its ellipsoids (none before the first bound).
  std::vector<results::Ellipsoid> bound() const {
    const nested::SamplerState& s = sampler_->state();
    if (!s.use_bound) return {};
    return results::ellipsoids(s.bound);
  }

 private:
  std::unique_ptr<nested::Sampler> sampler_;
  ridgeline::bind::NestedEvaluator ev_;
};

nested::RunSequence make_sequence(const ridgeline::bind::farray& logl,
                                  const py::array_t<int, py::array::c_style | py::array::forcecast>& nlive,
                                  std::size_t nfinal, double logvol_end) {
  ridgeline::bind::require_ndim(logl, 1, "logl");
  ridgeline::bind::require_ndim(nlive, 1, "nlive");
  const auto n = static_cast<std::size_t>(logl.shape(0));
  if (nfinal > n) throw std::invalid_argument("nfinal=" + std::to_string(nfinal) + " must be <= len(logl)");
  if (static_cast<std::size_t>(nlive.shape(0)) != n - nfinal)
    throw std::invalid_argument("nlive must have length len(logl) - nfinal");
  nested::RunSequence r;
  r.logl.assign(logl.data(), logl.data() + n);
  r.nlive.assign(nlive.data(), nlive.data() + (n - nfinal));
  for (int v : r.nlive)
    if (v < 1) throw std::invalid_argument("nlive values must be >= 1");
  for (double v : r.logl)
    if (std::isnan(v)) throw std::invalid_argument("logl must not contain nan");
  r.nfinal = nfinal;
  r.logvol_end = logvol_end;
  return r;
}
}  // namespace

void bind_nested(py::module_& m) {
  results::bind(m);
  py::class_<PySampler>(m, "Sampler", "nested sampler state and run loop (private; use ridgeline.nested)")
      .def(py::init<int, int, std::uint64_t, const std::string&, double, int, double, int, int,
                    const std::vector<int>&>(),
           py::arg("ndim"), py::arg("nlive"), py::arg("seed"), py::arg("bound") = "multi", py::arg("enlarge") = 1.25,
           py::arg("update_interval") = 50, py::arg("first_update_eff") = 0.5, py::arg("batch_min") = 1,
           py::arg("batch_max") = 1, py::arg("periodic") = std::vector<int>{})
      .def("set_loglike_builtin", &PySampler::set_loglike_builtin, py::arg("name"))
      .def("set_loglike_cfunc", &PySampler::set_loglike_cfunc, py::arg("address"), py::arg("data") = 0)
      .def("set_loglike_python", &PySampler::set_loglike_python, py::arg("fn"), py::arg("vectorized"))
      .def("set_transform_affine", &PySampler::set_transform_affine, py::arg("lo"), py::arg("hi"))
      .def("set_transform_builtin", &PySampler::set_transform_builtin)
      .def("set_transform_python", &PySampler::set_transform_python, py::arg("fn"), py::arg("vectorized"))
      .def("run", &PySampler::run, py::arg("dlogz"), py::arg("maxiter") = -1, py::arg("maxcall") = -1,
           py::arg("progress") = py::none(), py::arg("progress_every") = 0)
      .def("set_sample", &PySampler::set_sample, py::arg("kind"), py::arg("slice_steps") = 0,
           py::arg("chord_scale") = 1.5, py::arg("slice_dim") = 21, py::arg("slice_start") = "auto")
      .def("set_threads", &PySampler::set_threads, py::arg("n_threads"))
      .def("niter", [](const PySampler& p) { return p.niter(); })
      .def("counters", &PySampler::counters)
      .def("dump_state", &PySampler::dump_state)
      .def("load_state", &PySampler::load_state, py::arg("data"))
      .def("evaluate", &PySampler::evaluate, py::arg("u"))
      .def("delta_logz", &PySampler::delta_logz)
      .def("set_live", &PySampler::set_live, py::arg("u"), py::arg("x"), py::arg("logl"), py::arg("birth"),
           py::arg("logvol"))
      .def("set_live_logl", &PySampler::set_live_logl, py::arg("logl"))
      .def("draw_above", &PySampler::draw_above, py::arg("lstar"), py::arg("m"))
      .def("run_until", &PySampler::run_until, py::arg("logl_stop"), py::arg("dlogz"), py::arg("maxcall") = -1)
      .def("state", &PySampler::state)
      .def("run_arrays", &PySampler::run_arrays)
      .def("bound", &PySampler::bound);

  m.def(
      "simulate_logz",
      [](const ridgeline::bind::farray& logl, const py::array_t<int, py::array::c_style | py::array::forcecast>& nlive,
         std::size_t nfinal, double logvol_end, int nsim, std::uint64_t seed, int block) {
        if (nsim < 1) throw std::invalid_argument("nsim=" + std::to_string(nsim) + " must be >= 1");
        if (block < 0) throw std::invalid_argument("block=" + std::to_string(block) + " must be >= 0 (0: by nlive)");
        const nested::RunSequence r = make_sequence(logl, nlive, nfinal, logvol_end);
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = nested::simulate_logz(r, nsim, seed, block);
        }
        return py::array_t<double>(static_cast<py::ssize_t>(out.size()), out.data());
      },
      py::arg("logl"), py::arg("nlive"), py::arg("nfinal"), py::arg("logvol_end"), py::arg("nsim"), py::arg("seed"),
      py::arg("block") = 0,
      "log Z of nsim runs with redrawn shrinkage factors (dead points in blocks of `block`, 0: ceil(nlive / 16) up to 32)");
  m.def(
      "deterministic_weights",
      [](const ridgeline::bind::farray& logl, const py::array_t<int, py::array::c_style | py::array::forcecast>& nlive,
         std::size_t nfinal, double logvol_end) {
        const nested::RunSequence r = make_sequence(logl, nlive, nfinal, logvol_end);
        std::vector<double> lv, lw;
        nested::deterministic_weights(r, lv, lw);
        return results::Weights{ridgeline::bind::frozen_array(lv), ridgeline::bind::frozen_array(lw)};
      },
      py::arg("logl"), py::arg("nlive"), py::arg("nfinal"), py::arg("logvol_end"),
      "expected log volumes and log weights of a run");
  m.def(
      "fit_bound",
      [](const ridgeline::bind::farray& points, double logpointvol, bool multi, double enlarge, int folds,
         const std::vector<int>& periodic) {
        ridgeline::bind::require_ndim(points, 2, "points");
        if (folds < 0 || folds == 1) throw std::invalid_argument("folds=" + std::to_string(folds) + " must be 0 or >= 2");
        if (points.shape(0) < 1 || points.shape(1) < 1) throw std::invalid_argument("points must be non-empty");
        if (!(enlarge >= 1.0)) throw std::invalid_argument("enlarge=" + std::to_string(enlarge) + " must be >= 1");
        nested::RowMatrix pts(points.shape(0), points.shape(1));
        std::memcpy(pts.data(), points.data(), static_cast<std::size_t>(points.size()) * sizeof(double));
        if (!pts.allFinite()) throw std::invalid_argument("points must be finite");
        const auto d = static_cast<int>(points.shape(1));
        const nested::EllipsoidUnion u =
            nested::fit_bound(pts, logpointvol, multi, enlarge, nested::max_lookahead, folds, periodic_flags(periodic, d));
        return results::ellipsoids(u);
      },
      py::arg("points"), py::arg("logpointvol"), py::arg("multi") = true, py::arg("enlarge") = 1.25,
      py::arg("folds") = 0, py::arg("periodic") = std::vector<int>{},
      "the (multi-)ellipsoid bound of a set of points: a list of Ellipsoid; folds >= 2: enlarged\n"
      "further where a cross-validation with that many folds finds held-out points outside");
  m.def(
      "builtin_loglike",
      [](const std::string& name, const ridgeline::bind::farray& x) {
        ridgeline::bind::require_ndim(x, 2, "x");
        const nested::BuiltinProblem p = nested::BuiltinProblem::make(name, static_cast<int>(x.shape(1)));
        py::array_t<double> out(x.shape(0));
        for (py::ssize_t i = 0; i < x.shape(0); ++i) out.mutable_at(i) = p.loglike(x.data(i, 0));
        return out;
      },
      py::arg("name"), py::arg("x"), "log-likelihood of a built-in problem at the rows of x");
}
