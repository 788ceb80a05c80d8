#include "common.hpp"

#include "ridgeline/common/random.hpp"

void bind_random(py::module_& m) {
  m.def(
      "words",
      [](std::uint64_t seed, std::uint64_t stream, std::uint64_t start, py::ssize_t n) {
        if (n < 0) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 0");
        py::array_t<std::uint64_t> out(n);
        auto o = out.mutable_unchecked<1>();
        // through a stream opened at `start` (words computed four blocks at a time),
        // which the tests compare with the numpy reference at unaligned starts
        ridgeline::RandomStream rs(seed, stream, start);
        for (py::ssize_t i = 0; i < n; ++i) o(i) = rs.next_u64();
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("start"), py::arg("n"),
      "64-bit words start..start+n-1 of a Philox stream");
  m.def(
      "uniform",
      [](std::uint64_t seed, std::uint64_t stream, py::ssize_t n) {
        if (n < 0) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 0");
        py::array_t<double> out(n);
        auto o = out.mutable_unchecked<1>();
        ridgeline::RandomStream rs(seed, stream);
        for (py::ssize_t i = 0; i < n; ++i) o(i) = rs.uniform();
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("n"), "n uniforms in (0, 1) from a stream");
  m.def(
      "normal",
      [](std::uint64_t seed, std::uint64_t stream, py::ssize_t n) {
        if (n < 0) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 0");
        py::array_t<double> out(n);
        auto o = out.mutable_unchecked<1>();
        ridgeline::RandomStream rs(seed, stream);
        for (py::ssize_t i = 0; i < n; ++i) o(i) = rs.normal();
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("n"), "n standard normals from a stream (Box-Muller)");
  m.def(
      "ziggurat_normal",
      [](std::uint64_t seed, std::uint64_t stream, py::ssize_t n) {
        if (n < 0) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 0");
        py::array_t<double> out(n);
        auto o = out.mutable_unchecked<1>();
        ridgeline::RandomStream rs(seed, stream);
        for (py::ssize_t i = 0; i < n; ++i) o(i) = ridgeline::ziggurat_normal(rs);
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("n"), "n standard normals from a stream (ziggurat)");
  m.def(
      "integers",
      [](std::uint64_t seed, std::uint64_t stream, std::uint64_t bound, py::ssize_t n) {
        if (n < 0) throw std::invalid_argument("n=" + std::to_string(n) + " must be >= 0");
        if (bound == 0) throw std::invalid_argument("bound=0 must be >= 1");
        py::array_t<std::uint64_t> out(n);
        auto o = out.mutable_unchecked<1>();
        ridgeline::RandomStream rs(seed, stream);
        for (py::ssize_t i = 0; i < n; ++i) o(i) = rs.integer(bound);
        return out;
      },
      py::arg("seed"), py::arg("stream"), py::arg("bound"), py::arg("n"), "n unbiased integers in [0, bound)");
  m.def("mix_seed", &ridgeline::mix_seed, py::arg("seed"), py::arg("salt"));
}
