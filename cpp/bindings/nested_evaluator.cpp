// The evaluator of the nested sampler's bindings (see nested_evaluator.hpp).
#include "common.hpp"

#include "nested_evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ridgeline::bind {
namespace {

namespace nested = ridgeline::nested;

// --- numpy helpers for the per-call path ------------------------------------
//
// new_array and the fast branch of read_array use pybind11's numpy C-API table
// (py::detail::npy_api, array_proxy): pybind11 has no public way to create or
// read a small array without a py::array wrapper, whose constructor and checks
// cost about a microsecond per likelihood call on the scalar-callback path.
// These two functions are the only users of that private API; anything that
// does not match the fast branch's exact layout goes through the public
// py::array_t::ensure.

PyObject* new_array(const double* src, py::ssize_t rows, py::ssize_t cols, bool two_d) {
  auto& api = py::detail::npy_api::get();
  Py_intptr_t dims[2] = {rows, cols};
  PyObject* descr = api.PyArray_DescrFromType_(py::detail::npy_api::NPY_DOUBLE_);
  PyObject* arr = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, two_d ? 2 : 1,
                                            two_d ? dims : dims + 1, nullptr, nullptr, 0, nullptr);
  if (arr == nullptr) throw py::error_already_set();
  std::memcpy(py::detail::array_proxy(arr)->data, src, static_cast<std::size_t>(rows * cols) * sizeof(double));
  return arr;
}

// Copy a returned array of the expected shape into out; a clear ValueError otherwise.
void read_array(PyObject* obj, py::ssize_t rows, py::ssize_t cols, bool two_d, double* out, const char* what,
                const char* expected) {
  auto& api = py::detail::npy_api::get();
  if (api.PyArray_Check_(obj)) {
    auto* p = py::detail::array_proxy(obj);
    auto* descr = reinterpret_cast<py::detail::PyArrayDescr_Proxy*>(p->descr);
    const bool shape_ok = two_d ? (p->nd == 2 && p->dimensions[0] == rows && p->dimensions[1] == cols)
                                : (p->nd == 1 && p->dimensions[0] == cols);
    if (shape_ok && descr->type_num == py::detail::npy_api::NPY_DOUBLE_ && descr->byteorder != '>' &&
        (p->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0) {
      std::memcpy(out, p->data, static_cast<std::size_t>(rows * cols) * sizeof(double));
      return;
    }
  }
  py::array_t<double, py::array::c_style | py::array::forcecast> a;
  try {
    a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(py::reinterpret_borrow<py::object>(obj));
  } catch (py::error_already_set&) {
  }
  if (!a) {
    PyErr_Clear();
    throw py::type_error(std::string(what) + " must return an array of floats, got " +
                         std::string(Py_TYPE(obj)->tp_name));
  }
  const bool shape_ok = two_d ? (a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols)
                              : (a.ndim() == 1 && a.shape(0) == cols);
  if (!shape_ok) {
    std::string shape = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
    if (a.ndim() == 1) shape += ",";
    shape += ")";
    throw py::value_error(std::string(what) + " returned shape " + shape + "; expected " + expected);
  }
  std::memcpy(out, a.data(), static_cast<std::size_t>(rows * cols) * sizeof(double));
}

double read_float(PyObject* res) {
  const double v = PyFloat_AsDouble(res);
  if (v == -1.0 && PyErr_Occurred()) {
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      throw py::type_error(std::string("loglike must return a float, got ") + Py_TYPE(res)->tp_name);
    }
    if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
      PyErr_Clear();
      throw py::value_error(std::string("loglike returned a ") + Py_TYPE(res)->tp_name +
                            " too large for a float; log-likelihoods must be finite or -inf");
    }
    throw py::error_already_set();
  }
  return v;
}

struct ObjRef {  // owning PyObject* (GIL held)
  PyObject* p;
  explicit ObjRef(PyObject* q) : p(q) {
    if (p == nullptr) throw py::error_already_set();
  }
  ~ObjRef() { Py_XDECREF(p); }
  ObjRef(const ObjRef&) = delete;
  ObjRef& operator=(const ObjRef&) = delete;
};

}  // namespace

void NestedEvaluator::set_threads(int n) {
  if (n < 1) throw std::invalid_argument("n_threads=" + std::to_string(n) + " must be >= 1");
  nthreads_ = n;
  pool_.reset();
  if (n > 1) pool_ = std::make_unique<ridgeline::ThreadPool>(n);
}

void NestedEvaluator::evaluate(const double* u, std::size_t m, double* x, double* logl) {
  if (lkind == LKind::unset)
    throw std::runtime_error("no likelihood is set (set_loglike_builtin, set_loglike_cfunc or set_loglike_python)");
  if (!needs_gil()) {
    transform_affine(u, m, x);
    loglike_compiled(x, m, logl);
    return;
  }
  // take the GIL for the Python calls only (the run loop released it)
  HeldGil gil(tstate);
  const auto du = static_cast<std::size_t>(d);
  if (tkind == TKind::affine) {
    transform_affine(u, m, x);
  } else if (tkind == TKind::py_scalar) {
    for (std::size_t k = 0; k < m; ++k) {
      ObjRef arr(new_array(u + k * du, 1, d, false));
      ObjRef res(PyObject_CallOneArg(tfn.ptr(), arr.p));
      read_array(res.p, 1, d, false, x + k * du, "prior_transform", expected_scalar().c_str());
    }
  } else {
    ObjRef arr(new_array(u, static_cast<py::ssize_t>(m), d, true));
    ObjRef res(PyObject_CallOneArg(tfn.ptr(), arr.p));
    read_array(res.p, static_cast<py::ssize_t>(m), d, true, x, "prior_transform",
               ("(" + std::to_string(m) + ", " + std::to_string(d) + ") for a batch of " + std::to_string(m) +
                " points")
                   .c_str());
  }
  check_x(x, u, m);
  if (lkind == LKind::py_scalar) {
    for (std::size_t k = 0; k < m; ++k) {
      ObjRef arr(new_array(x + k * du, 1, d, false));
      ObjRef res(PyObject_CallOneArg(lfn.ptr(), arr.p));
      logl[k] = read_float(res.p);
    }
  } else if (lkind == LKind::py_vector) {
    ObjRef arr(new_array(x, static_cast<py::ssize_t>(m), d, true));
    ObjRef res(PyObject_CallOneArg(lfn.ptr(), arr.p));
    read_array(res.p, 1, static_cast<py::ssize_t>(m), false, logl, "loglike",
               ("(" + std::to_string(m) + ",) for a batch of " + std::to_string(m) + " points").c_str());
  } else {
    loglike_compiled(x, m, logl);
  }
}

std::string NestedEvaluator::expected_scalar() const {
  return "(" + std::to_string(d) + ",) for ndim=" + std::to_string(d);
}

void NestedEvaluator::transform_affine(const double* u, std::size_t m, double* x) const {
  const auto du = static_cast<std::size_t>(d);
  for (std::size_t k = 0; k < m; ++k)
    for (std::size_t i = 0; i < du; ++i) x[k * du + i] = lo[i] + scale[i] * u[k * du + i];
}

void NestedEvaluator::loglike_compiled(const double* x, std::size_t m, double* logl) {
  const auto du = static_cast<std::size_t>(d);
  // each point's value is independent of the split: same result for any thread count
  auto body = [&](std::size_t b, std::size_t e, int) {
    if (lkind == LKind::builtin) {
      for (std::size_t k = b; k < e; ++k) logl[k] = problem.loglike(x + k * du);
    } else {
      for (std::size_t k = b; k < e; ++k) logl[k] = cfn(x + k * du, d, cdata);
    }
  };
  if (pool_ && m >= 2) {
    // ranges of about an eighth of a thread's share: a cheap likelihood does not fight over
    // the shared counter, a costly one is balanced (the grain never changes a value)
    const std::size_t grain = std::max<std::size_t>(1, m / (8 * static_cast<std::size_t>(pool_->size())));
    pool_->parallel_for(m, body, grain);
  } else {
    body(0, m, 0);
  }
}

void NestedEvaluator::check_x(const double* x, const double* u, std::size_t m) const {
  const auto du = static_cast<std::size_t>(d);
  for (std::size_t k = 0; k < m * du; ++k) {
    if (!std::isfinite(x[k])) {
      const std::size_t row = k / du;
      throw py::value_error("prior_transform returned a non-finite value at u=" +
                            nested::format_point(u + row * du, d));
    }
  }
}

}  // namespace ridgeline::bind
