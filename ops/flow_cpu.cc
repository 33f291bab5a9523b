// The CPU schedule of the representation flow op: planes in parallel on the thread pool, each
// plane's iterations in thread-local padded working planes that stay in cache (a 28 x 28 plane
// is 3.9 KB per field). The sweeps (flow_cpu_sweeps.h) run along the rows as many pixels at a
// time as the CPU's widest vectors hold, picked at run time, on rows aligned to those vectors
// (FlowCpuGrid): at 28 x 28, whole aligned vectors took 22% less time than 16 + 8 + 4 pixels
// from unaligned rows. (GCC does not vectorise these loops itself: the thresholding's selects
// and sqrt's errno path read as control flow.)
//
// The backward recomputes a plane's iterates rather than reading them from memory the forward
// wrote: a forward pass costs about a third of the backward's sweeps, while saving every
// iterate of every plane streams 24 * n_iter * (H + 2) * (W + 2) bytes per plane out to memory
// and back (110 MB for 16 x 32 planes of 28 x 28 and 10 iterations), which took longer.
#include <algorithm>
#include <atomic>
#include <vector>

#include "framework/allocator.h"
#include "framework/thread_pool.h"
#include "ops/flow_cpu_sweeps.h"
#include "ops/flow_kernels.h"

namespace repflow::ops {

FlowCpuSweeps flow_cpu_sweeps_sse() { return sweeps_of<Lanes<4>>(); }

namespace {

std::atomic<int> max_lanes{16};

FlowCpuSweeps pick_sweeps() {
  const int limit = max_lanes.load();
  if (limit >= 16 && __builtin_cpu_supports("avx512f")) return flow_cpu_sweeps_avx512();
  if (limit >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return flow_cpu_sweeps_avx2();
  return flow_cpu_sweeps_sse();
}

// `count` zeroed grid planes, each starting on a cache line (host_alloc's alignment and
// FlowCpuGrid's whole vectors), as the sweeps' aligned rows need.
class GridPlanes {
 public:
  GridPlanes(int64_t count, const FlowCpuGrid& g)
      : size_(g.size),
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

// A thread's iterates of one plane: `count` states, the first of them the zero start. Pads are
// zeroed once here and never written but with zeros.
class PlaneStates {
 public:
  PlaneStates(int count, const FlowCpuGrid& g)
      : count_(count), size_(g.size), floats_(int64_t{count} * kFlowStatePlanes, g) {}
  FlowState at(int k) const { return flow_state_at(floats_.plane(k * kFlowStatePlanes), size_); }
  // Runs the n_iter iterations from state 0, iteration `it` from state it % count into
  // (it + 1) % count; returns the last, whose p is left out: nothing reads it (the output is its
  // u; skipping it saved 5% of forward + backward at 28 x 28, 10 iterations). State 0 is reset
  // first when iterations write it.
  FlowState run(const FlowCpuSweeps& sweeps, const FlowImage& im, const FlowScalars& s,
                const FlowCpuGrid& g, int n_iter) {
    if (n_iter >= count_) std::fill(floats_.plane(0), floats_.plane(kFlowStatePlanes), 0.0f);
    for (int it = 0; it < n_iter; ++it)
      sweeps.forward(im, at(it % count_), at((it + 1) % count_), s, g, it + 1 < n_iter);
    return at(n_iter % count_);
  }

 private:
  int count_, size_;
  GridPlanes floats_;
};
// Runs body(work, plane) for every plane on the thread pool, `work` being the thread's
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

}  // namespace

int flow_cpu_lanes() { return pick_sweeps().lanes; }

void set_flow_cpu_max_lanes(int lanes) { max_lanes.store(lanes); }

void flow_forward_cpu(const FlowProblem& pb, const float* f1, const float* f2, float* out) {
  const int h = pb.h, w = pb.w;
  const int64_t hw = int64_t{h} * w;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  const FlowCpuGrid g = flow_cpu_grid(h, w, sweeps.lanes);
  struct Work {
    GridPlanes planes;  // the image terms, then f2 padded
    PlaneStates states;
    explicit Work(const FlowCpuGrid& g) : planes(kFlowImagePlanes + 1, g), states(2, g) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowImage im = flow_image_at(work.planes.plane(0), g.size);
        float* f2p = work.planes.plane(kFlowImagePlanes);
        sweeps.load(f1 + plane * hw, f2 + plane * hw, g, f2p, im.rho_c);
        sweeps.image(im, f2p, s, g);
        const FlowState last = work.states.run(sweeps, im, s, g, pb.n_iter);
        float* out1 = out + flow_out_offset(plane, pb.channels, hw);
        sweeps.rows_out(last.u1, g, 1.0f, out1);
        sweeps.rows_out(last.u2, g, 1.0f, out1 + pb.channels * hw);
      },
      g);
}

void flow_backward_cpu(const FlowProblem& pb, const float* f1, const float* f2,
                       const float* grad_out, float* grad_f1, float* grad_f2, double* sums) {
  const int h = pb.h, w = pb.w;
  const int64_t hw = int64_t{h} * w;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  const FlowCpuGrid g = flow_cpu_grid(h, w, sweeps.lanes);
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  struct Work {
    GridPlanes planes;  // the image terms and adjoints, then f2 padded and the gradient of f2
    PlaneStates states;
    Work(const FlowCpuGrid& g, int n_iter)
        : planes(kFlowBackwardPlanes + 2, g), states(n_iter + 1, g) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowBackwardPlanes bp = flow_backward_planes(work.planes.plane(0), g.size);
        PlaneStates& states = work.states;
        float* f2p = work.planes.plane(kFlowBackwardPlanes);
        float* gf2p = work.planes.plane(kFlowBackwardPlanes + 1);
        // The adjoints of p (zero after the last iteration) and the image-term accumulators; the
        // other adjoint planes are written before they are read. The output gradient goes to t,
        // as the adjoint of the last iteration's u': with no p' to reverse, that is all its B3
        // needs. (Cells of t off the plane hold zeros: rows_in and B2 write them so.)
        std::fill(bp.ad.p11, bp.ad.rho_c + g.size, 0.0f);
        const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
        sweeps.rows_in(g1, g, bp.ad.t1);
        sweeps.rows_in(g1 + pb.channels * hw, g, bp.ad.t2);
        sweeps.load(f1 + plane * hw, f2 + plane * hw, g, f2p, bp.im.rho_c);
        sweeps.image(bp.im, f2p, s, g);
        states.run(sweeps, bp.im, s, g, pb.n_iter);
        double* plane_sums = partials.data() + plane * kFlowSlots;
        for (int it = pb.n_iter - 1; it >= 0; --it)
          sweeps.backward(bp.im, states.at(it), states.at(it + 1), bp.ad, s, g, it == 0,
                          it + 1 < pb.n_iter, pb.grad_taps, plane_sums);
        sweeps.inputs(bp.ad, f2p, s, g, gf2p, pb.sobel_taps, plane_sums);
        sweeps.rows_out(bp.ad.rho_c, g, -1.0f, grad_f1 + plane * hw);
        float* gf2 = grad_f2 + plane * hw;
        sweeps.rows_out(gf2p, g, 1.0f, gf2);
        // The border pixels gather the pad cells that replicate them.
        const auto border = [&](int i, int j) {
          float sum = 0.0f;
          flow_replicated_sources(h, w, i, j,
                                  [&](int si, int sj) { sum += gf2p[g.index(si, sj)]; });
          gf2[i * w + j] = sum;
        };
        for (int j = 0; j < w; ++j) {
          border(0, j);
          if (h > 1) border(h - 1, j);
        }
        for (int i = 1; i + 1 < h; ++i) {
          border(i, 0);
          if (w > 1) border(i, w - 1);
        }
      },
      g, pb.n_iter);
  std::fill(sums, sums + kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
}

}  // namespace repflow::ops
