#pragma once
// Entry points of the TV-L1 optical-flow schedules (ops/flow/tvl1.h). Planes are the N * C
// (sample, channel) pairs of contiguous (N, C, H, W) inputs; the output is (N, 2C, H, W), as the
// representation flow op's.
#include <cstdint>

#include "ops/flow/tvl1_math.h"

namespace repflow::ops {

// Pyramid levels at most (Tvl1Options::scales).
constexpr int kTvl1MaxScales = 16;

struct Tvl1Problem {
  int64_t planes;    // N * C
  int64_t channels;  // C
  // The pyramid, finest first: level 0 is the input's H x W.
  int levels;
  int level_h[kTvl1MaxScales], level_w[kTvl1MaxScales];
  float blur[kTvl1BlurTaps];  // the antialiasing taps (tvl1_math.h)
  int warps;                  // per level
  int iterations;             // per warp
  FlowScalars scalars;
  int h() const { return level_h[0]; }
  int w() const { return level_w[0]; }
};

void tvl1_cpu(const Tvl1Problem& pb, const float* i0, const float* i1, float* out);

#if REPFLOW_WITH_CUDA
void tvl1_cuda(int device, const Tvl1Problem& pb, const float* i0, const float* i1, float* out);
#endif

}  // namespace repflow::ops
