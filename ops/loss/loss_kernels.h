#pragma once
// Entry points of the fused softmax schedules: one pass for the row maxima, one for the sums,
// one writing the result; contiguous tensors seen as SoftmaxShape.
#include "ops/loss/loss_math.h"

namespace repflow::ops {

// y = softmax (or log_softmax when `log`) of x along the rows of `s`.
void softmax_cpu(bool log, const float* x, float* y, SoftmaxShape s);
// gx = the gradient at x given the forward's output y and the output gradient g.
void softmax_grad_cpu(bool log, const float* y, const float* g, float* gx, SoftmaxShape s);

#if REPFLOW_WITH_CUDA
void softmax_cuda(int device, bool log, const float* x, float* y, SoftmaxShape s);
void softmax_grad_cuda(int device, bool log, const float* y, const float* g, float* gx,
                       SoftmaxShape s);
#endif

}  // namespace repflow::ops
