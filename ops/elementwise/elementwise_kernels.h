#pragma once
// Entry points of the elementwise schedules. Unary kernels take contiguous tensors; binary and
// where kernels read their inputs through broadcast layouts and write a contiguous output.
#include "framework/tensor.h"
#include "ops/elementwise/elementwise_math.h"

namespace repflow::ops {

void unary_cpu(UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y);
// gx = grad of op at (x, y) times g; x or y may be undefined when the op does not read them.
void unary_grad_cpu(UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y, const Tensor& g,
                    const Tensor& gx);
void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where_cpu(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

#if REPFLOW_WITH_CUDA
void unary_cuda(int device, UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y);
void unary_grad_cuda(int device, UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y,
                     const Tensor& g, const Tensor& gx);
void binary_cuda(int device, BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where_cuda(int device, const Tensor& cond, const Tensor& a, const Tensor& b,
                const Tensor& out);
#endif

}  // namespace repflow::ops
