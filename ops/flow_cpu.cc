// The CPU schedule of the representation flow op: planes in parallel on the thread pool, each
// plane's iterations in chunk-local padded working planes that stay in cache (a 28 x 28 plane
// is 3.5 KB per field). The sweeps (flow_cpu_sweeps.h) run along the rows as many pixels at a
// time as the CPU's widest vectors hold, picked at run time. (GCC does not vectorise these loops
// itself: the thresholding's selects and sqrt's errno path read as control flow.)
//
// The backward recomputes a plane's iterates rather than reading them from memory the forward
// wrote: a forward pass costs about a third of the backward's sweeps, while saving every
// iterate of every plane streams 24 * n_iter * (H + 2) * (W + 2) bytes per plane out to memory
// and back (110 MB for 16 x 32 planes of 28 x 28 and 10 iterations), which took longer.
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

// f2 in the padded layout with its borders replicated into the pad cells, so that the sweeps
// read the Sobel stencil without clamping.
void replicate_pad(const float* f2, int h, int w, float* f2p) {
  for (int i = -1; i <= h; ++i)
    for (int j = -1; j <= w; ++j)
      f2p[flow_index(i, j, w)] = f2[flow_clamp(i, h) * w + flow_clamp(j, w)];
}

// A thread's iterates of one plane: `count` padded states, the first of them the zero start.
// Pads are zeroed once here and never written.
class PlaneStates {
 public:
  PlaneStates(int count, int padded)
      : padded_(padded), count_(count), floats_(int64_t{count} * kFlowStatePlanes * padded) {}
  FlowState at(int k) {
    return flow_state_at(floats_.data() + int64_t{k} * kFlowStatePlanes * padded_, padded_);
  }
  // Runs the n_iter iterations from state 0, iteration `it` from state it % count into
  // (it + 1) % count; returns the last. State 0 is reset first when iterations write it.
  FlowState run(const FlowCpuSweeps& sweeps, const FlowImage& im, const FlowScalars& s, int h,
                int w, int n_iter) {
    if (n_iter >= count_)
      std::fill(floats_.begin(), floats_.begin() + kFlowStatePlanes * padded_, 0.0f);
    for (int it = 0; it < n_iter; ++it)
      sweeps.forward(im, at(it % count_), at((it + 1) % count_), s, h, w);
    return at(n_iter % count_);
  }

 private:
  int padded_, count_;
  std::vector<float> floats_;
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
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w);
  const int64_t hw = int64_t{h} * w;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  struct Work {
    std::vector<float> image, f2p;
    PlaneStates states;
    explicit Work(int padded)
        : image(kFlowImagePlanes * padded, 0.0f), f2p(padded), states(2, padded) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowImage im = flow_image_at(work.image.data(), padded);
        replicate_pad(f2 + plane * hw, h, w, work.f2p.data());
        sweeps.image(im, f1 + plane * hw, work.f2p.data(), s, h, w);
        const FlowState last = work.states.run(sweeps, im, s, h, w, pb.n_iter);
        float* out1 = out + flow_out_offset(plane, pb.channels, hw);
        float* out2 = out1 + pb.channels * hw;
        each_pixel(h, w, [&](int i, int j) {
          out1[i * w + j] = last.u1[flow_index(i, j, w)];
          out2[i * w + j] = last.u2[flow_index(i, j, w)];
        });
      },
      padded);
}

void flow_backward_cpu(const FlowProblem& pb, const float* f1, const float* f2,
                       const float* grad_out, float* grad_f1, float* grad_f2, double* sums) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w);
  const int64_t hw = int64_t{h} * w;
  const FlowScalars& s = pb.s;
  const FlowCpuSweeps sweeps = pick_sweeps();
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  struct Work {
    std::vector<float> planes, f2p;
    PlaneStates states;
    Work(int padded, int n_iter)
        : planes(kFlowBackwardPlanes * padded, 0.0f), f2p(padded), states(n_iter + 1, padded) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowBackwardPlanes bp = flow_backward_planes(work.planes.data(), padded);
        PlaneStates& states = work.states;
        float* f2p = work.f2p.data();
        // The adjoints of p (zero after the last iteration) and the image-term accumulators; the
        // other adjoint planes are written before they are read.
        std::fill(bp.ad.p11, bp.ad.rho_c + padded, 0.0f);
        const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
        const float* g2 = g1 + pb.channels * hw;
        for (int i = 0; i < h; ++i) {
          std::copy(g1 + i * w, g1 + (i + 1) * w, bp.ad.u1 + flow_index(i, 0, w));
          std::copy(g2 + i * w, g2 + (i + 1) * w, bp.ad.u2 + flow_index(i, 0, w));
        }
        replicate_pad(f2 + plane * hw, h, w, f2p);
        sweeps.image(bp.im, f1 + plane * hw, f2p, s, h, w);
        states.run(sweeps, bp.im, s, h, w, pb.n_iter);
        double* plane_sums = partials.data() + plane * kFlowSlots;
        for (int it = pb.n_iter - 1; it >= 0; --it)
          sweeps.backward(bp.im, states.at(it), states.at(it + 1), bp.ad, s, h, w, pb.grad_taps,
                          plane_sums);
        float* gf2 = grad_f2 + plane * hw;
        sweeps.inputs(bp.ad, f2p, s, h, w, grad_f1 + plane * hw, gf2, pb.sobel_taps, plane_sums);
        // The border pixels, where clamped sources add to the inner sum.
        each_pixel(h, w, [&](int i, int j) {
          if (i == 0 || i + 1 == h || j == 0 || j + 1 == w)
            gf2[i * w + j] = bp.ad.rho_c[flow_index(i, j, w)] +
                             flow_sobel_adjoint(bp.ad.gx, bp.ad.gy, h, w, i, j, s);
        });
      },
      padded, pb.n_iter);
  std::fill(sums, sums + kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
}

}  // namespace repflow::ops
