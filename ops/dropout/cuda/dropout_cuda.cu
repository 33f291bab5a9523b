#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/dropout/dropout_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;

__global__ void dropout_kernel(const float* x, float* y, int64_t n, DropoutParams d) {
  for (int64_t i : grid_stride(n)) y[i] = dropout_value(x[i], d, i);
}

}  // namespace

void dropout_cuda(int device, const float* x, float* y, int64_t n, const DropoutParams& d) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  dropout_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(x, y, n, d);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace repflow::ops
