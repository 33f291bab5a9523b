#pragma once
// Entry points of the fused optimiser schedules: each runs a whole table of tensors, split into
// chunks (optim_math.h), as one parallel loop on the CPU or one kernel launch on a GPU.
#include <cstdint>

#include "ops/optim/optim_math.h"

namespace repflow::ops {

void sgd_step_cpu(const SgdTensor* tensors, int64_t tensor_count, const TensorChunk* chunks,
                  int64_t chunk_count, const SgdHyper& hyper);
void lerp_cpu(const LerpTensor* tensors, int64_t tensor_count, const TensorChunk* chunks,
              int64_t chunk_count, LerpRate rate);

#if REPFLOW_WITH_CUDA
void sgd_step_cuda(int device, const SgdTensor* tensors, int64_t tensor_count,
                   const TensorChunk* chunks, int64_t chunk_count, const SgdHyper& hyper);
void lerp_cuda(int device, const LerpTensor* tensors, int64_t tensor_count,
               const TensorChunk* chunks, int64_t chunk_count, LerpRate rate);
#endif

}  // namespace repflow::ops
