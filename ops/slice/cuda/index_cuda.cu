#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/device_buffer.h"
#include "ops/slice/index_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;

__global__ void index_select_kernel(float* out, const float* x, StridedLayout src, int dim,
                                    const int64_t* index, int64_t n) {
  for (int64_t i : grid_stride(n)) out[i] = x[indexed_offset(src, dim, index, i)];
}

// Repeated indices send several entries of g to one element of gx, hence the atomics.
__global__ void index_add_kernel(float* gx, StridedLayout dst, const float* g, StridedLayout src,
                                 int dim, const int64_t* index, int64_t n) {
  for (int64_t i : grid_stride(n))
    atomicAdd(gx + indexed_offset(dst, dim, index, i), g[src.offset(i)]);
}

}  // namespace

void index_select_cuda(int /*device: the tensors' own*/, const Tensor& x, int dim,
                       const std::vector<int64_t>& index, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int device = out.device().index;
  CudaDeviceGuard guard(device);
  const DeviceBuffer buffer(index.size() * sizeof(int64_t), device);
  const int64_t* idx = buffer.upload(index.data(), index.size());
  index_select_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(
      out.data(), x.data(), indexed_layout(x, out.shape()), dim, idx, n);
  RF_CUDA_LAUNCH_CHECK();
}

void index_add_cuda(int /*device: the tensors' own*/, const Tensor& g, int dim,
                    const std::vector<int64_t>& index, const Tensor& gx) {
  const int64_t n = g.numel();
  if (n == 0) return;
  const int device = g.device().index;
  CudaDeviceGuard guard(device);
  const DeviceBuffer buffer(index.size() * sizeof(int64_t), device);
  const int64_t* idx = buffer.upload(index.data(), index.size());
  index_add_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(
      gx.data(), indexed_layout(gx, g.shape()), g.data(), g.layout(), dim, idx, n);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace repflow::ops
