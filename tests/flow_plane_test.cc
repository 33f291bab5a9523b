// The CUDA schedule of a plane in shared memory (ops/flow/flow_plane.h), run on the host by a team
// of one thread, against the CPU schedule: the per-pixel formulas the GPU calls, in the GPU's
// order and with its saved iterates, must give the CPU's outputs and gradients. (The gpu tests
// compare the two backends themselves where a GPU is at hand.)
#include "ops/flow/flow_plane.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/flow_kernel_cases.h"

namespace repflow {
namespace {

using testing::FlowKernelCase;
using testing::FlowKernelRun;

struct HostTeam {
  int rank() const { return 0; }
  int size() const { return 1; }
  void sync() const {}
};

// As flow_cuda.cu's shared-memory kernels: zeroed working planes and saved iterates per plane,
// the plane's parameter partials in float, the planes' partials summed in double.
FlowKernelRun run_plane_schedule(const FlowKernelCase& p) {
  const ops::FlowProblem& pb = p.pb;
  const int64_t hw = int64_t{pb.h} * pb.w;
  const int padded = ops::flow_padded_size(pb.h, pb.w);
  FlowKernelRun r = testing::flow_kernel_run_for(p);
  std::vector<double> sums(ops::kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane) {
    std::vector<float> forward(ops::kFlowForwardPlanes * padded, 0.0f);
    std::vector<float> saved(ops::flow_saved_floats(pb.h, pb.w, pb.n_iter), 0.0f);
    std::vector<float> backward(ops::kFlowBackwardPlanes * padded, 0.0f);
    const int64_t out = ops::flow_out_offset(plane, pb.channels, hw);
    ops::flow_forward_plane(HostTeam{}, pb, ops::flow_forward_planes(forward.data(), padded),
                            p.f1.data() + plane * hw, p.f2.data() + plane * hw, r.out.data() + out,
                            r.out.data() + out + pb.channels * hw, saved.data());
    float acc[ops::kFlowSlots] = {};
    ops::flow_backward_plane(HostTeam{}, pb, ops::flow_backward_planes(backward.data(), padded),
                             p.f1.data() + plane * hw, p.f2.data() + plane * hw,
                             p.grad_out.data() + out, p.grad_out.data() + out + pb.channels * hw,
                             saved.data(), r.grad_f1.data() + plane * hw,
                             r.grad_f2.data() + plane * hw, acc);
    for (int t = 0; t < ops::kFlowSlots; ++t) sums[t] += acc[t];
  }
  ops::FlowParamValues grads;
  ops::flow_param_grads(pb.scalars, sums.data(), grads);
  r.param_grads = testing::flow_param_list(grads);
  return r;
}

// Elementwise within atol + rtol |want|.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                  double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k)
    ASSERT_NEAR(got[k], want[k], atol + rtol * std::fabs(want[k])) << what << " at " << k;
}

void expect_schedules_agree(const FlowKernelCase& p) {
  const FlowKernelRun cpu = testing::run_flow_cpu(p), gpu_order = run_plane_schedule(p);
  expect_close(gpu_order.out, cpu.out, 1e-5, 1e-4, "flow");
  expect_close(gpu_order.grad_f1, cpu.grad_f1, 1e-5, 1e-3, "grad f1");
  expect_close(gpu_order.grad_f2, cpu.grad_f2, 1e-5, 1e-3, "grad f2");
  expect_close(gpu_order.param_grads, cpu.param_grads, 1e-3, 1e-3, "parameter gradients");
}

TEST(FlowPlaneTest, DefaultParametersMatchTheCpuSchedule) {
  expect_schedules_agree(testing::flow_kernel_case(2, 3, 7, 29, 5, false, 1));
}

TEST(FlowPlaneTest, GeneralParametersMatchTheCpuSchedule) {
  expect_schedules_agree(testing::flow_kernel_case(2, 3, 7, 29, 5, true, 2));
}

TEST(FlowPlaneTest, SingleRowAndColumnMatchTheCpuSchedule) {
  expect_schedules_agree(testing::flow_kernel_case(1, 2, 1, 9, 4, true, 3));
  expect_schedules_agree(testing::flow_kernel_case(1, 2, 9, 1, 4, true, 4));
}

}  // namespace
}  // namespace repflow
