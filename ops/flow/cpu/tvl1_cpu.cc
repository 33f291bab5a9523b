// The CPU schedule of TV-L1 optical flow: planes in parallel on the CPU threads, each plane's
// pyramid, warps and iterations on one thread (or, with fewer planes than threads, a plane at a
// time with its per-pixel loops shared out). The iterations run the representation flow op's
// vector sweeps (flow_cpu_sweeps.h) in the op's iteration layout, from state to state; the
// resampling and the image terms of each warp, a small part of the work next to the iterations,
// are plain loops over tvl1_math.h's formulas.
#include <algorithm>
#include <utility>
#include <vector>

#include "ops/flow/cpu/flow_cpu_layout.h"
#include "ops/flow/tvl1_kernels.h"

namespace repflow::ops {
namespace {

// Runs f(i, j) over the pixels of an h x w plane, rows shared out among the CPU threads when
// the caller is not itself one of several running planes (parallel_for runs nested calls
// inline).
template <class F>
void each_pixel(int h, int w, F f) {
  parallel_for(0, h, 16, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i)
      for (int j = 0; j < w; ++j) f(static_cast<int>(i), j);
  });
}

// One level of a plane's pyramid: the two images and I1's gradient, unpadded.
struct LevelImages {
  int h, w;
  std::vector<float> i0, i1, i1x, i1y;
};

// Runs the levels of one plane from the coarsest on; returns the finest level's flow, x then y,
// unpadded (2 H W floats).
std::vector<float> plane_flow(const Tvl1Problem& pb, const FlowCpuSweeps& sweeps, const float* i0,
                              const float* i1) {
  const FlowScalars& scalars = pb.scalars;
  std::vector<LevelImages> levels(pb.levels);
  std::vector<float> along_x, blurred0, blurred1;
  // `image` blurred along x, then along y, into `out` (the size of the finer level).
  const auto blur = [&](const std::vector<float>& image, int h, int w, std::vector<float>& out) {
    along_x.resize(image.size());
    out.resize(image.size());
    each_pixel(h, w, [&](int i, int j) {
      along_x[i * w + j] = tvl1_blurred(image.data(), h, w, i, j, true, pb.blur);
    });
    each_pixel(h, w, [&](int i, int j) {
      out[i * w + j] = tvl1_blurred(along_x.data(), h, w, i, j, false, pb.blur);
    });
  };
  for (int s = 0; s < pb.levels; ++s) {
    LevelImages& l = levels[s];
    l.h = pb.level_h[s];
    l.w = pb.level_w[s];
    const size_t n = static_cast<size_t>(l.h) * l.w;
    l.i0.resize(n);
    l.i1.resize(n);
    if (s == 0) {
      std::copy(i0, i0 + n, l.i0.begin());
      std::copy(i1, i1 + n, l.i1.begin());
    } else {
      const LevelImages& f = levels[s - 1];
      blur(f.i0, f.h, f.w, blurred0);
      blur(f.i1, f.h, f.w, blurred1);
      each_pixel(l.h, l.w, [&](int i, int j) {
        l.i0[i * l.w + j] = tvl1_resized(blurred0.data(), f.h, f.w, l.h, l.w, i, j);
        l.i1[i * l.w + j] = tvl1_resized(blurred1.data(), f.h, f.w, l.h, l.w, i, j);
      });
    }
  }
  std::vector<float> flow;  // the last level's flow, x then y
  for (int s = pb.levels - 1; s >= 0; --s) {
    LevelImages& l = levels[s];
    const int h = l.h, w = l.w;
    l.i1x.resize(l.i1.size());
    l.i1y.resize(l.i1.size());
    each_pixel(h, w, [&](int i, int j) {
      tvl1_gradient(l.i1.data(), h, w, i, j, scalars, l.i1x[i * w + j], l.i1y[i * w + j]);
    });
    const FlowCpuLayout lay(h, w, sweeps);
    const FlowCpuGrid& g = lay.grid;
    // The image terms, and two iterates to step between: zeros off the plane, as the sweeps
    // need, and the dual variable starts at zero on every level.
    GridPlanes image(kFlowImagePlanes, g.size), states(2 * kFlowStatePlanes, g.size);
    const FlowImage im = flow_image_at(image.plane(0), g.size);
    FlowState from = flow_state_at(states.plane(0), g.size);
    FlowState to = flow_state_at(states.plane(kFlowStatePlanes), g.size);
    if (s < pb.levels - 1) {
      // The coarser level's flow, resized and scaled to this level's pixels.
      const LevelImages& c = levels[s + 1];
      const float sx = static_cast<float>(w) / c.w, sy = static_cast<float>(h) / c.h;
      const float* cu1 = flow.data();
      const float* cu2 = cu1 + static_cast<size_t>(c.h) * c.w;
      each_pixel(h, w, [&](int i, int j) {
        from.u1[g.index(i, j)] = sx * tvl1_resized(cu1, c.h, c.w, h, w, i, j);
        from.u2[g.index(i, j)] = sy * tvl1_resized(cu2, c.h, c.w, h, w, i, j);
      });
    }
    for (int warp = 0; warp < pb.warps; ++warp) {
      each_pixel(h, w, [&](int i, int j) {
        const int k = g.index(i, j);
        tvl1_warp_terms(im, k, from.u1[k], from.u2[k], l.i0.data(), l.i1.data(), l.i1x.data(),
                        l.i1y.data(), h, w, i, j);
      });
      for (int it = 0; it < pb.iterations; ++it) {
        sweeps.forward(im, from, to, scalars, g, true);
        std::swap(from, to);
      }
    }
    flow.assign(2 * static_cast<size_t>(h) * w, 0.0f);
    sweeps.rows(from.u1, g, 1.0f, flow.data(), lay.tensor);
    sweeps.rows(from.u2, g, 1.0f, flow.data() + static_cast<size_t>(h) * w, lay.tensor);
  }
  return flow;
}

// Threads hold nothing between planes: each plane's levels allocate their own planes.
struct NoWork {};

}  // namespace

void tvl1_cpu(const Tvl1Problem& pb, const float* i0, const float* i1, float* out) {
  const int64_t hw = int64_t{pb.h()} * pb.w();
  const FlowCpuSweeps sweeps = pick_flow_sweeps();
  const auto run = [&](NoWork&, int64_t plane) {
    const std::vector<float> flow = plane_flow(pb, sweeps, i0 + plane * hw, i1 + plane * hw);
    float* out1 = out + flow_out_offset(plane, pb.channels, hw);
    std::copy(flow.begin(), flow.begin() + hw, out1);
    std::copy(flow.begin() + hw, flow.end(), out1 + pb.channels * hw);
  };
  // Fewer planes than threads: one plane at a time, its per-pixel loops on all the threads
  // (its iterations stay on one: their sweeps run through the plane in order).
  if (pb.planes >= num_threads()) return each_plane<NoWork>(pb.planes, run);
  NoWork none;
  for (int64_t plane = 0; plane < pb.planes; ++plane) run(none, plane);
}

}  // namespace repflow::ops
