#include "ops/dropout/dropout.h"

#include <gtest/gtest.h>

#include <cmath>

#include "framework/philox.h"
#include "ops/elementwise/elementwise.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

TEST(DropoutTest, ZerosAboutPAndScalesTheRest) {
  for (float p : {0.1f, 0.5f, 0.8f}) {
    SCOPED_TRACE(p);
    Generator gen(7);
    const int64_t n = 200000;
    const std::vector<float> y = ops::dropout(Tensor::ones({400, 500}), p, true, gen).to_vector();
    int64_t zeros = 0;
    for (float v : y) {
      if (v == 0.0f) {
        ++zeros;
      } else {
        EXPECT_FLOAT_EQ(v, 1.0f / (1.0f - p));
      }
    }
    // Binomial standard deviation is at most 0.0012 here; 5 of them.
    EXPECT_NEAR(static_cast<double>(zeros) / n, p, 0.006);
  }
}

TEST(DropoutTest, MaskIsTheDocumentedPhiloxDraw) {
  Generator gen(3);
  gen.next_offset();
  const uint64_t offset = gen.offset();
  const Tensor x = random_leaf({6, 7}, 1);
  const std::vector<float> y = ops::dropout(x, 0.3f, true, gen).to_vector();
  const std::vector<float> v = x.to_vector();
  for (size_t i = 0; i < y.size(); ++i) {
    const bool keep = philox_uniform(3, offset, i) >= 0.3f;
    EXPECT_FLOAT_EQ(y[i], keep ? v[i] / 0.7f : 0.0f) << "element " << i;
  }
  EXPECT_EQ(gen.offset(), offset + 1);
}

TEST(DropoutTest, SameSeedSameMaskNextDrawDifferent) {
  const Tensor x = Tensor::ones({1000});
  Generator a(11), b(11);
  const std::vector<float> first = ops::dropout(x, 0.5f, true, a).to_vector();
  EXPECT_EQ(first, ops::dropout(x, 0.5f, true, b).to_vector());
  EXPECT_NE(first, ops::dropout(x, 0.5f, true, a).to_vector());
}

TEST(DropoutTest, EvalAndZeroProbabilityAreIdentity) {
  Generator gen(1);
  const Tensor x = random_leaf({3, 4}, 2);
  EXPECT_TRUE(ops::dropout(x, 0.5f, false, gen).is_same(x));
  EXPECT_TRUE(ops::dropout(x, 0.0f, true, gen).is_same(x));
  EXPECT_EQ(gen.offset(), 0u);
}

TEST(DropoutTest, ProbabilityOneZerosEverything) {
  Generator gen(1);
  for (float v : ops::dropout(random_leaf({50}, 3), 1.0f, true, gen).to_vector())
    EXPECT_EQ(v, 0.0f);
}

// The mask is indexed by logical position, so a transposed input drops the same logical
// elements as its contiguous copy.
TEST(DropoutTest, StridedInputUsesLogicalPositions) {
  const Tensor x = ops::transpose(random_leaf({5, 8}, 4), 0, 1);
  Generator a(5), b(5);
  EXPECT_EQ(ops::dropout(x, 0.4f, true, a).to_vector(),
            ops::dropout(x.contiguous(), 0.4f, true, b).to_vector());
}

TEST(DropoutTest, GradientUsesTheForwardMask) {
  Generator gen(9);
  const Tensor x = random_leaf({20, 30}, 5);
  const Tensor y = ops::dropout(x, 0.5f, true, gen);
  // Another draw in between must not change the mask the backward applies.
  ops::dropout(x, 0.5f, true, gen);
  y.backward(Tensor::ones(y.shape()));
  const std::vector<float> yv = y.to_vector(), gv = x.grad().to_vector();
  for (size_t i = 0; i < yv.size(); ++i)
    EXPECT_FLOAT_EQ(gv[i], yv[i] == 0.0f ? 0.0f : 2.0f) << "element " << i;
}

TEST(DropoutTest, Gradcheck) {
  // Each evaluation draws anew from its own generator with the same seed: the same mask.
  const auto fn = [](const std::vector<Tensor>& in) {
    Generator gen(13);
    return ops::dropout(ops::transpose(in[0], 0, 1), 0.3f, true, gen);
  };
  EXPECT_GRADCHECK(fn, {random_leaf({7, 9}, 6)});
}

TEST(DropoutTest, Errors) {
  Generator gen(1);
  EXPECT_ERROR_CONTAINS(ops::dropout(Tensor::ones({2}), 1.5f, true, gen),
                        "dropout: probability 1.5 is outside [0, 1]");
  EXPECT_ERROR_CONTAINS(ops::dropout(Tensor::ones({2}), -0.1f, false, gen),
                        "dropout: probability -0.1 is outside [0, 1]");
}

}  // namespace
}  // namespace repflow
