// Error and interruption plumbing shared by the C++ cores (no Python here).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace ridgeline {

// Thrown by a core when its poll function reports a pending interrupt (Ctrl-C).
// The bindings turn it into the KeyboardInterrupt that Python already recorded.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// A core calls this every so often from its long loops; it returns true when the
// run must stop.  The bindings supply one that checks Python's signal handlers.
using PollFn = std::function<bool()>;

inline void poll_or_throw(const PollFn& poll) {
  if (poll && poll()) throw Interrupted();
}

// Raised for bad arguments detected in the core (becomes ValueError).
inline void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument(msg);
}

}  // namespace ridgeline
