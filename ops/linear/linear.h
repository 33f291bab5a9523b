#pragma once
// Matrix products. CPU: OpenBLAS sgemm; CUDA: cuBLAS.
#include "framework/tensor.h"

namespace repflow::ops {

// a: (..., M, K), b: (..., K, N) with broadcast batch dims, or 2-D operands; (..., M, N).
// Both operands need at least 2 dimensions (unlike PyTorch, a vector is an Error: unsqueeze
// it). Transposed views are read in place; other strided matrices are packed first.
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (..., in), weight: (out, in), bias: (out) or undefined; (..., out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace repflow::ops
