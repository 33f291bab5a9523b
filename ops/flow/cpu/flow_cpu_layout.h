#pragma once
// What the CPU schedules of the flow family share around the sweeps (flow_cpu_sweeps.h): the
// sweeps of this CPU's widest vectors, a plane's layouts for them, thread-local working planes,
// and the loop that shares planes out among the CPU threads. Included by translation units
// compiled with the baseline flags only (see flow_cpu_sweeps.h).
#include <algorithm>
#include <atomic>
#include <vector>

#include "framework/allocator.h"
#include "framework/parallel.h"
#include "ops/flow/cpu/flow_cpu_types.h"

namespace repflow::ops {

// The sweeps of the widest instruction set this CPU runs (ops/dispatch.h's choice, capped by
// set_cpu_isa_limit).
FlowCpuSweeps pick_flow_sweeps();

// What a call's sweeps need: the vector width's functions and the layouts of an h x w plane.
struct FlowCpuLayout {
  FlowCpuSweeps sweeps;
  std::vector<FlowCpuChunkMasks> masks;
  FlowCpuGrid grid;  // the iteration layout; grid.masks points into `masks`
  FlowCpuRows sobel;
  // The unpadded planes of the op's tensors.
  FlowCpuRows tensor;
  FlowCpuLayout(int h, int w, FlowCpuSweeps picked);
  FlowCpuLayout(const FlowCpuLayout&) = delete;
  FlowCpuLayout& operator=(const FlowCpuLayout&) = delete;
};

// `count` zeroed planes of `size` floats (whole vectors), each starting on a cache line
// (host_alloc's alignment), as the sweeps' aligned vectors need.
class GridPlanes {
 public:
  GridPlanes(int64_t count, int64_t size)
      : size_(size),
        bytes_(sizeof(float) * count * size_),
        data_(static_cast<float*>(host_alloc(bytes_))) {
    std::fill(data_, data_ + count * size_, 0.0f);
  }
  ~GridPlanes() { host_free(data_, bytes_); }
  GridPlanes(const GridPlanes&) = delete;
  GridPlanes& operator=(const GridPlanes&) = delete;
  float* plane(int64_t k) const { return data_ + k * size_; }

 private:
  int64_t size_;
  size_t bytes_;
  float* data_;
};

// Runs body(work, plane) for every plane on the CPU threads, `work` being the thread's
// Work(args...). Threads take the next plane when they finish one rather than a fixed share, so
// that a thread the OS deschedules on a busy machine leaves its planes to the others instead of
// holding up the op.
template <class Work, class... Args, class Body>
void each_plane(int64_t planes, Body body, const Args&... args) {
  std::atomic<int64_t> next{0};
  parallel_for(0, std::min<int64_t>(planes, num_threads()), 1, [&](int64_t, int64_t) {
    Work work(args...);
    for (int64_t plane; (plane = next++) < planes;) body(work, plane);
  });
}

}  // namespace repflow::ops
