#pragma once
// Reductions over all elements or over given dimensions.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Over every element: a tensor of shape [].
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);

// Over `dims` (negative counts from the end, no repeats); keepdim leaves them as size 1.
// An empty `dims` reduces over nothing (a differentiable copy).
Tensor sum(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);
// max/min split the gradient evenly between tied extremes (like PyTorch's amax/amin).
Tensor max(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);

// Sums x down to `shape`, the reverse of broadcasting `shape` up to x.shape(): the gradient of
// a broadcast operand. Error if `shape` does not broadcast to x.shape().
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace repflow::ops
