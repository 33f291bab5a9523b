#include "framework/device.h"

#include <string>

#include "framework/error.h"

#if REPFLOW_WITH_CUDA
#include "framework/cuda_context.h"
#endif

namespace repflow {

std::string Device::str() const {
  return is_cuda() ? "cuda:" + std::to_string(index) : std::string("cpu");
}

bool built_with_cuda() {
#if REPFLOW_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if REPFLOW_WITH_CUDA
  // A machine with no driver or GPU reports an error here; that simply means no GPU.
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

Device parse_device(const std::string& spec) {
  if (spec == "auto") return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  if (spec == "cpu") return Device::cpu();
  if (spec.rfind("cuda", 0) == 0) {
    int index = 0;
    if (spec.size() > 4) {
      RF_CHECK(spec[4] == ':' && spec.size() > 5, "device: '", excerpt(spec),
               "' is not one of auto, cpu, cuda, cuda:N");
      // Digits only, and no more than an int holds: strtol would take a sign or spaces, and an
      // index past LONG_MAX or INT_MAX would wrap to another GPU's.
      const std::string digits = spec.substr(5);
      RF_CHECK(digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos,
               "device: '", excerpt(spec), "' has a bad GPU index");
      index = std::stoi(digits);
    }
    RF_CHECK(built_with_cuda(), "device: '", excerpt(spec),
             "' requested but this build has no CUDA backend (nvcc was not found at build time)");
    RF_CHECK(index < cuda_device_count(), "device: '", excerpt(spec), "' requested but only ",
             cuda_device_count(), " GPU(s) are visible");
    return Device::cuda(index);
  }
  RF_FAIL("device: '", excerpt(spec), "' is not one of auto, cpu, cuda, cuda:N");
}

void synchronize(Device device) {
#if REPFLOW_WITH_CUDA
  if (device.is_cuda()) {
    CudaDeviceGuard guard(device.index);
    RF_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(device.index)));
  }
#else
  (void)device;
#endif
}

}  // namespace repflow
