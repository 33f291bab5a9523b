// The CPU schedule of the representation flow op: planes in parallel on the thread pool, each
// plane's iterations in a chunk-local padded working copy that stays in cache (a 28 x 28 plane
// is 3.5 KB per field). The sweeps (flow_cpu_sweeps.h) run along the rows as many pixels at a
// time as the CPU's widest vectors hold, picked at run time. (GCC does not vectorise these loops
// itself: the thresholding's selects and sqrt's errno path read as control flow.)
#include <algorithm>
#include <atomic>
#include <vector>

#include "framework/thread_pool.h"
#include "ops/flow_cpu_sweeps.h"
#include "ops/flow_kernels.h"

namespace repflow::ops {

FlowCpuSweeps flow_cpu_sweeps_sse() { return sweeps_of<Lanes<4>, Lane1>(4); }

namespace {

std::atomic<int> max_lanes{16};

FlowCpuSweeps pick_sweeps() {
  const int limit = max_lanes.load();
  if (limit >= 16 && __builtin_cpu_supports("avx512f")) return flow_cpu_sweeps_avx512();
  if (limit >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return flow_cpu_sweeps_avx2();
  return flow_cpu_sweeps_sse();
}

template <class F>
void each_pixel(int h, int w, F f) {
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) f(i, j);
}

}  // namespace

int flow_cpu_lanes() { return pick_sweeps().lanes; }

void set_flow_cpu_max_lanes(int lanes) { max_lanes.store(lanes); }

void flow_forward_cpu(const FlowProblem& pb, const float* f1, const float* f2, float* out,
                      float* saved) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowForwardPlanes * padded);
    const FlowForwardPlanes fp = flow_forward_planes(work.data(), padded);
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      each_pixel(h, w, [&](int i, int j) {
        flow_image_init(fp.im, f1 + plane * hw, f2 + plane * hw, h, w, i, j, s);
      });
      for (int it = 0; it < pb.n_iter; ++it) {
        if (saved)
          std::copy(work.data(), work.data() + state_floats,
                    saved + (plane * pb.n_iter + it) * state_floats);
        sweeps.forward(fp, s, h, w);
      }
      float* out1 = out + flow_out_offset(plane, pb.channels, hw);
      float* out2 = out1 + pb.channels * hw;
      each_pixel(h, w, [&](int i, int j) {
        out1[i * w + j] = fp.st.u1[flow_index(i, j, w)];
        out2[i * w + j] = fp.st.u2[flow_index(i, j, w)];
      });
    }
  });
}

void flow_backward_cpu(const FlowProblem& pb, const float* f1, const float* f2, const float* saved,
                       const float* grad_out, float* grad_f1, float* grad_f2, double* sums) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowBackwardPlanes * padded);
    const FlowBackwardPlanes bp = flow_backward_planes(work.data(), padded);
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
      each_pixel(h, w, [&](int i, int j) {
        flow_back_init(bp, f1 + plane * hw, f2 + plane * hw, g1, g1 + pb.channels * hw, h, w, i, j,
                       s);
      });
      double* plane_sums = partials.data() + plane * kFlowSlots;
      for (int it = pb.n_iter - 1; it >= 0; --it)
        sweeps.backward(
            bp, flow_saved_state_at(saved + (plane * pb.n_iter + it) * state_floats, padded), s, h,
            w, plane_sums);
      float taps[kFlowSlots] = {};
      each_pixel(h, w, [&](int i, int j) {
        flow_back_inputs(bp.ad, f2 + plane * hw, h, w, i, j, s, grad_f1 + plane * hw,
                         grad_f2 + plane * hw, taps);
      });
      for (int t = 0; t < kFlowSlots; ++t) plane_sums[t] += taps[t];
    }
  });
  std::fill(sums, sums + kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
}

}  // namespace repflow::ops
