#pragma once
// Entry points of the dropout schedules, over contiguous tensors of n elements.
#include <cstdint>

#include "ops/dropout/dropout_math.h"

namespace repflow::ops {

void dropout_cpu(const float* x, float* y, int64_t n, const DropoutParams& d);

#if REPFLOW_WITH_CUDA
void dropout_cuda(int device, const float* x, float* y, int64_t n, const DropoutParams& d);
#endif

}  // namespace repflow::ops
