// A persistent pool of worker threads for small, frequent parallel loops
// (likelihood batches of a few hundred microseconds, where starting threads for
// every batch would cost as much as the work).
//
// Indices are handed out dynamically, `grain` at a time, to whichever thread asks
// next: the caller starts at once and a worker joins as soon as it is awake, so a
// late wake-up costs nothing but its own share.  The body must compute each index
// independently of the others (its third argument, the thread number, is for
// scratch space only): then which thread runs an index never changes what is
// computed for it, and results are identical for any thread count.
// Between loops a worker spins briefly before it sleeps, so loops that follow each
// other closely (a sampler's batches) do not pay a futex wake-up each.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ridgeline {

class ThreadPool {
 public:
  // A pool that runs loops on up to `nthreads` threads (the caller and nthreads - 1 workers).
  explicit ThreadPool(int nthreads) {
    const int nw = std::max(1, nthreads) - 1;
    workers_.reserve(static_cast<std::size_t>(nw));
    for (int t = 1; t <= nw; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Call body(begin, end, thread) on consecutive ranges of at most `grain` indices
  // covering [0, n), spread over the pool's threads as they become free.
  // The first exception of a range is re-thrown after all ranges finished.
  // Not reentrant: one loop at a time per pool.
  void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& body,
                    std::size_t grain = 1) {
    if (n == 0) return;
    grain = std::max<std::size_t>(1, grain);
    if (size() == 1 || n <= grain) {
      body(0, n, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_ = &body;
      n_ = n;
      grain_ = grain;
      next_.store(0, std::memory_order_relaxed);
      open_ = true;
      active_ = 0;
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run(0);
    // Close the loop: a worker that has not joined yet skips it (no waiting for a late
    // wake-up); the ones that joined finish the ranges they took.
    std::unique_lock<std::mutex> lock(mu_);
    open_ = false;
    done_.wait(lock, [this] { return active_ == 0; });
    body_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(std::size_t, std::size_t, int)>* body_ = nullptr;
  std::size_t n_ = 0, grain_ = 1, active_ = 0;
  bool open_ = false;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;

  static void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
  }

  void run(int t) {
    for (;;) {
      const std::size_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
      if (begin >= n_) return;
      const std::size_t end = std::min(n_, begin + grain_);
      try {
        (*body_)(begin, end, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_, std::memory_order_relaxed);  // the other threads stop taking work
      }
    }
  }

  void work(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      // a short spin first (about 50 microseconds): the next batch usually follows soon
      const auto spin_end = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      for (int spin = 1;; ++spin) {
        if (stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen) break;
        cpu_relax();
        if (spin % 32 == 0 && std::chrono::steady_clock::now() > spin_end) break;
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        if (stop_.load()) return;
        seen = generation_.load();
        if (!open_) continue;  // the caller already finished this loop
        ++active_;
      }
      run(t);
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last = --active_ == 0 && !open_;
      }
      if (last) done_.notify_one();
    }
  }
};

}  // namespace ridgeline
