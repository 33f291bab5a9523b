// Elementwise and view ops on CUDA against the CPU backend (tag gpu).
#include <gtest/gtest.h>

#include <functional>

#include "ops/elementwise/elementwise.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"

namespace repflow {
namespace {

// The arithmetic ops are overloaded (tensor and scalar), so name the tensor-tensor one.
#define BINARY(op) [](const Tensor& a, const Tensor& b) { return ops::op(a, b); }

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;

TEST(ElementwiseGpu, UnaryOps) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  const std::vector<std::function<Tensor(const Tensor&)>> unaries = {
      ops::neg,
      ops::exp,
      ops::abs,
      ops::relu,
      ops::sigmoid,
      ops::tanh,
      [](const Tensor& t) { return ops::clamp(t, -0.3f, 0.4f); },
      [](const Tensor& t) { return ops::pow(t, 3.0f); },
      [](const Tensor& t) { return 2.0f - t * 3.0f + 1.0f; }};
  for (const auto& op : unaries) {
    const Tensor x = random_leaf({37, 41}, 3);
    expect_cuda_matches_cpu(
        [&](const std::vector<Tensor>& in) { return op(ops::transpose(in[0], 0, 1)); }, {x});
  }
  const std::vector<std::function<Tensor(const Tensor&)>> positive = {
      ops::log, ops::sqrt, [](const Tensor& t) { return 2.0f / t; }};
  for (const auto& op : positive) {
    const Tensor x = random_leaf({1000}, 4, 0.5f, 2.0f);
    expect_cuda_matches_cpu([&](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
  }
}

TEST(ElementwiseGpu, BinaryOpsWithBroadcasting) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  const std::vector<std::function<Tensor(const Tensor&, const Tensor&)>> binaries = {
      BINARY(add), BINARY(sub), BINARY(mul), BINARY(div), BINARY(maximum), BINARY(minimum)};
  for (const auto& op : binaries) {
    const Tensor a = random_leaf({5, 1, 33}, 5, 0.5f, 2), b = random_leaf({7, 1}, 6, -2, -0.5f);
    expect_cuda_matches_cpu([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                            {a, b});
  }
  const Tensor a = random_leaf({4, 9}, 7), b = random_leaf({9}, 8);
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::where(ops::gt(in[0], in[1]), in[0], ops::mul(in[1], 2.0f));
      },
      {a, b});
}

TEST(ElementwiseGpu, Views) {
  if (testing::skip_without_gpu()) GTEST_SKIP() << "no GPU";
  const Tensor x = random_leaf({2, 3, 4}, 9);
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::reshape(
            ops::permute(ops::expand(ops::unsqueeze(in[0], 0), {3, 2, 3, 4}), {3, 1, 0, 2}),
            {4, -1});
      },
      {x});
}

}  // namespace
}  // namespace repflow
