#pragma once
// Helpers every op family shares: broadcasting, dimension arguments, device checks (the
// dispatch of schedules by device is ops/dispatch.h).
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/tensor.h"

namespace repflow::ops {

// NumPy broadcasting of two shapes; `op` names the caller in the error, e.g.
// "add: shapes [2,3] and [4] cannot broadcast".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Layout that reads `t` as if it had shape `out` (broadcast dims get stride 0).
StridedLayout broadcast_layout(const Tensor& t, const Shape& out);

// Merges dimensions that are contiguous in every layout (and drops size-1 dimensions), so
// strided loops do fewer divisions. All layouts must share sizes.
void coalesce(std::vector<StridedLayout*> layouts);

// A dim argument in [-ndim, ndim) mapped to [0, ndim); out of range is an Error naming `op`.
int normalize_dim(const char* op, int dim, int ndim);

// Errors unless every defined tensor lives on the same device as the first.
void check_same_device(const char* op, const std::vector<Tensor>& tensors);

}  // namespace repflow::ops
