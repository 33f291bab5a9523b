#include "tests/parity.h"

#include <gtest/gtest.h>

#include <cmath>

namespace repflow::testing {
namespace {

void expect_close(const char* what, const Tensor& cpu, const Tensor& cuda, double atol,
                  double rtol) {
  ASSERT_EQ(cpu.shape(), cuda.shape()) << what;
  const std::vector<float> a = cpu.to_vector(), b = cuda.to_vector();
  int reported = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    // NaN agrees with NaN (mean of an empty tensor), and nothing else.
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    const double err = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(err <= atol + rtol * std::fabs(a[i])) && reported++ < 5)
      ADD_FAILURE() << what << " element " << i << ": cpu " << a[i] << " cuda " << b[i];
  }
}

}  // namespace

bool skip_without_gpu() { return cuda_device_count() == 0; }

void expect_cuda_matches_cpu(const ParityFn& fn, const std::vector<Tensor>& inputs, double atol,
                             double rtol) {
  // Fresh leaves on both sides, so that gradients from an earlier call on the same inputs do
  // not accumulate into this comparison.
  std::vector<Tensor> cpu_inputs, gpu_inputs;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    Tensor g = t.detach().to(Device::cuda(0));
    if (t.requires_grad()) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu_inputs.push_back(c);
    gpu_inputs.push_back(g);
  }
  const Tensor out_cpu = fn(cpu_inputs);
  const Tensor out_gpu = fn(gpu_inputs);
  ASSERT_TRUE(out_gpu.device().is_cuda()) << "fn did not run on the GPU";
  expect_close("output", out_cpu, out_gpu, atol, rtol);
  if (!out_cpu.requires_grad()) return;
  Generator gen(99);
  const Tensor w = Tensor::normal(out_cpu.shape(), 0.0f, 1.0f, gen);
  out_cpu.backward(w);
  out_gpu.backward(w.to(Device::cuda(0)));
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    ASSERT_TRUE(cpu_inputs[k].grad().defined() && gpu_inputs[k].grad().defined());
    expect_close(("grad of input " + std::to_string(k)).c_str(), cpu_inputs[k].grad(),
                 gpu_inputs[k].grad(), atol, rtol);
  }
}

}  // namespace repflow::testing
