#include "framework/cuda_context.h"

#include <memory>
#include <mutex>
#include <vector>

namespace repflow {
namespace {

constexpr int kMaxDevices = 64;

struct DeviceState {
  std::once_flag stream_once, cudnn_once, cublas_once;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
};

DeviceState& state(int device) {
  RF_CHECK(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " out of range");
  static DeviceState states[kMaxDevices];
  return states[device];
}

}  // namespace

CudaDeviceGuard::CudaDeviceGuard(int device) {
  RF_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) RF_CUDA_CHECK(cudaSetDevice(device));
}

CudaDeviceGuard::~CudaDeviceGuard() {
  int now = 0;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

cudaStream_t cuda_stream(int device) {
  DeviceState& s = state(device);
  std::call_once(s.stream_once, [&] {
    CudaDeviceGuard guard(device);
    RF_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  });
  return s.stream;
}

cudnnHandle_t cudnn_handle(int device) {
  DeviceState& s = state(device);
  std::call_once(s.cudnn_once, [&] {
    CudaDeviceGuard guard(device);
    RF_CUDNN_CHECK(cudnnCreate(&s.cudnn));
    RF_CUDNN_CHECK(cudnnSetStream(s.cudnn, cuda_stream(device)));
  });
  return s.cudnn;
}

cublasHandle_t cublas_handle(int device) {
  DeviceState& s = state(device);
  std::call_once(s.cublas_once, [&] {
    CudaDeviceGuard guard(device);
    RF_CUBLAS_CHECK(cublasCreate(&s.cublas));
    RF_CUBLAS_CHECK(cublasSetStream(s.cublas, cuda_stream(device)));
  });
  return s.cublas;
}

}  // namespace repflow
