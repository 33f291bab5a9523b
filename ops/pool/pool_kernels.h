#pragma once
// Entry points of the pooling schedules. x and y are contiguous (planes, in/out plane) arrays;
// `indices` holds, per output, the flat position of its maximum within the input plane.
#include <cstdint>

#include "ops/pool/pool_math.h"

namespace repflow::ops {

void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y, int32_t* indices);
void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y);
// gx must be zeroed: the CPU schedules add into it.
void max_pool_backward_cpu(const PoolGeometry& g, const float* gy, const int32_t* indices,
                           float* gx);
void avg_pool_backward_cpu(const PoolGeometry& g, const float* gy, float* gx);

#if REPFLOW_WITH_CUDA
void max_pool_forward_cuda(int device, const PoolGeometry& g, const float* x, float* y,
                           int32_t* indices);
void avg_pool_forward_cuda(int device, const PoolGeometry& g, const float* x, float* y);
void max_pool_backward_cuda(int device, const PoolGeometry& g, const float* gy,
                            const int32_t* indices, float* gx);
void avg_pool_backward_cuda(int device, const PoolGeometry& g, const float* gy, float* gx);
#endif

}  // namespace repflow::ops
