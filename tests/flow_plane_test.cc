// The CUDA schedule of a plane in shared memory (ops/flow_plane.h), run on the host by a team
// of one thread, against the CPU schedule: the per-pixel formulas the GPU calls, in the GPU's
// order and with its saved iterates, must give the CPU's outputs and gradients. (The gpu tests
// compare the two backends themselves where a GPU is at hand.)
#include "ops/flow_plane.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/flow_kernels.h"

namespace repflow {
namespace {

struct HostTeam {
  int rank() const { return 0; }
  int size() const { return 1; }
  void sync() const {}
};

struct Result {
  std::vector<float> out, grad_f1, grad_f2;
  std::vector<float> param_grads;
};

struct Problem {
  ops::FlowProblem pb;
  std::vector<float> f1, f2, grad_out;
};

// Parameters away from the defaults where `general` (so that no form specialised for a default
// runs), inputs of a few tens (all three thresholding cases occur) and output gradients of
// order one.
Problem make_problem(int n, int c, int h, int w, int n_iter, bool general, unsigned seed) {
  Problem p;
  p.pb = ops::FlowProblem{int64_t{n} * c, c, h, w, n_iter, {}};
  ops::FlowScalars& s = p.pb.s;
  s.theta = 0.3f;
  s.lambda = 0.15f;
  s.tau = 0.25f;
  for (int j = 0; j < 2; ++j) {
    const float sign = j == 0 ? -1.0f : 1.0f;
    s.div_x[j] = sign * (general ? 0.9f + 0.2f * j : 1.0f);
    s.div_y[j] = sign * (general ? 1.2f - 0.4f * j : 1.0f);
    s.grad_x[j] = sign * (general ? 1.1f - 0.2f * j : 1.0f);
    s.grad_y[j] = sign * (general ? 0.8f + 0.3f * j : 1.0f);
  }
  const float e = 1.0f / 8.0f;
  const float sobel[9] = {-e, 0.0f, e, -2 * e, 0.0f, 2 * e, -e, 0.0f, e};
  for (int t = 0; t < 9; ++t) {
    s.sobel_x[t] = sobel[t] * (general ? 1.0f + 0.05f * t : 1.0f);
    s.sobel_y[t] = sobel[t % 3 * 3 + t / 3];
  }
  ops::flow_set_products(s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> intensity(0.0f, 40.0f), gradient(-1.0f, 1.0f);
  const size_t size = static_cast<size_t>(p.pb.planes) * h * w;
  for (size_t k = 0; k < size; ++k) p.f1.push_back(intensity(rng));
  for (size_t k = 0; k < size; ++k) p.f2.push_back(intensity(rng));
  for (size_t k = 0; k < 2 * size; ++k) p.grad_out.push_back(gradient(rng));
  return p;
}

std::vector<float> param_grads(const ops::FlowScalars& s, const double* sums) {
  std::vector<float> grads(ops::kFlowParamGrads);
  ops::flow_param_grads(s, sums, grads.data());
  return grads;
}

Result run_cpu(const Problem& p) {
  Result r{std::vector<float>(p.grad_out.size()),
           std::vector<float>(p.f1.size()),
           std::vector<float>(p.f1.size()),
           {}};
  double sums[ops::kFlowSlots];
  ops::flow_forward_cpu(p.pb, p.f1.data(), p.f2.data(), r.out.data());
  ops::flow_backward_cpu(p.pb, p.f1.data(), p.f2.data(), p.grad_out.data(), r.grad_f1.data(),
                         r.grad_f2.data(), sums);
  r.param_grads = param_grads(p.pb.s, sums);
  return r;
}

// As flow_cuda.cu's shared-memory kernels: zeroed working planes and saved iterates per plane,
// the plane's parameter partials in float, the planes' partials summed in double.
Result run_plane_schedule(const Problem& p) {
  const ops::FlowProblem& pb = p.pb;
  const int64_t hw = int64_t{pb.h} * pb.w;
  const int padded = ops::flow_padded_size(pb.h, pb.w);
  Result r{std::vector<float>(p.grad_out.size()),
           std::vector<float>(p.f1.size()),
           std::vector<float>(p.f1.size()),
           {}};
  double sums[ops::kFlowSlots] = {};
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
  r.param_grads = param_grads(pb.s, sums);
  return r;
}

// Elementwise within atol + rtol |want|.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                  double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k)
    ASSERT_NEAR(got[k], want[k], atol + rtol * std::fabs(want[k])) << what << " at " << k;
}

void expect_schedules_agree(const Problem& p) {
  const Result cpu = run_cpu(p), gpu_order = run_plane_schedule(p);
  expect_close(gpu_order.out, cpu.out, 1e-5, 1e-4, "flow");
  expect_close(gpu_order.grad_f1, cpu.grad_f1, 1e-5, 1e-3, "grad f1");
  expect_close(gpu_order.grad_f2, cpu.grad_f2, 1e-5, 1e-3, "grad f2");
  expect_close(gpu_order.param_grads, cpu.param_grads, 1e-3, 1e-3, "parameter gradients");
}

TEST(FlowPlaneTest, DefaultParametersMatchTheCpuSchedule) {
  expect_schedules_agree(make_problem(2, 3, 7, 29, 5, false, 1));
}

TEST(FlowPlaneTest, GeneralParametersMatchTheCpuSchedule) {
  expect_schedules_agree(make_problem(2, 3, 7, 29, 5, true, 2));
}

TEST(FlowPlaneTest, SingleRowAndColumnMatchTheCpuSchedule) {
  expect_schedules_agree(make_problem(1, 2, 1, 9, 4, true, 3));
  expect_schedules_agree(make_problem(1, 2, 9, 1, 4, true, 4));
}

}  // namespace
}  // namespace repflow
