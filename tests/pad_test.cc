#include "ops/pad/pad.h"

#include <gtest/gtest.h>

#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

TEST(Pad, AsymmetricOnSeveralDimsMatchesLoop) {
  const Tensor x = random_leaf({2, 3, 4}, 80);
  const std::vector<std::pair<int64_t, int64_t>> padding{{0, 1}, {2, 0}, {1, 3}};
  const Tensor y = ops::pad(x, padding, -2.5f);
  ASSERT_EQ(y.shape(), (Shape{3, 5, 8}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 8; ++k) {
        const int64_t a = i - 0, b = j - 2, c = k - 1;
        const bool inside = a >= 0 && a < 2 && b >= 0 && b < 3 && c >= 0 && c < 4;
        EXPECT_EQ(y.at({i, j, k}), inside ? x.at({a, b, c}) : -2.5f);
      }
}

TEST(Pad, OneByOneInputAndNonContiguousInput) {
  const Tensor one = random_leaf({1, 1}, 81);
  const Tensor y = ops::pad(one, {{1, 1}, {0, 2}});
  ASSERT_EQ(y.shape(), (Shape{3, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(y.at({i, j}), i == 1 && j == 0 ? one.at({0, 0}) : 0.0f);

  const Tensor t = ops::permute(random_leaf({3, 2}, 82), {1, 0});
  const Tensor z = ops::pad(t, {{1, 0}, {0, 1}}, 1.0f);
  ASSERT_EQ(z.shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(z.at({i, j}), i >= 1 && j < 3 ? t.at({i - 1, j}) : 1.0f);
}

TEST(PadGrad, AsymmetricZeroAndOneByOne) {
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::pad(in[0], {{0, 1}, {2, 0}, {1, 3}}, 0.5f);
      },
      {random_leaf({2, 3, 4}, 90)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::pad(in[0], {{0, 0}, {0, 0}});
      },
      {random_leaf({3, 5}, 91)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::pad(in[0], {{2, 1}, {0, 3}}, -1.0f);
      },
      {random_leaf({1, 1}, 92)});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ops::pad(ops::permute(in[0], {2, 0, 1}), {{1, 0}, {0, 0}, {3, 2}});
      },
      {random_leaf({3, 1, 5}, 93)});
}

TEST(PadErrors, NameTheOpAndShapes) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::pad(x, {{1, 1}}),
                        "pad: expected 2 (before, after) pairs for shape [2,3], got 1");
  EXPECT_ERROR_CONTAINS(ops::pad(x, {{0, 0}, {1, -1}}),
                        "pad: negative padding (1, -1) for dimension 1 of shape [2,3]");
}

}  // namespace
}  // namespace repflow
