#pragma once
#include <cstddef>
#include <memory>

#include "framework/device.h"

namespace repflow {

// A block of float32 memory on one device, shared by every tensor that views it.
class Storage {
 public:
  Storage(size_t numel, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() const { return data_; }
  size_t numel() const { return numel_; }
  Device device() const { return device_; }

 private:
  float* data_ = nullptr;
  size_t numel_ = 0;
  Device device_;
};

}  // namespace repflow
