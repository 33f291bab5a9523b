// The CUDA schedules of the shape ops against the CPU ones.
#include <gtest/gtest.h>

#include "ops/cat/cat.h"
#include "ops/pad/pad.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

TEST(ShapeGpu, SliceNarrowSelect) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        const Tensor s = ops::slice(ops::permute(in[0], {2, 0, 1}), 1, 1, 33, 3);
        return ops::select(ops::narrow(s, -1, 2, 5), 0, -1);
      },
      {random_leaf({40, 9, 6}, 1)});
}

TEST(ShapeGpu, IndexSelectWithRepeatedIndices) {
  if (skip_without_gpu()) GTEST_SKIP();
  std::vector<int64_t> index;
  for (int64_t i = 0; i < 300; ++i) index.push_back((i * 7) % 13 - 6);
  for (int dim : {0, 1, -1})
    expect_cuda_matches_cpu(
        [dim, index](const std::vector<Tensor>& in) {
          return ops::index_select(ops::permute(in[0], {1, 0, 2}), dim, index);
        },
        {random_leaf({13, 13, 13}, 2)});
}

TEST(ShapeGpu, CatAndStack) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::cat({in[0], ops::permute(in[1], {1, 0, 2}), in[2]}, 1);
      },
      {random_leaf({4, 3, 5}, 3), random_leaf({7, 4, 5}, 4), random_leaf({4, 1, 5}, 5)});
  expect_cuda_matches_cpu([](const std::vector<Tensor>& in) { return ops::stack(in, -1); },
                          {random_leaf({6, 5}, 6), random_leaf({6, 5}, 7)});
}

TEST(ShapeGpu, Pad) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::pad(ops::permute(in[0], {0, 2, 1}), {{0, 1}, {3, 0}, {2, 2}}, 0.25f);
      },
      {random_leaf({2, 17, 9}, 8)});
}

TEST(ShapeGpu, CatRefusesMixedDevices) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Tensor a = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(ops::cat({a, a.to(Device::cuda(0))}, 0),
                        "cat: tensors on different devices (cpu and cuda:0)");
}

}  // namespace
}  // namespace repflow
