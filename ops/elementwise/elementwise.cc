#include "ops/elementwise/elementwise.h"

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/elementwise/elementwise_kernels.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce.h"

namespace repflow::ops {

namespace {

// The element-wise schedules by device (ops/dispatch.h).
const DispatchStub<void(UnaryOp, UnaryParams, const Tensor&, const Tensor&)> unary_stub{
    "unary op", unary_cpu, RF_CUDA_SCHEDULE(unary_cuda)};
const DispatchStub<void(UnaryOp, UnaryParams, const Tensor&, const Tensor&, const Tensor&,
                        const Tensor&)>
    unary_grad_stub{"unary op backward", unary_grad_cpu, RF_CUDA_SCHEDULE(unary_grad_cuda)};
const DispatchStub<void(BinaryOp, const Tensor&, const Tensor&, const Tensor&)> binary_stub{
    "binary op", binary_cpu, RF_CUDA_SCHEDULE(binary_cuda)};
const DispatchStub<void(const Tensor&, const Tensor&, const Tensor&, const Tensor&)> where_stub{
    "where", where_cpu, RF_CUDA_SCHEDULE(where_cuda)};

}  // namespace
namespace {

Tensor unary(UnaryOp op, const char* name, const Tensor& x, UnaryParams p = {}) {
  Tensor y = Tensor::empty(x.shape(), x.device());
  unary_stub(x.device(), op, p, x, y);
  const Tensor saved_x = unary_grad_reads_x(op) ? x.detach() : Tensor();
  const Tensor saved_y = unary_grad_reads_y(op) ? y.detach() : Tensor();
  return record(name, y, {x}, [op, p, saved_x, saved_y](const Tensor& g, const GradMask&) {
    Tensor gx = Tensor::empty(g.shape(), g.device());
    unary_grad_stub(g.device(), op, p, saved_x, saved_y, g, gx);
    return std::vector<Tensor>{gx};
  });
}

// The forward of a binary op, no recording.
Tensor binary_forward(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_same_device(name, {a, b});
  Tensor out = Tensor::empty(broadcast_shapes(name, a.shape(), b.shape()), a.device());
  binary_stub(a.device(), op, a, b, out);
  return out;
}

// Gradient of a broadcast operand: only when wanted, summed back to its shape.
Tensor reduce_grad(bool needed, const Tensor& g, const Shape& shape) {
  return needed ? sum_to(g, shape) : Tensor();
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return record(
      "add", binary_forward(BinaryOp::kAdd, "add", a, b), {a, b},
      [sa, sb](const Tensor& g, const GradMask& needs) {
        return std::vector<Tensor>{reduce_grad(needs[0], g, sa), reduce_grad(needs[1], g, sb)};
      });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return record("sub", binary_forward(BinaryOp::kSub, "sub", a, b), {a, b},
                [sa, sb](const Tensor& g, const GradMask& needs) {
                  return std::vector<Tensor>{reduce_grad(needs[0], g, sa),
                                             needs[1] ? sum_to(neg(g), sb) : Tensor()};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  const Tensor da = a.detach(), db = b.detach();
  return record("mul", binary_forward(BinaryOp::kMul, "mul", a, b), {a, b},
                [da, db](const Tensor& g, const GradMask& needs) {
                  return std::vector<Tensor>{needs[0] ? sum_to(mul(g, db), da.shape()) : Tensor(),
                                             needs[1] ? sum_to(mul(g, da), db.shape()) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  const Tensor out = binary_forward(BinaryOp::kDiv, "div", a, b);
  const Tensor da = a.detach(), db = b.detach(), dout = out.detach();
  return record("div", out, {a, b}, [da, db, dout](const Tensor& g, const GradMask& needs) {
    const Tensor ga = div(g, db);
    return std::vector<Tensor>{needs[0] ? sum_to(ga, da.shape()) : Tensor(),
                               needs[1] ? sum_to(neg(mul(ga, dout)), db.shape()) : Tensor()};
  });
}

namespace {
// maximum/minimum: `pick_a` says where the result came from a (ties included).
Tensor select_binary(BinaryOp op, BinaryOp pick_a, const char* name, const Tensor& a,
                     const Tensor& b) {
  const Tensor da = a.detach(), db = b.detach();
  return record(name, binary_forward(op, name, a, b), {a, b},
                [da, db, pick_a, name](const Tensor& g, const GradMask& needs) {
                  const Tensor mask = binary_forward(pick_a, name, da, db);
                  return std::vector<Tensor>{
                      needs[0] ? sum_to(mul(g, mask), da.shape()) : Tensor(),
                      needs[1] ? sum_to(mul(g, rsub(1.0f, mask)), db.shape()) : Tensor()};
                });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return select_binary(BinaryOp::kMaximum, BinaryOp::kGe, "maximum", a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return select_binary(BinaryOp::kMinimum, BinaryOp::kLe, "minimum", a, b);
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kEq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kNe, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kLt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kLe, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kGt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::kGe, "ge", a, b); }

Tensor add(const Tensor& x, float s) { return unary(UnaryOp::kAffine, "add", x, {1.0f, s}); }
Tensor sub(const Tensor& x, float s) { return unary(UnaryOp::kAffine, "sub", x, {1.0f, -s}); }
Tensor rsub(float s, const Tensor& x) { return unary(UnaryOp::kAffine, "rsub", x, {-1.0f, s}); }
Tensor mul(const Tensor& x, float s) { return unary(UnaryOp::kAffine, "mul", x, {s, 0.0f}); }
Tensor div(const Tensor& x, float s) {
  RF_CHECK(s != 0.0f, "div: division by the scalar 0");
  return unary(UnaryOp::kAffine, "div", x, {1.0f / s, 0.0f});
}
Tensor rdiv(float s, const Tensor& x) { return unary(UnaryOp::kRDiv, "rdiv", x, {s, 0.0f}); }
Tensor pow(const Tensor& x, float exponent) {
  return unary(UnaryOp::kPow, "pow", x, {exponent, 0.0f});
}

Tensor neg(const Tensor& x) { return unary(UnaryOp::kNeg, "neg", x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::kExp, "exp", x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::kLog, "log", x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::kSqrt, "sqrt", x); }
Tensor abs(const Tensor& x) { return unary(UnaryOp::kAbs, "abs", x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::kRelu, "relu", x); }

Tensor relu_grad(const Tensor& g, const Tensor& y) {
  RF_CHECK(g.shape() == y.shape(), "relu_grad: gradient ", shape_str(g.shape()),
           " does not match output ", shape_str(y.shape()));
  check_same_device("relu_grad", {g, y});
  // relu's gradient reads its input's sign, which its output has too.
  Tensor gx = Tensor::empty(g.shape(), g.device());
  unary_grad_stub(g.device(), UnaryOp::kRelu, {}, y, Tensor(), g, gx);
  return gx;
}
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::kSigmoid, "sigmoid", x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::kTanh, "tanh", x); }

Tensor clamp(const Tensor& x, float low, float high) {
  RF_CHECK(low <= high, "clamp: low ", low, " is above high ", high);
  return unary(UnaryOp::kClamp, "clamp", x, {low, high});
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_device("where", {cond, a, b});
  const Shape shape =
      broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  Tensor out = Tensor::empty(shape, a.device());
  where_stub(a.device(), cond, a, b, out);
  const Tensor dc = cond.detach();
  const Shape sa = a.shape(), sb = b.shape();
  return record("where", out, {cond, a, b}, [dc, sa, sb](const Tensor& g, const GradMask& needs) {
    const Tensor zero = Tensor::scalar(0.0f, g.device());
    return std::vector<Tensor>{Tensor(), needs[1] ? sum_to(where(dc, g, zero), sa) : Tensor(),
                               needs[2] ? sum_to(where(dc, zero, g), sb) : Tensor()};
  });
}

}  // namespace repflow::ops
