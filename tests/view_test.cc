#include "ops/view/view.h"

#include <gtest/gtest.h>

#include "ops/elementwise/elementwise.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

TEST(View, ReshapeOfContiguousSharesStorage) {
  const Tensor x = Tensor::arange(0, 24);
  const Tensor y = ops::reshape(x, {2, -1, 4});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(y.storage(), x.storage());
  EXPECT_EQ(y.at({1, 2, 3}), 23.0f);
}

TEST(View, ReshapeOfTransposedCopiesButViewRefuses) {
  const Tensor x = ops::transpose(ops::reshape(Tensor::arange(0, 6), {2, 3}), 0, 1);
  const Tensor y = ops::reshape(x, {6});
  EXPECT_NE(y.storage(), x.storage());
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_ERROR_CONTAINS(ops::view(x, {6}), "view: a tensor of shape [3,2]");
}

TEST(View, ViewSplitsAndMergesContiguousChunksOfAStridedTensor) {
  // [4,6] sliced by permute to [6,4]: splitting a dimension keeps a view.
  const Tensor x = ops::permute(ops::reshape(Tensor::arange(0, 24), {4, 6}), {1, 0});
  const Tensor y = ops::view(x, {2, 3, 4});
  EXPECT_EQ(y.storage(), x.storage());
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(y.at({i, j, k}), x.at({i * 3 + j, k}));
}

TEST(View, PermuteTransposeSqueezeUnsqueezeFlatten) {
  const Tensor x = ops::reshape(Tensor::arange(0, 24), {2, 3, 4});
  const Tensor p = ops::permute(x, {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.at({3, 1, 2}), x.at({1, 2, 3}));
  EXPECT_EQ(ops::transpose(x, -1, 0).shape(), (Shape{4, 3, 2}));
  const Tensor u = ops::unsqueeze(x, -1);
  EXPECT_EQ(u.shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(ops::squeeze(u, 3).shape(), x.shape());
  EXPECT_EQ(ops::flatten(x, 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(ops::flatten(x).shape(), (Shape{24}));
}

TEST(View, ExpandUsesZeroStrides) {
  const Tensor x = Tensor::from_vector({3, 1}, {1, 2, 3});
  const Tensor e = ops::expand(x, {2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.at({1, 2, 3}), 3.0f);
}

TEST(View, Errors) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::reshape(x, {4, -1}), "reshape: cannot reshape [2,3]");
  EXPECT_ERROR_CONTAINS(ops::reshape(x, {-1, -1}), "more than one -1");
  EXPECT_ERROR_CONTAINS(ops::reshape(x, {7}),
                        "reshape: cannot reshape [2,3] (6 elements) into [7]");
  EXPECT_ERROR_CONTAINS(ops::permute(x, {0}), "permute: 1 dimensions given");
  EXPECT_ERROR_CONTAINS(ops::permute(x, {1, 1}), "permute: dimension 1 repeated");
  EXPECT_ERROR_CONTAINS(ops::transpose(x, 0, 2), "transpose: dimension 2 out of range");
  EXPECT_ERROR_CONTAINS(ops::squeeze(x, 0), "squeeze: dimension 0 of shape [2,3] has size 2");
  EXPECT_ERROR_CONTAINS(ops::expand(x, {2, 4}), "expand: shape [2,3] cannot be expanded to [2,4]");
  EXPECT_ERROR_CONTAINS(ops::flatten(x, 1, 0), "flatten: start dimension 1 is after end");
}

TEST(ViewGrad, AllViews) {
  const Tensor x = random_leaf({2, 3, 4}, 61);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::reshape(in[0], {4, -1}); }, {x});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::reshape(ops::permute(in[0], {2, 0, 1}), {-1});
      },
      {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::transpose(in[0], 0, 2); }, {x});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return ops::squeeze(ops::unsqueeze(in[0], 1), 1); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return ops::flatten(in[0], 0, 1); }, {x});
  const Tensor y = random_leaf({3, 1}, 62);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::expand(in[0], {2, 3, 5});
      },
      {y});
}

TEST(ViewGrad, ViewOfViewAccumulatesIntoOneLeaf) {
  const Tensor x = random_leaf({2, 3}, 63);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::mul(ops::transpose(in[0], 0, 1), ops::reshape(in[0], {3, 2}));
      },
      {x});
}

}  // namespace
}  // namespace repflow
