#pragma once
// Entry points of the batch-norm schedules. Every tensor is contiguous; x (and g, y, gx) is read
// as (N, C, S) with S the product of the spatial sizes, per-channel tensors are (C).
#include "framework/tensor.h"

namespace repflow::ops {

struct BatchNormForward {
  Tensor x, weight, bias;            // weight and bias may be undefined (no affine)
  Tensor running_mean, running_var;  // undefined in training mode when not tracked
  bool training = true;
  float momentum = 0.1f, eps = 1e-5f;
  bool relu = false;  // y = max(0, normalised x): batch_norm_relu
  // Added to the normalised x before the ReLU (batch_norm_add_relu, relu true); x's shape.
  Tensor residual;
  // Outputs: y, and the statistics the backward needs. The meaning of save_invstd belongs to
  // the backend (the backward of the same device reads it).
  Tensor y, save_mean, save_invstd;
};

struct BatchNormBackward {
  Tensor x, weight, save_mean, save_invstd, g;
  // batch_norm_relu's output, defined when the ReLU was fused: g passes only where y > 0.
  Tensor y;
  bool training = true;
  float eps = 1e-5f;
  // Sync BN (training false, statistics given): the channel means of g and g xhat over every
  // process's batch, which the input gradient then uses instead of eval mode's zeros. gw and gb
  // stay this process's own sums.
  Tensor mean_g, mean_g_xhat;
  Tensor gx, gw, gb;  // outputs; the undefined ones are not wanted
};

void batch_norm_forward_cpu(const BatchNormForward& a);
void batch_norm_backward_cpu(const BatchNormBackward& a);

#if REPFLOW_WITH_CUDA
void batch_norm_forward_cuda(int device, const BatchNormForward& a);
void batch_norm_backward_cuda(int device, const BatchNormBackward& a);
#endif

}  // namespace repflow::ops
