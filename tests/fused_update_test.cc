// The fused optimiser updates (ops/optim) against their rules written out per element, over
// tensors that span several chunks, are empty or have one element.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/generator.h"
#include "framework/parallel.h"
#include "framework/sanitizer.h"
#include "ops/optim/optim.h"
#include "ops/view/view.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// Sizes around the 65536-element chunk, an empty tensor and a scalar.
const std::vector<int64_t> kSizes = {65535, 0, 1, 65536 * 2 + 3, 7, 65537};

std::vector<Tensor> random_tensors(uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> out;
  for (int64_t n : kSizes) out.push_back(Tensor::normal({n}, 0, 1, gen));
  return out;
}

std::vector<Tensor> clones(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const auto& t : ts) out.push_back(t.clone());
  return out;
}

struct Case {
  ops::SgdHyper hyper;
  bool first_step;
};

// torch.optim.SGD's step for one element, in double.
void reference_step(double& p, double g, double& buf, double lr, double wd, const Case& c) {
  double d = g + wd * p;
  if (c.hyper.momentum != 0) {
    buf = c.first_step ? d : c.hyper.momentum * buf + (1 - c.hyper.dampening) * d;
    d = c.hyper.nesterov ? d + c.hyper.momentum * buf : buf;
  }
  p -= lr * d;
}

void check_sgd(const Case& c) {
  const std::vector<Tensor> params = random_tensors(1), grads = random_tensors(2),
                            bufs = random_tensors(3);
  const std::vector<Tensor> params0 = clones(params), bufs0 = clones(bufs);
  std::vector<ops::SgdSlot> slots;
  for (size_t i = 0; i < params.size(); ++i) {
    // Each tensor its own learning rate and decay, as parameter groups give them.
    slots.push_back({params[i], grads[i], c.hyper.momentum != 0 ? bufs[i] : Tensor(),
                     0.1f / static_cast<float>(i + 1), 1e-3f * static_cast<float>(i),
                     c.first_step});
  }
  ops::sgd_step_(slots, c.hyper);
  for (size_t i = 0; i < params.size(); ++i) {
    const auto p = params[i].to_vector(), b = bufs[i].to_vector(), p0 = params0[i].to_vector(),
               b0 = bufs0[i].to_vector(), g = grads[i].to_vector();
    for (size_t j = 0; j < p.size(); ++j) {
      double pr = p0[j], br = b0[j];
      reference_step(pr, g[j], br, slots[i].lr, slots[i].weight_decay, c);
      ASSERT_NEAR(p[j], pr, 1e-6 + 1e-6 * std::abs(pr)) << "tensor " << i << " element " << j;
      if (c.hyper.momentum != 0) {
        ASSERT_NEAR(b[j], br, 1e-6 + 1e-6 * std::abs(br)) << "tensor " << i << " element " << j;
      } else {
        ASSERT_EQ(b[j], b0[j]);  // no momentum: the buffers are not the slots'
      }
    }
  }
}

TEST(FusedUpdate, SgdPlainStepFollowsTheRule) { check_sgd({{0.0f, 0.0f, false}, false}); }

TEST(FusedUpdate, SgdMomentumSetsNewBuffersToTheDirection) {
  check_sgd({{0.9f, 0.1f, false}, true});
}

TEST(FusedUpdate, SgdMomentumDampeningFollowsTheRule) { check_sgd({{0.9f, 0.1f, false}, false}); }

TEST(FusedUpdate, SgdNesterovFollowsTheRule) { check_sgd({{0.9f, 0.0f, true}, false}); }

TEST(FusedUpdate, LerpMovesTowardTheSourceAndRateOneCopiesExactly) {
  for (const float rate : {0.25f, 1.0f}) {
    const std::vector<Tensor> targets = random_tensors(4), sources = random_tensors(5);
    const std::vector<Tensor> targets0 = clones(targets);
    ops::lerp_(targets, sources, rate);
    for (size_t i = 0; i < targets.size(); ++i) {
      const auto t = targets[i].to_vector(), t0 = targets0[i].to_vector(),
                 s = sources[i].to_vector();
      for (size_t j = 0; j < t.size(); ++j) {
        if (rate == 1.0f) {
          ASSERT_EQ(t[j], s[j]) << "tensor " << i << " element " << j;
        } else {
          const double want = t0[j] + 0.25 * (static_cast<double>(s[j]) - t0[j]);
          ASSERT_NEAR(t[j], want, 1e-6 + 1e-6 * std::abs(want)) << "tensor " << i;
        }
      }
    }
  }
}

// The chunks, not the threads, decide which element is computed how: one thread and two give
// the same bits.
TEST(FusedUpdate, ResultsDoNotDependOnTheThreadCount) {
  if (kThreadSanitizer)
    GTEST_SKIP() << "two OpenMP threads, whose hand-offs ThreadSanitizer cannot see "
                    "(framework/tsan.supp)";
  const int threads = num_threads();
  std::vector<std::vector<float>> results;
  for (const int n : {1, 2}) {
    set_num_threads(n);
    const std::vector<Tensor> params = random_tensors(6), grads = random_tensors(7),
                              bufs = random_tensors(8);
    std::vector<ops::SgdSlot> slots;
    for (size_t i = 0; i < params.size(); ++i)
      slots.push_back({params[i], grads[i], bufs[i], 0.1f, 1e-4f, false});
    ops::sgd_step_(slots, {0.9f, 0.0f, true});
    results.push_back(params[3].to_vector());
  }
  set_num_threads(threads);
  EXPECT_EQ(results[0], results[1]);
}

ops::SgdSlot slot(const Tensor& param, const Tensor& grad, const Tensor& momentum = Tensor()) {
  return {param, grad, momentum, 0.1f, 0.0f, false};
}

TEST(FusedUpdate, ErrorsNameTheEntryAndWhatDoesNotFit) {
  const Tensor p = Tensor::zeros({4, 3}), g = Tensor::zeros({4, 3});
  const ops::SgdHyper momentum{0.9f, 0.0f, false}, plain{};
  const std::vector<ops::SgdSlot> wrong_shape = {
      slot(p, Tensor::zeros({3, 4}), Tensor::zeros({4, 3}))};
  EXPECT_ERROR_CONTAINS(ops::sgd_step_(wrong_shape, momentum),
                        "entry 0's gradient has shape [3,4], not [4,3]");
  const std::vector<ops::SgdSlot> no_buffer = {slot(p, g)};
  EXPECT_ERROR_CONTAINS(ops::sgd_step_(no_buffer, momentum), "entry 0 has no momentum buffer");
  const std::vector<ops::SgdSlot> buffer = {slot(p, g, Tensor::zeros({4, 3}))};
  EXPECT_ERROR_CONTAINS(ops::sgd_step_(buffer, plain), "entry 0 has a momentum buffer");
  const std::vector<ops::SgdSlot> strided = {slot(p, g),
                                             slot(p, ops::transpose(Tensor::zeros({3, 4}), 0, 1))};
  EXPECT_ERROR_CONTAINS(ops::sgd_step_(strided, plain), "entry 1's gradient is not contiguous");
  EXPECT_ERROR_CONTAINS(ops::lerp_({p}, {}, 0.5f), "1 targets but 0 sources");
  EXPECT_ERROR_CONTAINS(ops::lerp_({p}, {p}, 1.5f), "rate 1.5 is outside [0, 1]");
}

// The learning rate and the averaging rate can live in one-element tensors on the parameters'
// device (a step recorded as a CUDA graph reads them there): the same bits as the numbers.
TEST(FusedUpdate, RatesInTensorsGiveTheSameBitsAsNumbers) {
  const ops::SgdHyper hyper{0.9f, 0.0f, true};
  const std::vector<Tensor> grads = random_tensors(2);
  std::vector<Tensor> params[2] = {random_tensors(1), random_tensors(1)};
  std::vector<Tensor> bufs[2] = {random_tensors(3), random_tensors(3)};
  for (int k = 0; k < 2; ++k) {
    std::vector<ops::SgdSlot> slots;
    for (size_t i = 0; i < grads.size(); ++i)
      slots.push_back({params[k][i], grads[i], bufs[k][i], k == 0 ? 0.05f : 1.0f, 1e-3f, false});
    if (k == 0)
      ops::sgd_step_(slots, hyper);
    else
      ops::sgd_step_(slots, hyper, Tensor::full({1}, 0.05f));
  }
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_EQ(params[0][i].to_vector(), params[1][i].to_vector()) << i;
    EXPECT_EQ(bufs[0][i].to_vector(), bufs[1][i].to_vector()) << i;
  }
  const std::vector<Tensor> sources = random_tensors(5);
  for (const float rate : {0.25f, 1.0f}) {
    std::vector<Tensor> targets[2] = {random_tensors(4), random_tensors(4)};
    ops::lerp_(targets[0], sources, rate);
    ops::lerp_(targets[1], sources, Tensor::full({1}, rate));
    for (size_t i = 0; i < sources.size(); ++i)
      EXPECT_EQ(targets[0][i].to_vector(), targets[1][i].to_vector()) << rate << " " << i;
  }
  std::vector<Tensor> targets = random_tensors(4);
  EXPECT_ERROR_CONTAINS(ops::lerp_(targets, sources, Tensor::full({2}, 0.5f)),
                        "lerp_: the rate is a tensor of shape [2], not one value");
  std::vector<ops::SgdSlot> slots = {{params[0][0], grads[0], bufs[0][0], 1.0f, 0.0f, false}};
  EXPECT_ERROR_CONTAINS(ops::sgd_step_(slots, hyper, Tensor::full({1, 2}, 0.5f)),
                        "sgd_step_: the learning rate is a tensor of shape [1,2], not one value");
}

}  // namespace
}  // namespace repflow
