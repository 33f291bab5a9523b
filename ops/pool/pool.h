#pragma once
// Max and average pooling over 1 to 3 spatial dimensions, PyTorch's conventions.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Per spatial dimension; a single entry applies to every dimension. An empty stride means
// stride = kernel. Padding is at most half the kernel, as in PyTorch.
struct PoolOptions {
  std::vector<int64_t> kernel;
  std::vector<int64_t> stride;
  std::vector<int64_t> padding = {0};
  bool ceil_mode = false;
  // Average pooling: whether padded positions count in the divisor (PyTorch's default true).
  bool count_include_pad = true;
};

// x: (N, C, *spatial). Padded positions never win a max.
Tensor max_pool(const Tensor& x, const PoolOptions& options);
Tensor avg_pool(const Tensor& x, const PoolOptions& options);
// Mean over the given dims (e.g. {2, 3} for H and W), keepdim as in ops::mean.
Tensor global_avg_pool(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);

}  // namespace repflow::ops
