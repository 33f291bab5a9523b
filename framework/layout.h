#pragma once
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow {

constexpr int kMaxDims = 8;

// Sizes and strides of one operand, passed by value to CPU loops and CUDA kernels alike.
// offset(i) maps the i-th element in row-major order of `sizes` to its storage offset.
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  RF_HD int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      off += i * strides[d];
    }
    return off;
  }
};

}  // namespace repflow
