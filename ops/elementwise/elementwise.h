#pragma once
// Elementwise arithmetic with NumPy broadcasting, unary math, comparisons and where.
#include "framework/tensor.h"

namespace repflow::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// Elementwise max/min; where a == b the gradient goes to a.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

// Scalar variants.
Tensor add(const Tensor& x, float s);
Tensor sub(const Tensor& x, float s);
Tensor rsub(float s, const Tensor& x);  // s - x
Tensor mul(const Tensor& x, float s);
Tensor div(const Tensor& x, float s);
Tensor rdiv(float s, const Tensor& x);  // s / x
Tensor pow(const Tensor& x, float exponent);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient 0 at 0
Tensor relu(const Tensor& x);  // gradient 0 at 0; NaN stays NaN
// The gradient relu passes back to its input: g where relu's output y is > 0, else 0. Not
// recorded: for the backward of ops that fuse a ReLU.
Tensor relu_grad(const Tensor& g, const Tensor& y);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// Gradient passes where low <= x <= high, as in PyTorch.
Tensor clamp(const Tensor& x, float low, float high);

// Comparisons give 1 where true and 0 elsewhere, with broadcasting; they carry no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// a where cond is non-zero, else b; the three broadcast together. cond gets no gradient.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace repflow::ops

namespace repflow {
inline Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return ops::add(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return ops::sub(a, s); }
inline Tensor operator*(const Tensor& a, float s) { return ops::mul(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return ops::div(a, s); }
inline Tensor operator+(float s, const Tensor& a) { return ops::add(a, s); }
inline Tensor operator-(float s, const Tensor& a) { return ops::rsub(s, a); }
inline Tensor operator*(float s, const Tensor& a) { return ops::mul(a, s); }
inline Tensor operator/(float s, const Tensor& a) { return ops::rdiv(s, a); }
inline Tensor operator-(const Tensor& a) { return ops::neg(a); }
}  // namespace repflow
