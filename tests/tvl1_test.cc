// TV-L1 optical flow (ops/flow/tvl1.h) on the CPU: recovers known shifts, the pyramid reaches
// shifts that a single level does not, one level and warp is the representation flow op, and
// bad shapes and options are Errors.
#include "ops/flow/tvl1.h"

#include <gtest/gtest.h>

#include "ops/cat/cat.h"
#include "ops/dispatch.h"
#include "ops/flow/flow.h"
#include "ops/flow/tvl1_math.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/test_util.h"
#include "tests/tvl1_cases.h"

namespace repflow {
namespace {

using testing::tvl1_shifted;

// The mean endpoint error of plane `plane` of a (N, 2, H, W) flow against (dx, dy), over the
// pixels at least `margin` from the border (content there moves in from outside the frame).
double mean_epe(const Tensor& flow, int64_t plane, double dx, double dy, int margin) {
  const int64_t h = flow.size(2), w = flow.size(3);
  const std::vector<float> v = flow.to_vector();
  const float* u1 = v.data() + plane * 2 * h * w;
  const float* u2 = u1 + h * w;
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = margin; i < h - margin; ++i) {
    for (int64_t j = margin; j < w - margin; ++j) {
      sum += std::hypot(u1[i * w + j] - dx, u2[i * w + j] - dy);
      ++count;
    }
  }
  return sum / count;
}

TEST(Tvl1Test, RecoversShiftsOfOneToEightPixels) {
  const std::vector<std::pair<double, double>> shifts = {{1.0, 0.0},  {0.0, -2.0}, {2.5, 1.5},
                                                         {-4.0, 3.0}, {6.0, -5.5}, {8.0, 0.0}};
  const Tensor i0 = tvl1_shifted(96, 96, std::vector<std::pair<double, double>>(shifts.size()));
  const Tensor i1 = tvl1_shifted(96, 96, shifts);
  const Tensor flow = ops::tvl1_flow(i0, i1);
  ASSERT_EQ(flow.shape(), (Shape{6, 2, 96, 96}));
  for (size_t k = 0; k < shifts.size(); ++k) {
    SCOPED_TRACE("shift " + std::to_string(shifts[k].first) + ", " +
                 std::to_string(shifts[k].second));
    const double epe = mean_epe(flow, k, shifts[k].first, shifts[k].second, 12);
    std::printf("shift (%g, %g): mean endpoint error %.4f px\n", shifts[k].first, shifts[k].second,
                epe);
    EXPECT_LT(epe, 0.02);
  }
}

TEST(Tvl1Test, ThePyramidReachesShiftsOneLevelCannot) {
  const Tensor i0 = tvl1_shifted(96, 96, {{0.0, 0.0}});
  const Tensor i1 = tvl1_shifted(96, 96, {{7.0, -6.0}});
  ops::Tvl1Options one_level;
  one_level.scales = 1;
  const double pyramid = mean_epe(ops::tvl1_flow(i0, i1), 0, 7.0, -6.0, 12);
  const double single = mean_epe(ops::tvl1_flow(i0, i1, one_level), 0, 7.0, -6.0, 12);
  EXPECT_LT(pyramid, 0.02);
  EXPECT_GT(single, 1.0);
}

TEST(Tvl1Test, StillImagesGiveZeroFlow) {
  const Tensor i0 = tvl1_shifted(40, 56, {{0.0, 0.0}});
  const std::vector<float> flow = ops::tvl1_flow(i0, i0).to_vector();
  for (float v : flow) ASSERT_EQ(v, 0.0f);
}

TEST(Tvl1Test, EveryChannelIsItsOwnPairAndTheOutputIsXChannelsThenYChannels) {
  // (2, 2, H, W): channel c of sample n moves by shifts[2 n + c].
  const std::vector<std::pair<double, double>> shifts = {
      {2.0, 0.0}, {0.0, 3.0}, {-1.0, -1.0}, {3.0, 2.0}};
  const Tensor i0 =
      ops::reshape(tvl1_shifted(96, 96, std::vector<std::pair<double, double>>(4)), {2, 2, 96, 96});
  const Tensor i1 = ops::reshape(tvl1_shifted(96, 96, shifts), {2, 2, 96, 96});
  const Tensor flow = ops::tvl1_flow(i0, i1);
  ASSERT_EQ(flow.shape(), (Shape{2, 4, 96, 96}));
  // Each channel's x and y planes as the (1, 2, H, W) flow of its own pair.
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 2; ++c) {
      const auto [dx, dy] = shifts[2 * n + c];
      const Tensor x = ops::slice(ops::slice(flow, 0, n, n + 1), 1, c, c + 1);
      const Tensor y = ops::slice(ops::slice(flow, 0, n, n + 1), 1, 2 + c, 3 + c);
      EXPECT_LT(mean_epe(ops::cat({x, y}, 1).contiguous(), 0, dx, dy, 12), 0.02) << n << " " << c;
    }
  }
}

TEST(Tvl1Test, OneLevelAndOneWarpIsTheFlowLayerAtTheSameParameters) {
  const Tensor i0 = tvl1_shifted(20, 27, {{0.0, 0.0}, {0.0, 0.0}});
  const Tensor i1 = tvl1_shifted(20, 27, {{1.5, -0.5}, {-0.7, 0.9}});
  ops::Tvl1Options o;
  o.scales = 1;
  o.warps = 1;
  o.iterations = 7;
  o.theta = 0.25f;
  o.lambda = 0.2f;
  o.tau = 0.2f;
  ops::FlowParams params = ops::default_flow_params(ops::FlowLearned::none());
  params.theta = Tensor::from_vector({}, {o.theta});
  params.lambda = Tensor::from_vector({}, {o.lambda});
  params.tau = Tensor::from_vector({}, {o.tau});
  params.sobel_x = Tensor::from_vector(
      {3, 3}, std::vector<float>(std::begin(ops::kTvl1GradientX), std::end(ops::kTvl1GradientX)));
  params.sobel_y = Tensor::from_vector(
      {3, 3}, std::vector<float>(std::begin(ops::kTvl1GradientY), std::end(ops::kTvl1GradientY)));
  // Equal but for the rounding of the image terms: the flow op's vector sweeps compute them with
  // fused multiply-adds where the vector width has them.
  const std::vector<float> tvl1 = ops::tvl1_flow(i0, i1, o).to_vector();
  const std::vector<float> layer =
      ops::representation_flow(i0, i1, params, o.iterations).to_vector();
  ASSERT_EQ(tvl1.size(), layer.size());
  for (size_t k = 0; k < tvl1.size(); ++k) ASSERT_NEAR(tvl1[k], layer[k], 1e-4) << k;
}

TEST(Tvl1Test, EveryVectorWidthGivesTheSameFlow) {
  const Tensor i0 = tvl1_shifted(45, 61, {{0.0, 0.0}});
  const Tensor i1 = tvl1_shifted(45, 61, {{3.0, -2.0}});
  const std::vector<float> widest = ops::tvl1_flow(i0, i1).to_vector();
  for (ops::CpuIsa isa : {ops::CpuIsa::kBaseline, ops::CpuIsa::kAvx2}) {
    const ops::CpuIsa previous = ops::set_cpu_isa_limit(isa);
    const std::vector<float> capped = ops::tvl1_flow(i0, i1).to_vector();
    ops::set_cpu_isa_limit(previous);
    // To rounding: the wider sweeps fuse multiply-adds.
    ASSERT_EQ(capped.size(), widest.size());
    for (size_t k = 0; k < capped.size(); ++k)
      ASSERT_NEAR(capped[k], widest[k], 1e-4) << "isa " << static_cast<int>(isa) << " at " << k;
  }
}

TEST(Tvl1Test, LevelsStopAboveTheSmallestSize) {
  ops::Tvl1Options o;
  o.scales = 10;
  EXPECT_EQ(ops::tvl1_levels(240, 320, o), 6);  // 240, 120, 60, 30, 15, 8
  EXPECT_EQ(ops::tvl1_levels(7, 100, o), 1);
  o.scales = 3;
  EXPECT_EQ(ops::tvl1_levels(240, 320, o), 3);
}

TEST(Tvl1Test, BadShapesAndOptionsAreErrors) {
  const Tensor a = Tensor::zeros({1, 1, 16, 16});
  EXPECT_ERROR_CONTAINS(ops::tvl1_flow(a, Tensor::zeros({1, 1, 16, 15})), "same shape");
  EXPECT_ERROR_CONTAINS(ops::tvl1_flow(Tensor::zeros({16, 16}), Tensor::zeros({16, 16})),
                        "(N, C, H, W)");
  const auto expect_option_error = [&](auto set, const char* fragment) {
    ops::Tvl1Options o;
    set(o);
    EXPECT_ERROR_CONTAINS(ops::tvl1_flow(a, a, o), fragment);
  };
  expect_option_error([](ops::Tvl1Options& o) { o.theta = 0; }, "theta");
  expect_option_error([](ops::Tvl1Options& o) { o.tau = -1; }, "tau");
  expect_option_error([](ops::Tvl1Options& o) { o.lambda = NAN; }, "lambda");
  expect_option_error([](ops::Tvl1Options& o) { o.scales = 0; }, "scales");
  expect_option_error([](ops::Tvl1Options& o) { o.scale_step = 1; }, "scale_step");
  expect_option_error([](ops::Tvl1Options& o) { o.warps = 0; }, "warps");
  expect_option_error([](ops::Tvl1Options& o) { o.iterations = 1000000; }, "iterations");
}

}  // namespace
}  // namespace repflow
