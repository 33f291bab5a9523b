#pragma once
// Entry points of the representation flow schedules. Planes are the N * C (sample, channel)
// pairs of contiguous (N, C, H, W) inputs; the output is (N, 2C, H, W).
#include <cstdint>

#include "ops/flow/flow_math.h"

namespace repflow::ops {

// The shape of one call.
struct FlowShape {
  int64_t planes;    // N * C
  int64_t channels;  // C
  int h, w;
  int n_iter;
  // Whether the gradients of the grad and of the Sobel taps are wanted (the CPU skips their
  // sums otherwise).
  bool grad_taps = true, sobel_taps = true;
};

// A call with its parameter values: what the per-plane passes and the CPU sweeps read.
struct FlowProblem : FlowShape {
  FlowScalars scalars;
};

// Floats of backward state per plane that the CUDA forward saves: the padded iterate at the
// start of every iteration. (The CPU backward recomputes the iterates instead.)
inline int64_t flow_saved_floats(int h, int w, int n_iter) {
  return int64_t{n_iter} * kFlowStatePlanes * flow_padded_size(h, w);
}

// The schedules (ops/dispatch.h). The parameters and their FlowScalars lie on the op's device:
// flow_scalars_* writes `scalars` from the parameters there, and the forward and backward read
// it there. So the host never waits for a parameter value, and a step with the op can be
// recorded as a CUDA graph. `saved` is the CUDA forward's store of iterates for its backward,
// which the CPU recomputes instead; the CPU ignores it.
void flow_scalars_cpu(const FlowParamPointers<const float>& params, FlowScalars* scalars);
void flow_forward_cpu(const FlowShape& shape, const FlowScalars* scalars, const float* f1,
                      const float* f2, float* out, float* saved);
// Writes the gradients of f1 and f2 and those of the parameters that `param_grads` points to
// (null: not wanted).
void flow_backward_cpu(const FlowShape& shape, const FlowScalars* scalars, const float* f1,
                       const float* f2, const float* saved, const float* grad_out, float* grad_f1,
                       float* grad_f2, const FlowParamPointers<float>& param_grads);

// The CPU sweeps' vector width in floats: 16 (AVX-512F), 8 (AVX2 and FMA) or 4 (SSE, the
// baseline), for the instruction set cpu_isa() gives (ops/dispatch.h; tests cap it with
// set_cpu_isa_limit to run every variant).
int flow_cpu_lanes();

#if REPFLOW_WITH_CUDA
void flow_scalars_cuda(int device, const FlowParamPointers<const float>& params,
                       FlowScalars* scalars);
void flow_forward_cuda(int device, const FlowShape& shape, const FlowScalars* scalars,
                       const float* f1, const float* f2, float* out, float* saved);
void flow_backward_cuda(int device, const FlowShape& shape, const FlowScalars* scalars,
                        const float* f1, const float* f2, const float* saved, const float* grad_out,
                        float* grad_f1, float* grad_f2,
                        const FlowParamPointers<float>& param_grads);
#endif

}  // namespace repflow::ops
