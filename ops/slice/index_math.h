#pragma once
// Per-element offsets of index_select and its backward, shared by the CPU and CUDA schedules.
#include <cstdint>

#include "framework/layout.h"

namespace repflow::ops {

// Storage offset of element `linear` (row-major over l.sizes, the index_select output's shape)
// in the tensor with strides l.strides whose dimension `dim` is read through `index`.
RF_HD int64_t indexed_offset(const StridedLayout& l, int dim, const int64_t* index,
                             int64_t linear) {
  int64_t off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t i = linear % l.sizes[d];
    linear /= l.sizes[d];
    if (d == dim) i = index[i];
    off += i * l.strides[d];
  }
  return off;
}

}  // namespace repflow::ops
