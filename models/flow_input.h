#pragma once
// The Flow CNN's input (the paper's Table 1 baselines, after the two-stream networks): the TV-L1
// optical flow (ops/flow/tvl1.h) between consecutive frames of a clip, computed on the clip's
// device as the network runs.
#include "framework/tensor.h"
#include "ops/flow/tvl1.h"

namespace repflow {

// The factor from the mean of a clip's normalised colour channels to TV-L1's grey levels
// (0..255, the scale its lambda is set for): 255 times ImageNet normalisation's mean standard
// deviation (0.226), the normalisation the trainer uses by default. An offset is left out, since
// flow depends on differences of grey levels only (as it ignores their sign: with the paper's
// normalisation, whose factor is -127.5, the data term weighs 2.2 times more).
constexpr float kFlowInputGreyScale = 57.6f;
// Flows are clipped at this many pixels and divided by it, into [-1, 1], as the two-stream
// networks' inputs are.
constexpr float kFlowInputRange = 20.0f;

// clip: (N, 3, T, H, W) normalised colour frames, T >= 2. Returns (N, 2, T - 1, H, W): the x and
// y flow from each frame to the next, in [-1, 1] (kFlowInputRange). No gradient flows back into
// the clip: the flow is the network's input data.
Tensor tvl1_clip_flow(const Tensor& clip, const ops::Tvl1Options& options = {});

}  // namespace repflow
