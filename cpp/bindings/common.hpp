// The one header every binding translation unit includes first.
#pragma once

#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ridgeline/common/errors.hpp"

namespace py = pybind11;

namespace ridgeline::bind {

// A poll function for the cores: takes the GIL and runs Python's signal handlers.
// If a handler raised (Ctrl-C), the error stays set and the core throws Interrupted,
// which the translator registered in module.cpp turns back into that exception.
// Rate-limited (ridgeline::rate_limited): the GIL is taken at most every few
// milliseconds however often a core polls.  Python runs signal handlers in the
// main thread only, so a core must poll from the thread that called it.
//
// stop_requested(): set from Python (`_core._request_stop()`, any thread) when a
// compiled callback reported an error that it could not raise (a numba cfunc
// prints its exception and returns 0); the next poll then stops the core as
// Ctrl-C does (KeyboardInterrupt, which the caller replaces by that error).
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline PollFn python_poll() {
  return ridgeline::rate_limited([] {
    if (stop_requested().exchange(false)) return true;
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  });
}

// Whether this CPU runs the kernels compiled a second time for AVX2 + FMA
// (cpp/bindings/*_avx2.cpp); false where those are not built (not GCC on x86-64).
inline bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// The `isa=` argument of a kernel with an AVX2 + FMA build: true to use that
// build ('auto' where the CPU has it, 'avx2'), false for 'baseline'; a clear
// error for 'avx2' on a CPU without it and for unknown names.
inline bool use_avx2(const std::string& isa) {
  if (isa == "auto" || isa == "avx2") {
    if (cpu_has_avx2_fma()) return true;
    if (isa == "avx2") throw std::invalid_argument("isa='avx2' is not available on this CPU or build");
    return false;
  }
  if (isa != "baseline")
    throw std::invalid_argument("unknown isa '" + isa + "'; expected one of 'auto', 'avx2', 'baseline'");
  return false;
}

// Same, for loops that already hold the GIL.
inline bool check_signals_held() { return PyErr_CheckSignals() != 0; }

using farray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Shape check that raises ValueError naming the argument.
inline void require_ndim(const py::array& a, py::ssize_t ndim, const char* name) {
  if (a.ndim() != ndim) {
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) + "-D, got " +
                                std::to_string(a.ndim()) + "-D");
  }
}

}  // namespace ridgeline::bind

// Each engine's binding file defines one of these.
void bind_random(py::module_& m);
void bind_simd(py::module_& m);
void bind_nested(py::module_& m);
void bind_cluster(py::module_& m);
void bind_elbo(py::module_& m);
void bind_spectra(py::module_& m);
