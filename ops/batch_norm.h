#pragma once
// Batch normalisation over (N, C, *) tensors: statistics per channel over N and all spatial
// positions, PyTorch's conventions.
#include "framework/tensor.h"

namespace repflow::ops {

// training: normalise with the batch's mean and biased variance, and (when running_mean and
// running_var are defined) update them in place: running = (1 - momentum) running + momentum
// batch, with the unbiased variance for running_var, as PyTorch does.
// eval (training false): normalise with running_mean and running_var.
// weight and bias (C) are the affine parameters; either may be undefined (no affine).
// Gradients for x, weight and bias in both modes.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum = 0.1f, float eps = 1e-5f);

}  // namespace repflow::ops
