// Thin bindings of the spectra kernels (cpp/include/ridgeline/spectra).
#include "common.hpp"
#include "results.hpp"

#include <memory>
#include <optional>
#include <type_traits>

#include "ridgeline/spectra/krylov_trace.hpp"
#include "ridgeline/spectra/lanczos.hpp"
#include "ridgeline/spectra/mlp.hpp"
#include "ridgeline/spectra/operators.hpp"

namespace rs = ridgeline::spectra;
namespace mlp = ridgeline::mlpapi;
using rs::Index;
using rs::Matrix;
using rs::Vector;

namespace {

using ConstRef = Eigen::Ref<const Matrix>;

// Operators that borrow numpy buffers keep them alive here.
struct PyDense final : rs::LinearOperator {
  py::array_t<double, py::array::c_style> keep;
  rs::DenseOperator op;
  explicit PyDense(py::array_t<double, py::array::c_style> a)
      : keep(checked_square(std::move(a))), op(keep.data(), static_cast<Index>(keep.shape(0))) {}
  static py::array_t<double, py::array::c_style> checked_square(py::array_t<double, py::array::c_style> a) {
    ridgeline::bind::require_ndim(a, 2, "A");
    if (a.shape(0) != a.shape(1) || a.shape(0) < 1) {
      throw std::invalid_argument("A must be a non-empty square matrix, got shape (" + std::to_string(a.shape(0)) +
                                  ", " + std::to_string(a.shape(1)) + ")");
    }
    return a;
  }
  Index size() const override { return op.size(); }
  void apply(const rs::ConstMatrixRef& X, rs::MatrixRef Y) const override { op.apply(X, Y); }
};

struct PyCsr final : rs::LinearOperator {
  py::array_t<double, py::array::c_style> data;
  py::array_t<std::int64_t, py::array::c_style> indices, indptr;
  rs::CsrOperator op;
  PyCsr(py::array_t<double, py::array::c_style> d, py::array_t<std::int64_t, py::array::c_style> ix,
        py::array_t<std::int64_t, py::array::c_style> ip, Index n, int n_threads)
      : data(std::move(d)), indices(std::move(ix)), indptr(std::move(ip)),
        op(data.data(), indices.data(), indptr.data(), checked(n, n_threads), n_threads) {}
  // Every index is validated before the operator can touch memory.
  Index checked(Index n, int n_threads) const {
    ridgeline::bind::require_ndim(data, 1, "data");
    ridgeline::bind::require_ndim(indices, 1, "indices");
    ridgeline::bind::require_ndim(indptr, 1, "indptr");
    if (n < 1) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 1");
    if (n_threads < 1) throw std::invalid_argument("n_threads=" + std::to_string(n_threads) + " must be >= 1");
    if (indptr.shape(0) - 1 != n) {  // not n + 1: n may be the largest Index (signed overflow)
      throw std::invalid_argument("indptr has length " + std::to_string(indptr.shape(0)) + ", expected n + 1 for n=" +
                                  std::to_string(n));
    }
    if (indices.shape(0) != data.shape(0)) {
      throw std::invalid_argument("indices has length " + std::to_string(indices.shape(0)) + ", data has " +
                                  std::to_string(data.shape(0)));
    }
    const std::int64_t nnz = static_cast<std::int64_t>(data.shape(0));
    const std::int64_t* p = indptr.data();
    if (p[0] != 0) throw std::invalid_argument("indptr[0]=" + std::to_string(p[0]) + " must be 0");
    for (Index i = 0; i < n; ++i) {
      if (p[i + 1] < p[i]) throw std::invalid_argument("indptr must be non-decreasing (at row " + std::to_string(i) + ")");
    }
    if (p[n] != nnz) {
      throw std::invalid_argument("indptr[n]=" + std::to_string(p[n]) + " must equal len(data)=" + std::to_string(nnz));
    }
    const std::int64_t* ix = indices.data();
    for (std::int64_t q = 0; q < nnz; ++q) {
      if (ix[q] < 0 || ix[q] >= n) {
        throw std::invalid_argument("indices[" + std::to_string(q) + "]=" + std::to_string(ix[q]) +
                                    " is out of range [0, " + std::to_string(n) + ")");
      }
    }
    return n;
  }
  Index size() const override { return op.size(); }
  void apply(const rs::ConstMatrixRef& X, rs::MatrixRef Y) const override { op.apply(X, Y); }
};

Matrix apply_block(const rs::LinearOperator& op, const ConstRef& X) {
  if (X.rows() != op.size()) {
    throw std::invalid_argument("X has " + std::to_string(X.rows()) + " rows, expected " + std::to_string(op.size()));
  }
  Matrix Y(X.rows(), X.cols());
  {
    py::gil_scoped_release release;
    op.apply(X, Y);
  }
  return Y;
}

template <class Engine, class Cls>
void bind_reverse_comm(Cls& cls) {
  using MatrixS = typename Engine::MatrixS;
  using ConstRefS = typename Engine::ConstRefS;
  cls.def_property_readonly("done", &Engine::done)
      .def_property_readonly("n_matvec", &Engine::n_matvec)
      .def("request", [](const Engine& e) { return MatrixS(e.request()); },
           "the (n, b) block whose product with the operator is needed next")
      .def("supply", [](Engine& e, const ConstRefS& AX) { e.supply(AX); }, py::arg("AX"),
           "hand back the product of the operator with request()");
  if constexpr (std::is_same_v<typename MatrixS::Scalar, double>) {
    cls.def(
        "run",
        [](Engine& e, const rs::LinearOperator& op) {
          py::gil_scoped_release release;
          rs::drive(e, op, ridgeline::bind::python_poll());
        },
        py::arg("op"), "drive the engine with a built-in operator (GIL released)");
  }
}

template <class Engine>
void bind_lanczos(py::module_& m, const char* name, const char* doc) {
  py::class_<Engine> eigs(m, name, doc);
  eigs.def(py::init([](Index n, Index k, const std::string& which, double tol, Index ncv, Index max_matvec,
                       std::uint64_t seed, std::optional<Vector> v0) {
             if (v0 && v0->size() != n) {
               throw std::invalid_argument("v0 has length " + std::to_string(v0->size()) + ", expected n=" +
                                           std::to_string(n));
             }
             return std::make_unique<Engine>(n, k, rs::parse_which(which), tol, ncv, max_matvec, seed,
                                             v0 ? v0->data() : nullptr);
           }),
           py::arg("n"), py::arg("k"), py::arg("which"), py::arg("tol"), py::arg("ncv"), py::arg("max_matvec"),
           py::arg("seed"), py::arg("v0") = py::none())
      .def_property_readonly("eigenvalues", [](const Engine& e) { return Vector(e.eigenvalues()); })
      .def_property_readonly("eigenvectors", [](const Engine& e) { return Matrix(e.eigenvectors()); })
      .def_property_readonly("residuals", [](const Engine& e) { return Vector(e.residuals()); })
      .def_property_readonly("converged", &Engine::converged)
      .def_property_readonly("n_restarts", &Engine::n_restarts)
      .def("lock", [](Engine& e, const typename Engine::ConstRefS& Z) { e.lock(Z); }, py::arg("Z"),
           "work on the orthogonal complement of Z's orthonormal columns (before the first product)")
      .def_property_readonly("ritz_values", [](const Engine& e) { return Vector(e.ritz_values()); })
      .def_property_readonly("ritz_residuals", &Engine::ritz_residuals)
      .def_property_readonly("last_beta", &Engine::last_beta)
      .def("ritz_vector", &Engine::ritz_vector, py::arg("i"));
  bind_reverse_comm<Engine>(eigs);
}

using ridgeline::bind::cpu_has_avx2_fma;

}  // namespace

std::shared_ptr<mlp::Backend> mlp::make_backend_baseline(const Spec& spec, const double* params, const double* X,
                                                         Index N, const std::int64_t* labels, const double* targets,
                                                         bool single) {
  if (single) return std::make_shared<rs::MlpState32>(spec, params, X, N, labels, targets);
  return std::make_shared<rs::MlpState>(spec, params, X, N, labels, targets);
}

// The eigen-decomposition of a tridiagonal matrix (read-only, results.hpp).
struct TridiagonalEigh {
  py::array_t<double> eigenvalues, eigenvectors;
};

void bind_spectra(py::module_& m) {
  {
    using ridgeline::bind::field;
    ridgeline::bind::result_class<TridiagonalEigh>(
        m, "TridiagonalEigh", "eigenvalues and eigenvectors of a symmetric tridiagonal matrix (read-only)",
        field("eigenvalues", &TridiagonalEigh::eigenvalues, "(m,) eigenvalues, ascending"),
        field("eigenvectors", &TridiagonalEigh::eigenvectors, "(m, m) eigenvectors, one per column"));
  }
  m.def(
      "tridiagonal_eigh",
      [](const Vector& alpha, const Vector& beta) {
        Vector theta;
        Matrix S;
        rs::tridiagonal_eigh(alpha, beta, theta, S);
        TridiagonalEigh out;
        out.eigenvalues = py::cast(theta);
        out.eigenvectors = py::cast(S);
        ridgeline::bind::freeze(out.eigenvalues);
        ridgeline::bind::freeze(out.eigenvectors);
        return out;
      },
      py::arg("alpha"), py::arg("beta"), "eigenvalues (ascending) and eigenvectors of a symmetric tridiagonal matrix");
  m.def(
      "rademacher", [](std::uint64_t seed, std::uint64_t stream, Index n) {
        Vector v(n);
        rs::rademacher_vector(seed, stream, v.data(), n);
        return v;
      },
      py::arg("seed"), py::arg("stream"), py::arg("n"));

  py::class_<rs::LinearOperator, std::shared_ptr<rs::LinearOperator>>(m, "Operator")
      .def_property_readonly("n", &rs::LinearOperator::size)
      .def("matmat", &apply_block, py::arg("X"), "A @ X for an (n, b) block (GIL released)")
      .def(
          "matvec",
          [](const rs::LinearOperator& op, const Vector& x) {
            Matrix Y = apply_block(op, x);
            return Vector(Y.col(0));
          },
          py::arg("x"));
  py::class_<PyDense, rs::LinearOperator, std::shared_ptr<PyDense>>(m, "DenseOperator")
      .def(py::init<py::array_t<double, py::array::c_style>>(), py::arg("A"));
  py::class_<PyCsr, rs::LinearOperator, std::shared_ptr<PyCsr>>(m, "CsrOperator")
      .def(py::init<py::array_t<double, py::array::c_style>, py::array_t<std::int64_t, py::array::c_style>,
                    py::array_t<std::int64_t, py::array::c_style>, Index, int>(),
           py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("n"), py::arg("n_threads") = 1);

  py::class_<mlp::Spec>(m, "Mlp")
      .def(py::init([](std::vector<Index> sizes, const std::string& act, const std::string& loss) {
             return mlp::Spec(std::move(sizes), mlp::parse_activation(act), mlp::parse_loss(loss));
           }),
           py::arg("layer_sizes"), py::arg("activation"), py::arg("loss"))
      .def_property_readonly("n_params", &mlp::Spec::n_params);
  m.def("cpu_has_avx2_fma", &cpu_has_avx2_fma);

  py::class_<mlp::Backend, std::shared_ptr<mlp::Backend>>(m, "MlpState")
      .def(py::init([](const mlp::Spec& net, const Vector& params, py::array_t<double, py::array::c_style> X,
                       py::array y, const std::string& isa, const std::string& dtype) {
             if (dtype != "float64" && dtype != "float32") {
               throw std::invalid_argument("dtype='" + dtype + "' must be 'float64' or 'float32'");
             }
             const bool single = dtype == "float32";
             if (params.size() != net.n_params()) {
               throw std::invalid_argument("params has length " + std::to_string(params.size()) + ", expected " +
                                           std::to_string(net.n_params()));
             }
             ridgeline::bind::require_ndim(X, 2, "X");
             if (X.shape(1) != net.in_dim(0)) {
               throw std::invalid_argument("X has " + std::to_string(X.shape(1)) + " features, expected " +
                                           std::to_string(net.in_dim(0)));
             }
             const mlp::Factory make =
                 ridgeline::bind::use_avx2(isa) ? &mlp::make_backend_avx2 : &mlp::make_backend_baseline;
             const Index N = static_cast<Index>(X.shape(0));
             if (net.loss() == mlp::Loss::CrossEntropy) {
               auto lab = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
               if (!lab || lab.ndim() != 1 || lab.shape(0) != N) {
                 throw std::invalid_argument("y must be integer labels of shape (" + std::to_string(N) + ",)");
               }
               py::gil_scoped_release release;
               return make(net, params.data(), X.data(), N, lab.data(), nullptr, single);
             }
             auto tg = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
             const Index out = net.out_dim(net.n_layers() - 1);
             if (!tg || tg.size() != N * out) {
               throw std::invalid_argument("y must be targets of shape (" + std::to_string(N) + ", " +
                                           std::to_string(out) + ")");
             }
             py::gil_scoped_release release;
             return make(net, params.data(), X.data(), N, nullptr, tg.data(), single);
           }),
           py::arg("net"), py::arg("params"), py::arg("X"), py::arg("y"), py::arg("isa") = "auto",
           py::arg("dtype") = "float64")
      .def_property_readonly("loss", &mlp::Backend::loss)
      .def_property_readonly("isa", &mlp::Backend::isa)
      .def_property_readonly("dtype", [](const mlp::Backend& s) { return s.single() ? "float32" : "float64"; })
      .def_property_readonly("gradient",
                             [](const mlp::Backend& s) { return Vector(Eigen::Map<const Vector>(s.gradient(), s.size())); })
      .def(
          "product",
          [](const mlp::Backend& s, const ConstRef& V, bool gauss_newton, int n_threads) {
            if (V.rows() != s.size()) {
              throw std::invalid_argument("V has " + std::to_string(V.rows()) + " rows, expected " +
                                          std::to_string(s.size()));
            }
            if (!V.allFinite()) throw std::invalid_argument("V contains NaN or inf");
            const Matrix Vc = V;
            Matrix HV(V.rows(), V.cols());
            py::gil_scoped_release release;
            s.apply(Vc.data(), HV.data(), Vc.cols(), gauss_newton, n_threads);
            return HV;
          },
          py::arg("V"), py::arg("gauss_newton") = false, py::arg("n_threads") = 1)
      .def(
          "product32",
          [](const mlp::Backend& s, py::array_t<float, py::array::f_style> V, bool gauss_newton, int n_threads) {
            ridgeline::bind::require_ndim(V, 2, "V");
            if (V.shape(0) != s.size()) {
              throw std::invalid_argument("V has " + std::to_string(V.shape(0)) + " rows, expected " +
                                          std::to_string(s.size()));
            }
            const Index b = static_cast<Index>(V.shape(1));
            py::array_t<float, py::array::f_style> HV({static_cast<py::ssize_t>(s.size()), static_cast<py::ssize_t>(b)});
            const float* in = V.data();
            float* out = HV.mutable_data();
            {
              py::gil_scoped_release release;
              if (!Eigen::Map<const Eigen::ArrayXf>(in, s.size() * b).allFinite()) {
                throw std::invalid_argument("V contains NaN or inf");
              }
              s.apply(in, out, b, gauss_newton, n_threads);
            }
            return HV;
          },
          py::arg("V"), py::arg("gauss_newton") = false, py::arg("n_threads") = 1,
          "float32 products of an (n, b) float32 block (Fortran order; no conversion for a float32 state)");

  py::class_<rs::MlpOperator, rs::LinearOperator, std::shared_ptr<rs::MlpOperator>>(m, "MlpOperator")
      .def(py::init<std::shared_ptr<const mlp::Backend>, bool, int>(), py::arg("state"), py::arg("gauss_newton"),
           py::arg("n_threads") = 1);

  bind_lanczos<rs::LanczosEigs>(m, "LanczosEigs", "thick-restart Lanczos, float64 basis");
  bind_lanczos<rs::LanczosEigs32>(m, "LanczosEigs32",
                                  "thick-restart Lanczos, float32 basis and products (float32 operators)");

  py::class_<rs::Slq> slq(m, "Slq");
  slq.def(py::init<Index, Index, Index, std::uint64_t, bool, double>(), py::arg("n"), py::arg("n_probes"),
          py::arg("n_steps"), py::arg("seed"), py::arg("deflate"), py::arg("deflate_tol"))
      .def_property_readonly("nodes", [](const rs::Slq& s) { return Vector(s.nodes()); })
      .def_property_readonly("weights", [](const rs::Slq& s) { return Vector(s.weights()); })
      .def_property_readonly("n_deflated", &rs::Slq::n_deflated)
      .def("alpha", &rs::Slq::alpha, py::arg("probe"))
      .def("beta", &rs::Slq::beta, py::arg("probe"));
  bind_reverse_comm<rs::Slq>(slq);

  py::class_<rs::TraceEstimator> tr(m, "TraceEstimator");
  tr.def(py::init([](Index n, const std::string& method, Index budget, std::uint64_t seed) {
           return std::make_unique<rs::TraceEstimator>(n, rs::parse_trace_method(method), budget, seed);
         }),
         py::arg("n"), py::arg("method"), py::arg("budget"), py::arg("seed"))
      .def_property_readonly("value", &rs::TraceEstimator::value)
      .def_property_readonly("stderr", &rs::TraceEstimator::standard_error)
      .def_property_readonly("method", &rs::TraceEstimator::method_used)
      .def_property_readonly("samples", &rs::TraceEstimator::samples)
      .def_property_readonly("predicted_ratio", &rs::TraceEstimator::predicted_ratio);
  bind_reverse_comm<rs::TraceEstimator>(tr);

  py::class_<rs::KrylovTrace> kt(m, "KrylovTrace");
  kt.def(py::init<Index, Index, std::uint64_t, bool>(), py::arg("n"), py::arg("budget"), py::arg("seed"),
         py::arg("fallback"))
      .def_property_readonly("value", &rs::KrylovTrace::value)
      .def_property_readonly("stderr", &rs::KrylovTrace::standard_error)
      .def_property_readonly("method", &rs::KrylovTrace::method_used)
      .def_property_readonly("samples", &rs::KrylovTrace::samples)
      .def_property_readonly("n_krylov", &rs::KrylovTrace::n_krylov)
      .def_property_readonly("krylov_value", &rs::KrylovTrace::krylov_value)
      .def_property_readonly("krylov_stderr", &rs::KrylovTrace::krylov_stderr);
  bind_reverse_comm<rs::KrylovTrace>(kt);
}
