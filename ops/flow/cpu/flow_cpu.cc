// The CPU schedule of the representation flow op: planes in parallel on the CPU threads, each
// plane's iterations in thread-local working planes that stay in cache (a 28 x 28 plane is
// 3.4 KB per field). The sweeps (flow_cpu_sweeps.h) run over the plane's rows, laid back to
// back, as many pixels at a time as the CPU's widest vectors hold, picked at run time: whole
// vectors of that width throughout, rather than narrower ones for the end of each row, and rows
// back to back rather than each padded to whole vectors, so that every vector but the plane's
// last is full of pixels. (GCC does not vectorise these loops itself: the thresholding's selects
// and sqrt's errno path read as control flow.)
//
// The backward recomputes a plane's iterates rather than reading them from memory the forward
// wrote: the recomputed iterates stay in cache, while saving every iterate of every plane would
// stream 24 * n_iter * (H + 2) * (W + 2) bytes per plane out to memory and back (110 MB for
// 16 x 32 planes of 28 x 28 and 10 iterations).
#include <algorithm>
#include <new>
#include <vector>

#include "ops/flow/cpu/flow_cpu_layout.h"
#include "ops/flow/cpu/flow_cpu_sweeps.h"
#include "ops/flow/flow_kernels.h"

namespace repflow::ops {

FlowCpuSweeps flow_cpu_sweeps_sse() { return sweeps_of<Lanes<4>>(); }

namespace {

// A thread's iterates of one plane: `count` states, the first of them the zero start. Cells off
// the plane are zeroed once here and never written but with zeros.
class PlaneStates {
 public:
  PlaneStates(int count, const FlowCpuGrid& g)
      : count_(count), size_(g.size), floats_(int64_t{count} * kFlowStatePlanes, g.size) {}
  FlowState at(int k) const { return flow_state_at(floats_.plane(k * kFlowStatePlanes), size_); }
  // Runs n_iter iterations from state 0, which they never write (so it stays the zero start
  // without being reset for every plane), into states 1 to count - 1 in turn, and returns the
  // last state. The last iteration's dual sweep is left out unless `last_dual`: the op's output
  // is that iteration's u alone, so nothing reads its p.
  FlowState run(const FlowCpuSweeps& sweeps, const FlowImage& im, const FlowScalars& scalars,
                const FlowCpuGrid& g, int n_iter, bool last_dual) {
    for (int it = 0; it < n_iter; ++it)
      sweeps.forward(im, after(it - 1), after(it), scalars, g, last_dual || it + 1 < n_iter);
    return after(n_iter - 1);
  }

 private:
  // The state iteration `it` writes (the start for it = -1).
  FlowState after(int it) const { return at(it < 0 ? 0 : 1 + it % (count_ - 1)); }

  int count_, size_;
  GridPlanes floats_;
};

// Adds the pad cells of the f2 gradient in the Sobel layout to the border pixels whose values
// they replicate: the pad rows first, pad columns included, so that the corners also collect
// the diagonal pad cells.
void fold_replicated_pads(float* gp, const FlowCpuRows& sg) {
  const int h = sg.h, w = sg.w;
  const auto add_row = [&](int into, int from) {
    for (int j = -1; j <= w; ++j) gp[sg.index(into, j)] += gp[sg.index(from, j)];
  };
  add_row(0, -1);
  add_row(h - 1, h);
  for (int i = 0; i < h; ++i) {
    gp[sg.index(i, 0)] += gp[sg.index(i, -1)];
    gp[sg.index(i, w - 1)] += gp[sg.index(i, w)];
  }
}

// The sum of x[0, n) for n a power of two, pairwise: a chain of log2(n) additions rather than n.
double pairwise_sum(double* x, int n) {
  for (int half = n / 2; half > 0; half /= 2)
    for (int l = 0; l < half; ++l) x[l] += x[l + half];
  return x[0];
}

}  // namespace

int flow_cpu_lanes() { return pick_flow_sweeps().lanes; }

void flow_scalars_cpu(const FlowParamPointers<const float>& params, FlowScalars* scalars) {
  new (scalars) FlowScalars(flow_scalars_from(params));
}

void flow_forward_cpu(const FlowShape& shape, const FlowScalars* values, const float* f1,
                      const float* f2, float* out, float* /*saved*/) {
  const FlowProblem pb{shape, *values};
  const int64_t hw = int64_t{pb.h} * pb.w;
  const FlowScalars& scalars = pb.scalars;
  const FlowCpuLayout lay(pb.h, pb.w, pick_flow_sweeps());
  const FlowCpuSweeps& sweeps = lay.sweeps;
  const FlowCpuGrid& g = lay.grid;
  struct Work {
    GridPlanes image;  // the image terms
    GridPlanes f2p;
    PlaneStates states;
    explicit Work(const FlowCpuLayout& lay)
        : image(kFlowImagePlanes, lay.grid.size), f2p(1, lay.sobel.size), states(3, lay.grid) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowImage im = flow_image_at(work.image.plane(0), g.size);
        float* f2p = work.f2p.plane(0);
        sweeps.load(f1 + plane * hw, f2 + plane * hw, lay.sobel, f2p, g, im.rho_c);
        sweeps.image(im, g, f2p, lay.sobel, scalars);
        const FlowState last = work.states.run(sweeps, im, scalars, g, pb.n_iter, false);
        float* out1 = out + flow_out_offset(plane, pb.channels, hw);
        sweeps.rows(last.u1, g, 1.0f, out1, lay.tensor);
        sweeps.rows(last.u2, g, 1.0f, out1 + pb.channels * hw, lay.tensor);
      },
      lay);
}

void flow_backward_cpu(const FlowShape& shape, const FlowScalars* values, const float* f1,
                       const float* f2, const float* /*saved*/, const float* grad_out,
                       float* grad_f1, float* grad_f2,
                       const FlowParamPointers<float>& param_grads) {
  const FlowProblem pb{shape, *values};
  const int h = pb.h, w = pb.w;
  const int64_t hw = int64_t{h} * w;
  const FlowScalars& scalars = pb.scalars;
  const FlowCpuLayout lay(h, w, pick_flow_sweeps());
  const FlowCpuSweeps& sweeps = lay.sweeps;
  const FlowCpuGrid& g = lay.grid;
  const FlowCpuRows& sg = lay.sobel;
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  struct Work {
    GridPlanes planes;  // the image terms and adjoints
    // In the Sobel layout: f2 padded, the gradient of f2, and inputs' scratch planes.
    GridPlanes sobel;
    PlaneStates states;
    std::vector<double> lane_sums;  // the sweeps' partials, per slot and lane
    Work(const FlowCpuLayout& lay, int n_iter)
        : planes(kFlowBackwardPlanes, lay.grid.size),
          sobel(5, lay.sobel.size),
          states(n_iter, lay.grid),
          lane_sums(kFlowSlots * lay.sweeps.lanes) {}
  };
  each_plane<Work>(
      pb.planes,
      [&](Work& work, int64_t plane) {
        const FlowBackwardPlanes bp = flow_backward_planes(work.planes.plane(0), g.size);
        PlaneStates& states = work.states;
        float* f2p = work.sobel.plane(0);
        float* gf2p = work.sobel.plane(1);
        float* const scratch[3] = {work.sobel.plane(2), work.sobel.plane(3), work.sobel.plane(4)};
        // The adjoints of p (zero after the last iteration) and the image-term accumulators; the
        // other adjoint planes are written before they are read. The output gradient goes to
        // ad.uprime, as the adjoint of the last iteration's u': with no p' to reverse, that is all
        // its primal reverse needs. (Cells of ad.uprime off the plane hold zeros: the grad reverse
        // writes them so.)
        std::fill(bp.ad.p11, bp.ad.rho_c + g.size, 0.0f);
        const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
        sweeps.rows(g1, lay.tensor, 1.0f, bp.ad.uprime1, g);
        sweeps.rows(g1 + pb.channels * hw, lay.tensor, 1.0f, bp.ad.uprime2, g);
        sweeps.load(f1 + plane * hw, f2 + plane * hw, sg, f2p, g, bp.im.rho_c);
        sweeps.image(bp.im, g, f2p, sg, scalars);
        // The iterates at the start of every iteration: the last iteration's reverse (its primal
        // reverse alone) needs no iterate after it, so it is not run again.
        states.run(sweeps, bp.im, scalars, g, pb.n_iter - 1, true);
        double* lane_sums = work.lane_sums.data();
        std::fill(work.lane_sums.begin(), work.lane_sums.end(), 0.0);
        // Pass `it` is the primal reverse of iteration it and the dual and grad reverses of
        // it - 1, which meet at it's start iterate.
        for (int it = pb.n_iter - 1; it >= 0; --it)
          sweeps.backward(bp.im, states.at(it), bp.ad, scalars, g, it > 0, pb.grad_taps, lane_sums);
        sweeps.inputs(bp.ad, g, f2p, sg, scratch, scalars, gf2p, pb.sobel_taps, lane_sums);
        for (int t = 0; t < kFlowSlots; ++t)
          partials[plane * kFlowSlots + t] =
              pairwise_sum(lane_sums + t * sweeps.lanes, sweeps.lanes);
        sweeps.rows(bp.ad.rho_c, g, -1.0f, grad_f1 + plane * hw, lay.tensor);
        fold_replicated_pads(gf2p, sg);
        sweeps.rows(gf2p, sg, 1.0f, grad_f2 + plane * hw, lay.tensor);
      },
      lay, pb.n_iter);
  double sums[kFlowSlots] = {};
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
  flow_store_param_grads(scalars, sums, param_grads);
}

}  // namespace repflow::ops
