#include "common.hpp"
#include "results.hpp"

#include <memory>
#include <vector>

#include "ridgeline/common/parallel.hpp"
#include "ridgeline/elbo/masked_diffusion.hpp"
#include "ridgeline/elbo/qmc.hpp"

namespace {

using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using u64array = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>;
using ridgeline::bind::farray;

// Hand a std::vector to numpy without copying (a non-writeable array).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  py::array_t<T> a(static_cast<py::ssize_t>(heap->size()), heap->data(), owner);
  ridgeline::bind::freeze(a);
  return a;
}

// The arrays of a masked-diffusion plan (CSR layout of the masked positions).
struct PlanArrays {
  py::array_t<double> t, coef;
  py::array_t<std::int64_t> indptr, indices;
};

PlanArrays plan(const u64array& row_ids, const i64array& pos_ptr, const i64array& pos, std::uint64_t key, int scheme,
               int mask, std::int64_t budget, double t_min, const farray& nodes, const farray& weights,
               int nthreads) {
  namespace e = ridgeline::elbo;
  ridgeline::bind::require_ndim(row_ids, 1, "row_ids");
  ridgeline::bind::require_ndim(pos_ptr, 1, "pos_ptr");
  ridgeline::bind::require_ndim(pos, 1, "pos");
  const std::int64_t batch = row_ids.shape(0);
  ridgeline::require(pos_ptr.shape(0) == batch + 1, "pos_ptr must have batch + 1 entries");
  ridgeline::require(scheme >= 0 && scheme <= 6, "unknown scheme code " + std::to_string(scheme));
  ridgeline::require(mask == 0 || mask == 1, "unknown mask code " + std::to_string(mask));
  const std::int64_t* pp = pos_ptr.data();
  ridgeline::require(pp[0] == 0 && pp[batch] == pos.shape(0), "pos_ptr does not match pos");
  for (std::int64_t b = 0; b < batch; ++b) {
    if (pp[b] > pp[b + 1]) throw std::invalid_argument("pos_ptr must be non-decreasing");
  }
  e::PlanSpec s;
  s.scheme = static_cast<e::Scheme>(scheme);
  s.mask = static_cast<e::MaskKind>(mask);
  s.budget = budget;
  s.key = key;
  s.t_min = t_min;
  s.nodes.assign(nodes.data(), nodes.data() + nodes.size());
  s.weights.assign(weights.data(), weights.data() + weights.size());
  e::PlanOut out;
  {
    py::gil_scoped_release release;
    out = e::make_plan(s, row_ids.data(), pp, pos.data(), batch, ridgeline::resolve_threads(nthreads),
                       ridgeline::bind::python_poll());
  }
  return {to_numpy(std::move(out.t)), to_numpy(std::move(out.coef)), to_numpy(std::move(out.indptr)),
          to_numpy(std::move(out.indices))};
}

py::array_t<double> reduce_terms(const i64array& indptr, const i64array& indices, const farray& coef,
                                 const farray& logp) {
  ridgeline::bind::require_ndim(logp, 2, "logp");
  const std::int64_t rows = logp.shape(0), L = logp.shape(1);
  ridgeline::require(indptr.ndim() == 1 && indptr.shape(0) == rows + 1, "indptr must have rows + 1 entries");
  ridgeline::require(coef.ndim() == 1 && coef.shape(0) == rows, "coef must have one entry per row");
  const std::int64_t* ip = indptr.data();
  ridgeline::require(ip[0] == 0 && ip[rows] == indices.size(), "indptr does not match indices");
  for (std::int64_t j = 0; j < rows; ++j) {
    if (ip[j] > ip[j + 1]) throw std::invalid_argument("indptr must be non-decreasing");
  }
  const std::int64_t* ix = indices.data();
  for (py::ssize_t a = 0; a < indices.size(); ++a) {
    if (ix[a] < 0 || ix[a] >= L) throw std::invalid_argument("masked position out of range of logp");
  }
  py::array_t<double> terms(rows);
  {
    py::gil_scoped_release release;
    ridgeline::elbo::reduce_terms(ip, ix, coef.data(), logp.data(), rows, L, terms.mutable_data());
  }
  return terms;
}

py::array_t<double> sobol_array(std::int64_t n, std::int64_t d, std::uint64_t key, bool scramble, bool normal) {
  ridgeline::require(n >= 1, "n=" + std::to_string(n) + " must be >= 1");
  ridgeline::require(d >= 1 && d <= ridgeline::elbo::kMaxSobolDim,
                     "d=" + std::to_string(d) + " must be in [1, " + std::to_string(ridgeline::elbo::kMaxSobolDim) + "]");
  py::array_t<double> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(d)});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    ridgeline::elbo::sobol_points(n, d, key, scramble, o, normal);
  }
  return out;
}

py::array_t<double> sobol_uniform(std::int64_t n, std::int64_t d, std::uint64_t key, bool scramble) {
  return sobol_array(n, d, key, scramble, false);
}

py::array_t<double> sobol_normal(std::int64_t n, std::int64_t d, std::uint64_t key) {
  return sobol_array(n, d, key, true, true);
}

}  // namespace

void bind_elbo(py::module_& m) {
  using ridgeline::bind::field;
  ridgeline::bind::result_class<PlanArrays>(
      m, "PlanArrays", "the arrays of a masked-diffusion plan, one row per evaluation (read-only)",
      field("t", &PlanArrays::t, "(rows,) masking times"),
      field("coef", &PlanArrays::coef, "(rows,) weight of each evaluation's summed log-probabilities"),
      field("indptr", &PlanArrays::indptr, "(rows + 1,) CSR row pointers into indices"),
      field("indices", &PlanArrays::indices, "masked positions of every row, concatenated"));
  m.def("plan", &plan, py::arg("row_ids"), py::arg("pos_ptr"), py::arg("pos"), py::arg("key"), py::arg("scheme"),
        py::arg("mask"), py::arg("budget"), py::arg("t_min"), py::arg("nodes"), py::arg("weights"),
        py::arg("n_threads") = 0, "masked-diffusion plan: PlanArrays for batch * budget evaluations");
  m.def("reduce_terms", &reduce_terms, py::arg("indptr"), py::arg("indices"), py::arg("coef"), py::arg("logp"),
        "per-evaluation terms coef * sum of masked log-probabilities");
  m.def(
      "stratum_l",
      [](const farray& v, const i64array& k, std::int64_t n, std::int64_t budget) {
        ridgeline::require(v.ndim() == 1 && k.ndim() == 1 && v.shape(0) == k.shape(0), "v and k must be 1-D of equal size");
        ridgeline::require(n >= 1 && budget >= 1, "n and budget must be >= 1");
        py::array_t<std::int64_t> out(v.shape(0));
        auto o = out.mutable_unchecked<1>();
        for (py::ssize_t i = 0; i < v.shape(0); ++i) o(i) = ridgeline::elbo::stratum_l(v.data()[i], k.data()[i], n, budget);
        return out;
      },
      py::arg("v"), py::arg("k"), py::arg("n"), py::arg("budget"),
      "number of masked tokens of stratum k at offset v (the mapping the l-schemes use)");
  m.def("sobol_uniform", &sobol_uniform, py::arg("n"), py::arg("d"), py::arg("key"), py::arg("scramble") = true,
        "first n points of the d-dimensional Sobol sequence, Owen-scrambled with a Philox key");
  m.def("sobol_normal", &sobol_normal, py::arg("n"), py::arg("d"), py::arg("key"),
        "Owen-scrambled Sobol points mapped through the normal quantile function");
  m.def("sobol_directions", [](std::int64_t d) {
    ridgeline::require(d >= 1 && d <= ridgeline::elbo::kMaxSobolDim, "d out of range");
    const auto& dirs = ridgeline::elbo::sobol_directions();
    py::array_t<std::uint32_t> out({static_cast<py::ssize_t>(d), static_cast<py::ssize_t>(32)});
    auto o = out.mutable_unchecked<2>();
    for (std::int64_t j = 0; j < d; ++j)
      for (int b = 0; b < 32; ++b) o(j, b) = dirs[static_cast<std::size_t>(j) * 32 + static_cast<std::size_t>(b)];
    return out;
  }, py::arg("d"), "Sobol direction numbers v[j, b] (32-bit) of the first d dimensions");
  m.def("norm_ppf", [](const farray& u) {
    py::array_t<double> out(u.size());
    double* o = out.mutable_data();
    for (py::ssize_t i = 0; i < u.size(); ++i) o[i] = ridgeline::elbo::norm_ppf(u.data()[i]);
    return out;
  }, py::arg("u"), "standard normal quantile function (elementwise, flattened)");
}
