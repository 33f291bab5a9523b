// The CUDA schedules of the representation flow op against the CPU one: the plane-per-block
// shared-memory kernels, the backward with its image fields in global memory (planes where
// only the adjoint fields fit in shared memory), and the global-memory fallback, with the
// default parameters and with others.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops/flow/flow.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"

namespace repflow {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

struct Case {
  Shape shape;
  int n_iter;
};

// 28 x 28 is the paper's plane; at 56 x 56 (the paper's other size) and 60 x 60 the backward's
// 19 fields (255 and 292 KB) exceed an H100's 227 KB of shared memory, its 15 adjoint fields do
// not, so the image fields go to global memory; 160 x 160 exceeds it both ways (fallback).
const Case kCases[] = {
    {{2, 3, 5, 7}, 1},    {{2, 3, 5, 7}, 10},  {{1, 2, 1, 9}, 4},   {{1, 2, 9, 1}, 4},
    {{2, 4, 28, 28}, 10}, {{1, 3, 56, 56}, 4}, {{1, 2, 60, 60}, 5}, {{1, 2, 160, 160}, 3},
};

// Every nonzero parameter value scaled away from its default by a factor of its own (up to
// 1.26, as far as the CPU tests' general taps), so that a value the schedules read from the
// wrong place shows (the CUDA ones assemble them on the device).
ops::FlowParams distinct_params() {
  ops::FlowParams p;
  for (const ops::FlowParamSpec& spec : ops::kFlowParamTable) {
    std::vector<float> v(spec.defaults, spec.defaults + spec.numel());
    for (size_t k = 0; k < v.size(); ++k)
      v[k] *= 1.0f + 0.02f * (k + 1) + 0.01f * ops::flow_param_index(spec.id);
    const Shape shape = spec.rank == 0 ? Shape{} : Shape(spec.dims, spec.dims + spec.rank);
    p[spec.id] = Tensor::from_vector(shape, v);
    p[spec.id].set_requires_grad(true);
  }
  return p;
}

TEST(FlowGpuTest, MatchesCpu) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Case& c : kCases) {
    for (const bool defaults : {true, false}) {
      SCOPED_TRACE(shape_str(c.shape) + " n_iter " + std::to_string(c.n_iter) +
                   (defaults ? " default parameters" : " distinct parameters"));
      const ops::FlowParams p =
          defaults ? ops::default_flow_params(ops::FlowLearned::all()) : distinct_params();
      // Intensities where all thresholding cases occur. The schedules sum in different orders
      // and nvcc fuses multiply-adds, so values agree to float rounding amplified by the
      // iterations, not bit for bit; the parameter gradients are sums over every pixel and
      // iteration.
      // The inputs: f1, f2, then the parameters in table order.
      std::vector<Tensor> inputs{random_leaf(c.shape, 1, 0, 40), random_leaf(c.shape, 2, 0, 40)};
      for (const ops::FlowParamSpec& spec : ops::kFlowParamTable) inputs.push_back(p[spec.id]);
      expect_cuda_matches_cpu(
          [&](const std::vector<Tensor>& in) {
            ops::FlowParams q;
            for (const ops::FlowParamSpec& spec : ops::kFlowParamTable)
              q[spec.id] = in[2 + ops::flow_param_index(spec.id)];
            return ops::representation_flow(in[0], in[1], q, c.n_iter);
          },
          inputs, 1e-4, 1e-3);
    }
  }
}

}  // namespace
}  // namespace repflow
