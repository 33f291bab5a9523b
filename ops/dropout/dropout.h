#pragma once
// Inverted dropout with a counter-based mask: the same seed draws the same mask on the CPU and
// the GPU.
#include "framework/generator.h"
#include "framework/tensor.h"

namespace repflow::ops {

// training: zero each element with probability p and scale the rest by 1 / (1 - p); the mask
// for element i depends only on (generator seed, draw offset, i). eval or p == 0: identity
// (x itself, and no draw is taken from gen). p == 1 zeros everything; p outside [0, 1] is an
// Error. The backward redraws the same mask rather than storing it.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

}  // namespace repflow::ops
