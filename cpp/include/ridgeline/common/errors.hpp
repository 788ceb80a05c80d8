// Error and interruption plumbing shared by the C++ cores (no Python here).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

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

// A poll function that is cheap to call (one clock read): it runs `poll` at most
// once per `interval` and answers false in between.  The bindings wrap their
// Python poll in it, so a core may poll at every step of a loop whose steps take
// anything from microseconds to seconds, and Ctrl-C is seen within one step plus
// `interval`.  Safe to call from several threads (one of them wins each slot).
inline PollFn rate_limited(PollFn poll, std::chrono::nanoseconds interval = std::chrono::milliseconds(5)) {
  if (!poll) return poll;
  auto next = std::make_shared<std::atomic<std::int64_t>>(0);
  return [poll = std::move(poll), next, step = static_cast<std::int64_t>(interval.count())]() {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t due = next->load(std::memory_order_relaxed);
    if (now < due || !next->compare_exchange_strong(due, now + step, std::memory_order_relaxed)) return false;
    return poll();
  };
}

// Raised for bad arguments detected in the core (becomes ValueError).
inline void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument(msg);
}

}  // namespace ridgeline
