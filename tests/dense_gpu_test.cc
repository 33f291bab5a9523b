// The CUDA dense ops against the CPU ones: cuBLAS GEMMs (plain, strided batched, looped
// batches, transposed and packed operands), linear, the softmax schedules, cross-entropy, and
// dropout masks drawn bit for bit the same.
#include <gtest/gtest.h>

#include "ops/dropout/dropout.h"
#include "ops/linear/linear.h"
#include "ops/loss/loss.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"

namespace repflow {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

struct Pair {
  Shape a, b;
};

// One GEMM, 1xK and Kx1, a strided batch, broadcast batches that merge into one strided call
// and ones that do not (looped), and a product large enough for cuBLAS's tiled kernels.
const Pair kPairs[] = {
    {{3, 4}, {4, 5}},          {{1, 9}, {9, 1}},        {{9, 1}, {1, 9}},
    {{2, 3, 4}, {2, 4, 5}},    {{4, 5}, {6, 5, 3}},     {{3, 1, 4, 5}, {2, 5, 6}},
    {{2, 3, 7, 4}, {3, 4, 2}}, {{130, 257}, {257, 65}},
};

TEST(DenseGpuTest, Matmul) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Pair& p : kPairs) {
    SCOPED_TRACE(shape_str(p.a) + " x " + shape_str(p.b));
    expect_cuda_matches_cpu([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                            {random_leaf(p.a, 1), random_leaf(p.b, 2)}, 1e-4, 1e-4);
  }
}

TEST(DenseGpuTest, MatmulNonContiguous) {
  if (skip_without_gpu()) GTEST_SKIP();
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::matmul(ops::transpose(in[0], -1, -2), ops::slice(in[1], 2, 0, 10, 2));
      },
      {random_leaf({2, 6, 3}, 3), random_leaf({2, 6, 10}, 4)});
}

TEST(DenseGpuTest, Linear) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : {Shape{6}, Shape{5, 6}, Shape{2, 3, 6}}) {
    SCOPED_TRACE(shape_str(shape));
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); },
        {random_leaf(shape, 5), random_leaf({4, 6}, 6), random_leaf({4}, 7)});
    expect_cuda_matches_cpu([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); },
                            {random_leaf(shape, 8), random_leaf({4, 6}, 9)});
  }
}

// Thread-per-row and block-per-row schedules, rows along contiguous and strided dims.
TEST(DenseGpuTest, SoftmaxAndLogSoftmax) {
  if (skip_without_gpu()) GTEST_SKIP();
  const std::pair<Shape, int> cases[] = {{{4, 7}, 1},      {{4, 7}, 0},     {{3, 1000}, 1},
                                         {{2, 300, 5}, 1}, {{9000, 70}, 0}, {{2, 3, 5}, -1}};
  for (const auto& [shape, dim] : cases) {
    SCOPED_TRACE(shape_str(shape) + " dim " + std::to_string(dim));
    const int d = dim;
    expect_cuda_matches_cpu([d](const std::vector<Tensor>& in) { return ops::softmax(in[0], d); },
                            {random_leaf(shape, 10, -5.0f, 5.0f)});
    expect_cuda_matches_cpu(
        [d](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], d); },
        {random_leaf(shape, 11, -5.0f, 5.0f)});
  }
}

TEST(DenseGpuTest, CrossEntropy) {
  if (skip_without_gpu()) GTEST_SKIP();
  const std::vector<int64_t> labels = {0, 9, 3, 3, 7, 1};
  for (float s : {0.0f, 0.1f}) {
    expect_cuda_matches_cpu(
        [&labels, s](const std::vector<Tensor>& in) {
          return ops::cross_entropy(in[0], labels, s);
        },
        {random_leaf({6, 10}, 12, -3.0f, 3.0f)});
  }
}

TEST(DenseGpuTest, DropoutMasksAreIdentical) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Tensor x = random_leaf({300, 301}, 13);
  Generator cpu_gen(21), gpu_gen(21);
  for (int draw = 0; draw < 2; ++draw) {
    const std::vector<float> cpu = ops::dropout(x, 0.35f, true, cpu_gen).to_vector();
    const std::vector<float> gpu =
        ops::dropout(x.detach().to(Device::cuda(0)), 0.35f, true, gpu_gen).to_vector();
    EXPECT_EQ(cpu, gpu) << "draw " << draw;
  }
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        Generator gen(22);
        return ops::dropout(ops::transpose(in[0], 0, 1), 0.5f, true, gen);
      },
      {random_leaf({40, 50}, 14)});
}

}  // namespace
}  // namespace repflow
