#include "common.hpp"

void bind_cluster(py::module_& m) {
  (void)m;  // kernels are added by the cluster engine
}
