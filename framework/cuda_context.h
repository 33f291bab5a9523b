#pragma once
// Per-device CUDA state, created lazily and once: the stream every kernel of the device runs
// on, and the cuDNN and cuBLAS handles bound to that stream. Only in CUDA builds.
#include "framework/cuda_check.h"

namespace repflow {

cudaStream_t cuda_stream(int device);
cudnnHandle_t cudnn_handle(int device);
cublasHandle_t cublas_handle(int device);

// Makes `device` current for the scope and restores the previous device after.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// Grid size for a grid-stride loop over n elements.
inline unsigned int cuda_blocks(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

}  // namespace repflow
