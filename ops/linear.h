#pragma once
// Matrix products. CPU: OpenBLAS sgemm; CUDA: cuBLAS.
#include "framework/tensor.h"

namespace repflow::ops {

// a: (..., M, K), b: (..., K, N) with broadcast batch dims, or 2-D operands; (..., M, N).
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (..., in), weight: (out, in), bias: (out) or undefined; (..., out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace repflow::ops
