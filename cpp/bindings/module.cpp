#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "ridgeline's compiled kernels (private; use the ridgeline.<engine> modules)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ridgeline::Interrupted&) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });

  m.def(
      "_request_stop", [](bool on) { ridgeline::bind::stop_requested() = on; }, py::arg("on") = true,
      "ask the running core to stop at its next poll as Ctrl-C does (on=False: withdraw the request)");

  auto random = m.def_submodule("random", "counter-based random numbers (Philox4x32-10)");
  bind_random(random);
  auto simd = m.def_submodule("simd", "kernels with a baseline and an AVX2 path (the same bits)");
  bind_simd(simd);
  auto nested = m.def_submodule("nested", "nested sampling kernels");
  bind_nested(nested);
  auto cluster = m.def_submodule("cluster", "SDP clustering kernels");
  bind_cluster(cluster);
  auto elbo = m.def_submodule("elbo", "Monte Carlo ELBO kernels");
  bind_elbo(elbo);
  auto spectra = m.def_submodule("spectra", "Hessian spectra kernels");
  bind_spectra(spectra);
}
