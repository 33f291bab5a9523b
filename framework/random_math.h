#pragma once
#include <cstdint>

#include "framework/hostdev.h"
#include "framework/philox.h"

namespace repflow {

enum class RandomDist { kUniform, kNormal };

// Element i of a random tensor: uniform in [a, b) or normal with mean a and std b.
RF_HD float random_value(RandomDist dist, float a, float b, uint64_t seed, uint64_t offset,
                         int64_t i) {
  const uint64_t index = static_cast<uint64_t>(i);
  return dist == RandomDist::kUniform ? a + (b - a) * philox_uniform(seed, offset, index)
                                      : a + b * philox_normal(seed, offset, index);
}

}  // namespace repflow
