// ops::sync_batch_norm in one process: with an allreduce that has no one else to add, it must
// be batch_norm in training mode. The two-process comparison is tests/mpi_sync_batch_norm_test.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/batch_norm/batch_norm.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

void expect_close(const Tensor& a, const Tensor& b, float tol) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i)
    ASSERT_NEAR(va[i], vb[i], tol * (1.0f + std::fabs(vb[i]))) << "element " << i;
}

TEST(SyncBatchNormTest, OneProcessIsBatchNorm) {
  for (const Shape& shape : {Shape{4, 3, 5, 6}, Shape{2, 3, 4, 5, 3}, Shape{5, 7}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor x1 = random_leaf(shape, 1, -2.0f, 3.0f),
                 x2 = x1.detach().clone().set_requires_grad();
    const Tensor w1 = random_leaf({c}, 2, 0.5f, 1.5f), w2 = w1.detach().clone().set_requires_grad();
    const Tensor b1 = random_leaf({c}, 3), b2 = b1.detach().clone().set_requires_grad();
    const Tensor g = random_leaf(shape, 4).detach();
    Tensor rm1 = Tensor::full({c}, 0.3f), rv1 = Tensor::full({c}, 2.0f);
    Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
    int calls = 0;
    const Tensor y1 = ops::batch_norm(x1, w1, b1, rm1, rv1, true, 0.2f, 1e-5f);
    const Tensor y2 =
        ops::sync_batch_norm(x2, w2, b2, rm2, rv2, 0.2f, 1e-5f, [&](const Tensor&) { ++calls; });
    EXPECT_EQ(calls, 2);  // the sums with the count, then the squared deviations
    expect_close(y2, y1, 1e-5f);
    expect_close(rm2, rm1, 1e-6f);
    expect_close(rv2, rv1, 1e-5f);
    y1.backward(g);
    y2.backward(g);
    EXPECT_EQ(calls, 3);
    expect_close(x2.grad(), x1.grad(), 1e-4f);
    expect_close(w2.grad(), w1.grad(), 1e-4f);
    expect_close(b2.grad(), b1.grad(), 1e-4f);
  }
}

TEST(SyncBatchNormTest, Gradcheck) {
  const ops::ChannelAllreduce alone = [](const Tensor&) {};
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ops::sync_batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), 0.1f, 1e-5f, alone);
      },
      {random_leaf({4, 3, 3, 2}, 5, -2.0f, 2.0f), random_leaf({3}, 6, 0.5f, 1.5f),
       random_leaf({3}, 7)});
}

TEST(SyncBatchNormTest, TooFewValuesOverAllProcesses) {
  EXPECT_ERROR_CONTAINS(ops::sync_batch_norm(Tensor::ones({1, 2}), Tensor(), Tensor(), Tensor(),
                                             Tensor(), 0.1f, 1e-5f, [](const Tensor&) {}),
                        "more than 1 value per channel over all processes");
}

}  // namespace
}  // namespace repflow
