// The CPU schedule of the representation flow op: planes in parallel on the thread pool, each
// plane's iterations in a chunk-local padded working copy that stays in cache (a 28 x 28 plane
// is 3.5 KB per field), every sweep a row-major loop over the flow_math.h formulas.
#include <algorithm>
#include <vector>

#include "framework/thread_pool.h"
#include "ops/flow_kernels.h"

namespace repflow::ops {
namespace {

// Runs f(k) over the plane's pixels by padded index.
template <class F>
void each_index(int h, int w, F f) {
  for (int i = 0; i < h; ++i) {
    const int k0 = flow_index(i, 0, w);
    for (int j = 0; j < w; ++j) f(k0 + j);
  }
}

template <class F>
void each_pixel(int h, int w, F f) {
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) f(i, j);
}

// Partial sums of one row in float (cheap, vectorisable), added to the plane's double sums so
// that long planes and many iterations do not lose the small terms.
struct RowSums {
  float acc[kFlowSlots];
  RowSums() { std::fill(acc, acc + kFlowSlots, 0.0f); }
  void flush_into(double* sums) {
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += acc[t];
    std::fill(acc, acc + kFlowSlots, 0.0f);
  }
};

}  // namespace

void flow_forward_cpu(const FlowProblem& pb, const float* f1, const float* f2, float* out,
                      float* saved) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowForwardPlanes * padded);
    const FlowForwardPlanes fp = flow_forward_planes(work.data(), padded);
    const FlowState& st = fp.st;
    const FlowImage& im = fp.im;
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      each_pixel(h, w, [&](int i, int j) {
        flow_image_init(im, f1 + plane * hw, f2 + plane * hw, h, w, i, j, s);
      });
      for (int it = 0; it < pb.n_iter; ++it) {
        if (saved)
          std::copy(work.data(), work.data() + state_floats,
                    saved + (plane * pb.n_iter + it) * state_floats);
        each_index(h, w, [&](int k) {
          float u1, u2;
          flow_relax(im, st, s, stride, k, &u1, &u2);
          st.u1[k] = u1;
          st.u2[k] = u2;
        });
        each_pixel(h, w, [&](int i, int j) { flow_dual_step(st, s, h, w, i, j); });
      }
      float* out1 = out + flow_out_offset(plane, pb.channels, hw);
      float* out2 = out1 + pb.channels * hw;
      each_pixel(h, w, [&](int i, int j) {
        out1[i * w + j] = st.u1[flow_index(i, j, w)];
        out2[i * w + j] = st.u2[flow_index(i, j, w)];
      });
    }
  });
}

void flow_backward_cpu(const FlowProblem& pb, const float* f1, const float* f2, const float* saved,
                       const float* grad_out, float* grad_f1, float* grad_f2, double* sums) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowBackwardPlanes * padded);
    const FlowBackwardPlanes bp = flow_backward_planes(work.data(), padded);
    const FlowImage& im = bp.im;
    const FlowAdjoint& ad = bp.ad;
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
      each_pixel(h, w, [&](int i, int j) {
        flow_back_init(bp, f1 + plane * hw, f2 + plane * hw, g1, g1 + pb.channels * hw, h, w, i, j,
                       s);
      });
      double* plane_sums = partials.data() + plane * kFlowSlots;
      RowSums row;
      for (int it = pb.n_iter - 1; it >= 0; --it) {
        const FlowState st =
            flow_saved_state_at(saved + (plane * pb.n_iter + it) * state_floats, padded);
        each_index(h, w, [&](int k) { flow_back_recompute(im, st, ad, s, stride, k); });
        for (int i = 0; i < h; ++i) {
          for (int j = 0; j < w; ++j) flow_back_dual(st, ad, s, h, w, i, j, row.acc);
          row.flush_into(plane_sums);
        }
        each_index(h, w, [&](int k) { flow_back_grad(ad, s, stride, k); });
        for (int i = 0; i < h; ++i) {
          const int k0 = flow_index(i, 0, w);
          for (int j = 0; j < w; ++j) flow_back_relax(im, st, ad, s, stride, k0 + j, row.acc);
          row.flush_into(plane_sums);
        }
      }
      for (int i = 0; i < h; ++i) {
        for (int j = 0; j < w; ++j)
          flow_back_inputs(ad, f2 + plane * hw, h, w, i, j, s, grad_f1 + plane * hw,
                           grad_f2 + plane * hw, row.acc);
        row.flush_into(plane_sums);
      }
    }
  });
  std::fill(sums, sums + kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
}

}  // namespace repflow::ops
