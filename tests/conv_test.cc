#include "ops/conv/conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "framework/parallel.h"
#include "framework/precision.h"
#include "ops/conv/conv_algorithms.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "tests/conv_cases.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using ops::ConvOptions;
using testing::conv_options;
using testing::ConvCase;
using testing::kConvCases;
using testing::kConvGradCases;
using testing::random_leaf;
using testing::relative_error;

// A convolution is linear in each of its inputs, so central differences are exact for any step:
// a large one keeps float32 rounding of the outputs (sums of up to 144 products here) from
// swamping the difference.
testing::GradcheckOptions linear_check() {
  testing::GradcheckOptions o;
  o.eps = 0.1;
  return o;
}

std::vector<int64_t> per_dim(const std::vector<int64_t>& v, int spatial) {
  return v.size() == 1 ? std::vector<int64_t>(spatial, v[0]) : v;
}

struct Reference {
  Shape shape;
  std::vector<double> values;
  std::vector<double> magnitude;  // sum of |terms|: what float rounding scales with
};

// Direct convolution in double. Spatial dims are padded to three with size-1 dims.
Reference reference_conv(const Tensor& x, const Tensor& w, const Tensor& b,
                         const ConvOptions& opt) {
  const int spatial = x.dim() - 2;
  const auto stride = per_dim(opt.stride, spatial), pad = per_dim(opt.padding, spatial),
             dil = per_dim(opt.dilation, spatial);
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3] = {1, 1, 1}, s[3] = {1, 1, 1},
          p[3] = {0, 0, 0}, dl[3] = {1, 1, 1};
  Reference r;
  r.shape = {x.size(0), w.size(0)};
  for (int d = 0; d < spatial; ++d) {
    const int e = 3 - spatial + d;
    in[e] = x.size(2 + d);
    k[e] = w.size(2 + d);
    s[e] = stride[d];
    p[e] = pad[d];
    dl[e] = dil[d];
    out[e] = (in[e] + 2 * p[e] - dl[e] * (k[e] - 1) - 1) / s[e] + 1;
    r.shape.push_back(out[e]);
  }
  const std::vector<float> xv = x.contiguous().to_vector(), wv = w.contiguous().to_vector();
  const std::vector<float> bv = b.defined() ? b.to_vector() : std::vector<float>();
  const int64_t batch = x.size(0), cin = x.size(1), cout = w.size(0), groups = opt.groups;
  const int64_t cin_g = cin / groups, cout_g = cout / groups;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oc = 0; oc < cout; ++oc)
      for (int64_t o0 = 0; o0 < out[0]; ++o0)
        for (int64_t o1 = 0; o1 < out[1]; ++o1)
          for (int64_t o2 = 0; o2 < out[2]; ++o2) {
            double acc = bv.empty() ? 0.0 : bv[oc];
            double mag = std::fabs(acc);
            for (int64_t ic = 0; ic < cin_g; ++ic)
              for (int64_t k0 = 0; k0 < k[0]; ++k0)
                for (int64_t k1 = 0; k1 < k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const int64_t i0 = o0 * s[0] - p[0] + k0 * dl[0];
                    const int64_t i1 = o1 * s[1] - p[1] + k1 * dl[1];
                    const int64_t i2 = o2 * s[2] - p[2] + k2 * dl[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                      continue;
                    const int64_t c = oc / cout_g * cin_g + ic;
                    const double term =
                        double{xv[(((n * cin + c) * in[0] + i0) * in[1] + i1) * in[2] + i2]} *
                        wv[(((oc * cin_g + ic) * k[0] + k0) * k[1] + k1) * k[2] + k2];
                    acc += term;
                    mag += std::fabs(term);
                  }
            r.values.push_back(acc);
            r.magnitude.push_back(mag);
          }
  return r;
}

void expect_matches_reference(const Tensor& y, const Reference& r, const std::string& name) {
  ASSERT_EQ(y.shape(), r.shape) << name;
  const std::vector<float> yv = y.to_vector();
  for (size_t i = 0; i < yv.size(); ++i)
    ASSERT_NEAR(yv[i], r.values[i], 1e-6 + 2e-6 * r.magnitude[i]) << name << " element " << i;
}

// The cuDNN algorithm policy (a GPU's; the CPU ignores it): its flag's values, and the CPU's
// results do not depend on it.
TEST(ConvTest, AlgorithmPolicyParsesAndLeavesTheCpuAlone) {
  EXPECT_EQ(ops::parse_conv_algorithms("exact"), ops::ConvAlgorithms::kExact);
  EXPECT_EQ(ops::parse_conv_algorithms("fastest"), ops::ConvAlgorithms::kFastest);
  EXPECT_STREQ(ops::conv_algorithms_name(ops::ConvAlgorithms::kFastest), "fastest");
  EXPECT_ERROR_CONTAINS(ops::parse_conv_algorithms("quickest"),
                        "flag --conv-algo: 'quickest' is not exact or fastest");
  EXPECT_EQ(ops::conv_algorithms(), ops::ConvAlgorithms::kExact);
  const Tensor x = random_leaf({2, 3, 6, 6}, 1), w = random_leaf({4, 3, 3, 3}, 2);
  const std::vector<float> exact = ops::conv(x, w).to_vector();
  ops::set_conv_algorithms(ops::ConvAlgorithms::kFastest);
  EXPECT_EQ(ops::conv(x, w).to_vector(), exact);
  ops::set_conv_algorithms(ops::ConvAlgorithms::kExact);
}

TEST(ConvTest, ForwardMatchesDirectLoops) {
  uint64_t seed = 1;
  for (const ConvCase& c : kConvCases) {
    const Tensor x = random_leaf(c.x, seed++), w = random_leaf(c.w, seed++);
    const Tensor b = c.bias ? random_leaf({c.w[0]}, seed++) : Tensor();
    expect_matches_reference(ops::conv(x, w, b, c.opt), reference_conv(x, w, b, c.opt), c.name);
  }
}

TEST(ConvTest, RepeatedCallsReuseCachedPrimitives) {
  const ConvOptions opt = conv_options({1}, {1});
  const Tensor w = random_leaf({32, 16, 3, 3}, 2), b = random_leaf({32}, 3);
  for (uint64_t seed = 10; seed < 13; ++seed) {
    const Tensor x = random_leaf({2, 16, 8, 8}, seed);
    expect_matches_reference(ops::conv(x, w, b, opt), reference_conv(x, w, b, opt), "repeat");
  }
}

// Cached primitives are shared: threads run them at once, and a new thread count gets its own.
TEST(ConvTest, ConcurrentCallsAndThreadCounts) {
  const ConvOptions opt = conv_options({2}, {1});
  const Tensor w = random_leaf({32, 16, 3, 3}, 1);
  const Tensor x1 = random_leaf({2, 16, 9, 9}, 2), x2 = random_leaf({2, 16, 9, 9}, 3);
  Tensor y1, y2;
  std::thread t1([&] { y1 = ops::conv(x1, w, Tensor(), opt); });
  std::thread t2([&] { y2 = ops::conv(x2, w, Tensor(), opt); });
  t1.join();
  t2.join();
  expect_matches_reference(y1, reference_conv(x1, w, Tensor(), opt), "thread 1");
  expect_matches_reference(y2, reference_conv(x2, w, Tensor(), opt), "thread 2");
  const int threads = num_threads();
  set_num_threads(1);
  expect_matches_reference(ops::conv(x1, w, Tensor(), opt), reference_conv(x1, w, Tensor(), opt),
                           "one thread");
  set_num_threads(threads);
}

TEST(ConvTest, Conv2dAndConv3dMatchConv) {
  const Tensor x2 = random_leaf({1, 3, 6, 6}, 1), w2 = random_leaf({2, 3, 3, 3}, 2);
  EXPECT_EQ(ops::conv2d(x2, w2).to_vector(), ops::conv(x2, w2).to_vector());
  const Tensor x3 = random_leaf({1, 2, 4, 4, 4}, 3), w3 = random_leaf({2, 2, 3, 3, 3}, 4);
  EXPECT_EQ(ops::conv3d(x3, w3).to_vector(), ops::conv(x3, w3).to_vector());
}

TEST(ConvTest, NonContiguousInput) {
  // A channels-last leaf viewed as NCHW.
  const Tensor base = random_leaf({2, 5, 6, 3}, 1);
  const Tensor w = random_leaf({4, 3, 3, 3}, 2), b = random_leaf({4}, 3);
  const ConvOptions opt = conv_options({2}, {1});
  const Tensor x = ops::permute(base, {0, 3, 1, 2});
  ASSERT_FALSE(x.is_contiguous());
  expect_matches_reference(ops::conv(x, w, b, opt), reference_conv(x, w, b, opt), "permuted");
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ops::conv(ops::permute(in[0], {0, 3, 1, 2}), in[1], in[2], opt);
      },
      {base, w, b}, linear_check());
}

TEST(ConvTest, GradientsOfInputWeightAndBias) {
  uint64_t seed = 100;
  for (const ConvCase& c : kConvGradCases) {
    SCOPED_TRACE(c.name);
    const Tensor x = random_leaf(c.x, seed++), w = random_leaf(c.w, seed++);
    const Tensor b = c.bias ? random_leaf({c.w[0]}, seed++) : Tensor();
    const ConvOptions opt = c.opt;
    std::vector<Tensor> inputs = {x, w};
    if (c.bias) inputs.push_back(b);
    EXPECT_GRADCHECK(
        [opt](const std::vector<Tensor>& in) {
          return ops::conv(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), opt);
        },
        inputs, linear_check());
  }
}

// ||a - b|| / ||b||.
// bf16 rounds inputs and weights to 8 significant bits (relative error up to 2^-9 each) and sums
// in float32: outputs and gradients land within about 1% of float32's, but not on them. The
// backward runs in the precision its forward ran in, even outside the scope.
TEST(ConvTest, Bf16StaysWithinBf16RoundingOfFp32ForwardAndBackward) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "this CPU has neither AVX512-BF16 nor AMX";
  for (const ConvCase& c : kConvGradCases) {
    SCOPED_TRACE(c.name);
    const Tensor x = random_leaf(c.x, 7), w = random_leaf(c.w, 8);
    const Tensor b = c.bias ? random_leaf({c.w[0]}, 9) : Tensor();
    std::vector<Tensor> results[2];
    for (const Precision precision : {Precision::kFp32, Precision::kBf16}) {
      Tensor y;
      {
        PrecisionScope scope(precision);
        y = ops::conv(x, w, b, c.opt);
      }
      ops::sum(ops::mul(y, y)).backward();
      std::vector<Tensor>& r = results[precision == Precision::kBf16];
      r = {y.detach(), x.grad(), w.grad()};
      if (c.bias) r.push_back(b.grad());
      for (Tensor t : {x, w, b})
        if (t.defined()) t.set_grad(Tensor());
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      SCOPED_TRACE(i == 0 ? "output" : "gradient " + std::to_string(i - 1));
      const double error = relative_error(results[1][i], results[0][i]);
      EXPECT_LT(error, 2e-2);
      EXPECT_GT(error, 1e-6);  // bf16 did run: float32 agrees with itself far closer
    }
  }
}

// Each gradient alone: the backward computes only what is wanted (the bias gradient without
// the weight's takes a path of its own).
TEST(ConvTest, GradientsOfSubsets) {
  const ConvOptions opt = conv_options({2}, {1});
  const auto fn = [opt](const std::vector<Tensor>& in) {
    return ops::conv(in[0], in[1], in[2], opt);
  };
  const Shape xs = {2, 3, 5, 5}, ws = {4, 3, 3, 3};
  for (int wanted = 0; wanted < 3; ++wanted) {
    SCOPED_TRACE(wanted);
    std::vector<Tensor> in = {random_leaf(xs, 1), random_leaf(ws, 2), random_leaf({4}, 3)};
    for (int i = 0; i < 3; ++i) in[i].set_requires_grad(i == wanted);
    EXPECT_GRADCHECK(fn, in, linear_check());
  }
  // Without the weight's gradient, x is not kept for the backward; the input's still flows.
  Tensor x = random_leaf(xs, 4);
  Tensor w = random_leaf(ws, 5);
  w.set_requires_grad(false);
  ops::sum(ops::conv(x, w, Tensor(), opt)).backward();
  EXPECT_TRUE(x.grad().defined());
}

TEST(ConvTest, EmptyBatch) {
  const Tensor x = random_leaf({0, 3, 5, 5}, 1), w = random_leaf({4, 3, 3, 3}, 2),
               b = random_leaf({4}, 3);
  const Tensor y = ops::conv(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 4, 3, 3}));
  ops::sum(y).backward();
  EXPECT_EQ(w.grad().to_vector(), std::vector<float>(w.numel(), 0.0f));
  EXPECT_EQ(b.grad().to_vector(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(x.grad().shape(), x.shape());
}

TEST(ConvTest, ErrorMessages) {
  const Tensor x = Tensor::zeros({2, 4, 6, 6}), w = Tensor::zeros({8, 3, 3, 3});
  const Tensor x3 = Tensor::zeros({2, 3, 6, 6}), w3 = Tensor::zeros({8, 3, 3, 3});
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, w),
                        "conv2d: input has 4 channels but weight [8,3,3,3] with groups 1 "
                        "expects 3");
  EXPECT_ERROR_CONTAINS(ops::conv2d(Tensor::zeros({2, 3, 6}), Tensor::zeros({8, 3, 3})),
                        "conv2d: input [2,3,6] must have rank 4 (N, C, H, W)");
  EXPECT_ERROR_CONTAINS(ops::conv3d(x3, w3), "conv3d: input [2,3,6,6] must have rank 5");
  EXPECT_ERROR_CONTAINS(ops::conv(Tensor::zeros({2, 3}), Tensor::zeros({8, 3})),
                        "conv: input [2,3] must have rank 3, 4 or 5");
  EXPECT_ERROR_CONTAINS(ops::conv(Tensor::zeros({1, 1, 1, 1, 1, 1}), Tensor::zeros({1, 1})),
                        "conv: input [1,1,1,1,1,1] must have rank 3, 4 or 5");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, Tensor::zeros({8, 3, 3})),
                        "conv: weight [8,3,3] must have rank 4 like the input [2,3,6,6]");
  EXPECT_ERROR_CONTAINS(
      ops::conv(x3, Tensor::zeros({8, 1, 3, 3}), Tensor(), conv_options({1}, {0}, {1}, 2)),
      "conv: input channels 3 are not divisible by groups 2");
  EXPECT_ERROR_CONTAINS(
      ops::conv(x, Tensor::zeros({6, 1, 3, 3}), Tensor(), conv_options({1}, {0}, {1}, 4)),
      "conv: output channels 6 (weight [6,1,3,3]) are not divisible by "
      "groups 4");
  EXPECT_ERROR_CONTAINS(
      ops::conv(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), conv_options({1}, {0}, {1}, 4)),
      "conv: input has 4 channels but weight [4,2,3,3] with groups 4 expects 8");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1}, {0}, {1}, 0)),
                        "conv: groups must be at least 1, got 0");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, Tensor::zeros({0, 3, 3, 3})),
                        "conv: weight [0,3,3,3] is empty");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor::zeros({7})),
                        "conv: bias [7] must have shape [8] to match the output channels of "
                        "weight [8,3,3,3]");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor::zeros({8, 1})),
                        "conv: bias [8,1] must have shape [8]");
  EXPECT_ERROR_CONTAINS(ops::conv(Tensor::zeros({1, 1, 3}), Tensor::zeros({1, 1, 3}), Tensor(),
                                  conv_options({1}, {0}, {2})),
                        "conv: kernel 5 (dilated) larger than padded input 3 in spatial dim 0");
  EXPECT_ERROR_CONTAINS(
      ops::conv(x3, Tensor::zeros({8, 3, 3, 9}), Tensor(), conv_options({1}, {1})),
      "conv: kernel 9 (dilated) larger than padded input 8 in spatial dim 1");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1, 0}, {0})),
                        "conv: stride [1,0] must be at least 1");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1}, {0}, {0})),
                        "conv: dilation [0] must be at least 1");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1}, {-1})),
                        "conv: padding [-1] must not be negative");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1, 1, 1}, {0})),
                        "conv: stride [1,1,1] has 3 entries but the input has 2 spatial dims");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1}, {}, {1})),
                        "conv: padding [] has 0 entries but the input has 2 spatial dims");
  EXPECT_ERROR_CONTAINS(ops::conv(x3, w3, Tensor(), conv_options({1}, {0}, {1, 1, 1})),
                        "conv: dilation [1,1,1] has 3 entries");
  EXPECT_ERROR_CONTAINS(ops::conv(Tensor(), w3), "conv: input and weight must be defined");
}

TEST(ConvTest, MixedDevicesAreAnError) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "needs a GPU";
  const Tensor x = Tensor::zeros({1, 3, 5, 5}), w = Tensor::zeros({2, 3, 3, 3});
  EXPECT_ERROR_CONTAINS(ops::conv(x, w.to(Device::cuda(0))), "conv: tensors on different devices");
  EXPECT_ERROR_CONTAINS(ops::conv(x, w, Tensor::zeros({2}, Device::cuda(0))),
                        "conv: tensors on different devices");
}

}  // namespace
}  // namespace repflow
