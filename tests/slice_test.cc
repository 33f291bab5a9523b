#include "ops/slice/slice.h"

#include <gtest/gtest.h>

#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

TEST(Slice, StepAlongMiddleDimensionMatchesLoop) {
  const Tensor x = random_leaf({4, 7, 5}, 1);
  const Tensor y = ops::slice(x, 1, 1, 7, 2);
  ASSERT_EQ(y.shape(), (Shape{4, 3, 5}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 5; ++k) EXPECT_EQ(y.at({i, j, k}), x.at({i, 1 + 2 * j, k}));
}

TEST(Slice, StartAndEndFollowPython) {
  const Tensor x = random_leaf({3, 6}, 2);
  const Tensor tail = ops::slice(x, -1, -4, 100);
  ASSERT_EQ(tail.shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(tail.at({i, j}), x.at({i, 2 + j}));
  const Tensor head = ops::slice(x, 1, -100, -5, 1);
  ASSERT_EQ(head.shape(), (Shape{3, 1}));
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(head.at({i, 0}), x.at({i, 0}));
  EXPECT_EQ(ops::slice(x, 0, 2, 1).shape(), (Shape{0, 6}));
  EXPECT_EQ(ops::slice(x, 1, 1, 6, 4).shape(), (Shape{3, 2}));
}

TEST(Slice, NarrowAndSelectMatchLoops) {
  const Tensor x = random_leaf({3, 5, 2}, 3);
  const Tensor n = ops::narrow(x, -2, 1, 3);
  ASSERT_EQ(n.shape(), (Shape{3, 3, 2}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(n.at({i, j, k}), x.at({i, 1 + j, k}));
  const Tensor s = ops::select(x, 1, -2);
  ASSERT_EQ(s.shape(), (Shape{3, 2}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(s.at({i, k}), x.at({i, 3, k}));
}

TEST(Slice, ViewsShareStorage) {
  Tensor x = Tensor::zeros({4, 6});
  const Tensor s = ops::slice(x, 1, 1, 6, 2);
  const Tensor n = ops::narrow(x, 0, 2, 2);
  const Tensor e = ops::select(x, 0, 3);
  EXPECT_EQ(s.storage(), x.storage());
  EXPECT_EQ(n.storage(), x.storage());
  EXPECT_EQ(e.storage(), x.storage());
  x.data()[3 * 6 + 3] = 7.0f;
  EXPECT_EQ(s.at({3, 1}), 7.0f);
  EXPECT_EQ(n.at({1, 3}), 7.0f);
  EXPECT_EQ(e.at({3}), 7.0f);
}

TEST(Slice, IndexSelectWithRepeatedAndNegativeIndicesMatchesLoop) {
  const Tensor x = random_leaf({3, 4, 2}, 4);
  const std::vector<int64_t> index{3, -1, 0, 3, -4};
  const std::vector<int64_t> resolved{3, 3, 0, 3, 0};
  const Tensor y = ops::index_select(x, 1, index);
  ASSERT_EQ(y.shape(), (Shape{3, 5, 2}));
  EXPECT_NE(y.storage(), x.storage());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(y.at({i, j, k}), x.at({i, resolved[j], k}));
  EXPECT_EQ(ops::index_select(x, 0, {}).shape(), (Shape{0, 4, 2}));
}

TEST(Slice, IndexSelectOfNonContiguousInputMatchesLoop) {
  const Tensor x = ops::permute(random_leaf({5, 3}, 5), {1, 0});
  const std::vector<int64_t> index{4, 0, 4};
  const Tensor y = ops::index_select(x, -1, index);
  ASSERT_EQ(y.shape(), (Shape{3, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(y.at({i, j}), x.at({i, index[j]}));
}

TEST(SliceGrad, Slice) {
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::slice(in[0], 1, 1, 7, 2); },
                   {random_leaf({3, 7, 2}, 10)});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::slice(in[0], -1, -3, 5, 3); },
                   {random_leaf({2, 1, 5}, 11)});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::slice(in[0], 1, 0, 1); },
                   {random_leaf({3, 1, 5}, 16)});
  // A non-contiguous input: the leaf [5,3,4] read as [4,5,3].
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::slice(ops::permute(in[0], {2, 0, 1}), 1, 1, 5, 2);
      },
      {random_leaf({5, 3, 4}, 12)});
}

TEST(SliceGrad, NarrowAndSelect) {
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::narrow(in[0], -2, 1, 3); },
                   {random_leaf({2, 5, 3}, 13)});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::select(in[0], -1, -1); },
                   {random_leaf({3, 1, 5}, 14)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::narrow(ops::select(ops::permute(in[0], {1, 0, 2}), 0, 2), 1, 1, 1);
      },
      {random_leaf({3, 4, 3}, 15)});
}

TEST(SliceGrad, IndexSelectAddsRepeatedIndices) {
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::index_select(in[0], 1, {2, -1, 0, 2, 2});
      },
      {random_leaf({2, 3, 3}, 20)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::index_select(in[0], 0, {4, 4, -5});
      },
      {random_leaf({5, 1, 3}, 21)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::index_select(ops::permute(in[0], {2, 0, 1}), -1, {1, 0, 1, -2});
      },
      {random_leaf({3, 2, 5}, 22)});
  // Every output element comes from entry 1, so its gradient is the sum of the output gradient.
  const Tensor x = random_leaf({2, 3}, 23);
  ops::index_select(x, 1, {1, 1, 1}).backward(Tensor::ones({2, 3}));
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(x.grad().at({i, 0}), 0.0f);
    EXPECT_EQ(x.grad().at({i, 1}), 3.0f);
    EXPECT_EQ(x.grad().at({i, 2}), 0.0f);
  }
}

TEST(SliceErrors, NameTheOpAndShapes) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::slice(x, 2, 0, 1), "slice: dimension 2 out of range");
  EXPECT_ERROR_CONTAINS(ops::slice(x, -3, 0, 1), "slice: dimension -3 out of range");
  EXPECT_ERROR_CONTAINS(ops::slice(x, 1, 0, 3, 0),
                        "slice: step 0 must be at least 1 (dimension 1 of shape [2,3])");
  EXPECT_ERROR_CONTAINS(ops::narrow(x, 1, 2, 2),
                        "narrow: start 2 and length 2 out of range for dimension 1 of size 3");
  EXPECT_ERROR_CONTAINS(ops::narrow(x, 0, -1, 1), "narrow: start -1 and length 1 out of range");
  EXPECT_ERROR_CONTAINS(ops::select(x, 0, 2),
                        "select: index 2 out of range for dimension 0 of size 2");
  EXPECT_ERROR_CONTAINS(ops::index_select(x, 1, {0, 5}),
                        "index_select: index 5 out of range for dimension 1 of size 3");
  EXPECT_ERROR_CONTAINS(ops::index_select(x, 1, {-4}),
                        "index_select: index -4 out of range for dimension 1 of size 3");
  EXPECT_ERROR_CONTAINS(ops::index_select(x, 2, {0}), "index_select: dimension 2 out of range");
}

}  // namespace
}  // namespace repflow
