#include "ops/pool/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

ops::PoolOptions kernel_only(std::vector<int64_t> kernel) {
  ops::PoolOptions o;
  o.kernel = std::move(kernel);
  return o;
}

struct Case {
  Shape shape;
  ops::PoolOptions options;
  Shape out_spatial;  // worked out by hand from PyTorch's rule
};

// 1-D, 2-D and 3-D; stride above the kernel; padding; ceil_mode adding a partial window (with
// and without padding), ceil_mode dropping a window that would start in the right padding, and
// rows wide enough for the CPU's vector lanes.
const Case kCases[] = {
    {{2, 3, 11}, {{3}, {2}, {1}}, {6}},
    {{1, 2, 10}, {{3}, {4}, {0}, true}, {3}},
    {{1, 1, 5}, {{2}, {2}, {1}, true}, {3}},
    {{2, 1, 6}, {{3}, {2}, {0}, true}, {3}},
    {{2, 1, 6}, {{3}, {2}, {1}, true}, {4}},
    {{2, 3, 8, 9}, {{3}, {2}, {1}}, {4, 5}},
    {{2, 3, 8, 9}, {{3}, {2}, {1}, true}, {5, 5}},
    {{1, 2, 6, 5}, {{2, 3}, {3, 1}, {1, 0}}, {3, 3}},
    {{2, 2, 7, 7}, {{2}, {}, {0}}, {3, 3}},
    {{2, 2, 5, 6, 7}, {{3}, {2}, {1}}, {3, 3, 4}},
    {{1, 2, 5, 6, 7}, {{2, 3, 2}, {3, 2, 1}, {1, 1, 0}, true}, {2, 4, 6}},
    {{2, 2, 6, 30}, {{3}, {1}, {1}}, {6, 30}},
    {{1, 2, 4, 25}, {{2, 3}, {1, 3}, {0, 1}, true}, {3, 9}},
};

// Output element at (plane, o) computed with plain loops over the window in padded coordinates.
std::vector<double> reference(bool is_max, const Tensor& x, const ops::PoolOptions& opt,
                              const Shape& out) {
  const int sp = x.dim() - 2;
  auto get = [&](const std::vector<int64_t>& v, int d) { return v.size() == 1 ? v[0] : v[d]; };
  Shape k(3, 1), s(3, 1), p(3, 0), in(3, 1), o(3, 1);
  for (int d = 0; d < sp; ++d) {
    const int t = 3 - sp + d;
    k[t] = get(opt.kernel, d);
    s[t] = opt.stride.empty() ? k[t] : get(opt.stride, d);
    p[t] = get(opt.padding, d);
    in[t] = x.size(d + 2);
    o[t] = out[d];
  }
  const std::vector<float> v = x.to_vector();
  const int64_t planes = x.size(0) * x.size(1);
  std::vector<double> y;
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t a = 0; a < o[0]; ++a)
      for (int64_t b = 0; b < o[1]; ++b)
        for (int64_t c = 0; c < o[2]; ++c) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t inside = 0, padded = 0;
          for (int64_t i = a * s[0] - p[0]; i < a * s[0] - p[0] + k[0]; ++i)
            for (int64_t j = b * s[1] - p[1]; j < b * s[1] - p[1] + k[1]; ++j)
              for (int64_t l = c * s[2] - p[2]; l < c * s[2] - p[2] + k[2]; ++l) {
                if (i < in[0] + p[0] && j < in[1] + p[1] && l < in[2] + p[2]) ++padded;
                if (i < 0 || j < 0 || l < 0 || i >= in[0] || j >= in[1] || l >= in[2]) continue;
                const double val = v[((pl * in[0] + i) * in[1] + j) * in[2] + l];
                best = std::max(best, val);
                sum += val;
                ++inside;
              }
          y.push_back(is_max ? best : sum / (opt.count_include_pad ? padded : inside));
        }
  return y;
}

void expect_matches_reference(bool is_max, const Case& c) {
  const Tensor x = random_leaf(c.shape, 1, -3.0f, 2.0f).detach();
  const Tensor y = is_max ? ops::max_pool(x, c.options) : ops::avg_pool(x, c.options);
  Shape expected_shape{c.shape[0], c.shape[1]};
  expected_shape.insert(expected_shape.end(), c.out_spatial.begin(), c.out_spatial.end());
  ASSERT_EQ(y.shape(), expected_shape);
  const std::vector<double> expected = reference(is_max, x, c.options, c.out_spatial);
  const std::vector<float> actual = y.to_vector();
  for (size_t i = 0; i < actual.size(); ++i) ASSERT_NEAR(actual[i], expected[i], 1e-5) << i;
}

TEST(PoolTest, MaxPoolMatchesLoops) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(shape_str(c.shape) + " kernel " + shape_str(c.options.kernel));
    expect_matches_reference(true, c);
  }
}

TEST(PoolTest, AvgPoolMatchesLoops) {
  for (Case c : kCases) {
    for (bool include_pad : {true, false}) {
      SCOPED_TRACE(shape_str(c.shape) + " kernel " + shape_str(c.options.kernel) +
                   (include_pad ? " count_include_pad" : ""));
      c.options.count_include_pad = include_pad;
      expect_matches_reference(false, c);
    }
  }
}

TEST(PoolTest, CountIncludePadDivisors) {
  // Length 6, kernel 3, stride 2, padding 1, ceil_mode: windows [-1,2) [1,4) [3,6) [5,8). The
  // last counts position 6 (right padding) but not 7 (past the padded input).
  const Tensor x = Tensor::ones({1, 1, 6});
  ops::PoolOptions opt{{3}, {2}, {1}, true, true};
  EXPECT_EQ(ops::avg_pool(x, opt).to_vector(), (std::vector<float>{2.f / 3, 1, 1, 0.5f}));
  opt.count_include_pad = false;
  EXPECT_EQ(ops::avg_pool(x, opt).to_vector(), (std::vector<float>{1, 1, 1, 1}));
}

TEST(PoolTest, PaddingNeverWinsAMax) {
  const Tensor x = Tensor::full({1, 1, 4, 4}, -5.0f);
  const Tensor y = ops::max_pool(x, {{3}, {1}, {1}});
  for (float v : y.to_vector()) EXPECT_EQ(v, -5.0f);
}

TEST(PoolTest, MaxTiesGoToTheFirstPositionAndNaNPropagates) {
  // Width 20 pools 8 outputs per row in vector lanes and 2 one by one.
  const Tensor x = Tensor::ones({1, 1, 2, 20}).set_requires_grad();
  ops::sum(ops::max_pool(x, kernel_only({2}))).backward();
  std::vector<float> expected(40, 0.0f);
  for (int i = 0; i < 20; i += 2) expected[i] = 1.0f;
  EXPECT_EQ(x.grad().to_vector(), expected);
  std::vector<float> values(12, 1.0f);
  values[1] = NAN;
  values[10] = NAN;
  const std::vector<float> y =
      ops::max_pool(Tensor::from_vector({1, 1, 12}, values), kernel_only({2})).to_vector();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(std::isnan(y[i]), i == 0 || i == 5) << i;
}

// Values k * 0.05 in a random order: no two closer than the gradcheck step, so no max flips.
Tensor distinct_leaf(const Shape& shape, uint64_t seed) {
  std::vector<float> v(shape_numel(shape));
  std::iota(v.begin(), v.end(), 0.0f);
  std::shuffle(v.begin(), v.end(), std::mt19937(static_cast<unsigned>(seed)));
  for (float& e : v) e = e * 0.05f - 3.0f;
  Tensor t = Tensor::from_vector(shape, v);
  t.set_requires_grad();
  return t;
}

TEST(PoolTest, Gradcheck) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(shape_str(c.shape) + " kernel " + shape_str(c.options.kernel));
    const ops::PoolOptions opt = c.options;
    EXPECT_GRADCHECK([opt](const std::vector<Tensor>& in) { return ops::max_pool(in[0], opt); },
                     {distinct_leaf(c.shape, 2)});
    for (bool include_pad : {true, false}) {
      ops::PoolOptions avg = opt;
      avg.count_include_pad = include_pad;
      EXPECT_GRADCHECK([avg](const std::vector<Tensor>& in) { return ops::avg_pool(in[0], avg); },
                       {random_leaf(c.shape, 3)});
    }
  }
}

TEST(PoolTest, StridedInput) {
  const Tensor base = random_leaf({2, 9, 3, 8}, 4);
  const Tensor x = ops::permute(base, {0, 2, 1, 3});
  const ops::PoolOptions opt{{3, 2}, {2}, {1}};
  EXPECT_EQ(ops::max_pool(x, opt).to_vector(), ops::max_pool(x.contiguous(), opt).to_vector());
  EXPECT_EQ(ops::avg_pool(x, opt).to_vector(), ops::avg_pool(x.contiguous(), opt).to_vector());
  EXPECT_GRADCHECK(
      [opt](const std::vector<Tensor>& in) {
        return ops::max_pool(ops::permute(in[0], {0, 2, 1, 3}), opt);
      },
      {distinct_leaf({2, 9, 3, 8}, 5)});
}

TEST(PoolTest, GlobalAvgPool) {
  const Tensor x = random_leaf({2, 3, 4, 5}, 6);
  EXPECT_EQ(ops::global_avg_pool(x, {2, 3}).to_vector(), ops::mean(x, {2, 3}).to_vector());
  EXPECT_EQ(ops::global_avg_pool(x, {2, 3}, true).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::global_avg_pool(in[0], {-1}); },
                   {x});
}

TEST(PoolTest, EmptyBatch) {
  const Tensor x = Tensor::zeros({0, 2, 4, 4}).set_requires_grad();
  const Tensor y = ops::max_pool(x, kernel_only({2}));
  EXPECT_EQ(y.shape(), (Shape{0, 2, 2, 2}));
  ops::sum(y).backward();
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(ops::avg_pool(x, kernel_only({2})).shape(), (Shape{0, 2, 2, 2}));
}

TEST(PoolTest, Errors) {
  const Tensor x = Tensor::zeros({1, 1, 2, 2});
  EXPECT_ERROR_CONTAINS(
      ops::max_pool(Tensor::zeros({2, 3}), kernel_only({2})),
      "max_pool: expected an input (N, C, *spatial) with 1 to 3 spatial dims, got [2,3]");
  EXPECT_ERROR_CONTAINS(ops::avg_pool(Tensor::zeros({1, 1, 2, 2, 2, 2}), kernel_only({2})),
                        "avg_pool: expected an input");
  EXPECT_ERROR_CONTAINS(ops::max_pool(x, kernel_only({2, 2, 2})),
                        "max_pool: kernel has 3 entries for 2 spatial dims");
  EXPECT_ERROR_CONTAINS(ops::max_pool(x, {{2}, {1, 1, 1}}), "stride has 3 entries");
  EXPECT_ERROR_CONTAINS(ops::avg_pool(x, {{2}, {}, {0, 0, 0}}), "avg_pool: padding has 3 entries");
  EXPECT_ERROR_CONTAINS(ops::max_pool(x, kernel_only({0, 1})),
                        "max_pool: kernel must be at least 1");
  EXPECT_ERROR_CONTAINS(ops::max_pool(x, {{2}, {0}}), "max_pool: stride must be at least 1");
  EXPECT_ERROR_CONTAINS(ops::max_pool(Tensor::zeros({1, 1, 9, 9}), {{3}, {1}, {2}}),
                        "max_pool: padding 2 in spatial dim 0 should be between 0 and half the "
                        "kernel (kernel [3,3], stride [1,1], padding [2,2])");
  EXPECT_ERROR_CONTAINS(ops::max_pool(x, kernel_only({1, 3})),
                        "max_pool: output size 0 in spatial dim 1 for input [1,1,2,2] (kernel "
                        "[1,3], stride [1,3], padding [0,0])");
}

}  // namespace
}  // namespace repflow
