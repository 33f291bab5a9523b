#pragma once
// Entry points of the reduction kernels. The reduced dimensions have been moved out of the
// input's layout into `inner`, so every reduction is one problem:
//   out[o] = finish(combine(in[outer.offset(o) + inner.offset(r)] for r < extent), extent)
// for o < outputs, with `out` contiguous and `in` pointing at element 0 of the input view.
#include <cstdint>

#include "framework/layout.h"
#include "ops/reduce/reduce_math.h"

namespace repflow::ops {

void reduce_cpu(ReduceKind kind, float* out, const float* in, const StridedLayout& outer,
                const StridedLayout& inner, int64_t outputs, int64_t extent);

#if REPFLOW_WITH_CUDA
void reduce_cuda(int device, ReduceKind kind, float* out, const float* in,
                 const StridedLayout& outer, const StridedLayout& inner, int64_t outputs,
                 int64_t extent);
#endif

}  // namespace repflow::ops
