#include "common.hpp"

void bind_nested(py::module_& m) {
  (void)m;  // kernels are added by the nested engine
}
