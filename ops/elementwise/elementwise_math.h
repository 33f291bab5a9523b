#pragma once
// Per-element formulas of the elementwise ops: the single definition that the CPU loops and the
// CUDA kernels both instantiate.
#include <cmath>
#include <type_traits>

#include "framework/hostdev.h"

namespace repflow::ops {

enum class UnaryOp {
  kNeg,
  kExp,
  kLog,
  kSqrt,
  kAbs,
  kRelu,
  kSigmoid,
  kTanh,
  kClamp,
  kPow,
  kAffine,
  kRDiv
};

// Scalars of the parameterised ops: clamp [a, b], pow exponent a, affine a*x+b, rdiv a/x.
struct UnaryParams {
  float a = 0.0f;
  float b = 0.0f;
};

template <UnaryOp op>
RF_HD float unary_value(float x, UnaryParams p) {
  if constexpr (op == UnaryOp::kNeg) return -x;
  if constexpr (op == UnaryOp::kExp) return expf(x);
  if constexpr (op == UnaryOp::kLog) return logf(x);
  if constexpr (op == UnaryOp::kSqrt) return sqrtf(x);
  if constexpr (op == UnaryOp::kAbs) return fabsf(x);
  // NaN passes through (as PyTorch's does): weights that overflowed must reach the output as
  // non-finite values, which infer and the trainer refuse, not vanish into confident logits.
  if constexpr (op == UnaryOp::kRelu) return x <= 0.0f ? 0.0f : x;
  // Written so that exp never overflows for large |x|.
  if constexpr (op == UnaryOp::kSigmoid) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
  }
  if constexpr (op == UnaryOp::kTanh) return tanhf(x);
  if constexpr (op == UnaryOp::kClamp) return x < p.a ? p.a : (x > p.b ? p.b : x);
  if constexpr (op == UnaryOp::kPow) return powf(x, p.a);
  if constexpr (op == UnaryOp::kAffine) return p.a * x + p.b;
  if constexpr (op == UnaryOp::kRDiv) return p.a / x;
}

// d(out)/d(x) * g, given the input x and the output y.
template <UnaryOp op>
RF_HD float unary_grad(float x, float y, float g, UnaryParams p) {
  if constexpr (op == UnaryOp::kNeg) return -g;
  if constexpr (op == UnaryOp::kExp) return g * y;
  if constexpr (op == UnaryOp::kLog) return g / x;
  if constexpr (op == UnaryOp::kSqrt) return g * 0.5f / y;
  if constexpr (op == UnaryOp::kAbs) return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
  if constexpr (op == UnaryOp::kRelu) return x > 0.0f ? g : 0.0f;
  if constexpr (op == UnaryOp::kSigmoid) return g * y * (1.0f - y);
  if constexpr (op == UnaryOp::kTanh) return g * (1.0f - y * y);
  if constexpr (op == UnaryOp::kClamp) return (x >= p.a && x <= p.b) ? g : 0.0f;
  if constexpr (op == UnaryOp::kPow) return p.a == 0.0f ? 0.0f : g * p.a * powf(x, p.a - 1.0f);
  if constexpr (op == UnaryOp::kAffine) return g * p.a;
  if constexpr (op == UnaryOp::kRDiv) return -g * y / x;
}

// Which of x and y the gradient reads, so the backward keeps only those alive.
constexpr bool unary_grad_reads_x(UnaryOp op) {
  return op == UnaryOp::kLog || op == UnaryOp::kAbs || op == UnaryOp::kRelu ||
         op == UnaryOp::kClamp || op == UnaryOp::kPow || op == UnaryOp::kRDiv;
}
constexpr bool unary_grad_reads_y(UnaryOp op) {
  return op == UnaryOp::kExp || op == UnaryOp::kSqrt || op == UnaryOp::kSigmoid ||
         op == UnaryOp::kTanh || op == UnaryOp::kRDiv;
}

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum, kEq, kNe, kLt, kLe, kGt, kGe };

template <BinaryOp op>
RF_HD float binary_value(float a, float b) {
  if constexpr (op == BinaryOp::kAdd) return a + b;
  if constexpr (op == BinaryOp::kSub) return a - b;
  if constexpr (op == BinaryOp::kMul) return a * b;
  if constexpr (op == BinaryOp::kDiv) return a / b;
  if constexpr (op == BinaryOp::kMaximum) return a >= b ? a : b;
  if constexpr (op == BinaryOp::kMinimum) return a <= b ? a : b;
  if constexpr (op == BinaryOp::kEq) return a == b ? 1.0f : 0.0f;
  if constexpr (op == BinaryOp::kNe) return a != b ? 1.0f : 0.0f;
  if constexpr (op == BinaryOp::kLt) return a < b ? 1.0f : 0.0f;
  if constexpr (op == BinaryOp::kLe) return a <= b ? 1.0f : 0.0f;
  if constexpr (op == BinaryOp::kGt) return a > b ? 1.0f : 0.0f;
  if constexpr (op == BinaryOp::kGe) return a >= b ? 1.0f : 0.0f;
}

RF_HD float where_value(float cond, float a, float b) { return cond != 0.0f ? a : b; }

// Calls f(std::integral_constant<UnaryOp, op>{}) for the runtime op, so a schedule writes its
// templated loop once and both schedules share this one switch.
template <class F>
void visit_unary(UnaryOp op, F&& f) {
  using U = UnaryOp;
  switch (op) {
    case U::kNeg:
      return f(std::integral_constant<U, U::kNeg>{});
    case U::kExp:
      return f(std::integral_constant<U, U::kExp>{});
    case U::kLog:
      return f(std::integral_constant<U, U::kLog>{});
    case U::kSqrt:
      return f(std::integral_constant<U, U::kSqrt>{});
    case U::kAbs:
      return f(std::integral_constant<U, U::kAbs>{});
    case U::kRelu:
      return f(std::integral_constant<U, U::kRelu>{});
    case U::kSigmoid:
      return f(std::integral_constant<U, U::kSigmoid>{});
    case U::kTanh:
      return f(std::integral_constant<U, U::kTanh>{});
    case U::kClamp:
      return f(std::integral_constant<U, U::kClamp>{});
    case U::kPow:
      return f(std::integral_constant<U, U::kPow>{});
    case U::kAffine:
      return f(std::integral_constant<U, U::kAffine>{});
    case U::kRDiv:
      return f(std::integral_constant<U, U::kRDiv>{});
  }
}

template <class F>
void visit_binary(BinaryOp op, F&& f) {
  using B = BinaryOp;
  switch (op) {
    case B::kAdd:
      return f(std::integral_constant<B, B::kAdd>{});
    case B::kSub:
      return f(std::integral_constant<B, B::kSub>{});
    case B::kMul:
      return f(std::integral_constant<B, B::kMul>{});
    case B::kDiv:
      return f(std::integral_constant<B, B::kDiv>{});
    case B::kMaximum:
      return f(std::integral_constant<B, B::kMaximum>{});
    case B::kMinimum:
      return f(std::integral_constant<B, B::kMinimum>{});
    case B::kEq:
      return f(std::integral_constant<B, B::kEq>{});
    case B::kNe:
      return f(std::integral_constant<B, B::kNe>{});
    case B::kLt:
      return f(std::integral_constant<B, B::kLt>{});
    case B::kLe:
      return f(std::integral_constant<B, B::kLe>{});
    case B::kGt:
      return f(std::integral_constant<B, B::kGt>{});
    case B::kGe:
      return f(std::integral_constant<B, B::kGe>{});
  }
}

}  // namespace repflow::ops
