#include "models/flow_input.h"

#include "framework/autograd.h"
#include "framework/error.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"

namespace repflow {

Tensor tvl1_clip_flow(const Tensor& clip, const ops::Tvl1Options& options) {
  RF_CHECK(clip.dim() == 5 && clip.size(1) == 3 && clip.size(2) >= 2, "flow input: clip ",
           shape_str(clip.shape()), " is not (N, 3, T, H, W) with T >= 2");
  NoGradGuard no_grad;
  const int64_t n = clip.size(0), t = clip.size(2), h = clip.size(3), w = clip.size(4);
  // (N, T, H, W) grey levels, then the T - 1 pairs of consecutive frames as planes.
  const Tensor grey = ops::mul(ops::mean(clip.detach(), {1}), kFlowInputGreyScale);
  const Tensor first = ops::reshape(ops::slice(grey, 1, 0, t - 1), {n * (t - 1), 1, h, w});
  const Tensor next = ops::reshape(ops::slice(grey, 1, 1, t), {n * (t - 1), 1, h, w});
  const Tensor flow = ops::tvl1_flow(first, next, options);  // (N (T - 1), 2, H, W)
  const Tensor scaled = ops::clamp(ops::div(flow, kFlowInputRange), -1.0f, 1.0f);
  return ops::permute(ops::reshape(scaled, {n, t - 1, 2, h, w}), {0, 2, 1, 3, 4}).contiguous();
}

}  // namespace repflow
