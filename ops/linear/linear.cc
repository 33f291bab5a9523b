#include "ops/linear/linear.h"

#include <algorithm>
#include <climits>

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/linear/linear_kernels.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"

namespace repflow::ops {

namespace {

// The matrix-product schedules by device (ops/dispatch.h).
const DispatchStub<void(int64_t, int64_t, int64_t, int64_t, const GemmOperand&, const GemmOperand&,
                        float, float*)>
    gemm_stub{"matmul", gemm_cpu, RF_CUDA_SCHEDULE(gemm_cuda)};

}  // namespace
namespace {

// How BLAS can read a (rows x cols) matrix with strides (rs, cs): row-major when its columns
// are adjacent, column-major (transposed) when its rows are. The stride of a dimension of size
// 1 is never stepped along, so it does not constrain either reading. False when neither works
// (a broadcast or otherwise sliced matrix).
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool* trans, int64_t* ld) {
  if ((cs == 1 || cols == 1) && (rows == 1 || (rs >= cols && rs < INT_MAX))) {
    *trans = false;
    *ld = rows == 1 ? cols : rs;
    return true;
  }
  if ((rs == 1 || rows == 1) && (cols == 1 || (cs >= rows && cs < INT_MAX))) {
    *trans = true;
    *ld = cols == 1 ? rows : cs;
    return true;
  }
  return false;
}

// The GEMM operand for the matrices of t (its last two dimensions) in a product whose batch
// shape is `batch`. `keep` receives the tensor the operand points into: t itself, or a
// contiguous copy when BLAS cannot read t's strides.
GemmOperand gemm_operand(const Tensor& t, const Shape& batch, Tensor* keep) {
  *keep = t;
  const int r = t.dim();
  GemmOperand op;
  if (!blas_layout(t.shape()[r - 2], t.shape()[r - 1], t.strides()[r - 2], t.strides()[r - 1],
                   &op.trans, &op.ld)) {
    *keep = t.contiguous();
    blas_layout(t.shape()[r - 2], t.shape()[r - 1], keep->strides()[r - 2], keep->strides()[r - 1],
                &op.trans, &op.ld);
  }
  op.data = keep->data();
  op.batch.ndim = static_cast<int>(batch.size());
  const int lead = op.batch.ndim - (r - 2);
  for (int d = 0; d < op.batch.ndim; ++d) {
    op.batch.sizes[d] = batch[d];
    op.batch.strides[d] = d < lead || keep->shape()[d - lead] == 1 ? 0 : keep->strides()[d - lead];
  }
  return op;
}

// out (contiguous, shape batch + [m, n]) = a b + beta out, for a (..., m, k) and b (..., k, n)
// whose batch dimensions broadcast to `batch`. Nothing is recorded.
void gemm_into(const Tensor& a, const Tensor& b, const Shape& batch, float beta, Tensor out) {
  NoGradGuard no_grad;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (out.numel() == 0) return;
  if (k == 0) {
    if (beta == 0.0f) out.fill_(0.0f);
    return;
  }
  RF_CHECK(m < INT_MAX && n < INT_MAX && k < INT_MAX, "matmul: matrices of ", m, "x", k, " and ", k,
           "x", n, " exceed the sizes BLAS takes");
  Tensor keep_a, keep_b;
  const GemmOperand ga = gemm_operand(a, batch, &keep_a), gb = gemm_operand(b, batch, &keep_b);
  const int64_t count = shape_numel(batch);
  gemm_stub(out.device(), count, m, n, k, ga, gb, beta, out.data());
}

// The matrices of t stacked into one: (all leading dims folded, last dim).
Tensor fold_rows(const Tensor& t) {
  return reshape(t, {shape_numel(Shape(t.shape().begin(), t.shape().end() - 1)), t.size(-1)});
}

// a^T g summed over the batch. When b is one matrix shared by the whole batch, the sum is a
// single GEMM over the stacked rows of a and g, instead of a batch of products and a reduction.
Tensor matmul_grad_b(const Tensor& a, const Tensor& b, const Tensor& g) {
  if (b.dim() == 2) return matmul(transpose(fold_rows(a), 0, 1), fold_rows(g));
  return sum_to(matmul(transpose(a, -2, -1), g), b.shape());
}

// linear on x (rows, in): one GEMM against the transposed weight, read in place by BLAS, into
// an output that already holds the bias.
Tensor linear_2d(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor out = Tensor::empty({x.size(0), weight.size(0)}, x.device());
  float beta = 0.0f;
  if (bias.defined() && out.numel() > 0) {
    out.copy_(expand(bias.detach(), out.shape()));
    beta = 1.0f;
  }
  const Tensor dx = x.detach(), dw = weight.detach();
  gemm_into(dx, transpose(dw, 0, 1), {}, beta, out);
  return record("linear", out, {x, weight, bias}, [dx, dw](const Tensor& g, const GradMask& needs) {
    return std::vector<Tensor>{needs[0] ? matmul(g, dw) : Tensor(),
                               needs[1] ? matmul(transpose(g, 0, 1), dx) : Tensor(),
                               needs[2] ? sum(g, {0}) : Tensor()};
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  RF_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()), " need at least 2 dimensions each (unsqueeze vectors)");
  check_same_device("matmul", {a, b});
  RF_CHECK(a.size(-1) == b.size(-2), "matmul: shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()), " cannot be multiplied (", a.size(-1), " != ", b.size(-2), ")");
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes("matmul", batch_a, batch_b);
  } catch (const Error&) {
    RF_FAIL("matmul: batch dimensions of shapes ", shape_str(a.shape()), " and ",
            shape_str(b.shape()), " cannot broadcast");
  }
  Shape out_shape = batch;
  out_shape.push_back(a.size(-2));
  out_shape.push_back(b.size(-1));
  Tensor out = Tensor::empty(out_shape, a.device());
  const Tensor da = a.detach(), db = b.detach();
  gemm_into(da, db, batch, 0.0f, out);
  return record("matmul", out, {a, b}, [da, db](const Tensor& g, const GradMask& needs) {
    return std::vector<Tensor>{
        needs[0] ? sum_to(matmul(g, transpose(db, -2, -1)), da.shape()) : Tensor(),
        needs[1] ? matmul_grad_b(da, db, g) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  RF_CHECK(weight.dim() == 2, "linear: weight of shape ", shape_str(weight.shape()),
           " is not (out, in)");
  RF_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input of shape ",
           shape_str(x.shape()), " does not match weight of shape ", shape_str(weight.shape()),
           " (last input dimension must be ", weight.size(1), ")");
  RF_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
           "linear: bias of shape ", shape_str(bias.defined() ? bias.shape() : Shape{}),
           " does not match weight of shape ", shape_str(weight.shape()), " (expected [",
           weight.size(0), "])");
  check_same_device("linear", {x, weight, bias});
  if (x.dim() == 2) return linear_2d(x, weight, bias);
  // Leading dimensions fold into the rows of one GEMM (a view for contiguous inputs).
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(weight.size(0));
  return reshape(linear_2d(fold_rows(x), weight, bias), out_shape);
}

}  // namespace repflow::ops
