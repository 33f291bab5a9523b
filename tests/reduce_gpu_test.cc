// The CUDA reductions against the CPU ones: every op, the short-row, block-per-row and
// split-row schedules, strided inputs and tied extremes.
#include <gtest/gtest.h>

#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"

namespace repflow {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

using ReduceFn = Tensor (*)(const Tensor&, const std::vector<int>&, bool);
using AllReduceFn = Tensor (*)(const Tensor&);

const ReduceFn kReduceFns[] = {ops::sum, ops::mean, ops::max, ops::min};
const AllReduceFn kAllReduceFns[] = {ops::sum, ops::mean, ops::max, ops::min};

struct Case {
  Shape shape;
  std::vector<int> dims;
  bool keepdim;
};

// Rows of 7 and 3 (one thread per row), of 300 and 5000 (a block per row, then split), of
// 200000 (split over many blocks), reduced over inner, outer and mixed dimensions.
const Case kCases[] = {
    {{3, 5, 7}, {-1}, false},     {{3, 5, 7}, {0, 2}, true}, {{4, 1, 3}, {1}, false},
    {{300, 33}, {0}, false},      {{33, 300}, {1}, true},    {{2, 5000}, {1}, false},
    {{8, 50, 40}, {0, 2}, false}, {{200000}, {0}, false},    {{3, 5, 7}, {}, false},
    {{40, 3, 60}, {0, -1}, true},
};

TEST(ReduceGpuTest, ReductionsOverDims) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (ReduceFn fn : kReduceFns) {
    for (const Case& c : kCases) {
      SCOPED_TRACE(shape_str(c.shape));
      expect_cuda_matches_cpu(
          [&](const std::vector<Tensor>& in) { return fn(in[0], c.dims, c.keepdim); },
          {random_leaf(c.shape, 1)});
    }
  }
}

TEST(ReduceGpuTest, ReductionsOverAllElements) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (AllReduceFn fn : kAllReduceFns) {
    for (const Shape& shape : {Shape{}, Shape{3, 5, 7}, Shape{1000, 1001}}) {
      SCOPED_TRACE(shape_str(shape));
      expect_cuda_matches_cpu([&](const std::vector<Tensor>& in) { return fn(in[0]); },
                              {random_leaf(shape, 2)});
    }
  }
}

TEST(ReduceGpuTest, NonContiguousInput) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (ReduceFn fn : kReduceFns) {
    expect_cuda_matches_cpu(
        [&](const std::vector<Tensor>& in) {
          return fn(ops::permute(in[0], {2, 0, 1}), {0, 2}, false);
        },
        {random_leaf({30, 50, 70}, 3)});
  }
}

TEST(ReduceGpuTest, TiedExtremes) {
  if (skip_without_gpu()) GTEST_SKIP();
  Tensor x = Tensor::from_vector({2, 4}, {1, 3, 3, 0, 2, 2, 2, 2});
  x.set_requires_grad(true);
  for (ReduceFn fn : {ReduceFn{ops::max}, ReduceFn{ops::min}})
    expect_cuda_matches_cpu([&](const std::vector<Tensor>& in) { return fn(in[0], {1}, false); },
                            {x});
}

// Only sum: the harness compares values numerically, and mean's empty rows are NaN.
TEST(ReduceGpuTest, EmptyRowsOfSum) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_cuda_matches_cpu([](const std::vector<Tensor>& in) { return ops::sum(in[0], {0}); },
                          {Tensor::zeros({0, 3})});
}

TEST(ReduceGpuTest, SumTo) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : {Shape{3, 1}, Shape{}, Shape{1, 4}, Shape{1, 300, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    const Shape big = shape.size() == 3 ? Shape{20, 300, 40} : Shape{2, 3, 4};
    expect_cuda_matches_cpu(
        [&](const std::vector<Tensor>& in) { return ops::sum_to(in[0], shape); },
        {random_leaf(big, 4)});
  }
}

}  // namespace
}  // namespace repflow
