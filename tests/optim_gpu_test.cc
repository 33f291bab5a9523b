// The optimiser and parameter averaging on CUDA parameters against the same on the CPU.
#include <gtest/gtest.h>

#include "framework/generator.h"
#include "tests/parity.h"
#include "training/optim/averaging.h"
#include "training/optim/sgd.h"

namespace repflow {
namespace {

using testing::skip_without_gpu;

// Sizes that do not divide a CUDA block, a scalar like the flow layer's, and a tensor of several
// chunks of the fused updates (ops/optim).
class Params : public Module {
 public:
  Params() {
    Generator gen(5);
    register_parameter("block.fc.weight", Tensor::normal({3, 65543}, 0, 1, gen))
        .set_requires_grad();
    register_parameter("block.conv.weight", Tensor::normal({37, 29}, 0, 1, gen))
        .set_requires_grad();
    register_parameter("block.conv.bias", Tensor::normal({37}, 0, 1, gen)).set_requires_grad();
    register_parameter("flow.lambda", Tensor::normal({1}, 0, 1, gen)).set_requires_grad();
    register_buffer("bn.running_var", Tensor::uniform({37}, 0.5, 2, gen));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

void set_grads(const NamedTensors& params, uint64_t seed) {
  Generator gen(seed);
  for (const auto& [name, p] : params) {
    Tensor t = p;
    t.set_grad(Tensor::normal(p.shape(), 0, 3, gen).to(p.device()));
  }
}

void expect_same(const NamedTensors& cpu, const NamedTensors& cuda) {
  ASSERT_EQ(cpu.size(), cuda.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    const auto a = cpu[i].second.to_vector(), b = cuda[i].second.to_vector();
    for (size_t j = 0; j < a.size(); ++j) {
      EXPECT_NEAR(a[j], b[j], 1e-5 + 1e-5 * std::abs(a[j])) << cpu[i].first << "[" << j << "]";
    }
  }
}

TEST(OptimGpu, SgdWithGroupsClippingAndAveragingMatchesTheCpu) {
  if (skip_without_gpu()) GTEST_SKIP();
  Params cpu, cuda;
  cuda.to(Device::cuda());
  AveragingOptions averaging;
  averaging.kind = AveragingKind::kEma;
  averaging.decay = 0.9;
  averaging.ema_warmup = true;
  const auto make = [&](Module& m) {
    return Sgd(make_param_groups(m.named_parameters(), {{"flow", 0.01, {}}}, 1e-3, true),
               {0.9, 0.0, true});
  };
  Sgd sgd_cpu = make(cpu), sgd_cuda = make(cuda);
  ParameterAverage avg_cpu(cpu, averaging), avg_cuda(cuda, averaging);
  for (uint64_t k = 0; k < 4; ++k) {
    set_grads(cpu.named_parameters(), k);
    set_grads(cuda.named_parameters(), k);
    EXPECT_NEAR(sgd_cpu.clip_grad_norm(20.0), sgd_cuda.clip_grad_norm(20.0), 1e-3);
    sgd_cpu.step(0.1);
    sgd_cuda.step(0.1);
    avg_cpu.update();
    avg_cuda.update();
  }
  expect_same(cpu.named_parameters(), cuda.named_parameters());
  expect_same(sgd_cpu.state(), sgd_cuda.state());
  expect_same(avg_cpu.state(), avg_cuda.state());
  AveragedWeightsScope scope(avg_cuda);
  expect_same(avg_cpu.state(), cuda.state_dict());
}

}  // namespace
}  // namespace repflow
