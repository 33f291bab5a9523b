#pragma once
// The dropout mask and scaling, shared by the CPU and CUDA schedules.
#include <cstdint>

#include "framework/hostdev.h"
#include "framework/philox.h"

namespace repflow::ops {

struct DropoutParams {
  float p;
  float scale;  // 1 / (1 - p), or 0 when p == 1 and nothing survives
  uint64_t seed;
  uint64_t offset;
};

// Element i (row-major) survives when its uniform draw is at least p, so it survives with
// probability 1 - p. The result is linear in x: the backward is this same function applied to
// the output gradient, with the same mask redrawn from (seed, offset) instead of stored.
RF_HD float dropout_value(float x, const DropoutParams& d, int64_t i) {
  return philox_uniform(d.seed, d.offset, static_cast<uint64_t>(i)) >= d.p ? x * d.scale : 0.0f;
}

}  // namespace repflow::ops
