#pragma once
// TV-L1 optical flow between two images (Zach, Pock and Bischof, DAGM 2007), coarse to fine: the
// classical method the paper's Flow CNN and two-stream baselines take their input from, and the
// method the representation flow layer unrolls. On every level of an image pyramid, from the
// coarsest on, the flow so far (zero on the coarsest level) is refined by `warps` warps: I1 is
// warped towards I0 by the flow (bicubic), the data term is linearised about it, and `iterations`
// iterations of the flow layer's scheme (ops/flow/flow.h, its parameters at the paper's
// defaults but theta, lambda and tau, and central differences for the image gradient in the
// place of the Sobel kernels) run from it; the level's flow, resized and scaled, starts
// the next finer level. The dual variable starts at zero on every level, as in OpenCV's
// DualTVL1, whose options these are. Each level is the finer one blurred (a Gaussian against
// aliasing) and resized; where the flow points out of the frame the data term is left out
// (ops/flow/tvl1_math.h).
//
// Images are grey levels on the 0..255 scale that lambda is set for.
#include "framework/tensor.h"
#include "ops/flow/tvl1_kernels.h"

namespace repflow::ops {

struct Tvl1Options {
  float theta = 0.3f, lambda = 0.15f, tau = 0.25f;
  // Pyramid levels, at most: fewer where a level would be smaller than kTvl1MinLevelSize pixels
  // on a side.
  int scales = 5;
  float scale_step = 0.5f;  // each level's size over the next finer one's, in (0, 1)
  int warps = 5;            // per level
  int iterations = 30;      // per warp
};

// No level of the pyramid below the finest is smaller than this on a side.
constexpr int kTvl1MinLevelSize = 8;
// The options' bounds (flags reach them): scales 1 to kTvl1MaxScales (tvl1_kernels.h), and a
// call's work bounded by warps of 1 to kTvl1MaxWarps and iterations of 1 to kTvl1MaxIterations.
constexpr int kTvl1MaxWarps = 1000;
constexpr int kTvl1MaxIterations = 100000;

// The levels `options` gives for h x w images, finest first.
int tvl1_levels(int64_t h, int64_t w, const Tvl1Options& options);

// i0, i1: (N, C, H, W) on one device, every channel a separate image pair. Returns the flow from
// i0 to i1 as (N, 2C, H, W): the C x-flow channels, then the C y-flow channels, in pixels, with
// the representation flow op's sign convention (content that moves right or down gives positive
// x or y flow). A data transform: it records no gradient.
Tensor tvl1_flow(const Tensor& i0, const Tensor& i1, const Tvl1Options& options = {});

}  // namespace repflow::ops
