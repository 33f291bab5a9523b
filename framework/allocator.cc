#include "framework/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "framework/error.h"
#include "framework/sanitizer.h"

namespace repflow {
namespace {

constexpr size_t kHostAlignment = 64;
// Blocks from this size up are cached: their pages are already mapped, so reusing them skips
// the page faults that dominate the cost of filling fresh large buffers (about 7 ms for 25 MB
// here, as much as the convolution writing them).
constexpr size_t kCachedFrom = size_t{64} << 10;
constexpr size_t kPage = size_t{4} << 10;

size_t cache_limit() {
  // Under AddressSanitizer every block goes back to the system when freed: a cached block would
  // hide a use-after-free from it, and the blocks still cached at exit would read as leaks.
  if (kAddressSanitizer) return 0;
  if (const char* env = std::getenv("REPFLOW_HOST_CACHE_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    RF_CHECK(*env && *end == '\0' && mb >= 0, "REPFLOW_HOST_CACHE_MB: '", env,
             "' is not a size in MB");
    return static_cast<size_t>(mb) << 20;
  }
  return size_t{4} << 30;
}

struct HostState {
  std::mutex mu;
  size_t in_use = 0, peak = 0, cached = 0;
  const size_t limit = cache_limit();
  std::multimap<size_t, void*> free_blocks;       // block size -> block, for best fit
  std::unordered_map<void*, size_t> block_sizes;  // cached-size blocks handed out
};

HostState& host_state() {
  static HostState s;
  return s;
}

}  // namespace

void* host_alloc(size_t bytes) {
  HostState& s = host_state();
  void* p = nullptr;
  if (bytes >= kCachedFrom) {
    const size_t size = (bytes + kPage - 1) / kPage * kPage;
    std::lock_guard<std::mutex> lock(s.mu);
    // The smallest cached block that fits without wasting over half of it.
    auto it = s.free_blocks.lower_bound(size);
    if (it != s.free_blocks.end() && it->first <= 2 * size) {
      p = it->second;
      s.block_sizes[p] = it->first;
      s.cached -= it->first;
      s.free_blocks.erase(it);
    } else {
      p = std::aligned_alloc(kPage, size);
      if (!p && !s.free_blocks.empty()) {
        for (auto& [block_size, block] : s.free_blocks) std::free(block);
        s.free_blocks.clear();
        s.cached = 0;
        p = std::aligned_alloc(kPage, size);
      }
      RF_CHECK(p != nullptr, "host_alloc: out of memory allocating ", bytes, " bytes");
      s.block_sizes[p] = size;
    }
  } else {
    p = std::aligned_alloc(
        kHostAlignment,
        std::max(kHostAlignment, (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment));
    RF_CHECK(p != nullptr, "host_alloc: out of memory allocating ", bytes, " bytes");
  }
  std::lock_guard<std::mutex> lock(s.mu);
  s.in_use += bytes;
  s.peak = std::max(s.peak, s.in_use);
  return p;
}

void host_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  HostState& s = host_state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.in_use -= bytes;
  if (bytes < kCachedFrom) {
    std::free(ptr);
    return;
  }
  auto it = s.block_sizes.find(ptr);
  const size_t size = it->second;
  s.block_sizes.erase(it);
  if (s.cached + size > s.limit) {
    std::free(ptr);
    return;
  }
  s.free_blocks.emplace(size, ptr);
  s.cached += size;
}

void host_empty_cache() {
  HostState& s = host_state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [size, block] : s.free_blocks) std::free(block);
  s.free_blocks.clear();
  s.cached = 0;
}

AllocatorStats device_allocator_stats(int device);
void reset_device_peak(int device);

AllocatorStats allocator_stats(Device device) {
  if (device.is_cuda()) return device_allocator_stats(device.index);
  HostState& h = host_state();
  std::lock_guard<std::mutex> lock(h.mu);
  AllocatorStats s;
  s.in_use = h.in_use;
  s.peak = h.peak;
  s.cached = h.cached;
  return s;
}

void reset_peak(Device device) {
  if (device.is_cuda()) return reset_device_peak(device.index);
  HostState& h = host_state();
  std::lock_guard<std::mutex> lock(h.mu);
  h.peak = h.in_use;
}

}  // namespace repflow
