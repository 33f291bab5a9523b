#pragma once
// Constant padding, each side of each dimension on its own.
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// padding[d] = {before, after} for dimension d, one pair per dimension of x, each >= 0. So
// TensorFlow's asymmetric "same" padding is {total / 2, total - total / 2}.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& padding,
           float value = 0.0f);

}  // namespace repflow::ops
