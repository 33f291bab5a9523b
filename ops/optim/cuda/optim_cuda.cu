#include <algorithm>

#include "framework/cuda_context.h"
#include "ops/device_buffer.h"
#include "ops/optim/optim_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;
// Blocks stride over the chunks; more than the chunks of a large network would add nothing.
constexpr int64_t kMaxBlocks = 4096;

// Block b takes chunks b, b + gridDim.x, ...; its threads share out each chunk's elements.
template <class Table, class Apply>
__device__ void for_each_chunk_element(const Table* tensors, const TensorChunk* chunks,
                                       int64_t chunk_count, Apply apply) {
  for (int64_t c = blockIdx.x; c < chunk_count; c += gridDim.x) {
    const TensorChunk chunk = chunks[c];
    const Table t = tensors[chunk.tensor];
    for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x) apply(t, i);
  }
}

__global__ void sgd_step_kernel(const SgdTensor* tensors, const TensorChunk* chunks,
                                int64_t chunk_count, SgdHyper hyper) {
  for_each_chunk_element(tensors, chunks, chunk_count,
                         [&](const SgdTensor& t, int64_t i) { sgd_element(t, hyper, i); });
}

__global__ void lerp_kernel(const LerpTensor* tensors, const TensorChunk* chunks,
                            int64_t chunk_count, LerpRate rate_source) {
  const float rate = rate_source.get();
  for_each_chunk_element(tensors, chunks, chunk_count,
                         [&](const LerpTensor& t, int64_t i) { lerp_element(t, rate, i); });
}

// The tables copied to the device, then one launch of `kernel` over them.
template <class Table, class Kernel, class Arg>
void launch_over_chunks(int device, Kernel kernel, const Table* tensors, int64_t tensor_count,
                        const TensorChunk* chunks, int64_t chunk_count, Arg arg) {
  CudaDeviceGuard guard(device);
  const DeviceBuffer tensor_buffer(tensor_count * sizeof(Table), device);
  const DeviceBuffer chunk_buffer(chunk_count * sizeof(TensorChunk), device);
  const Table* d_tensors = tensor_buffer.upload(tensors, tensor_count);
  const TensorChunk* d_chunks = chunk_buffer.upload(chunks, chunk_count);
  const int blocks = static_cast<int>(std::min(chunk_count, kMaxBlocks));
  kernel<<<blocks, kThreads, 0, cuda_stream(device)>>>(d_tensors, d_chunks, chunk_count, arg);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void sgd_step_cuda(int device, const SgdTensor* tensors, int64_t tensor_count,
                   const TensorChunk* chunks, int64_t chunk_count, const SgdHyper& hyper) {
  launch_over_chunks(device, sgd_step_kernel, tensors, tensor_count, chunks, chunk_count, hyper);
}

void lerp_cuda(int device, const LerpTensor* tensors, int64_t tensor_count,
               const TensorChunk* chunks, int64_t chunk_count, LerpRate rate) {
  launch_over_chunks(device, lerp_kernel, tensors, tensor_count, chunks, chunk_count, rate);
}

}  // namespace repflow::ops
