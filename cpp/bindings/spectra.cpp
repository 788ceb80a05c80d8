#include "common.hpp"

void bind_spectra(py::module_& m) {
  (void)m;  // kernels are added by the spectra engine
}
