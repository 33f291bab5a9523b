#include "ops/reduce/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "ops/elementwise/elementwise.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

enum class Kind { kSum, kMean, kMax, kMin };

Tensor apply(Kind kind, const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  switch (kind) {
    case Kind::kSum:
      return ops::sum(x, dims, keepdim);
    case Kind::kMean:
      return ops::mean(x, dims, keepdim);
    case Kind::kMax:
      return ops::max(x, dims, keepdim);
    case Kind::kMin:
      return ops::min(x, dims, keepdim);
  }
  return Tensor();
}

Tensor apply_all(Kind kind, const Tensor& x) {
  switch (kind) {
    case Kind::kSum:
      return ops::sum(x);
    case Kind::kMean:
      return ops::mean(x);
    case Kind::kMax:
      return ops::max(x);
    case Kind::kMin:
      return ops::min(x);
  }
  return Tensor();
}

const Kind kAllKinds[] = {Kind::kSum, Kind::kMean, Kind::kMax, Kind::kMin};

// Row-major multi-index of element i of `shape`.
std::vector<int64_t> unravel(int64_t i, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = i % shape[d];
    i /= shape[d];
  }
  return index;
}

struct Expected {
  std::vector<double> values;
  // What float rounding of a sum scales with: the same reduction of |x| (0 for max/min).
  std::vector<double> magnitude;
};

// Straightforward loops in double: every element of x goes to the output element whose kept
// coordinates match; `out_shape` is the expected shape.
Expected reference(Kind kind, const Tensor& x, const std::vector<int>& dims, bool keepdim,
                   Shape* out_shape) {
  const int n = x.dim();
  std::vector<bool> reduced(n, false);
  for (int d : dims) reduced[d < 0 ? d + n : d] = true;
  Shape kept;
  out_shape->clear();
  for (int d = 0; d < n; ++d) {
    if (!reduced[d]) kept.push_back(x.shape()[d]);
    if (!reduced[d] || keepdim) out_shape->push_back(reduced[d] ? 1 : x.shape()[d]);
  }
  const int64_t outputs = shape_numel(kept);
  const double init = kind == Kind::kMax   ? -std::numeric_limits<double>::infinity()
                      : kind == Kind::kMin ? std::numeric_limits<double>::infinity()
                                           : 0.0;
  std::vector<double> acc(outputs, init), magnitude(outputs, 0.0);
  std::vector<int64_t> count(outputs, 0);
  const std::vector<float> values = x.to_vector();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const std::vector<int64_t> index = unravel(i, x.shape());
    int64_t o = 0;
    for (int d = 0; d < n; ++d)
      if (!reduced[d]) o = o * x.shape()[d] + index[d];
    const double v = values[i];
    acc[o] = kind == Kind::kMax   ? std::max(acc[o], v)
             : kind == Kind::kMin ? std::min(acc[o], v)
                                  : acc[o] + v;
    if (kind == Kind::kSum || kind == Kind::kMean) magnitude[o] += std::fabs(v);
    ++count[o];
  }
  if (kind == Kind::kMean) {
    for (int64_t o = 0; o < outputs; ++o) {
      acc[o] /= count[o];
      magnitude[o] /= count[o];
    }
  }
  return {acc, magnitude};
}

void expect_values(const Tensor& out, const Expected& expected) {
  const std::vector<float> got = out.to_vector();
  ASSERT_EQ(got.size(), expected.values.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = expected.values[i];
    EXPECT_NEAR(got[i], want, 1e-5 * (1 + std::fabs(want)) + 1e-7 * expected.magnitude[i])
        << "element " << i;
  }
}

void expect_matches_reference(Kind kind, const Tensor& x, const std::vector<int>& dims,
                              bool keepdim) {
  Shape shape;
  const Expected expected = reference(kind, x, dims, keepdim, &shape);
  const Tensor out = apply(kind, x, dims, keepdim);
  ASSERT_EQ(out.shape(), shape) << shape_str(x.shape()) << " dims "
                                << ::testing::PrintToString(dims);
  expect_values(out, expected);
}

// A leaf whose values are a shuffle of evenly spaced numbers: no two are within a
// finite-difference step of each other, so max/min have one winner that perturbation keeps.
Tensor distinct_leaf(const Shape& shape, uint64_t seed) {
  std::vector<float> values(shape_numel(shape));
  std::iota(values.begin(), values.end(), 0.0f);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(seed));
  for (float& v : values) v = v * 0.05f - 1.0f;
  Tensor t = Tensor::from_vector(shape, values);
  t.set_requires_grad(true);
  return t;
}

// Sums take random values; max/min take distinct ones.
Tensor leaf_for(Kind kind, const Shape& shape, uint64_t seed) {
  const bool extreme = kind == Kind::kMax || kind == Kind::kMin;
  return extreme ? distinct_leaf(shape, seed) : random_leaf(shape, seed);
}

struct DimsCase {
  std::vector<int> dims;
  bool keepdim;
};

const DimsCase kDimsCases[] = {{{1}, false},       {{1}, true},        {{0, 2}, false},
                               {{2, 0}, true},     {{-1}, false},      {{-3, -1}, true},
                               {{0, 1, 2}, false}, {{0, -2, 2}, true}, {{}, false}};

TEST(ReduceTest, ForwardMatchesLoops) {
  const Tensor x = random_leaf({3, 5, 7}, 1);
  for (Kind kind : kAllKinds) {
    for (const DimsCase& c : kDimsCases) expect_matches_reference(kind, x, c.dims, c.keepdim);
    Shape shape;
    const Expected expected = reference(kind, x, {0, 1, 2}, false, &shape);
    const Tensor all = apply_all(kind, x);
    EXPECT_EQ(all.shape(), Shape{});
    expect_values(all, expected);
  }
}

TEST(ReduceTest, ForwardSizeOneDims) {
  const Tensor x = random_leaf({4, 1, 3, 1}, 2);
  for (Kind kind : kAllKinds) {
    expect_matches_reference(kind, x, {1}, false);
    expect_matches_reference(kind, x, {1, 3}, true);
    expect_matches_reference(kind, x, {0, 2}, false);
    expect_matches_reference(kind, x, {-1, 0}, true);
  }
}

TEST(ReduceTest, ForwardNonContiguousInput) {
  const Tensor base = random_leaf({3, 5, 7}, 3);
  const Tensor x = ops::permute(base, {2, 0, 1});
  const Tensor y = ops::transpose(random_leaf({6, 9}, 4), 0, 1);
  ASSERT_FALSE(x.is_contiguous());
  for (Kind kind : kAllKinds) {
    expect_matches_reference(kind, x, {0}, false);
    expect_matches_reference(kind, x, {1, 2}, true);
    expect_matches_reference(kind, x, {0, 2}, false);
    expect_matches_reference(kind, y, {0}, false);
    expect_matches_reference(kind, y, {1}, true);
    expect_matches_reference(kind, x, {0, 1, 2}, false);
  }
}

TEST(ReduceTest, ForwardLongRowsUseManyBlocks) {
  // Rows longer than one CPU block, and a single output split across the CPU threads.
  const Tensor x = random_leaf({3, 20001}, 5);
  const Tensor y = random_leaf({50, 40, 50}, 6);
  for (Kind kind : kAllKinds) {
    expect_matches_reference(kind, x, {1}, false);
    expect_matches_reference(kind, x, {0, 1}, false);
    expect_matches_reference(kind, y, {0, 2}, true);
    expect_matches_reference(kind, y, {0, 1, 2}, false);
    expect_matches_reference(kind, ops::permute(y, {1, 2, 0}), {0, 1}, false);
  }
}

TEST(ReduceTest, ForwardReducingOuterDims) {
  // Many outputs contiguous in memory and rows strided across it (tiles of outputs on the CPU),
  // with rows longer than a block and a partial last tile.
  const Tensor x = random_leaf({1100, 2100}, 13);
  const Tensor y = random_leaf({3, 1100, 700}, 14);
  for (Kind kind : kAllKinds) {
    expect_matches_reference(kind, x, {0}, false);
    expect_matches_reference(kind, y, {1}, true);
    expect_matches_reference(kind, y, {0, 1}, false);
  }
}

TEST(ReduceTest, RankZero) {
  const Tensor x = Tensor::scalar(2.5f);
  for (Kind kind : kAllKinds) {
    const Tensor out = apply_all(kind, x);
    EXPECT_EQ(out.shape(), Shape{});
    EXPECT_EQ(out.item(), 2.5f);
    EXPECT_EQ(apply(kind, x, {}, false).item(), 2.5f);
  }
}

TEST(ReduceTest, EmptyTensors) {
  const Tensor x = Tensor::zeros({0, 3});
  EXPECT_EQ(ops::sum(x).shape(), Shape{});
  EXPECT_EQ(ops::sum(x).item(), 0.0f);
  EXPECT_TRUE(std::isnan(ops::mean(x).item()));
  const Tensor s = ops::sum(x, {0});
  EXPECT_EQ(s.shape(), Shape{3});
  for (float v : s.to_vector()) EXPECT_EQ(v, 0.0f);
  for (float v : ops::mean(x, {0}, true).to_vector()) EXPECT_TRUE(std::isnan(v));
  // No row is empty here, there are just no rows.
  EXPECT_EQ(ops::max(x, {1}).shape(), Shape{0});
  EXPECT_EQ(ops::min(x, {1}, true).shape(), (Shape{0, 1}));
}

TEST(ReduceTest, MaxMinPropagateNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector({2, 3}, {1.0f, nan, 3.0f, nan, 5.0f, 4.0f});
  for (float v : ops::max(x, {1}).to_vector()) EXPECT_TRUE(std::isnan(v));
  for (float v : ops::min(x, {1}).to_vector()) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(ops::max(x, {0}).to_vector()[2], 4.0f);
}

TEST(ReduceTest, GradientsOfEveryOp) {
  for (Kind kind : kAllKinds) {
    const Tensor x = leaf_for(kind, {3, 5, 7}, 7);
    for (const DimsCase& c : kDimsCases) {
      SCOPED_TRACE(::testing::PrintToString(c.dims) + (c.keepdim ? " keepdim" : ""));
      EXPECT_GRADCHECK(
          [&](const std::vector<Tensor>& in) { return apply(kind, in[0], c.dims, c.keepdim); },
          {x});
    }
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return apply_all(kind, in[0]); }, {x});
  }
}

TEST(ReduceTest, GradientsSizeOneDimsAndRankZero) {
  for (Kind kind : kAllKinds) {
    const Tensor x = leaf_for(kind, {4, 1, 3}, 8);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return apply(kind, in[0], {1}, false); },
                     {x});
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return apply(kind, in[0], {1, 2}, true);
        },
        {x});
    const Tensor s = random_leaf({}, 9);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return apply_all(kind, in[0]); }, {s});
  }
}

TEST(ReduceTest, GradientsNonContiguousInput) {
  for (Kind kind : kAllKinds) {
    const Tensor x = leaf_for(kind, {3, 5, 7}, 10);
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return apply(kind, ops::permute(in[0], {2, 0, 1}), {0, 2}, false);
        },
        {x});
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return apply(kind, ops::transpose(in[0], 0, 2), {-1}, true);
        },
        {x});
  }
}

TEST(ReduceTest, TiedExtremesSplitTheGradient) {
  const Tensor x = Tensor::from_vector({2, 3}, {1.0f, 3.0f, 3.0f, 2.0f, 2.0f, 2.0f});
  Tensor a = x.detach();
  a.set_requires_grad(true);
  ops::max(a, {1}).backward(Tensor::from_vector({2}, {1.0f, 6.0f}));
  const std::vector<float> expected_max = {0.0f, 0.5f, 0.5f, 2.0f, 2.0f, 2.0f};
  EXPECT_EQ(a.grad().to_vector(), expected_max);

  Tensor b = x.detach();
  b.set_requires_grad(true);
  ops::min(b).backward();
  const std::vector<float> expected_min = {1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(b.grad().to_vector(), expected_min);

  Tensor c = x.detach();
  c.set_requires_grad(true);
  ops::min(c, {0}, true).backward(Tensor::ones({1, 3}));
  const std::vector<float> expected_min0 = {1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
  EXPECT_EQ(c.grad().to_vector(), expected_min0);
}

// sum_to's reference: every element lands on the output element it was broadcast from.
Expected sum_to_reference(const Tensor& x, const Shape& shape) {
  const int lead = x.dim() - static_cast<int>(shape.size());
  std::vector<double> acc(shape_numel(shape), 0.0), magnitude(acc.size(), 0.0);
  const std::vector<float> values = x.to_vector();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const std::vector<int64_t> index = unravel(i, x.shape());
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      o = o * shape[d] + (shape[d] == 1 ? 0 : index[lead + d]);
    acc[o] += values[i];
    magnitude[o] += std::fabs(values[i]);
  }
  return {acc, magnitude};
}

const Shape kSumToShapes[] = {{3, 1}, {}, {1, 4}, {4}, {2, 1, 4}, {1, 1, 1}, {2, 3, 4}};

TEST(SumToTest, ForwardMatchesLoops) {
  const Tensor x = random_leaf({2, 3, 4}, 11);
  for (const Shape& shape : kSumToShapes) {
    const Tensor out = ops::sum_to(x, shape);
    EXPECT_EQ(out.shape(), shape);
    expect_values(out, sum_to_reference(x, shape));
    expect_values(ops::sum_to(ops::permute(x, {1, 0, 2}), {3, 1, 1}),
                  sum_to_reference(ops::permute(x, {1, 0, 2}), {3, 1, 1}));
  }
}

TEST(SumToTest, Gradients) {
  const Tensor x = random_leaf({2, 3, 4}, 12);
  for (const Shape& shape : kSumToShapes) {
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return ops::sum_to(in[0], shape); }, {x});
  }
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ops::sum_to(ops::permute(in[0], {2, 0, 1}), {4, 1, 3});
      },
      {x});
}

TEST(SumToTest, EmptyInput) {
  const Tensor out = ops::sum_to(Tensor::zeros({0, 3}), {1, 3});
  EXPECT_EQ(out.shape(), (Shape{1, 3}));
  for (float v : out.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(ReduceErrorTest, Messages) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::sum(x, {3}),
                        "sum: dimension 3 out of range for a tensor of 2 dimensions");
  EXPECT_ERROR_CONTAINS(ops::mean(x, {-3}),
                        "mean: dimension -3 out of range for a tensor of 2 dimensions");
  EXPECT_ERROR_CONTAINS(ops::sum(x, {1, 1}), "sum: dimension 1 repeated in dims [1,1]");
  EXPECT_ERROR_CONTAINS(ops::max(x, {1, -1}, true), "max: dimension 1 repeated in dims [1,-1]");
  EXPECT_ERROR_CONTAINS(ops::min(Tensor::scalar(1.0f), {0}),
                        "min: dimension 0 out of range for a tensor of 0 dimensions");
  EXPECT_ERROR_CONTAINS(ops::sum_to(x, {4}), "sum_to: shape [4] does not broadcast to [2,3]");
  EXPECT_ERROR_CONTAINS(ops::sum_to(x, {3, 1}), "sum_to: shape [3,1] does not broadcast to [2,3]");
  EXPECT_ERROR_CONTAINS(ops::sum_to(x, {1, 2, 3}),
                        "sum_to: shape [1,2,3] does not broadcast to [2,3]");
  const Tensor empty = Tensor::zeros({0, 3});
  EXPECT_ERROR_CONTAINS(ops::max(empty),
                        "max: no elements to reduce (tensor of shape [0,3] over dims [0,1])");
  EXPECT_ERROR_CONTAINS(ops::min(empty),
                        "min: no elements to reduce (tensor of shape [0,3] over dims [0,1])");
  EXPECT_ERROR_CONTAINS(ops::max(empty, {0}, true),
                        "max: no elements to reduce (tensor of shape [0,3] over dims [0])");
  EXPECT_ERROR_CONTAINS(ops::min(Tensor::zeros({2, 0}), {-1}),
                        "min: no elements to reduce (tensor of shape [2,0] over dims [-1])");
}

}  // namespace
}  // namespace repflow
