#include "ops/elementwise/elementwise_kernels.h"
#include "ops/strided_loop.h"

namespace repflow::ops {

void unary_cpu(UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y) {
  visit_unary(op, [&](auto tag) {
    constexpr UnaryOp k = decltype(tag)::value;
    strided_map_cpu<1>(y, {&x}, [p](float v) { return unary_value<k>(v, p); });
  });
}

void unary_grad_cpu(UnaryOp op, UnaryParams p, const Tensor& x, const Tensor& y, const Tensor& g,
                    const Tensor& gx) {
  // Whichever of x and y the op does not read is replaced by g, which is always there.
  const Tensor& xs = x.defined() ? x : g;
  const Tensor& ys = y.defined() ? y : g;
  visit_unary(op, [&](auto tag) {
    constexpr UnaryOp k = decltype(tag)::value;
    strided_map_cpu<3>(gx, {&xs, &ys, &g},
                       [p](float xv, float yv, float gv) { return unary_grad<k>(xv, yv, gv, p); });
  });
}

void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_binary(op, [&](auto tag) {
    constexpr BinaryOp k = decltype(tag)::value;
    strided_map_cpu<2>(out, {&a, &b}, [](float u, float v) { return binary_value<k>(u, v); });
  });
}

void where_cpu(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  strided_map_cpu<3>(out, {&cond, &a, &b},
                     [](float c, float u, float v) { return where_value(c, u, v); });
}

}  // namespace repflow::ops
