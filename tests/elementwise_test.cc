#include "ops/elementwise/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// The arithmetic ops are overloaded (tensor and scalar), so name the tensor-tensor one.
#define BINARY(op) [](const Tensor& a, const Tensor& b) { return ops::op(a, b); }

using testing::random_leaf;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

void expect_unary_values(const std::function<Tensor(const Tensor&)>& op,
                         const std::function<float(float)>& ref, float low, float high) {
  Generator gen(5);
  const Tensor x = Tensor::uniform({4, 7}, low, high, gen);
  const std::vector<float> in = x.to_vector(), out = op(x).to_vector();
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_NEAR(out[i], ref(in[i]), 1e-5f * (1 + std::fabs(ref(in[i]))));
}

TEST(Elementwise, UnaryValues) {
  expect_unary_values(
      ops::neg, [](float v) { return -v; }, -2, 2);
  expect_unary_values(
      ops::exp, [](float v) { return std::exp(v); }, -2, 2);
  expect_unary_values(
      ops::log, [](float v) { return std::log(v); }, 0.1f, 3);
  expect_unary_values(
      ops::sqrt, [](float v) { return std::sqrt(v); }, 0.1f, 3);
  expect_unary_values(
      ops::abs, [](float v) { return std::fabs(v); }, -2, 2);
  expect_unary_values(
      ops::relu, [](float v) { return v > 0 ? v : 0.0f; }, -2, 2);
  expect_unary_values(
      ops::sigmoid, [](float v) { return 1 / (1 + std::exp(-v)); }, -30, 30);
  expect_unary_values(
      ops::tanh, [](float v) { return std::tanh(v); }, -3, 3);
  expect_unary_values([](const Tensor& t) { return ops::clamp(t, -0.5f, 0.25f); },
                      [](float v) { return std::min(std::max(v, -0.5f), 0.25f); }, -1, 1);
  expect_unary_values([](const Tensor& t) { return ops::pow(t, 2.5f); },
                      [](float v) { return std::pow(v, 2.5f); }, 0.1f, 2);
  expect_unary_values([](const Tensor& t) { return 3.0f - t * 2.0f + 1.0f; },
                      [](float v) { return 3.0f - v * 2.0f + 1.0f; }, -2, 2);
  expect_unary_values([](const Tensor& t) { return 2.0f / t; }, [](float v) { return 2.0f / v; },
                      0.5f, 2);
  expect_unary_values([](const Tensor& t) { return t / 4.0f - 1.0f; },
                      [](float v) { return v / 4.0f - 1.0f; }, -2, 2);
}

// A ReLU that mapped NaN to 0 (x > 0 ? x : 0) turned overflowed weights into confident logits.
TEST(Elementwise, ReluPassesNaNThrough) {
  const std::vector<float> y = ops::relu(Tensor::from_vector({3}, {NAN, -1, 2})).to_vector();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 2.0f);
}

TEST(Elementwise, SigmoidIsStableForLargeInputs) {
  const Tensor x = Tensor::from_vector({2}, {-200.0f, 200.0f});
  const std::vector<float> y = ops::sigmoid(x).to_vector();
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 1.0f);
}

TEST(Elementwise, BinaryBroadcastValues) {
  Generator gen(6);
  const Tensor a = Tensor::uniform({2, 1, 4}, -1, 1, gen),
               b = Tensor::uniform({3, 1}, 0.5f, 1, gen);
  const Tensor out = ops::div(ops::sub(ops::mul(ops::add(a, b), b), a), b);
  ASSERT_EQ(out.shape(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        const float av = a.at({i, 0, k}), bv = b.at({j, 0});
        EXPECT_NEAR(out.at({i, j, k}), ((av + bv) * bv - av) / bv, 1e-5f);
      }
  const Tensor mx = ops::maximum(a, b), mn = ops::minimum(a, b);
  EXPECT_FLOAT_EQ(mx.at({1, 2, 3}), std::max(a.at({1, 0, 3}), b.at({2, 0})));
  EXPECT_FLOAT_EQ(mn.at({0, 1, 2}), std::min(a.at({0, 0, 2}), b.at({1, 0})));
}

TEST(Elementwise, ComparisonsAndWhere) {
  const Tensor a = Tensor::from_vector({4}, {1, 2, 3, 4}), b = Tensor::from_vector({1}, {2});
  EXPECT_EQ(ops::eq(a, b).to_vector(), (std::vector<float>{0, 1, 0, 0}));
  EXPECT_EQ(ops::ne(a, b).to_vector(), (std::vector<float>{1, 0, 1, 1}));
  EXPECT_EQ(ops::lt(a, b).to_vector(), (std::vector<float>{1, 0, 0, 0}));
  EXPECT_EQ(ops::le(a, b).to_vector(), (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(ops::gt(a, b).to_vector(), (std::vector<float>{0, 0, 1, 1}));
  EXPECT_EQ(ops::ge(a, b).to_vector(), (std::vector<float>{0, 1, 1, 1}));
  const Tensor w = ops::where(ops::gt(a, b), a, ops::neg(a));
  EXPECT_EQ(w.to_vector(), (std::vector<float>{-1, -2, 3, 4}));
}

TEST(Elementwise, NonContiguousInputs) {
  Generator gen(7);
  const Tensor a = Tensor::uniform({3, 5}, -1, 1, gen);
  const Tensor at = ops::transpose(a, 0, 1);
  const Tensor sum = ops::add(at, at);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(sum.at({i, j}), 2 * a.at({j, i}));
}

TEST(Elementwise, ErrorsNameOpAndShapes) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  EXPECT_ERROR_CONTAINS(ops::add(a, b), "add: shapes [2,3] and [4] cannot broadcast");
  EXPECT_ERROR_CONTAINS(ops::mul(a, b), "mul: shapes [2,3] and [4] cannot broadcast");
  EXPECT_ERROR_CONTAINS(ops::where(a, a, b), "where: shapes [2,3] and [4] cannot broadcast");
  EXPECT_ERROR_CONTAINS(ops::clamp(a, 1, 0), "clamp: low 1 is above high 0");
  EXPECT_ERROR_CONTAINS(ops::div(a, 0.0f), "div: division by the scalar 0");
}

void check_unary(const std::function<Tensor(const Tensor&)>& op, float low, float high) {
  SCOPED_TRACE(::testing::Message() << "inputs in [" << low << ", " << high << ")");
  const Tensor x = random_leaf({3, 4}, 11, low, high);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
  // Non-contiguous input.
  const Tensor y = random_leaf({4, 3}, 12, low, high);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return op(ops::transpose(in[0], 0, 1)); },
                   {y});
}

TEST(ElementwiseGrad, Unary) {
  SCOPED_TRACE("unary");
  check_unary(ops::neg, -1, 1);
  check_unary(ops::exp, -1, 1);
  check_unary(ops::log, 0.5f, 2);
  check_unary(ops::sqrt, 0.5f, 2);
  check_unary(ops::abs, 0.1f, 1);
  check_unary(ops::abs, -1, -0.1f);
  // Kinked ops are checked on each smooth piece: a finite difference across a kink is meaningless.
  check_unary(ops::relu, 0.05f, 1);
  check_unary(ops::relu, -1, -0.05f);
  check_unary(ops::sigmoid, -3, 3);
  check_unary(ops::tanh, -2, 2);
  for (const auto& [low, high] :
       std::vector<std::pair<float, float>>{{-1, -0.55f}, {-0.45f, 0.45f}, {0.55f, 1}})
    check_unary([](const Tensor& t) { return ops::clamp(t, -0.5f, 0.5f); }, low, high);
  check_unary([](const Tensor& t) { return ops::pow(t, 3.0f); }, -1, 1);
  check_unary([](const Tensor& t) { return ops::pow(t, 0.5f); }, 0.5f, 2);
  check_unary([](const Tensor& t) { return 2.0f - t * 3.0f + 1.0f; }, -1, 1);
  check_unary([](const Tensor& t) { return 1.5f / t - t / 2.0f; }, 0.5f, 2);
}

TEST(ElementwiseGrad, BinaryWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {{{2, 3}, {2, 3}},    {{2, 3}, {3}},
                                                       {{2, 1, 4}, {3, 1}}, {{1}, {5, 1}},
                                                       {{}, {2, 2}},        {{3, 1, 5}, {1, 7, 1}}};
  const std::vector<std::function<Tensor(const Tensor&, const Tensor&)>> binaries = {
      BINARY(add), BINARY(sub), BINARY(mul), BINARY(div), BINARY(maximum), BINARY(minimum)};
  for (const auto& [sa, sb] : shapes) {
    for (size_t k = 0; k < binaries.size(); ++k) {
      const Tensor a = random_leaf(sa, 21 + k, 0.5f, 2), b = random_leaf(sb, 31 + k, -2, -0.5f);
      const auto op = binaries[k];
      EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});
    }
  }
}

TEST(ElementwiseGrad, SameTensorTwiceAndOneSideConstant) {
  const Tensor a = random_leaf({3, 3}, 41);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::mul(in[0], in[0]); }, {a});
  const Tensor c = Tensor::full({3}, 2.0f);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return ops::div(c, in[0]); },
                   {random_leaf({3}, 42, 0.5f, 2)});
}

TEST(ElementwiseGrad, MaximumTiesGoToFirstInput) {
  const Tensor a = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad(true);
  const Tensor b = Tensor::from_vector({3}, {1, 5, 0}).set_requires_grad(true);
  ops::maximum(a, b).backward(Tensor::ones({3}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{0, 1, 0}));
}

// relu_grad is the gradient relu's backward gives, read from relu's output, strided or not.
TEST(ElementwiseGrad, ReluGradFromTheOutputIsReluBackward) {
  const Tensor x = random_leaf({4, 6}, 43, -1.0f, 1.0f);
  const Tensor g = random_leaf({4, 6}, 44).detach();
  const Tensor y = ops::relu(x);
  y.backward(g);
  EXPECT_EQ(ops::relu_grad(g, y.detach()).to_vector(), x.grad().to_vector());
  const Tensor gt = ops::transpose(g, 0, 1), yt = ops::transpose(y.detach(), 0, 1);
  EXPECT_EQ(ops::relu_grad(gt, yt).to_vector(),
            ops::transpose(x.grad(), 0, 1).contiguous().to_vector());
  EXPECT_ERROR_CONTAINS(ops::relu_grad(g, yt),
                        "relu_grad: gradient [4,6] does not match output [6,4]");
}

TEST(ElementwiseGrad, Where) {
  Generator gen(3);
  const Tensor cond = ops::gt(Tensor::uniform({3, 4}, -1, 1, gen), Tensor::scalar(0));
  const Tensor a = random_leaf({3, 4}, 51), b = random_leaf({4}, 52);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return ops::where(cond, in[0], in[1]); },
                   {a, b});
}

}  // namespace
}  // namespace repflow
