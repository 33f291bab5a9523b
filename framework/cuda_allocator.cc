#include <algorithm>
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
// Pool 0 is the general cache; a recording graph's pools get the ids after it.
constexpr int kGeneralPool = 0;

struct Block {
  size_t size;
  int pool;
};

struct DeviceCache {
  std::mutex mu;
  // Cached blocks by pool, size -> block for best fit.
  std::map<int, std::multimap<size_t, void*>> free_blocks;
  std::unordered_map<void*, Block> blocks;  // every block we own, in use or cached
  int recording = kGeneralPool;             // the pool of the graph being recorded, if any
  int last_pool = kGeneralPool;
  AllocatorStats stats;
};

DeviceCache& cache(int device) {
  static DeviceCache caches[64];
  RF_CHECK(device >= 0 && device < 64, "device_alloc: device index ", device, " out of range");
  return caches[device];
}

void release_cached(int device, DeviceCache& c) {
  CudaDeviceGuard guard(device);
  auto& general = c.free_blocks[kGeneralPool];
  for (auto& [size, ptr] : general) {
    RF_CUDA_CHECK(cudaFree(ptr));
    c.blocks.erase(ptr);
    c.stats.cached -= size;
  }
  general.clear();
}

// The smallest cached block of `pool` of at least `size` bytes and at most twice that, taken
// out of the cache, or null.
void* take_cached(DeviceCache& c, int pool, size_t size) {
  auto& cached = c.free_blocks[pool];
  auto it = cached.lower_bound(size);
  if (it == cached.end() || it->first > 2 * size) return nullptr;
  void* ptr = it->second;
  c.stats.cached -= it->first;
  c.stats.in_use += it->first;
  cached.erase(it);
  return ptr;
}

}  // namespace

void* device_alloc(size_t bytes, int device) {
  const size_t size = std::max<size_t>(kRound, (bytes + kRound - 1) / kRound * kRound);
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  // Every kernel of a device runs on its one stream, so a block freed earlier in stream order
  // can be reused at once. Take the smallest cached block of the current pool that fits without
  // wasting over half; a recording graph also adopts the general cache's blocks into its pool
  // (the work that used them is queued before its replays), so that recording a step does not
  // double the memory the step needs.
  void* ptr = take_cached(c, c.recording, size);
  if (!ptr && c.recording != kGeneralPool) {
    ptr = take_cached(c, kGeneralPool, size);
    if (ptr) c.blocks.at(ptr).pool = c.recording;
  }
  if (!ptr) {
    CudaDeviceGuard guard(device);
    cudaError_t err = cudaMalloc(&ptr, size);
    // cudaFree would end a recording, so a graph's allocations get no second try.
    if (err == cudaErrorMemoryAllocation && c.recording == kGeneralPool) {
      cudaGetLastError();
      release_cached(device, c);
      err = cudaMalloc(&ptr, size);
    }
    RF_CHECK(err == cudaSuccess, "device_alloc: cudaMalloc of ", bytes, " bytes on cuda:", device,
             " failed: ", cudaGetErrorString(err), " (in use ", c.stats.in_use, " bytes)");
    c.blocks[ptr] = {size, c.recording};
    c.stats.in_use += size;
  }
  c.stats.peak = std::max(c.stats.peak, c.stats.in_use);
  return ptr;
}

void device_free(void* ptr, int device) {
  if (!ptr) return;
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  Block& block = c.blocks.at(ptr);
  // A block freed while a graph records may still be read by the graph's earlier work on every
  // replay: it joins the graph's pool, which nothing outside the graph allocates from. A block of
  // another graph's pool stays there: that graph's replays may still write it.
  if (c.recording != kGeneralPool && block.pool == kGeneralPool) block.pool = c.recording;
  c.free_blocks[block.pool].emplace(block.size, ptr);
  c.stats.in_use -= block.size;
  c.stats.cached += block.size;
}

void device_empty_cache() {
  for (int d = 0; d < cuda_device_count(); ++d) {
    DeviceCache& c = cache(d);
    std::lock_guard<std::mutex> lock(c.mu);
    release_cached(d, c);
  }
}

int begin_graph_pool(int device) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  RF_CHECK(c.recording == kGeneralPool, "cuda graph: cuda:", device,
           " is already recording a graph");
  c.recording = ++c.last_pool;
  return c.recording;
}

void end_graph_pool(int device) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  c.recording = kGeneralPool;
}

void release_graph_pool(int device, int pool) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free_blocks.find(pool);
  if (it != c.free_blocks.end()) {
    c.free_blocks[kGeneralPool].merge(it->second);
    c.free_blocks.erase(it);
  }
  for (auto& [ptr, block] : c.blocks)
    if (block.pool == pool) block.pool = kGeneralPool;
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
int begin_graph_pool(int device) {
  RF_FAIL("cuda graph: cuda:", device, " requested but this build has no CUDA backend");
}
void end_graph_pool(int) {}
void release_graph_pool(int, int) {}
AllocatorStats device_allocator_stats(int) { return {}; }
void reset_device_peak(int) {}

#endif

}  // namespace repflow
