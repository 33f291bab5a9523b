// The CUDA half of the framework against the CPU half (tag gpu: run on a machine with a GPU).
#include <gtest/gtest.h>

#include "framework/allocator.h"
#include "framework/autograd.h"
#include "framework/tensor.h"
#include "tests/parity.h"

namespace repflow {
namespace {

TEST(TensorGpu, RoundTripAndStridedCopies) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  const Tensor x = Tensor::arange(0, 24);
  const Tensor g = x.to(Device::cuda(0));
  EXPECT_TRUE(g.device().is_cuda());
  EXPECT_EQ(g.to_vector(), x.to_vector());
  const Tensor view = g.as_strided({4, 3}, {1, 4}, 2);
  EXPECT_EQ(view.contiguous().to_vector(),
            x.as_strided({4, 3}, {1, 4}, 2).contiguous().to_vector());
  Tensor dst = Tensor::zeros({4, 3}, Device::cuda(0));
  dst.copy_(x.as_strided({4, 3}, {1, 4}, 2));
  EXPECT_EQ(dst.to_vector(), view.to_vector());
  dst.add_(Tensor::ones({4, 3}, Device::cuda(0)), 2.0f);
  EXPECT_EQ(dst.at({0, 0}), x.at({2}) + 2.0f);
}

TEST(TensorGpu, RandomStreamsMatchTheCpu) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  Generator a(5), b(5);
  EXPECT_EQ(Tensor::uniform({4097}, -2, 3, a).to_vector(),
            Tensor::uniform({4097}, -2, 3, b, Device::cuda(0)).to_vector());
  const std::vector<float> n_cpu = Tensor::normal({4097}, 0, 1, a).to_vector();
  const std::vector<float> n_gpu = Tensor::normal({4097}, 0, 1, b, Device::cuda(0)).to_vector();
  for (size_t i = 0; i < n_cpu.size(); ++i) EXPECT_NEAR(n_cpu[i], n_gpu[i], 1e-5f);
}

TEST(TensorGpu, CachingAllocatorReusesBlocks) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  { const Tensor warm = Tensor::empty({1 << 20}, Device::cuda(0)); }
  const AllocatorStats before = allocator_stats(Device::cuda(0));
  EXPECT_GE(before.cached, size_t{4} << 20);
  {
    const Tensor again = Tensor::empty({1 << 20}, Device::cuda(0));
    const AllocatorStats during = allocator_stats(Device::cuda(0));
    EXPECT_EQ(during.cached, before.cached - (size_t{4} << 20)) << "the cached block is reused";
  }
  EXPECT_EQ(allocator_stats(Device::cuda(0)).in_use, before.in_use);
}

TEST(TensorGpu, AutogradAcrossDevices) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  Tensor x = Tensor::arange(0, 4).set_requires_grad();
  const Tensor y = x.to(Device::cuda(0)).to(Device::cpu());
  y.backward(Tensor::full({4}, 2.0f));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 2, 2, 2}));
}

}  // namespace
}  // namespace repflow
