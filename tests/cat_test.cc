#include "ops/cat/cat.h"

#include <gtest/gtest.h>

#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

TEST(Cat, ThreeInputsAlongEachDimensionMatchLoop) {
  for (int dim = 0; dim < 3; ++dim) {
    std::vector<Tensor> xs;
    for (int64_t i = 0; i < 3; ++i) {
      Shape s{2, 3, 4};
      s[dim] = i + 1;
      xs.push_back(random_leaf(s, 30 + i));
    }
    const Tensor y = ops::cat(xs, dim);
    Shape expected{2, 3, 4};
    expected[dim] = 6;
    ASSERT_EQ(y.shape(), expected);
    for (int64_t a = 0; a < expected[0]; ++a)
      for (int64_t b = 0; b < expected[1]; ++b)
        for (int64_t c = 0; c < expected[2]; ++c) {
          std::vector<int64_t> at{a, b, c};
          size_t k = 0;
          while (at[dim] >= xs[k].shape()[dim]) at[dim] -= xs[k++].shape()[dim];
          EXPECT_EQ(y.at({a, b, c}), xs[k].at(at)) << "dim " << dim;
        }
  }
}

TEST(Cat, NonContiguousInputAndNegativeDim) {
  const Tensor a = ops::permute(random_leaf({3, 2}, 40), {1, 0});
  const Tensor b = random_leaf({2, 1}, 41);
  const Tensor y = ops::cat({a, b}, -1);
  ASSERT_EQ(y.shape(), (Shape{2, 4}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(y.at({i, j}), a.at({i, j}));
    EXPECT_EQ(y.at({i, 3}), b.at({i, 0}));
  }
}

TEST(Stack, NewDimensionAtEachPosition) {
  const std::vector<Tensor> xs{random_leaf({2, 3}, 42), random_leaf({2, 3}, 43),
                               random_leaf({2, 3}, 44)};
  const Tensor first = ops::stack(xs, 0), middle = ops::stack(xs, 1), last = ops::stack(xs, -1);
  ASSERT_EQ(first.shape(), (Shape{3, 2, 3}));
  ASSERT_EQ(middle.shape(), (Shape{2, 3, 3}));
  ASSERT_EQ(last.shape(), (Shape{2, 3, 3}));
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        EXPECT_EQ(first.at({k, i, j}), xs[k].at({i, j}));
        EXPECT_EQ(middle.at({i, k, j}), xs[k].at({i, j}));
        EXPECT_EQ(last.at({i, j, k}), xs[k].at({i, j}));
      }
}

TEST(CatGrad, ThreeInputsOfDifferentSizesAlongFirstMiddleLast) {
  const auto cat_fn = [](int dim) {
    return [dim](const std::vector<Tensor>& in) { return ops::cat(in, dim); };
  };
  EXPECT_GRADCHECK(cat_fn(0), {random_leaf({1, 3, 2}, 50), random_leaf({3, 3, 2}, 51),
                               random_leaf({2, 3, 2}, 52)});
  EXPECT_GRADCHECK(cat_fn(1), {random_leaf({2, 2, 3}, 53), random_leaf({2, 1, 3}, 54),
                               random_leaf({2, 5, 3}, 55)});
  EXPECT_GRADCHECK(cat_fn(-1), {random_leaf({3, 1, 4}, 56), random_leaf({3, 1, 1}, 57),
                                random_leaf({3, 1, 3}, 58)});
  // A permuted (non-contiguous) input in the middle.
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::cat({in[0], ops::permute(in[1], {1, 0}), in[2]}, 1);
      },
      {random_leaf({3, 2}, 59), random_leaf({5, 3}, 60), random_leaf({3, 1}, 61)});
}

TEST(CatGrad, OnlyInputsThatNeedGradGetOne) {
  const Tensor a = random_leaf({2, 2}, 62);
  const Tensor b = Tensor::ones({2, 3});
  const Tensor c = random_leaf({2, 1}, 63);
  ops::cat({a, b, c}, 1).backward(Tensor::arange(0, 12).as_strided({2, 6}, {6, 1}, 0));
  ASSERT_TRUE(a.grad().defined() && c.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 2; ++j) EXPECT_EQ(a.grad().at({i, j}), i * 6 + j);
    EXPECT_EQ(c.grad().at({i, 0}), i * 6 + 5);
  }
}

TEST(StackGrad, FirstMiddleLast) {
  for (int dim : {0, 1, -1}) {
    EXPECT_GRADCHECK([dim](const std::vector<Tensor>& in) { return ops::stack(in, dim); },
                     {random_leaf({2, 3}, 70), random_leaf({2, 3}, 71), random_leaf({2, 3}, 72)});
  }
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::stack({ops::permute(in[0], {1, 0}), in[1]}, 1);
      },
      {random_leaf({3, 2}, 73), random_leaf({2, 3}, 74)});
}

TEST(CatErrors, NameTheOpAndShapes) {
  const Tensor a = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::cat({}, 0), "cat: expected at least one tensor, got an empty list");
  EXPECT_ERROR_CONTAINS(ops::cat({a, Tensor::zeros({2, 4})}, 0),
                        "cat: tensor 1 has shape [2,4] but tensor 0 has [2,3] outside dimension 0");
  EXPECT_ERROR_CONTAINS(ops::cat({a, a, Tensor::zeros({2})}, 0),
                        "cat: tensor 2 has shape [2] but tensor 0 has [2,3] (different ranks)");
  EXPECT_ERROR_CONTAINS(ops::cat({a}, 2), "cat: dimension 2 out of range");
  EXPECT_ERROR_CONTAINS(ops::stack({}, 0), "stack: expected at least one tensor");
  EXPECT_ERROR_CONTAINS(ops::stack({a, Tensor::zeros({3, 2})}, 0),
                        "stack: tensor 1 has shape [3,2] but tensor 0 has [2,3]");
  EXPECT_ERROR_CONTAINS(ops::stack({a}, 3), "stack: dimension 3 out of range");
}

}  // namespace
}  // namespace repflow
