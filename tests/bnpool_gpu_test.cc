// The CUDA batch norm (cuDNN) and pooling kernels against the CPU ones.
#include <gtest/gtest.h>

#include "ops/batch_norm/batch_norm.h"
#include "ops/pool/pool.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::random_leaf;
using testing::skip_without_gpu;

const Shape kBatchNormShapes[] = {{4, 3, 5, 6}, {2, 3, 4, 5, 3}, {16, 7},
                                  {3, 4, 7},    {8, 4, 1, 1},    {32, 16, 28, 28}};

TEST(BatchNormGpu, TrainingWithAndWithoutAffine) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : kBatchNormShapes) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1f, 1e-5f);
        },
        {random_leaf(shape, 1, -2.0f, 3.0f), random_leaf({c}, 2), random_leaf({c}, 3)}, 1e-4, 1e-3);
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
        },
        {random_leaf(shape, 4)}, 1e-4, 1e-3);
  }
}

TEST(BatchNormGpu, RunningStatsUpdate) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : kBatchNormShapes) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor x = random_leaf(shape, 5, -2.0f, 3.0f).detach();
    for (const auto& [momentum, eps] : {std::pair{0.1f, 1e-5f}, std::pair{0.01f, 1e-3f}}) {
      const Tensor rm = random_leaf({c}, 6).detach(), rv = random_leaf({c}, 7, 0.5f, 2.0f).detach();
      const Tensor rm_gpu = rm.to(Device::cuda()), rv_gpu = rv.to(Device::cuda());
      ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, momentum, eps);
      ops::batch_norm(x.to(Device::cuda()), Tensor(), Tensor(), rm_gpu, rv_gpu, true, momentum,
                      eps);
      const std::vector<float> m0 = rm.to_vector(), m1 = rm_gpu.to_vector();
      const std::vector<float> v0 = rv.to_vector(), v1 = rv_gpu.to_vector();
      for (int64_t k = 0; k < c; ++k) {
        EXPECT_NEAR(m0[k], m1[k], 1e-5);
        EXPECT_NEAR(v0[k], v1[k], 1e-5 * (1 + v0[k]));
      }
    }
  }
}

TEST(BatchNormGpu, Eval) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : kBatchNormShapes) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor rm = random_leaf({c}, 8).detach(), rv = random_leaf({c}, 9, 0.5f, 2.0f).detach();
    expect_cuda_matches_cpu(
        [rm, rv](const std::vector<Tensor>& in) {
          const Device d = in[0].device();
          return ops::batch_norm(in[0], in[1], in[2], rm.to(d), rv.to(d), false, 0.01f, 1e-3f);
        },
        {random_leaf(shape, 10), random_leaf({c}, 11), random_leaf({c}, 12)}, 1e-4, 1e-3);
    expect_cuda_matches_cpu(
        [rm, rv](const std::vector<Tensor>& in) {
          const Device d = in[0].device();
          return ops::batch_norm(in[0], Tensor(), Tensor(), rm.to(d), rv.to(d), false);
        },
        {random_leaf(shape, 13)}, 1e-4, 1e-3);
  }
}

// batch_norm_relu, and batch_norm_add_relu when with_residual (its fourth input).
TEST(BatchNormGpu, FusedReluTrainingAndEval) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const Shape& shape : kBatchNormShapes) {
    const int64_t c = shape[1];
    const Tensor rm = random_leaf({c}, 14).detach(), rv = random_leaf({c}, 15, 0.5f, 2.0f).detach();
    for (const bool training : {true, false}) {
      for (const bool with_residual : {false, true}) {
        SCOPED_TRACE(shape_str(shape) + (training ? " training" : " eval") +
                     (with_residual ? " with a residual" : ""));
        std::vector<Tensor> inputs{random_leaf(shape, 16, -2.0f, 3.0f), random_leaf({c}, 17),
                                   random_leaf({c}, 18)};
        if (with_residual) inputs.push_back(random_leaf(shape, 19));
        expect_cuda_matches_cpu(
            [rm, rv, training](const std::vector<Tensor>& in) {
              const Device d = in[0].device();
              return in.size() > 3
                         ? ops::batch_norm_add_relu(in[0], in[3], in[1], in[2], rm.to(d), rv.to(d),
                                                    training)
                         : ops::batch_norm_relu(in[0], in[1], in[2], rm.to(d), rv.to(d), training);
            },
            inputs, 1e-4, 1e-3);
      }
    }
  }
}

TEST(BatchNormGpu, MixedDevicesAreAnError) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Tensor x = Tensor::zeros({2, 4, 3, 3}, Device::cuda());
  const Tensor c4 = Tensor::ones({4});
  EXPECT_ERROR_CONTAINS(ops::batch_norm(x, c4, c4, Tensor(), Tensor(), true),
                        "batch_norm: tensors on different devices");
}

struct PoolCase {
  Shape shape;
  ops::PoolOptions options;
};

const PoolCase kPoolCases[] = {
    {{2, 3, 11}, {{3}, {2}, {1}}},
    {{1, 2, 10}, {{3}, {4}, {0}, true}},
    {{2, 3, 8, 9}, {{3}, {2}, {1}, true}},
    {{1, 2, 6, 5}, {{2, 3}, {3, 1}, {1, 0}}},
    {{2, 2, 5, 6, 7}, {{3}, {2}, {1}}},
    {{1, 2, 5, 6, 7}, {{2, 3, 2}, {3, 2, 1}, {1, 1, 0}, true}},
    {{8, 16, 56, 56}, {{3}, {2}, {1}}},
};

TEST(PoolGpu, MaxAndAvgPool) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(shape_str(c.shape));
    const ops::PoolOptions opt = c.options;
    expect_cuda_matches_cpu(
        [opt](const std::vector<Tensor>& in) { return ops::max_pool(in[0], opt); },
        {random_leaf(c.shape, 20)});
    for (bool include_pad : {true, false}) {
      ops::PoolOptions avg = opt;
      avg.count_include_pad = include_pad;
      expect_cuda_matches_cpu(
          [avg](const std::vector<Tensor>& in) { return ops::avg_pool(in[0], avg); },
          {random_leaf(c.shape, 21)});
    }
  }
}

TEST(PoolGpu, StridedInputAndGlobalAvgPool) {
  if (skip_without_gpu()) GTEST_SKIP();
  ops::PoolOptions opt;
  opt.kernel = {3, 2};
  opt.stride = {2};
  opt.padding = {1};
  expect_cuda_matches_cpu(
      [opt](const std::vector<Tensor>& in) {
        return ops::max_pool(ops::permute(in[0], {0, 2, 1, 3}), opt);
      },
      {random_leaf({2, 9, 3, 8}, 22)});
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& in) {
        return ops::global_avg_pool(in[0], {2, 3}, true);
      },
      {random_leaf({2, 9, 3, 8}, 23)});
}

}  // namespace
}  // namespace repflow
