#pragma once
// Entry points of the index_select schedules. `index` holds entries already mapped into
// [0, size of `dim`); the CUDA entry points copy it to the device themselves.
#include <vector>

#include "framework/tensor.h"
#include "ops/slice/index_math.h"

namespace repflow::ops {

// The layout indexed_offset reads `t` through: the sizes of `out_shape` (which differs from
// t's shape only along the indexed dimension) with t's strides.
inline StridedLayout indexed_layout(const Tensor& t, const Shape& out_shape) {
  StridedLayout l = t.layout();
  for (int d = 0; d < l.ndim; ++d) l.sizes[d] = out_shape[d];
  return l;
}

// out (contiguous) = the entries `index` of x along `dim`.
void index_select_cpu(const Tensor& x, int dim, const std::vector<int64_t>& index,
                      const Tensor& out);
// gx (contiguous, already zeroed) gets each entry of g added at position index[j] along `dim`.
void index_add_cpu(const Tensor& g, int dim, const std::vector<int64_t>& index, const Tensor& gx);

#if REPFLOW_WITH_CUDA
void index_select_cuda(int device, const Tensor& x, int dim, const std::vector<int64_t>& index,
                       const Tensor& out);
void index_add_cuda(int device, const Tensor& g, int dim, const std::vector<int64_t>& index,
                    const Tensor& gx);
#endif

}  // namespace repflow::ops
