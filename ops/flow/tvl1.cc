// Checks and dispatch of TV-L1 optical flow.
#include "ops/flow/tvl1.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "ops/dispatch.h"
#include "ops/flow/flow.h"
#include "ops/flow/tvl1_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {
namespace {

constexpr const char* kOp = "tvl1_flow";

const DispatchStub<void(const Tvl1Problem&, const float*, const float*, float*)> tvl1_stub{
    kOp, tvl1_cpu, RF_CUDA_SCHEDULE(tvl1_cuda)};

// The size of a side at pyramid level s.
int64_t level_side(int64_t n, float step, int s) {
  return std::lround(static_cast<double>(n) * std::pow(static_cast<double>(step), s));
}

void check_options(const Tvl1Options& o) {
  RF_CHECK(std::isfinite(o.theta) && o.theta > 0, kOp, ": theta must be positive, got ", o.theta);
  RF_CHECK(std::isfinite(o.tau) && o.tau > 0, kOp, ": tau must be positive, got ", o.tau);
  RF_CHECK(std::isfinite(o.lambda) && o.lambda >= 0, kOp, ": lambda must be 0 or more, got ",
           o.lambda);
  RF_CHECK(o.scales >= 1 && o.scales <= kTvl1MaxScales, kOp, ": scales must be 1 to ",
           kTvl1MaxScales, ", got ", o.scales);
  RF_CHECK(o.scales == 1 || (o.scale_step > 0 && o.scale_step < 1), kOp,
           ": scale_step must be in (0, 1), got ", o.scale_step);
  RF_CHECK(o.warps >= 1 && o.warps <= kTvl1MaxWarps, kOp, ": warps must be 1 to ", kTvl1MaxWarps,
           ", got ", o.warps);
  RF_CHECK(o.iterations >= 1 && o.iterations <= kTvl1MaxIterations, kOp,
           ": iterations must be 1 to ", kTvl1MaxIterations, ", got ", o.iterations);
}

}  // namespace

int tvl1_levels(int64_t h, int64_t w, const Tvl1Options& options) {
  int levels = 1;
  while (levels < options.scales &&
         std::min(level_side(h, options.scale_step, levels),
                  level_side(w, options.scale_step, levels)) >= kTvl1MinLevelSize)
    ++levels;
  return levels;
}

Tensor tvl1_flow(const Tensor& i0, const Tensor& i1, const Tvl1Options& options) {
  RF_CHECK(i0.defined() && i1.defined(), kOp, ": i0 and i1 must be defined");
  RF_CHECK(i0.dim() == 4, kOp, ": i0 must be (N, C, H, W), got shape ", shape_str(i0.shape()));
  RF_CHECK(i0.shape() == i1.shape(), kOp, ": i0 and i1 must have the same shape, got ",
           shape_str(i0.shape()), " and ", shape_str(i1.shape()));
  check_same_device(kOp, {i0, i1});
  check_options(options);
  const int64_t n = i0.size(0), c = i0.size(1), h = i0.size(2), w = i0.size(3);
  // Padded plane indices are ints in the kernels, as in the flow op.
  RF_CHECK((h + 2) * (w + 2) * kFlowForwardPlanes < (int64_t{1} << 31), kOp, ": images of ", h,
           " x ", w, " are too large, shape ", shape_str(i0.shape()));
  const Device device = i0.device();
  Tensor out = Tensor::empty({n, 2 * c, h, w}, device);
  if (out.numel() == 0) return out;

  Tvl1Problem pb{};
  pb.planes = n * c;
  pb.channels = c;
  pb.levels = tvl1_levels(h, w, options);
  for (int s = 0; s < pb.levels; ++s) {
    pb.level_h[s] = static_cast<int>(level_side(h, options.scale_step, s));
    pb.level_w[s] = static_cast<int>(level_side(w, options.scale_step, s));
  }
  if (pb.levels > 1) {
    const double sigma =
        0.6 * std::sqrt(1.0 / (double{options.scale_step} * options.scale_step) - 1);
    double total = 0;
    for (int t = -kTvl1BlurRadius; t <= kTvl1BlurRadius; ++t)
      total += std::exp(-0.5 * t * t / (sigma * sigma));
    for (int t = -kTvl1BlurRadius; t <= kTvl1BlurRadius; ++t)
      pb.blur[t + kTvl1BlurRadius] =
          static_cast<float>(std::exp(-0.5 * t * t / (sigma * sigma)) / total);
  }
  pb.warps = options.warps;
  pb.iterations = options.iterations;
  pb.scalars = flow_scalars(default_flow_params(FlowLearned::none()));
  std::copy(std::begin(kTvl1GradientX), std::end(kTvl1GradientX), pb.scalars.sobel_x);
  std::copy(std::begin(kTvl1GradientY), std::end(kTvl1GradientY), pb.scalars.sobel_y);
  pb.scalars.theta = options.theta;
  pb.scalars.lambda = options.lambda;
  pb.scalars.tau = options.tau;
  flow_set_products(pb.scalars);
  const Tensor a = i0.detach().contiguous(), b = i1.detach().contiguous();
  tvl1_stub(device, pb, a.data(), b.data(), out.data());
  return out;
}

}  // namespace repflow::ops
