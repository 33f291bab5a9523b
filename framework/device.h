#pragma once
#include <string>

namespace repflow {

enum class DeviceType { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;

  static Device cpu() { return Device{}; }
  static Device cuda(int index = 0) { return Device{DeviceType::kCUDA, index}; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

// True when this binary was compiled with the CUDA backend.
bool built_with_cuda();
// Number of usable GPUs: 0 in a CPU-only build or on a machine without a driver or GPU.
int cuda_device_count();

// Parses the --device flag: "auto" (CUDA when built with it and a GPU is present, else CPU),
// "cpu", "cuda" or "cuda:N". Anything else, or CUDA that is not available, is an Error.
Device parse_device(const std::string& spec);

// Waits for the work queued on `device` to finish (nothing to wait for on the CPU): for timing
// and for handing results to code outside the framework's stream.
void synchronize(Device device);

}  // namespace repflow
