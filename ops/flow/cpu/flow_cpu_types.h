#pragma once
// The CPU schedules' plane layouts and the table of one vector width's sweeps
// (flow_cpu_sweeps.h), declared apart from the sweeps so that code compiled with the baseline
// flags can use them without the sweeps' internals.
#include <cstdint>

#include "ops/flow/flow_math.h"

namespace repflow::ops {

// A plane's rows in a working buffer of `size` floats: pixel (i, j) at index(i, j), every row
// on a vector boundary when the stride is a multiple of the vector width. The schedule uses two
// layouts (built in flow_cpu.cc):
// - the Sobel layout, for f2 with its replicated borders and the Sobel adjoint: rows of stride
//   at least W + 2, with at least one pad cell on each side of a row and two rows above and
//   below the plane, so that the Sobel adjoint of the pad cells reads zeros beyond them;
// - the iteration layout (FlowCpuGrid), for everything else: the rows back to back (stride W)
//   between zero rows, swept in whole vectors ("chunks") from pixel (0, 0) on. Without pad cells
//   between the rows, the chunks carry pixels in every lane but the last chunk's tail (at
//   28 x 28 and 16 lanes, 49 chunks a plane where rows padded to whole vectors would need 56),
//   and the sweeps' work is per chunk, full or not.
struct FlowCpuRows {
  int h, w, stride, origin, size;
  int index(int i, int j) const { return origin + i * stride + j; }
};

// Which lanes of a chunk of the iteration layout are pixels (`inside`), have a right neighbour
// inside the plane (`right`) and one below (`down`), a bit per lane.
struct FlowCpuChunkMasks {
  uint32_t inside, right, down;
};

// The iteration layout: stride W, `chunks` vectors from pixel (0, 0) on, and `lag`, the number
// of chunks after its own that a stencil reading one row down reaches into.
struct FlowCpuGrid : FlowCpuRows {
  int chunks, lag;
  const FlowCpuChunkMasks* masks;
};

// One vector width's sweeps: a plane's inputs (f2 into f2p, in the Sobel layout `sobel`, with its
// borders replicated into the pad cells, so that the sweeps read the Sobel stencil without
// clamping; rho_c = f2 - f1 into the iteration layout); the rows of a plane in layout `from`
// times `sign` (1 or -1: exact either way) into those of layout `to`, writing nothing past a
// row's end (unpadded tensors are the layout {h, w, w, 0, h * w}); a plane's image terms g and
// 1 / g2 from f2p; one forward iteration of a plane from the iterate `from` into `to` (other
// planes): its primal sweep, and its dual sweep only when `dual`; one pass of the backward: the
// primal reverse of an iteration from its start iterate `st`, the adjoint of its u' being in
// ad.uprime, and when `dual` (the iteration is not the first: `st` is not the zero start) the
// dual and grad reverses of the iteration before, which produced `st` (backward_iteration); the
// gradient of f2 into a plane in the Sobel layout, as the sum of the
// Sobel adjoint of each source cell and rho_c's adjoint, also on the pad cells (the caller
// adds those into the border pixels they replicate), with `scratch` three Sobel-layout planes whose
// pads are zero. The backward ones add their parameter-gradient partials to `lane_sums`, one per
// slot and lane (kFlowSlots x lanes, slot by slot), which the caller sums over the lanes.
struct FlowCpuSweeps {
  int lanes;
  void (*load)(const float* f1, const float* f2, const FlowCpuRows& sobel, float* f2p,
               const FlowCpuGrid& g, float* rho_c);
  void (*rows)(const float* src, const FlowCpuRows& from, float sign, float* dst,
               const FlowCpuRows& to);
  void (*image)(const FlowImage& im, const FlowCpuGrid& g, const float* f2p,
                const FlowCpuRows& sobel, const FlowScalars& scalars);
  void (*forward)(const FlowImage& im, const FlowState& from, const FlowState& to,
                  const FlowScalars& scalars, const FlowCpuGrid& g, bool dual);
  void (*backward)(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                   const FlowScalars& scalars, const FlowCpuGrid& g, bool dual, bool grad_taps,
                   double* lane_sums);
  void (*inputs)(const FlowAdjoint& ad, const FlowCpuGrid& g, const float* f2p,
                 const FlowCpuRows& sobel, float* const scratch[3], const FlowScalars& scalars,
                 float* grad_f2p, bool sobel_taps, double* lane_sums);
};
FlowCpuSweeps flow_cpu_sweeps_sse();
FlowCpuSweeps flow_cpu_sweeps_avx2();
FlowCpuSweeps flow_cpu_sweeps_avx512();

}  // namespace repflow::ops
