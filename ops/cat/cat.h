#pragma once
// Joining tensors.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Concatenates along `dim`; all other sizes must agree, all on one device.
Tensor cat(const std::vector<Tensor>& xs, int dim);
// Stacks equal-shaped tensors along a new dimension `dim` (in [-(n+1), n]).
Tensor stack(const std::vector<Tensor>& xs, int dim);

}  // namespace repflow::ops
