#include "framework/autograd.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

TEST(Autograd, LeafGradientsFromScalar) {
  Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad();
  Tensor y = Tensor::from_vector({3}, {4, 5, 6}).set_requires_grad();
  const Tensor loss = ops::sum(x * y + x);
  EXPECT_FALSE(loss.is_leaf());
  loss.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, 6, 7}));
  EXPECT_EQ(y.grad().to_vector(), (std::vector<float>{1, 2, 3}));
}

TEST(Autograd, TensorUsedTwiceAccumulates) {
  Tensor x = Tensor::from_vector({2}, {3, -1}).set_requires_grad();
  // d/dx (x*x + x*x*x) = 2x + 3x^2, x reached along several paths.
  ops::sum(x * x + x * x * x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{6 + 27, -2 + 3}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad();
  ops::sum(x * 2.0f).backward();
  ops::sum(x * 3.0f).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, 5}));
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, BackwardWithOutputGradient) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad();
  (x * x).backward(Tensor::from_vector({2}, {10, 100}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{20, 400}));
}

TEST(Autograd, DetachAndNoGradStopRecording) {
  Tensor x = Tensor::ones({2}).set_requires_grad();
  EXPECT_FALSE(x.detach().requires_grad());
  EXPECT_EQ(x.detach().storage(), x.storage());
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    EXPECT_FALSE((x * 2.0f).requires_grad());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE((x * 2.0f).requires_grad());
  ops::sum(x * x.detach()).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 1}));
}

TEST(Autograd, GraphIsFreedAfterBackward) {
  Tensor x = Tensor::ones({2}).set_requires_grad();
  const Tensor loss = ops::sum(ops::exp(x));
  loss.backward();
  EXPECT_ERROR_CONTAINS(loss.backward(), "was already freed by an earlier backward()");
  const Tensor kept = ops::sum(ops::exp(x));
  kept.backward(Tensor(), true);
  kept.backward();
  EXPECT_NEAR(x.grad().to_vector()[0], 3 * std::exp(1.0f), 1e-5);
}

TEST(Autograd, Errors) {
  Tensor x = Tensor::ones({2, 2}).set_requires_grad();
  EXPECT_ERROR_CONTAINS(
      (x * 2.0f).backward(),
      "grad can be implicitly created only for a tensor of one element, got shape [2,2]");
  EXPECT_ERROR_CONTAINS(Tensor::ones({1}).backward(), "does not require grad");
  EXPECT_ERROR_CONTAINS((x * 2.0f).backward(Tensor::ones({3})),
                        "output gradient of shape [3] on cpu does not match tensor of shape [2,2]");
  Tensor y = x * 2.0f;
  EXPECT_ERROR_CONTAINS(y.set_requires_grad(false), "only leaf tensors can be marked");
}

TEST(Autograd, BackwardFromLeafItself) {
  Tensor x = Tensor::scalar(3).set_requires_grad();
  x.backward();
  EXPECT_EQ(x.grad().item(), 1.0f);
}

// A leaf's first gradient is the backward's own tensor when nothing else holds it, and a copy
// otherwise; either way no two gradients share memory with each other or with the caller's.
TEST(Autograd, LeafTakesAGradientNothingElseHolds) {
  Tensor x = Tensor::ones({3}).set_requires_grad();
  const float* made = nullptr;
  record("fresh", x * 2.0f, {x}, [&made](const Tensor&, const GradMask&) {
    Tensor g = Tensor::full({3}, 4.0f);
    made = g.data();
    return std::vector<Tensor>{g};
  }).backward(Tensor::ones({3}));
  EXPECT_EQ(x.grad().data(), made);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 4, 4}));

  Tensor y = Tensor::ones({3}).set_requires_grad();
  const Tensor kept = Tensor::full({3}, 5.0f);
  record("kept", y * 2.0f, {y}, [kept](const Tensor&, const GradMask&) {
    return std::vector<Tensor>{kept};
  }).backward(Tensor::ones({3}));
  EXPECT_NE(y.grad().data(), kept.data());
  EXPECT_EQ(y.grad().to_vector(), (std::vector<float>{5, 5, 5}));
}

TEST(Autograd, PassedThroughGradientsAreCopies) {
  Tensor a = Tensor::ones({2}).set_requires_grad(), b = Tensor::ones({2}).set_requires_grad();
  const Tensor given = Tensor::from_vector({2}, {1, 2});
  record("both", a + b, {a, b}, [](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{g, g};
  }).backward(given);
  EXPECT_NE(a.grad().data(), b.grad().data());
  EXPECT_NE(a.grad().data(), given.data());
  Tensor a_grad = a.grad();
  a_grad.add_(Tensor::ones({2}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{1, 2}));
  EXPECT_EQ(given.to_vector(), (std::vector<float>{1, 2}));

  Tensor leaf = Tensor::ones({2}).set_requires_grad();
  leaf.backward(given);
  EXPECT_NE(leaf.grad().data(), given.data());
}

TEST(Autograd, RecordSkipsWhenNoInputNeedsGrad) {
  const Tensor a = Tensor::ones({2});
  EXPECT_FALSE((a * a).requires_grad());
  EXPECT_EQ((a * a).grad_fn(), nullptr);
}

}  // namespace
}  // namespace repflow
