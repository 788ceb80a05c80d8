#include "common.hpp"

#include <algorithm>
#include <vector>

#include "ridgeline/common/simd.hpp"

// The kernels of simd.hpp on either path, so that the tests can check that the
// two give the same bits (the AVX2 path only where the CPU has it).
namespace {

bool use_avx2(bool avx2) {
  if (avx2 && !ridgeline::simd::cpu_has_avx2()) throw std::invalid_argument("avx2=True but this CPU has no AVX2");
  return avx2;
}

py::array_t<double, py::array::c_style | py::array::forcecast> rows_of(const py::array_t<double, py::array::c_style | py::array::forcecast>& y) {
  if (y.ndim() != 2) throw std::invalid_argument("y must be 2-d (d rows of n values)");
  return py::array_t<double, py::array::c_style | py::array::forcecast>(y.request());  // a copy (the kernel writes)
}

}  // namespace

void bind_simd(py::module_& m) {
  m.def("has_avx2", [] { return ridgeline::simd::cpu_has_avx2(); }, "whether the AVX2 path can run on this CPU");
  m.def(
      "forward_radii",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& y,
         const py::array_t<double, py::array::f_style | py::array::forcecast>& L, bool avx2) {
        auto yy = rows_of(y);
        const auto d = static_cast<int>(yy.shape(0));
        const auto n = static_cast<std::size_t>(yy.shape(1));
        if (L.ndim() != 2 || L.shape(0) != d || L.shape(1) != d) throw std::invalid_argument("L must be d x d");
        py::array_t<double> r2(static_cast<py::ssize_t>(n));
        const bool a = use_avx2(avx2);
        double* yp = yy.mutable_data();
        double m2;
#if defined(RIDGELINE_AVX2_KERNELS)
        if (a)
          m2 = ridgeline::simd::detail::forward_radii_avx2(yp, n, d, L.data(), static_cast<std::size_t>(d), r2.mutable_data());
        else
#endif
          m2 = ridgeline::simd::detail::forward_radii_body(yp, n, d, L.data(), static_cast<std::size_t>(d), r2.mutable_data());
        (void)a;
        return py::make_tuple(m2, r2, yy);
      },
      py::arg("y"), py::arg("L"), py::arg("avx2"),
      "forward substitution L^-1 y on the rows of y: (max r2, r2, the solved rows)");
  m.def(
      "gram",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& y, bool avx2) {
        if (y.ndim() != 2) throw std::invalid_argument("y must be 2-d (d rows of n values)");
        const auto d = static_cast<int>(y.shape(0));
        const auto n = static_cast<std::size_t>(y.shape(1));
        py::array_t<double, py::array::f_style> g({static_cast<py::ssize_t>(d), static_cast<py::ssize_t>(d)});
        const bool a = use_avx2(avx2);
#if defined(RIDGELINE_AVX2_KERNELS)
        if (a)
          ridgeline::simd::detail::gram_lower_avx2(y.data(), n, d, g.mutable_data(), static_cast<std::size_t>(d));
        else
#endif
          ridgeline::simd::detail::gram_lower_body(y.data(), n, d, g.mutable_data(), static_cast<std::size_t>(d));
        (void)a;
        return g;
      },
      py::arg("y"), py::arg("avx2"), "the Gram matrix of the rows of y (four explicit lanes)");
  m.def(
      "affine_rows",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& c,
         const py::array_t<double, py::array::f_style | py::array::forcecast>& A,
         const py::array_t<double, py::array::c_style | py::array::forcecast>& z, bool lower, int r0, int r1,
         bool avx2) {
        if (c.ndim() != 1) throw std::invalid_argument("c must be 1-d");
        const auto d = static_cast<int>(c.shape(0));
        if (A.ndim() != 2 || A.shape(0) != d || A.shape(1) != d) throw std::invalid_argument("A must be d x d");
        if (z.ndim() != 1 || z.shape(0) != d) throw std::invalid_argument("z must have d values");
        if (r0 < 0 || r1 < r0 || r1 > d) throw std::invalid_argument("rows must satisfy 0 <= r0 <= r1 <= d");
        py::array_t<double> out(static_cast<py::ssize_t>(d));
        std::fill(out.mutable_data(), out.mutable_data() + d, 0.0);
        const bool a = use_avx2(avx2);
#if defined(RIDGELINE_AVX2_KERNELS)
        if (a)
          ridgeline::simd::detail::affine_rows_avx2(c.data(), A.data(), static_cast<std::size_t>(d), d, lower, z.data(),
                                                    r0, r1, out.mutable_data());
        else
#endif
          ridgeline::simd::detail::affine_rows_body(c.data(), A.data(), static_cast<std::size_t>(d), d, lower, z.data(),
                                                    r0, r1, out.mutable_data());
        (void)a;
        return out;
      },
      py::arg("c"), py::arg("A"), py::arg("z"), py::arg("lower"), py::arg("r0"), py::arg("r1"), py::arg("avx2"),
      "rows r0..r1-1 of c + A z (the lower triangle of A only when lower; other rows 0)");
}
