#pragma once
// Problems for the flow op's kernel entry points (ops/flow/flow_kernels.h) and a run of the CPU
// schedule on them, shared by the tests that compare schedules, or forms of the formulas, at
// that level.
#include <random>
#include <vector>

#include "ops/flow/flow_kernels.h"

namespace repflow::testing {

struct FlowKernelCase {
  ops::FlowProblem pb;
  std::vector<float> f1, f2, grad_out;
};

// n x c planes of h x w: inputs of a few tens (all three thresholding cases occur) and output
// gradients of order one. The parameters are the defaults, or with `general` every tap away
// from them (so that no form specialised for a default runs).
inline FlowKernelCase flow_kernel_case(int n, int c, int h, int w, int n_iter, bool general,
                                       unsigned seed) {
  FlowKernelCase p;
  p.pb = ops::FlowProblem{{int64_t{n} * c, c, h, w, n_iter}, {}};
  ops::FlowScalars& scalars = p.pb.scalars;
  scalars.theta = 0.3f;
  scalars.lambda = 0.15f;
  scalars.tau = 0.25f;
  for (int j = 0; j < 2; ++j) {
    const float sign = j == 0 ? -1.0f : 1.0f;
    scalars.div_x[j] = sign * (general ? 0.9f + 0.2f * j : 1.0f);
    scalars.div_y[j] = sign * (general ? 1.2f - 0.4f * j : 1.0f);
    scalars.grad_x[j] = sign * (general ? 1.1f - 0.2f * j : 1.0f);
    scalars.grad_y[j] = sign * (general ? 0.8f + 0.3f * j : 1.0f);
  }
  const float e = 1.0f / 8.0f;
  const float sobel[9] = {-e, 0.0f, e, -2 * e, 0.0f, 2 * e, -e, 0.0f, e};
  for (int t = 0; t < 9; ++t) {
    scalars.sobel_x[t] = sobel[t] * (general ? 1.0f + 0.05f * t : 1.0f);
    scalars.sobel_y[t] = sobel[t % 3 * 3 + t / 3];
  }
  ops::flow_set_products(scalars);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> intensity(0.0f, 40.0f), gradient(-1.0f, 1.0f);
  const size_t size = static_cast<size_t>(p.pb.planes) * h * w;
  for (size_t k = 0; k < size; ++k) p.f1.push_back(intensity(rng));
  for (size_t k = 0; k < size; ++k) p.f2.push_back(intensity(rng));
  for (size_t k = 0; k < 2 * size; ++k) p.grad_out.push_back(gradient(rng));
  return p;
}

struct FlowKernelRun {
  std::vector<float> out, grad_f1, grad_f2;
  std::vector<float> param_grads;  // every parameter's gradient, in table order
};

// An empty run sized for `p`'s outputs.
inline FlowKernelRun flow_kernel_run_for(const FlowKernelCase& p) {
  return {std::vector<float>(p.grad_out.size()),
          std::vector<float>(p.f1.size()),
          std::vector<float>(p.f1.size()),
          {}};
}

// Every parameter's values in `v`, in table order.
inline std::vector<float> flow_param_list(const ops::FlowParamValues& v) {
  std::vector<float> all;
  for (const ops::FlowParamSpec& spec : ops::kFlowParamTable)
    all.insert(all.end(), v.at(spec.id), v.at(spec.id) + spec.numel());
  return all;
}

// The CPU schedule's forward and backward of `p`.
inline FlowKernelRun run_flow_cpu(const FlowKernelCase& p) {
  FlowKernelRun r = flow_kernel_run_for(p);
  ops::FlowParamValues grads{};
  ops::FlowParamPointers<float> wanted{};
  for (const ops::FlowParamSpec& spec : ops::kFlowParamTable)
    wanted.values[ops::flow_param_index(spec.id)] = grads.at(spec.id);
  ops::flow_forward_cpu(p.pb, &p.pb.scalars, p.f1.data(), p.f2.data(), r.out.data(), nullptr);
  ops::flow_backward_cpu(p.pb, &p.pb.scalars, p.f1.data(), p.f2.data(), nullptr, p.grad_out.data(),
                         r.grad_f1.data(), r.grad_f2.data(), wanted);
  r.param_grads = flow_param_list(grads);
  return r;
}

}  // namespace repflow::testing
