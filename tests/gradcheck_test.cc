// The gradient-check harness must have teeth: a backward that is off by 1% fails it.
#include "tests/gradcheck.h"

#include <gtest/gtest.h>

#include "framework/autograd.h"
#include "ops/elementwise/elementwise.h"

namespace repflow {
namespace {

// x * x * x with a hand-written backward scaled by `factor` (1 = correct).
Tensor cube_with_backward_scaled(const Tensor& x, float factor) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = ops::mul(ops::mul(x, x), x);
  }
  const Tensor saved = x.detach();
  return record("cube", out, {x}, [saved, factor](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{ops::mul(ops::mul(ops::mul(saved, saved), g), 3.0f * factor)};
  });
}

TEST(Gradcheck, AcceptsCorrectBackward) {
  const Tensor x = testing::random_leaf({3, 4}, 1);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return cube_with_backward_scaled(in[0], 1.0f); }, {x});
}

TEST(Gradcheck, DetectsBackwardOffByOnePercent) {
  const Tensor x = testing::random_leaf({3, 4}, 1);
  const auto result = testing::gradcheck(
      [](const std::vector<Tensor>& in) { return cube_with_backward_scaled(in[0], 1.01f); }, {x});
  EXPECT_FALSE(result.ok) << "a 1% error in the backward went unnoticed";
  EXPECT_NE(result.report.find("mismatching"), std::string::npos);
}

TEST(Gradcheck, DetectsBackwardOffByOnePercentInOneBroadcastInput) {
  // A real op (mul) composed with a corrupted scale on only one of two inputs.
  const Tensor a = testing::random_leaf({2, 3}, 2), b = testing::random_leaf({3}, 3);
  const auto corrupted = [](const std::vector<Tensor>& in) {
    return ops::mul(in[0], cube_with_backward_scaled(in[1], 1.01f));
  };
  EXPECT_FALSE(testing::gradcheck(corrupted, {a, b}).ok);
  const auto correct = [](const std::vector<Tensor>& in) {
    return ops::mul(in[0], cube_with_backward_scaled(in[1], 1.0f));
  };
  EXPECT_GRADCHECK(correct, {a, b});
}

}  // namespace
}  // namespace repflow
