#include "framework/allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "framework/error.h"

namespace repflow {
namespace {

constexpr size_t kHostAlignment = 64;

struct HostCounters {
  std::atomic<size_t> in_use{0};
  std::atomic<size_t> peak{0};
};

HostCounters& host_counters() {
  static HostCounters c;
  return c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t rounded = std::max<size_t>(
      kHostAlignment, (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment);
  void* p = std::aligned_alloc(kHostAlignment, rounded);
  RF_CHECK(p != nullptr, "host_alloc: out of memory allocating ", bytes, " bytes");
  HostCounters& c = host_counters();
  const size_t now = c.in_use.fetch_add(bytes) + bytes;
  size_t prev = c.peak.load();
  while (now > prev && !c.peak.compare_exchange_weak(prev, now)) {
  }
  return p;
}

void host_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  std::free(ptr);
  host_counters().in_use.fetch_sub(bytes);
}

AllocatorStats device_allocator_stats(int device);
void reset_device_peak(int device);

AllocatorStats allocator_stats(Device device) {
  if (device.is_cuda()) return device_allocator_stats(device.index);
  AllocatorStats s;
  s.in_use = host_counters().in_use.load();
  s.peak = host_counters().peak.load();
  return s;
}

void reset_peak(Device device) {
  if (device.is_cuda()) return reset_device_peak(device.index);
  host_counters().peak.store(host_counters().in_use.load());
}

}  // namespace repflow
