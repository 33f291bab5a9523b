#include "ops/flow/cpu/flow_cpu_layout.h"

#include "ops/dispatch.h"

namespace repflow::ops {
namespace {

int round_up(int n, int lanes) { return (n + lanes - 1) / lanes * lanes; }

// The Sobel layout (flow_cpu_sweeps.h): rows of whole vectors. The Sobel adjoint of the vector
// that holds (-1, -1) reads from one cell before row -2's last vector on, and the last
// vector's reads below row H + 1 stay inside.
FlowCpuRows sobel_rows(int h, int w, int lanes) {
  const int stride = round_up(w + 2, lanes), origin = 2 * stride + 2 * lanes;
  return {h, w, stride, origin, origin + (h + 2) * stride + lanes};
}

// The lane masks of the iteration layout's chunks.
std::vector<FlowCpuChunkMasks> chunk_masks(int h, int w, int lanes) {
  const int64_t hw = int64_t{h} * w;
  std::vector<FlowCpuChunkMasks> masks((hw + lanes - 1) / lanes, FlowCpuChunkMasks{0, 0, 0});
  for (int64_t q = 0; q < hw; ++q) {
    FlowCpuChunkMasks& m = masks[q / lanes];
    const uint32_t bit = 1u << (q % lanes);
    m.inside |= bit;
    if (q % w + 1 < w) m.right |= bit;
    if (q < hw - w) m.down |= bit;
  }
  return masks;
}

// The iteration layout: its rows between zero rows, the first pixel on a vector boundary after
// at least W + 1 zeros (reads reach one row and one cell back) and at least W + 1 zeros after
// the last chunk (reads reach a row and a cell forward).
FlowCpuGrid iteration_grid(int h, int w, int lanes, const std::vector<FlowCpuChunkMasks>& masks) {
  const int margin = round_up(w + 1, lanes), chunks = static_cast<int>(masks.size());
  FlowCpuGrid g;
  static_cast<FlowCpuRows&>(g) = {h, w, w, margin, margin + chunks * lanes + margin};
  g.chunks = chunks;
  g.lag = (w + lanes - 1) / lanes;
  g.masks = masks.data();
  return g;
}

// The CPU-only sweeps have no CUDA side.
const DispatchStub<FlowCpuSweeps()> sweeps_stub{
    "flow sweeps", {flow_cpu_sweeps_sse, flow_cpu_sweeps_avx2, flow_cpu_sweeps_avx512}, nullptr};

}  // namespace

FlowCpuSweeps pick_flow_sweeps() { return sweeps_stub.cpu_schedule()(); }

FlowCpuLayout::FlowCpuLayout(int h, int w, FlowCpuSweeps picked)
    : sweeps(picked),
      masks(chunk_masks(h, w, picked.lanes)),
      grid(iteration_grid(h, w, picked.lanes, masks)),
      sobel(sobel_rows(h, w, picked.lanes)),
      tensor{h, w, w, 0, h * w} {}

}  // namespace repflow::ops
