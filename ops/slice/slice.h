#pragma once
// Selecting parts of a tensor along one dimension.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Elements start, start+step, ... below end along `dim`, as a view. start and end follow
// Python: negative counts from the end, out-of-range values are clamped. step >= 1.
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end, int64_t step = 1);
// `length` elements from `start` along `dim` (both must be in range), as a view.
Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length);
// The `index`-th entry along `dim`, dropping that dimension, as a view.
Tensor select(const Tensor& x, int dim, int64_t index);
// Copies the entries `index` (repeats allowed, negative counts from the end) along `dim`.
// The backward adds gradients of repeated entries.
Tensor index_select(const Tensor& x, int dim, const std::vector<int64_t>& index);

}  // namespace repflow::ops
