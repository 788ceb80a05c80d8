// Deterministic threading helpers shared by every engine.
//
// Work is split into contiguous static chunks, so which thread runs an index
// never changes what is computed for it; reductions are done by the caller in
// index order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ridgeline {

// Number of worker threads for a request: n <= 0 means "all hardware threads".
inline int resolve_threads(int n) noexcept {
  if (n > 0) return n;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Call body(begin, end, worker) on `nthreads` contiguous chunks of [0, n).
// Exceptions thrown by a worker are re-thrown (the first one) after all join.
template <class Body>
void parallel_for(std::size_t n, int nthreads, Body&& body) {
  if (n == 0) return;
  const std::size_t nt = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, nthreads)), n);
  if (nt == 1) {
    body(std::size_t{0}, n, 0);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(nt - 1);
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&](std::size_t t) {
    const std::size_t begin = n * t / nt, end = n * (t + 1) / nt;
    try {
      body(begin, end, static_cast<int>(t));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  for (std::size_t t = 1; t < nt; ++t) workers.emplace_back(run, t);
  run(0);
  for (auto& w : workers) w.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace ridgeline
