#pragma once
#include <cstddef>

#include "framework/device.h"

namespace repflow {

struct AllocatorStats {
  size_t in_use = 0;  // bytes handed out and not yet returned
  size_t peak = 0;    // highest in_use since start or the last reset_peak
  size_t cached = 0;  // bytes of freed blocks held for reuse
};

// 64-byte aligned host memory, so vector loads never straddle cache lines. Blocks of 64 KB and
// more are kept when freed and reused for later requests of similar size (up to
// REPFLOW_HOST_CACHE_MB, default 4096, of cached blocks), so steady-state steps touch no fresh
// pages. The memory in use is bounded by what the system had available when the first block was
// made (REPFLOW_HOST_MEMORY_MB overrides): past it host_alloc throws an Error naming the sizes.
void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);
// Returns cached host blocks to the system.
void host_empty_cache();

// Device memory comes from a caching allocator: freed blocks are kept and reused, so a
// training step in steady state never calls cudaMalloc or cudaFree.
void* device_alloc(size_t bytes, int device);
void device_free(void* ptr, int device);
// Returns cached blocks to the driver.
void device_empty_cache();

// Graph pools (framework/cuda_graph.h). While a graph records on `device`, its allocations come
// from a pool of its own, and every block freed joins that pool (the graph may read it on each
// replay), so nothing outside the graph is handed memory the graph uses. begin_graph_pool starts
// routing to a new pool and returns its id; end_graph_pool stops routing, the pool keeping its
// blocks; release_graph_pool, once the graph is gone, returns them to the general cache.
int begin_graph_pool(int device);
void end_graph_pool(int device);
void release_graph_pool(int device, int pool);

AllocatorStats allocator_stats(Device device);
void reset_peak(Device device);

}  // namespace repflow
