// A persistent pool of worker threads for small, frequent parallel loops
// (likelihood batches of a few hundred microseconds, where starting threads for
// every batch would cost as much as the work).
//
// The split is the one of ridgeline::parallel_for: contiguous static chunks, so
// which thread runs an index never changes what is computed for it.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

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
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Call body(begin, end, chunk) on min(size(), n) contiguous chunks of [0, n).
  // The first exception of a chunk is re-thrown after all chunks finished.
  // Not reentrant: one loop at a time per pool.
  void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& body) {
    if (n == 0) return;
    const std::size_t nt = std::min<std::size_t>(static_cast<std::size_t>(size()), n);
    if (nt == 1) {
      body(0, n, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_ = &body;
      n_ = n;
      nt_ = nt;
      pending_ = nt - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run_chunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
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
  std::size_t n_ = 0, nt_ = 0, pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;

  void run_chunk(std::size_t t) {
    const std::size_t begin = n_ * t / nt_, end = n_ * (t + 1) / nt_;
    try {
      (*body_)(begin, end, static_cast<int>(t));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      std::size_t nt = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        nt = nt_;
      }
      if (static_cast<std::size_t>(t) >= nt) continue;  // this loop has fewer chunks than threads
      run_chunk(static_cast<std::size_t>(t));
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last = --pending_ == 0;
      }
      if (last) done_.notify_one();
    }
  }
};

}  // namespace ridgeline
