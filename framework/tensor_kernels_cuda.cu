#include "framework/cuda_context.h"
#include "framework/cuda_graph.h"
#include "framework/grid_stride.cuh"
#include "framework/tensor_kernels.h"

namespace repflow::kernels {
namespace {
constexpr int kThreads = 256;

__global__ void fill_kernel(float* dst, int64_t n, float value) {
  for (int64_t i : grid_stride(n)) dst[i] = value;
}

__global__ void copy_kernel(float* dst, StridedLayout dl, const float* src, StridedLayout sl,
                            int64_t n) {
  for (int64_t i : grid_stride(n)) dst[dl.offset(i)] = src[sl.offset(i)];
}

__global__ void random_kernel(float* dst, int64_t n, RandomDist dist, float a, float b,
                              uint64_t seed, uint64_t offset) {
  for (int64_t i : grid_stride(n)) dst[i] = random_value(dist, a, b, seed, offset, i);
}

__global__ void axpy_kernel(float* dst, const float* src, float alpha, int64_t n) {
  for (int64_t i : grid_stride(n)) dst[i] += alpha * src[i];
}
}  // namespace

void fill_cuda(int device, float* dst, int64_t n, float value) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  fill_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(dst, n, value);
  RF_CUDA_LAUNCH_CHECK();
}

void copy_cuda(int device, float* dst, const StridedLayout& dst_layout, const float* src,
               const StridedLayout& src_layout, int64_t n) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  copy_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(dst, dst_layout, src,
                                                                              src_layout, n);
  RF_CUDA_LAUNCH_CHECK();
}

void random_cuda(int device, float* dst, int64_t n, RandomDist dist, float a, float b,
                 uint64_t seed, uint64_t offset) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  random_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(dst, n, dist, a, b,
                                                                                seed, offset);
  RF_CUDA_LAUNCH_CHECK();
}

void axpy_cuda(int device, float* dst, const float* src, float alpha, int64_t n) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  axpy_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(dst, src, alpha, n);
  RF_CUDA_LAUNCH_CHECK();
}

void memcpy_to_device(int device, float* dst, const float* src, int64_t n) {
  CudaDeviceGuard guard(device);
  // A recorded copy reads the graph's own pinned copy of `src` (and a recording cannot wait).
  if (!copy_host_to_device(dst, src, n * sizeof(float), device))
    RF_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(device)));
}

void memcpy_to_host(int device, float* dst, const float* src, int64_t n) {
  CudaDeviceGuard guard(device);
  RF_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, cuda_stream(device)));
  RF_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(device)));
}

void memcpy_device_to_device(int dst_device, float* dst, int src_device, const float* src,
                             int64_t n) {
  // The source's pending kernels must finish before the copy, which runs on the target's stream.
  RF_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(src_device)));
  CudaDeviceGuard guard(dst_device);
  RF_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, n * sizeof(float),
                                    cuda_stream(dst_device)));
  RF_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(dst_device)));
}

}  // namespace repflow::kernels
