#include "ops/batch_norm/batch_norm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/elementwise/elementwise.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

struct Stats {
  std::vector<double> mean, var;  // per channel; var biased
};

// (N, C, S) reading of a contiguous x: element (n, c, s) is at (n * C + c) * S + s.
struct Layout {
  int64_t n, c, s;
  explicit Layout(const Shape& shape) : n(shape[0]), c(shape[1]), s(1) {
    for (size_t d = 2; d < shape.size(); ++d) s *= shape[d];
  }
  int64_t at(int64_t in, int64_t ic, int64_t is) const { return (in * c + ic) * s + is; }
};

Stats batch_stats(const Tensor& x) {
  const Layout l(x.shape());
  const std::vector<float> v = x.to_vector();
  Stats st{std::vector<double>(l.c, 0.0), std::vector<double>(l.c, 0.0)};
  const double count = static_cast<double>(l.n * l.s);
  for (int64_t c = 0; c < l.c; ++c) {
    for (int64_t n = 0; n < l.n; ++n)
      for (int64_t s = 0; s < l.s; ++s) st.mean[c] += v[l.at(n, c, s)];
    st.mean[c] /= count;
    for (int64_t n = 0; n < l.n; ++n)
      for (int64_t s = 0; s < l.s; ++s) {
        const double t = v[l.at(n, c, s)] - st.mean[c];
        st.var[c] += t * t;
      }
    st.var[c] /= count;
  }
  return st;
}

// y = (x - mean) / sqrt(var + eps) * weight + bias in double, weight/bias optional.
std::vector<double> normalize(const Tensor& x, const std::vector<double>& mean,
                              const std::vector<double>& var, const Tensor& weight,
                              const Tensor& bias, double eps) {
  const Layout l(x.shape());
  const std::vector<float> v = x.to_vector();
  std::vector<double> y(v.size());
  for (int64_t n = 0; n < l.n; ++n)
    for (int64_t c = 0; c < l.c; ++c) {
      const double w = weight.defined() ? weight.at({c}) : 1.0;
      const double b = bias.defined() ? bias.at({c}) : 0.0;
      for (int64_t s = 0; s < l.s; ++s) {
        const int64_t i = l.at(n, c, s);
        y[i] = (v[i] - mean[c]) / std::sqrt(var[c] + eps) * w + b;
      }
    }
  return y;
}

std::vector<double> to_double(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}

void expect_near_all(const Tensor& actual, const std::vector<double>& expected, double tol) {
  const std::vector<float> a = actual.to_vector();
  ASSERT_EQ(a.size(), expected.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], expected[i], tol * (1.0 + std::fabs(expected[i]))) << "element " << i;
}

Tensor positive_leaf(const Shape& shape, uint64_t seed) {
  return random_leaf(shape, seed, 0.5f, 2.0f).detach();
}

const Shape kShapes[] = {{4, 3, 5, 6}, {2, 3, 4, 5, 3}, {5, 7},         {3, 4, 7},
                         {8, 4, 1, 1}, {1, 2, 3, 3},    {3, 1, 9, 1, 2}};

TEST(BatchNormTest, TrainingForwardAndRunningStatsMatchTheFormula) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor x = random_leaf(shape, 1, -2.0f, 3.0f);
    const int64_t c = shape[1];
    const Tensor w = random_leaf({c}, 2), b = random_leaf({c}, 3);
    for (const auto& [momentum, eps] : {std::pair{0.1f, 1e-5f}, std::pair{0.01f, 1e-3f}}) {
      const Tensor rm = random_leaf({c}, 4).detach(), rv = positive_leaf({c}, 5);
      const std::vector<double> rm0 = to_double(rm), rv0 = to_double(rv);
      const Tensor y = ops::batch_norm(x, w, b, rm, rv, true, momentum, eps);
      const Stats st = batch_stats(x);
      expect_near_all(y, normalize(x, st.mean, st.var, w, b, eps), 1e-5);
      const double count = static_cast<double>(x.numel() / c);
      std::vector<double> rm1(c), rv1(c);
      for (int64_t k = 0; k < c; ++k) {
        rm1[k] = (1 - momentum) * rm0[k] + momentum * st.mean[k];
        rv1[k] = (1 - momentum) * rv0[k] + momentum * st.var[k] * count / (count - 1);
      }
      expect_near_all(rm, rm1, 1e-6);
      expect_near_all(rv, rv1, 1e-6);
    }
  }
}

TEST(BatchNormTest, WithoutAffineOrRunningStats) {
  const Tensor x = random_leaf({3, 5, 4, 3}, 6);
  const Tensor y = ops::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  const Stats st = batch_stats(x);
  expect_near_all(y, normalize(x, st.mean, st.var, Tensor(), Tensor(), 1e-5), 1e-5);
}

TEST(BatchNormTest, VarianceIsAccurateForALargeMean) {
  // One-pass E[x^2] - E[x]^2 in float would lose every digit of this variance.
  Generator gen(7);
  const Tensor x = ops::add(Tensor::normal({16, 2, 64, 64}, 0.0f, 0.01f, gen), 1000.0f);
  const Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
  ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, 1.0f);
  const Stats st = batch_stats(x);
  const double count = static_cast<double>(x.numel() / 2);
  for (int64_t c = 0; c < 2; ++c) {
    EXPECT_NEAR(rm.at({c}), st.mean[c], 1e-4);
    EXPECT_NEAR(rv.at({c}), st.var[c] * count / (count - 1), 1e-3 * st.var[c]);
  }
}

TEST(BatchNormTest, EvalUsesRunningStatsAndLeavesThemAlone) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor x = random_leaf(shape, 8);
    const Tensor w = random_leaf({c}, 9), b = random_leaf({c}, 10);
    const Tensor rm = random_leaf({c}, 11).detach(), rv = positive_leaf({c}, 12);
    const std::vector<double> rm0 = to_double(rm), rv0 = to_double(rv);
    expect_near_all(ops::batch_norm(x, w, b, rm, rv, false, 0.1f, 1e-3f),
                    normalize(x, rm0, rv0, w, b, 1e-3), 1e-5);
    expect_near_all(ops::batch_norm(x, Tensor(), Tensor(), rm, rv, false),
                    normalize(x, rm0, rv0, Tensor(), Tensor(), 1e-5), 1e-5);
    expect_near_all(rm, rm0, 0.0);
    expect_near_all(rv, rv0, 0.0);
  }
}

TEST(BatchNormTest, StridedInputAndRunningStats) {
  const Tensor base = random_leaf({4, 6, 3, 5}, 13);
  const Tensor x = ops::permute(base, {0, 3, 2, 1});  // (4, 5, 3, 6), channels strided
  const Tensor buffer = Tensor::zeros({2, 5});
  Tensor rm = ops::select(buffer, 0, 0), rv = ops::select(buffer, 0, 1);
  rv.fill_(1.0f);
  const Tensor y = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.5f);
  const Stats st = batch_stats(x.contiguous());
  expect_near_all(y, normalize(x.contiguous(), st.mean, st.var, Tensor(), Tensor(), 1e-5), 1e-5);
  for (int64_t c = 0; c < 5; ++c) EXPECT_NEAR(buffer.at({0, c}), 0.5 * st.mean[c], 1e-6);
}

testing::TensorFn train_fn(bool affine) {
  return [affine](const std::vector<Tensor>& in) {
    return ops::batch_norm(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), Tensor(),
                           Tensor(), true);
  };
}

TEST(BatchNormTest, GradcheckTraining) {
  for (const Shape& shape :
       {Shape{4, 3, 3, 2}, Shape{2, 2, 2, 3, 2}, Shape{6, 3}, Shape{5, 2, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    EXPECT_GRADCHECK(train_fn(true), {random_leaf(shape, 20, -2.0f, 2.0f),
                                      random_leaf({c}, 21, 0.5f, 1.5f), random_leaf({c}, 22)});
    EXPECT_GRADCHECK(train_fn(false), {random_leaf(shape, 23, -2.0f, 2.0f)});
  }
}

TEST(BatchNormTest, RunningStatsDoNotChangeTheTrainingGradient) {
  const Tensor x1 = random_leaf({3, 2, 4, 4}, 24), x2 = x1.detach().clone().set_requires_grad();
  const Tensor g = random_leaf({3, 2, 4, 4}, 25).detach();
  ops::batch_norm(x1, Tensor(), Tensor(), Tensor(), Tensor(), true).backward(g);
  ops::batch_norm(x2, Tensor(), Tensor(), Tensor::zeros({2}), Tensor::ones({2}), true).backward(g);
  expect_near_all(x2.grad(), to_double(x1.grad()), 0.0);
}

TEST(BatchNormTest, GradcheckEval) {
  for (const Shape& shape : {Shape{3, 3, 4, 2}, Shape{2, 2, 2, 3, 2}, Shape{4, 5}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor rm = random_leaf({c}, 30).detach(), rv = positive_leaf({c}, 31);
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1f, 1e-3f);
        },
        {random_leaf(shape, 32), random_leaf({c}, 33), random_leaf({c}, 34)});
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], Tensor(), Tensor(), rm, rv, false);
        },
        {random_leaf(shape, 35)});
  }
}

TEST(BatchNormTest, GradientsOfLargeInputsMatchTheFormula) {
  // Several blocks per row and rows spread over threads, against the closed form in double.
  const Shape shape{3, 4, 40, 50};
  const Tensor x = random_leaf(shape, 40, -3.0f, 3.0f);
  const Tensor w = random_leaf({4}, 41), b = random_leaf({4}, 42);
  const Tensor g = random_leaf(shape, 43).detach();
  ops::batch_norm(x, w, b, Tensor(), Tensor(), true).backward(g);
  const Layout l(shape);
  const Stats st = batch_stats(x);
  const std::vector<float> xv = x.to_vector(), gv = g.to_vector();
  std::vector<double> gx(xv.size()), gw(4, 0.0), gb(4, 0.0);
  const double count = static_cast<double>(l.n * l.s);
  for (int64_t c = 0; c < l.c; ++c) {
    const double invstd = 1.0 / std::sqrt(st.var[c] + 1e-5);
    for (int64_t n = 0; n < l.n; ++n)
      for (int64_t s = 0; s < l.s; ++s) {
        const int64_t i = l.at(n, c, s);
        gb[c] += gv[i];
        gw[c] += gv[i] * (xv[i] - st.mean[c]) * invstd;
      }
    for (int64_t n = 0; n < l.n; ++n)
      for (int64_t s = 0; s < l.s; ++s) {
        const int64_t i = l.at(n, c, s);
        const double xhat = (xv[i] - st.mean[c]) * invstd;
        gx[i] = w.at({c}) * invstd * (gv[i] - gb[c] / count - xhat * gw[c] / count);
      }
  }
  expect_near_all(x.grad(), gx, 1e-4);
  expect_near_all(w.grad(), gw, 1e-4);
  expect_near_all(b.grad(), gb, 1e-4);
}

// Inference with a negative running variance (a corrupt or hostile weight file) gives NaN, which
// the fused ReLU passes on to the output's finiteness checks.
TEST(BatchNormTest, FusedReluPassesNaNThrough) {
  const Tensor x = Tensor::ones({1, 2, 1, 1});
  const Tensor w = Tensor::ones({2}), b = Tensor::zeros({2});
  const Tensor rm = Tensor::zeros({2}), rv = Tensor::from_vector({2}, {1, -1});
  const std::vector<float> y = ops::batch_norm_relu(x, w, b, rm, rv, false).to_vector();
  EXPECT_GT(y[0], 0.99f);
  EXPECT_TRUE(std::isnan(y[1]));
}

// batch_norm_relu gives exactly relu(batch_norm(...)) and batch_norm_add_relu exactly
// relu(batch_norm(...) + residual): the same output, running statistics and gradients, bit for
// bit, since the ReLU's mask read from the output is the one it reads from its input. Large
// shapes spread rows over threads.
TEST(BatchNormTest, FusedReluIsExactlyReluOfBatchNorm) {
  for (const Shape& shape : {Shape{4, 3, 5, 6}, Shape{2, 3, 4, 5, 3}, Shape{5, 7},
                             Shape{3, 4, 40, 50}, Shape{8, 16, 1, 1}}) {
    for (const bool training : {true, false}) {
      for (const bool with_residual : {false, true}) {
        SCOPED_TRACE(shape_str(shape) + (training ? " training" : " eval") +
                     (with_residual ? " with a residual" : ""));
        const int64_t c = shape[1];
        const Tensor x = random_leaf(shape, 50, -2.0f, 3.0f).detach();
        const Tensor g = random_leaf(shape, 51).detach();
        const Tensor rm = random_leaf({c}, 52).detach(), rv = positive_leaf({c}, 53);
        const Tensor residual = random_leaf(shape, 56, -1.0f, 1.0f).detach();
        std::vector<std::vector<float>> results[2];
        for (const bool fused : {false, true}) {
          const Tensor xi = x.clone().set_requires_grad();
          const Tensor ri = residual.clone().set_requires_grad();
          const Tensor w = random_leaf({c}, 54), b = random_leaf({c}, 55);
          const Tensor rmi = rm.clone(), rvi = rv.clone();
          Tensor y;
          if (with_residual) {
            y = fused ? ops::batch_norm_add_relu(xi, ri, w, b, rmi, rvi, training)
                      : ops::relu(ops::batch_norm(xi, w, b, rmi, rvi, training) + ri);
          } else {
            y = fused ? ops::batch_norm_relu(xi, w, b, rmi, rvi, training)
                      : ops::relu(ops::batch_norm(xi, w, b, rmi, rvi, training));
          }
          y.backward(g);
          results[fused] = {y.to_vector(),        xi.grad().to_vector(), w.grad().to_vector(),
                            b.grad().to_vector(), rmi.to_vector(),       rvi.to_vector()};
          if (with_residual) results[fused].push_back(ri.grad().to_vector());
        }
        const char* names[] = {
            "y",           "x.grad",       "weight.grad", "bias.grad", "running_mean",
            "running_var", "residual.grad"};
        ASSERT_EQ(results[0].size(), results[1].size());
        for (size_t k = 0; k < results[0].size(); ++k) {
          EXPECT_EQ(results[0][k], results[1][k]) << names[k];
        }
        // The ReLU did clamp: the comparison covers both sides of it.
        const std::vector<float>& y = results[1][0];
        EXPECT_GT(std::count(y.begin(), y.end(), 0.0f), 0);
        EXPECT_LT(std::count(y.begin(), y.end(), 0.0f), static_cast<long>(y.size()));
      }
    }
  }
}

TEST(BatchNormTest, GradcheckFusedRelu) {
  const Shape shape{4, 3, 3, 2};
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::batch_norm_relu(in[0], in[1], in[2], Tensor(), Tensor(), true);
      },
      {random_leaf(shape, 56, -2.0f, 2.0f), random_leaf({3}, 57, 0.5f, 1.5f),
       random_leaf({3}, 58)});
  const Tensor rm = random_leaf({3}, 59).detach(), rv = positive_leaf({3}, 60);
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ops::batch_norm_relu(in[0], in[1], in[2], rm, rv, false);
      },
      {random_leaf(shape, 61), random_leaf({3}, 62), random_leaf({3}, 63)});
}

TEST(BatchNormTest, GradcheckFusedAddRelu) {
  const Shape shape{4, 3, 3, 2};
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::batch_norm_add_relu(in[0], in[3], in[1], in[2], Tensor(), Tensor(), true);
      },
      {random_leaf(shape, 64, -2.0f, 2.0f), random_leaf({3}, 65, 0.5f, 1.5f), random_leaf({3}, 66),
       random_leaf(shape, 67)});
  const Tensor rm = random_leaf({3}, 68).detach(), rv = positive_leaf({3}, 69);
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ops::batch_norm_add_relu(in[0], in[3], in[1], in[2], rm, rv, false);
      },
      {random_leaf(shape, 70), random_leaf({3}, 71), random_leaf({3}, 72), random_leaf(shape, 73)});
}

TEST(BatchNormTest, EmptyBatchInEvalMode) {
  const Tensor x = Tensor::zeros({0, 3, 2, 2}).set_requires_grad();
  const Tensor w = Tensor::ones({3}).set_requires_grad();
  const Tensor y = ops::batch_norm(x, w, Tensor(), Tensor::zeros({3}), Tensor::ones({3}), false);
  EXPECT_EQ(y.shape(), x.shape());
  y.backward(Tensor::zeros(x.shape()));
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{0, 0, 0}));
}

TEST(BatchNormTest, Errors) {
  const Tensor x = Tensor::zeros({2, 4, 3, 3});
  const Tensor c4 = Tensor::ones({4});
  EXPECT_ERROR_CONTAINS(ops::batch_norm(Tensor::zeros({4}), c4, c4, c4, c4, true),
                        "batch_norm: expected an input (N, C, *) of rank 2 or more, got [4]");
  EXPECT_ERROR_CONTAINS(ops::batch_norm(x, Tensor::ones({3}), c4, c4, c4, true),
                        "batch_norm: weight of shape [3] does not match the 4 channels of input "
                        "[2,4,3,3]");
  EXPECT_ERROR_CONTAINS(ops::batch_norm(x, c4, c4, c4, Tensor::ones({4, 1}), false),
                        "batch_norm: running_var of shape [4,1] does not match");
  EXPECT_ERROR_CONTAINS(ops::batch_norm(x, c4, c4, c4, Tensor(), true),
                        "running_mean and running_var must be both given");
  EXPECT_ERROR_CONTAINS(ops::batch_norm(x, c4, c4, Tensor(), Tensor(), false),
                        "eval mode (training false) needs running_mean and running_var");
  EXPECT_ERROR_CONTAINS(
      ops::batch_norm(Tensor::zeros({1, 4, 1, 1}), c4, c4, c4, c4, true),
      "batch_norm: expected more than 1 value per channel when training, got input [1,4,1,1]");
  // One value per channel is fine in eval mode.
  EXPECT_NO_THROW(ops::batch_norm(Tensor::zeros({1, 4, 1, 1}), c4, c4, c4, c4, false));
  EXPECT_ERROR_CONTAINS(
      ops::batch_norm_add_relu(x, Tensor::zeros({2, 4, 3, 1}), c4, c4, c4, c4, true),
      "batch_norm_add_relu: residual [2,4,3,1] does not match input [2,4,3,3]");
  EXPECT_ERROR_CONTAINS(ops::batch_norm_add_relu(x, Tensor(), c4, c4, c4, c4, true),
                        "batch_norm_add_relu: the residual is undefined");
}

}  // namespace
}  // namespace repflow
