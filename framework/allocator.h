#pragma once
#include <cstddef>

#include "framework/device.h"

namespace repflow {

struct AllocatorStats {
  size_t in_use = 0;  // bytes handed out and not yet returned
  size_t peak = 0;    // highest in_use since start or the last reset_peak
  size_t cached = 0;  // bytes held for reuse (device allocator only)
};

// 64-byte aligned host memory, so vector loads never straddle cache lines.
void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);

// Device memory comes from a caching allocator: freed blocks are kept and reused, so a
// training step in steady state never calls cudaMalloc or cudaFree.
void* device_alloc(size_t bytes, int device);
void device_free(void* ptr, int device);
// Returns cached blocks to the driver.
void device_empty_cache();

AllocatorStats allocator_stats(Device device);
void reset_peak(Device device);

}  // namespace repflow
