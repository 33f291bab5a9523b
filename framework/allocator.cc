#include "framework/allocator.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "framework/error.h"
#include "framework/sanitizer.h"

namespace repflow {
namespace {

constexpr size_t kHostAlignment = 64;
// Blocks from this size up are cached: their pages are already mapped, so reusing them skips
// the page faults that dominate the cost of filling fresh large buffers (as much as the
// convolution writing them: docs/perf/ops.md).
constexpr size_t kCachedFrom = size_t{64} << 10;
constexpr size_t kPage = size_t{4} << 10;

// The size in bytes that the environment variable `name` gives in MB, at least `min_mb`; none
// when it is unset. Sizes past the bytes a size_t holds are refused, not wrapped.
std::optional<size_t> env_megabytes(const char* name, long long min_mb) {
  const char* env = std::getenv(name);
  if (!env) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long mb = std::strtoll(env, &end, 10);
  RF_CHECK(*env && *end == '\0' && errno != ERANGE && mb >= min_mb &&
               static_cast<unsigned long long>(mb) <= (std::numeric_limits<size_t>::max() >> 20),
           name, ": '", excerpt(env), "' is not a size in MB");
  return static_cast<size_t>(mb) << 20;
}

constexpr char kMemoryVariable[] = "REPFLOW_HOST_MEMORY_MB";

size_t cache_limit() {
  // Under AddressSanitizer every block goes back to the system when freed: a cached block would
  // hide a use-after-free from it, and the blocks still cached at exit would read as leaks.
  if (kAddressSanitizer) return 0;
  if (const std::optional<size_t> bytes = env_megabytes("REPFLOW_HOST_CACHE_MB", 0)) return *bytes;
  return size_t{4} << 30;
}

// The most tensor memory the process may hold at once: most of the memory the system had
// available when the first tensor was made (Linux's MemAvailable), or REPFLOW_HOST_MEMORY_MB. Past
// it an allocation is an Error naming the sizes, where the kernel would otherwise hand out pages it
// does not have (overcommit) and the process would swap or be killed: a model, batch or clip too
// large for the machine is the user's input, and gets a message.
constexpr size_t kAvailablePercent = 85;

struct MemoryLimit {
  size_t bytes;
  std::string source;  // what set it, for the out-of-memory message
};

MemoryLimit memory_limit() {
  if (const std::optional<size_t> bytes = env_megabytes(kMemoryVariable, 1))
    return {*bytes, std::string("the limit ") + kMemoryVariable + " sets"};
  const std::string available = std::string(
                                    "the memory available at start (a model, batch or clip too "
                                    "large for this machine? ") +
                                kMemoryVariable + " sets the limit)";
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  while (meminfo >> key >> kb) {
    // Not all of it: the process's other memory (code, libraries' own buffers, the decoder's
    // frames) needs room beside the tensors.
    if (key == "MemAvailable:") return {(kb << 10) / 100 * kAvailablePercent, available};
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return {std::numeric_limits<size_t>::max(), available};  // not Linux: the system's limits apply
}

size_t megabytes(size_t bytes) { return (bytes + (size_t{1} << 20) - 1) >> 20; }

struct HostState {
  std::mutex mu;
  size_t in_use = 0, peak = 0, cached = 0;
  const size_t limit = cache_limit();
  const MemoryLimit memory = memory_limit();
  std::multimap<size_t, void*> free_blocks;       // block size -> block, for best fit
  std::unordered_map<void*, size_t> block_sizes;  // cached-size blocks handed out
};

HostState& host_state() {
  static HostState s;
  return s;
}

// Frees every cached block (s.mu held).
void release_cached(HostState& s) {
  for (auto& [size, block] : s.free_blocks) std::free(block);
  s.free_blocks.clear();
  s.cached = 0;
}

}  // namespace

void* host_alloc(size_t bytes) {
  HostState& s = host_state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    RF_CHECK(bytes <= s.memory.bytes && s.in_use <= s.memory.bytes - bytes,
             "out of memory: a tensor of ", megabytes(bytes), " MB with ", megabytes(s.in_use),
             " MB in use would pass ", megabytes(s.memory.bytes), " MB, ", s.memory.source);
  }
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
      // Cached blocks are memory too: they go before the tensors in use and a new block would
      // pass the limit together.
      if (s.cached > s.memory.bytes - std::min(s.memory.bytes, s.in_use + size)) release_cached(s);
      p = std::aligned_alloc(kPage, size);
      if (!p && !s.free_blocks.empty()) {
        release_cached(s);
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
  release_cached(s);
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
