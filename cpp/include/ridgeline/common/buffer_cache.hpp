// A process-wide cache of large freed buffers, so that repeated runs reuse
// memory the process has already touched instead of faulting in fresh pages.
//
// Buffers of at least kMinBytes come from here (std::malloc where nothing in
// the cache fits) and go back here when freed, up to kMaxEntries buffers and
// kMaxBytes in all (the least recently returned are freed first).  A request
// takes the smallest cached buffer of at least its size and at most twice it.
// glibc serves such sizes by mmap and returns them by munmap, so without the
// cache a nested run of 7,000 iterations at d = 10 faults in about 2 MB (~530
// page faults, a tenth of its CPU time on a virtual machine) for its dead
// points and its result arrays each time; numpy keeps a similar cache for small
// arrays.  Each buffer carries its size in a 64-byte header (the data stays
// 64-byte aligned).  Thread-safe.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace ridgeline {

class BufferCache {
 public:
  static constexpr std::size_t kMinBytes = 256 * 1024;
  static constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;
  static constexpr std::size_t kMaxEntries = 8;
  static constexpr std::size_t kHeader = 64;

  static BufferCache& instance() {
    static BufferCache* c = new BufferCache();  // never destroyed: buffers may come back at exit
    return *c;
  }

  // A buffer of at least `bytes`; std::bad_alloc when none can be had.
  void* take(std::size_t bytes) {
    if (bytes >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      std::size_t best = free_.size();
      for (std::size_t i = 0; i < free_.size(); ++i)
        if (free_[i].bytes >= bytes && free_[i].bytes / 2 <= bytes &&
            (best == free_.size() || free_[i].bytes < free_[best].bytes))
          best = i;
      if (best < free_.size()) {
        char* base = free_[best].base;
        total_ -= free_[best].bytes;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
        return base + kHeader;
      }
    }
    if (bytes > static_cast<std::size_t>(-1) - kHeader - 64) throw std::bad_alloc();
    char* base = static_cast<char*>(std::aligned_alloc(64, (bytes + kHeader + 63) / 64 * 64));
    if (base == nullptr) throw std::bad_alloc();
    *reinterpret_cast<std::size_t*>(base) = bytes;
    return base + kHeader;
  }

  // Return a buffer from take().
  void give(void* p) noexcept {
    if (p == nullptr) return;
    char* base = static_cast<char*>(p) - kHeader;
    const std::size_t bytes = *reinterpret_cast<const std::size_t*>(base);
    if (bytes >= kMinBytes && bytes <= kMaxBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      while (!free_.empty() && (free_.size() >= kMaxEntries || total_ + bytes > kMaxBytes)) {
        total_ -= free_.front().bytes;
        std::free(free_.front().base);
        free_.erase(free_.begin());
      }
      free_.push_back({base, bytes});
      total_ += bytes;
      return;
    }
    std::free(base);
  }

 private:
  struct Entry {
    char* base;
    std::size_t bytes;
  };
  BufferCache() = default;

  std::mutex mu_;
  std::vector<Entry> free_;  // cached, oldest first
  std::size_t total_ = 0;
};

// A std::allocator for large growing vectors (the nested sampler's dead
// points) that goes through the BufferCache.
template <class T>
struct CachedAllocator {
  using value_type = T;
  CachedAllocator() noexcept = default;
  template <class U>
  CachedAllocator(const CachedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(BufferCache::instance().take(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { BufferCache::instance().give(p); }
  template <class U>
  bool operator==(const CachedAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const CachedAllocator<U>&) const noexcept {
    return false;
  }
};

using CachedDoubles = std::vector<double, CachedAllocator<double>>;

}  // namespace ridgeline
