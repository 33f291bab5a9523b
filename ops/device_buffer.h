#pragma once
// Device memory from the caching allocator for a CUDA schedule's scratch or index arrays,
// returned on every path. Freeing right after the launches that use it is safe: every kernel of
// a device runs on its one stream, so later users of the block run after those launches.
#include <cstddef>

#include "framework/allocator.h"
#include "framework/cuda_graph.h"

namespace repflow::ops {

class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, int device) : device_(device), ptr_(device_alloc(bytes, device)) {}
  ~DeviceBuffer() { device_free(ptr_, device_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

  // Copies `count` host values into the buffer on the device's stream (copy_host_to_device: the
  // host array may go as soon as it returns, and a recording graph keeps its own copy).
  template <class T>
  const T* upload(const T* host, size_t count) const {
    copy_host_to_device(ptr_, host, count * sizeof(T), device_);
    return as<T>();
  }

 private:
  int device_;
  void* ptr_;
};

}  // namespace repflow::ops
