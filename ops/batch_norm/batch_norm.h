#pragma once
// Batch normalisation over (N, C, *) tensors: statistics per channel over N and all spatial
// positions, PyTorch's conventions.
#include <functional>

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

// max(0, batch_norm(...)) as one op: the CPU normalises and clamps in one pass and applies the
// ReLU's gradient inside batch norm's backward, and only the output is kept for the backward
// (an unfused pair keeps the normalised tensor for the ReLU as well). Same arguments.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       float momentum = 0.1f, float eps = 1e-5f);

// max(0, batch_norm(...) + residual) as one op: a residual block's last batch norm, its shortcut
// add and the ReLU after it. residual has x's shape; it gets the ReLU's gradient unchanged. The
// sum and its ReLU are written in the normalising pass, and only the output is kept for the
// backward (the unfused chain keeps the sum for the ReLU as well).
Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& weight,
                           const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, float momentum = 0.1f,
                           float eps = 1e-5f);

// Replaces a tensor of per-channel sums by their sums over every process (in place, blocking):
// a data-parallel Communicator's allreduce_sum.
using ChannelAllreduce = std::function<void(const Tensor& sums)>;

// Synchronised batch norm: training mode with the mean and biased variance of the batch made of
// every process's x (each process may hold a different N), through two allreduces in forward
// (per-channel sum with the element count, then the sum of squared deviations from the global
// mean, two passes for the same accuracy as batch_norm) and one in backward (the per-channel
// sums of g and g (x - mean)). The input gradient is that of the whole batch; the weight and
// bias gradients are this process's share, which data-parallel gradient averaging completes.
// running_mean/running_var (optional) are updated from the global statistics on every process.
// Every process must call it at the same point with the same channel count.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, float momentum,
                       float eps, const ChannelAllreduce& allreduce_sum);

}  // namespace repflow::ops
