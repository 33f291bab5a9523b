#pragma once
// Convolution over 1 to 3 spatial dimensions (NCW, NCHW, NCDHW), PyTorch's conventions.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Per spatial dimension; a single entry applies to every dimension. Padding is symmetric (use
// ops::pad first for TensorFlow's asymmetric "same" padding).
struct ConvOptions {
  std::vector<int64_t> stride = {1};
  std::vector<int64_t> padding = {0};
  std::vector<int64_t> dilation = {1};
  int64_t groups = 1;
};

// x: (N, C_in, *spatial); weight: (C_out, C_in / groups, *kernel); bias: (C_out) or undefined.
// Output (N, C_out, *out) with out = (in + 2 pad - dilation (k - 1) - 1) / stride + 1.
// Gradients for x, weight and bias. CPU: oneDNN; CUDA: cuDNN. The products run in the calling
// thread's compute_precision() (framework/precision.h), forward and backward alike.
Tensor conv(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
            const ConvOptions& options = {});
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvOptions& options = {});  // checks rank 4
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvOptions& options = {});  // checks rank 5

}  // namespace repflow::ops
