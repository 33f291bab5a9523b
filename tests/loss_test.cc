#include "ops/loss/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

// softmax (or log_softmax) of x along dim by loops in double, on x's logical values.
std::vector<double> reference_softmax(const Tensor& x, int dim, bool log) {
  const Shape& shape = x.shape();
  if (dim < 0) dim += x.dim();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= shape[d];
  for (int d = dim + 1; d < x.dim(); ++d) inner *= shape[d];
  const int64_t n = shape[dim];
  const std::vector<float> v = x.to_vector();
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const auto at = [&](int64_t r) { return (o * n + r) * inner + i; };
      double max = -INFINITY, sum = 0;
      for (int64_t r = 0; r < n; ++r) max = std::max(max, static_cast<double>(v[at(r)]));
      for (int64_t r = 0; r < n; ++r) sum += std::exp(v[at(r)] - max);
      for (int64_t r = 0; r < n; ++r)
        out[at(r)] = log ? v[at(r)] - max - std::log(sum) : std::exp(v[at(r)] - max) / sum;
    }
  return out;
}

void expect_near_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-5) {
  const std::vector<float> v = got.to_vector();
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_NEAR(v[i], want[i], tol * (1 + std::fabs(want[i]))) << "element " << i;
}

struct Case {
  Shape shape;
  int dim;
};

// Rows along the last, first and middle dims; more columns than one CPU tile holds.
const Case kCases[] = {{{4, 7}, 1},    {{4, 7}, 0},  {{2, 3, 5}, 1}, {{2, 3, 5}, -1},
                       {{2, 3, 5}, 0}, {{1, 1}, -1}, {{9}, 0},       {{2, 5, 130}, 1}};

TEST(SoftmaxTest, MatchesLoopsAndRowsSumToOne) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(shape_str(c.shape) + " dim " + std::to_string(c.dim));
    const Tensor x = random_leaf(c.shape, 1, -3.0f, 3.0f);
    const Tensor y = ops::softmax(x, c.dim);
    expect_near_values(y, reference_softmax(x, c.dim, false));
    expect_near_values(ops::log_softmax(x, c.dim), reference_softmax(x, c.dim, true));
    for (float s : ops::sum(y, {c.dim}).to_vector()) EXPECT_NEAR(s, 1.0f, 1e-5);
  }
}

// Transposed input: the kernels pack it, the values follow its logical layout.
TEST(SoftmaxTest, StridedInput) {
  const Tensor x = ops::transpose(random_leaf({6, 4}, 2), 0, 1);
  expect_near_values(ops::softmax(x, 1), reference_softmax(x, 1, false));
  expect_near_values(ops::log_softmax(x, 0), reference_softmax(x, 0, true));
}

TEST(SoftmaxTest, StableWithLargeLogits) {
  const Tensor x = Tensor::from_vector({2, 3}, {1e4f, 1e4f - 1, 1e4f - 2, -1e4f, 0.0f, 1e4f});
  const Tensor y = ops::softmax(x, 1), ly = ops::log_softmax(x, 1);
  for (float v : y.to_vector()) EXPECT_TRUE(std::isfinite(v));
  for (float v : ly.to_vector()) EXPECT_TRUE(std::isfinite(v));
  expect_near_values(y, reference_softmax(x, 1, false));
  expect_near_values(ly, reference_softmax(x, 1, true));
  EXPECT_NEAR(ly.at({1, 2}), 0.0f, 1e-6);
  EXPECT_NEAR(ly.at({1, 0}), -2e4f, 1.0f);
}

TEST(SoftmaxTest, Gradients) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(shape_str(c.shape) + " dim " + std::to_string(c.dim));
    const int dim = c.dim;
    EXPECT_GRADCHECK([dim](const std::vector<Tensor>& in) { return ops::softmax(in[0], dim); },
                     {random_leaf(c.shape, 3)});
    EXPECT_GRADCHECK([dim](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], dim); },
                     {random_leaf(c.shape, 4)});
  }
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return ops::softmax(ops::transpose(in[0], 0, 1), 1); },
      {random_leaf({5, 3}, 5)});
}

TEST(SoftmaxTest, Errors) {
  EXPECT_ERROR_CONTAINS(ops::softmax(Tensor::zeros({2, 3}), 2),
                        "softmax: dimension 2 out of range for a tensor of 2 dimensions");
  EXPECT_ERROR_CONTAINS(ops::log_softmax(Tensor::zeros({2, 3}), -3),
                        "log_softmax: dimension -3 out of range");
}

// -(1 - s) log p[label] - (s / C) sum_c log p[c], averaged over the batch, in double.
double reference_cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels, double s) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const std::vector<double> lp = reference_softmax(logits, 1, true);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double row = 0;
    for (int64_t j = 0; j < c; ++j) row += lp[i * c + j];
    total += -(1 - s) * lp[i * c + labels[i]] - s / c * row;
  }
  return total / n;
}

TEST(CrossEntropyTest, MatchesHandFormula) {
  const Tensor logits = random_leaf({5, 4}, 6, -2.0f, 2.0f);
  const std::vector<int64_t> labels = {0, 3, 1, 1, 2};
  for (float s : {0.0f, 0.1f, 1.0f}) {
    SCOPED_TRACE(s);
    EXPECT_NEAR(ops::cross_entropy(logits, labels, s).item(),
                reference_cross_entropy(logits, labels, s), 1e-5);
  }
  // Two classes, logits (0, log 3): p = (1/4, 3/4); smoothing 0.2 targets (0.1, 0.9) for label 1.
  const Tensor two = Tensor::from_vector({1, 2}, {0.0f, std::log(3.0f)});
  EXPECT_NEAR(ops::cross_entropy(two, {1}).item(), -std::log(0.75), 1e-6);
  EXPECT_NEAR(ops::cross_entropy(two, {1}, 0.2f).item(),
              -0.1 * std::log(0.25) - 0.9 * std::log(0.75), 1e-6);
  EXPECT_EQ(ops::cross_entropy(two, {1}).shape(), Shape{});
}

TEST(CrossEntropyTest, StableWithLargeLogits) {
  const Tensor logits = Tensor::from_vector({2, 2}, {1e4f, 0.0f, 0.0f, 1e4f});
  EXPECT_NEAR(ops::cross_entropy(logits, {0, 1}).item(), 0.0f, 1e-6);
  EXPECT_NEAR(ops::cross_entropy(logits, {1, 1}).item(), 5e3f, 1.0f);
}

TEST(CrossEntropyTest, Gradients) {
  const std::vector<int64_t> labels = {2, 0, 4, 4};
  for (float s : {0.0f, 0.15f}) {
    SCOPED_TRACE(s);
    EXPECT_GRADCHECK(
        [&labels, s](const std::vector<Tensor>& in) {
          return ops::cross_entropy(in[0], labels, s);
        },
        {random_leaf({4, 5}, 7)});
  }
}

TEST(CrossEntropyTest, Errors) {
  const Tensor logits = Tensor::zeros({3, 5});
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logits, {0, 1, 7}),
                        "cross_entropy: label 7 out of range for 5 classes (sample 2)");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logits, {0, -1, 2}),
                        "cross_entropy: label -1 out of range for 5 classes (sample 1)");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logits, {0, 1}),
                        "cross_entropy: 2 labels for 3 samples (logits of shape [3,5])");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(Tensor::zeros({5}), {0}),
                        "cross_entropy: logits of shape [5] are not (N, C)");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logits, {0, 1, 2}, 1.5f),
                        "cross_entropy: label_smoothing 1.5 is outside [0, 1]");
}

TEST(TopkAccuracyTest, CountsHitsWithTies) {
  const Tensor logits =
      Tensor::from_vector({4, 4}, {0.1f, 0.9f, 0.5f, 0.2f,    // order 1, 2, 3, 0
                                   0.3f, 0.3f, 0.3f, 0.1f,    // three-way tie at the top
                                   1.0f, 2.0f, 3.0f, 4.0f,    // order 3, 2, 1, 0
                                   0.0f, 0.0f, 0.0f, 0.0f});  // all tied
  const std::vector<int64_t> labels = {2, 2, 0, 1};
  EXPECT_FLOAT_EQ(ops::topk_accuracy(logits, labels, 1), 0.5f);   // ties at the top hit
  EXPECT_FLOAT_EQ(ops::topk_accuracy(logits, labels, 2), 0.75f);  // row 0 joins
  EXPECT_FLOAT_EQ(ops::topk_accuracy(logits, labels, 3), 0.75f);
  EXPECT_FLOAT_EQ(ops::topk_accuracy(logits, labels, 4), 1.0f);
  EXPECT_FLOAT_EQ(ops::topk_accuracy(logits, labels, 9), 1.0f);  // k above C: every row
}

TEST(TopkAccuracyTest, Errors) {
  const Tensor logits = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::topk_accuracy(logits, {0, 3}, 1),
                        "topk_accuracy: label 3 out of range for 3 classes (sample 1)");
  EXPECT_ERROR_CONTAINS(ops::topk_accuracy(logits, {0, 1}, 0),
                        "topk_accuracy: k must be at least 1, got 0");
  EXPECT_ERROR_CONTAINS(ops::topk_accuracy(Tensor::zeros({0, 3}), {}, 1),
                        "topk_accuracy: no samples");
}

// Labels held in a tensor on the logits' device (a step recorded as a CUDA graph writes them in
// place): the same loss and gradient, bit for bit, as labels given on the host.
TEST(CrossEntropyTest, LabelsInATensorGiveTheSameLossAndGradientBits) {
  const std::vector<int64_t> labels = {2, 0, 4, 4, 1, 3};
  const Tensor label_values = ops::label_tensor(labels, 5);
  EXPECT_EQ(label_values.to_vector(), (std::vector<float>{2, 0, 4, 4, 1, 3}));
  for (float s : {0.0f, 0.15f}) {
    SCOPED_TRACE(s);
    const Tensor a = random_leaf({6, 5}, 7, -3.0f, 3.0f);
    Tensor b = a.detach().clone();
    b.set_requires_grad(true);
    const Tensor la = ops::cross_entropy(a, labels, s),
                 lb = ops::device_cross_entropy(b, label_values, s);
    EXPECT_EQ(la.shape(), lb.shape());
    EXPECT_EQ(la.item(), lb.item());
    la.backward();
    lb.backward();
    EXPECT_EQ(a.grad().to_vector(), b.grad().to_vector());
  }
}

// The device cannot stop a run: a label out of range there makes the loss NaN, which the trainer
// reports. label_tensor, which fills such labels on the host, checks them first.
TEST(CrossEntropyTest, ALabelTensorOutOfRangeGivesANanLoss) {
  const Tensor logits = Tensor::zeros({3, 5});
  for (float bad : {7.0f, -1.0f, 2.5f}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(std::isnan(
        ops::device_cross_entropy(logits, Tensor::from_vector({3}, {0.0f, bad, 1.0f})).item()));
  }
  EXPECT_ERROR_CONTAINS(ops::label_tensor({0, 1, 7}, 5),
                        "cross_entropy: label 7 out of range for 5 classes (sample 2)");
  EXPECT_ERROR_CONTAINS(ops::device_cross_entropy(logits, Tensor::zeros({2})),
                        "cross_entropy: labels of shape [2] for logits of shape [3,5]");
}

}  // namespace
}  // namespace repflow
