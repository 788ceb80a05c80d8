// The GIL helpers of the bindings (one copy, shared by every binding file).
//
// A long compiled loop releases the GIL with ReleasedGil, which keeps the
// thread state in a slot; code inside the loop that must call Python takes it
// back with HeldGil on the same slot.  The raw CPython calls are cheaper than a
// pybind11 gil_scoped_acquire per likelihood call; when the slot is empty (the
// GIL was not released by a ReleasedGil on this slot) HeldGil falls back to
// pybind11's gil_scoped_acquire.
#pragma once

#include "common.hpp"

#include <optional>

namespace ridgeline::bind {

class ReleasedGil {
 public:
  explicit ReleasedGil(PyThreadState*& slot) : slot_(slot) { slot_ = PyEval_SaveThread(); }
  ~ReleasedGil() {
    PyEval_RestoreThread(slot_);
    slot_ = nullptr;
  }
  ReleasedGil(const ReleasedGil&) = delete;
  ReleasedGil& operator=(const ReleasedGil&) = delete;

 private:
  PyThreadState*& slot_;
};

class HeldGil {
 public:
  explicit HeldGil(PyThreadState*& slot) : slot_(slot) {
    if (slot_ != nullptr) {
      PyEval_RestoreThread(slot_);
      restored_ = true;
    } else {
      fallback_.emplace();
    }
  }
  ~HeldGil() {
    if (restored_) slot_ = PyEval_SaveThread();
  }
  HeldGil(const HeldGil&) = delete;
  HeldGil& operator=(const HeldGil&) = delete;

 private:
  PyThreadState*& slot_;
  bool restored_ = false;
  std::optional<py::gil_scoped_acquire> fallback_;
};

}  // namespace ridgeline::bind
