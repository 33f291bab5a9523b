#include "framework/storage.h"

#include "framework/allocator.h"

namespace repflow {

Storage::Storage(size_t numel, Device device) : numel_(numel), device_(device) {
  const size_t bytes = numel * sizeof(float);
  data_ =
      static_cast<float*>(device.is_cuda() ? device_alloc(bytes, device.index) : host_alloc(bytes));
}

Storage::~Storage() {
  if (device_.is_cuda()) {
    device_free(data_, device_.index);
  } else {
    host_free(data_, numel_ * sizeof(float));
  }
}

}  // namespace repflow
