#include <map>
#include <mutex>
#include <unordered_map>

#include "framework/allocator.h"
#include "framework/error.h"

#if REPFLOW_WITH_CUDA
#include "framework/cuda_context.h"
#endif

namespace repflow {

#if REPFLOW_WITH_CUDA
namespace {

// Sizes are rounded so that blocks of similar tensors are interchangeable.
constexpr size_t kRound = 512;

struct DeviceCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;       // size -> block, for best fit
  std::unordered_map<void*, size_t> block_sizes;  // every block we own, in use or cached
  AllocatorStats stats;
};

DeviceCache& cache(int device) {
  static DeviceCache caches[64];
  RF_CHECK(device >= 0 && device < 64, "device_alloc: device index ", device, " out of range");
  return caches[device];
}

void release_cached(int device, DeviceCache& c) {
  CudaDeviceGuard guard(device);
  for (auto& [size, ptr] : c.free_blocks) {
    RF_CUDA_CHECK(cudaFree(ptr));
    c.block_sizes.erase(ptr);
    c.stats.cached -= size;
  }
  c.free_blocks.clear();
}

}  // namespace

void* device_alloc(size_t bytes, int device) {
  const size_t size = std::max<size_t>(kRound, (bytes + kRound - 1) / kRound * kRound);
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  // Every kernel of a device runs on its one stream, so a block freed earlier in stream order
  // can be reused at once. Take the smallest cached block that fits without wasting over half.
  auto it = c.free_blocks.lower_bound(size);
  void* ptr = nullptr;
  if (it != c.free_blocks.end() && it->first <= 2 * size) {
    ptr = it->second;
    c.stats.cached -= it->first;
    c.stats.in_use += it->first;
    c.free_blocks.erase(it);
  } else {
    CudaDeviceGuard guard(device);
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached(device, c);
      err = cudaMalloc(&ptr, size);
    }
    RF_CHECK(err == cudaSuccess, "device_alloc: cudaMalloc of ", bytes, " bytes on cuda:", device,
             " failed: ", cudaGetErrorString(err), " (in use ", c.stats.in_use, " bytes)");
    c.block_sizes[ptr] = size;
    c.stats.in_use += size;
  }
  c.stats.peak = std::max(c.stats.peak, c.stats.in_use);
  return ptr;
}

void device_free(void* ptr, int device) {
  if (!ptr) return;
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  const size_t size = c.block_sizes.at(ptr);
  c.free_blocks.emplace(size, ptr);
  c.stats.in_use -= size;
  c.stats.cached += size;
}

void device_empty_cache() {
  for (int d = 0; d < cuda_device_count(); ++d) {
    DeviceCache& c = cache(d);
    std::lock_guard<std::mutex> lock(c.mu);
    release_cached(d, c);
  }
}

AllocatorStats device_allocator_stats(int device) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void reset_device_peak(int device) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak = c.stats.in_use;
}

#else

void* device_alloc(size_t bytes, int device) {
  RF_FAIL("device_alloc: ", bytes, " bytes on cuda:", device,
          " requested but this build has no CUDA backend");
}
void device_free(void*, int) {}
void device_empty_cache() {}
AllocatorStats device_allocator_stats(int) { return {}; }
void reset_device_peak(int) {}

#endif

}  // namespace repflow
