#pragma once
// Operations that return views of their input's storage (no data moves).
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// New shape with the same number of elements; one size may be -1 (inferred). A view when the
// input's strides allow it, a copy otherwise.
Tensor reshape(const Tensor& x, const Shape& shape);
// Like reshape but never copies: an Error when the strides do not allow a view.
Tensor view(const Tensor& x, const Shape& shape);
// Merges dimensions start..end (inclusive, negative from the end) into one.
Tensor flatten(const Tensor& x, int start = 0, int end = -1);
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int dim0, int dim1);
Tensor squeeze(const Tensor& x, int dim);    // dim must have size 1
Tensor unsqueeze(const Tensor& x, int dim);  // dim in [-(n+1), n]
// Broadcasts size-1 (or missing leading) dimensions up to `shape` with stride 0.
Tensor expand(const Tensor& x, const Shape& shape);

}  // namespace repflow::ops
