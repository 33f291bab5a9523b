#pragma once
// Per-element formulas of batch normalisation, shared by the CPU loops and the CUDA kernels.
// Every per-channel quantity (mean, invstd, scale, shift, the gradient means) is computed once
// per channel by the schedule; these are what runs per element.
#include <cmath>

#include "framework/hostdev.h"
#include "ops/elementwise/elementwise_math.h"

namespace repflow::ops {

RF_HD float bn_invstd(float var, float eps) { return 1.0f / sqrtf(var + eps); }

// y = (x - mean) * invstd * weight + bias, folded into one multiply-add per element with
// scale = weight * invstd and shift = bias - mean * scale.
RF_HD float bn_normalize(float x, float scale, float shift) { return x * scale + shift; }

// Gradient of the input: k (g - mean_g - xhat mean_g_xhat) with xhat = (x - mean) invstd and
// k = weight * invstd. mean_g and mean_g_xhat are the channel means of g and g xhat: the path
// through the batch statistics in training mode, zero in eval mode (the statistics are then
// constants and the map is affine).
RF_HD float bn_grad_input(float g, float x, float mean, float invstd, float k, float mean_g,
                          float mean_g_xhat) {
  return k * (g - mean_g - (x - mean) * invstd * mean_g_xhat);
}

// The ReLU of batch_norm_relu, and the gradient it lets through, read from its output: y > 0
// exactly where the normalised value was, so the backward keeps y alone.
RF_HD float bn_relu(float v) { return unary_value<UnaryOp::kRelu>(v, {}); }
RF_HD float bn_relu_grad(float g, float y) { return unary_grad<UnaryOp::kRelu>(y, y, g, {}); }

}  // namespace repflow::ops
