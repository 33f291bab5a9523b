// The cuDNN convolution against the oneDNN one: outputs and the gradients of input, weight and
// bias, for every shared case.
#include <gtest/gtest.h>

#include "ops/conv/conv.h"
#include "ops/view/view.h"
#include "tests/conv_cases.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"

namespace repflow {
namespace {

using testing::ConvCase;
using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

// Sums of up to a few hundred products: float rounding differs by summation order.
constexpr double kAtol = 1e-4, kRtol = 1e-4;

void expect_parity(const std::vector<ConvCase>& cases, uint64_t seed) {
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> inputs = {random_leaf(c.x, seed++), random_leaf(c.w, seed++)};
    if (c.bias) inputs.push_back(random_leaf({c.w[0]}, seed++));
    const ops::ConvOptions opt = c.opt;
    expect_cuda_matches_cpu(
        [opt](const std::vector<Tensor>& in) {
          return ops::conv(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), opt);
        },
        inputs, kAtol, kRtol);
  }
}

TEST(ConvGpuTest, ForwardAndGradientsMatchCpu) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_parity(testing::kConvCases, 1);
}

TEST(ConvGpuTest, SmallCasesMatchCpu) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_parity(testing::kConvGradCases, 100);
}

TEST(ConvGpuTest, NonContiguousInput) {
  if (skip_without_gpu()) GTEST_SKIP();
  const ops::ConvOptions opt = testing::conv_options({2}, {1});
  expect_cuda_matches_cpu(
      [opt](const std::vector<Tensor>& in) {
        return ops::conv(ops::permute(in[0], {0, 3, 1, 2}), in[1], in[2], opt);
      },
      {random_leaf({2, 5, 6, 3}, 1), random_leaf({4, 3, 3, 3}, 2), random_leaf({4}, 3)}, kAtol,
      kRtol);
}

// Each gradient alone, including the bias gradient without the weight's.
TEST(ConvGpuTest, GradientSubsetsMatchCpu) {
  if (skip_without_gpu()) GTEST_SKIP();
  const ops::ConvOptions opt = testing::conv_options({2}, {1});
  for (int wanted = 0; wanted < 3; ++wanted) {
    SCOPED_TRACE(wanted);
    std::vector<Tensor> in = {random_leaf({2, 3, 5, 5}, 1), random_leaf({4, 3, 3, 3}, 2),
                              random_leaf({4}, 3)};
    for (int i = 0; i < 3; ++i) in[i].set_requires_grad(i == wanted);
    expect_cuda_matches_cpu(
        [opt](const std::vector<Tensor>& t) { return ops::conv(t[0], t[1], t[2], opt); }, in, kAtol,
        kRtol);
  }
}

}  // namespace
}  // namespace repflow
