#include "ops/reduce/reduce.h"

#include <numeric>

#include "ops/dispatch.h"
#include "ops/elementwise/elementwise.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce_kernels.h"
#include "ops/view/view.h"

namespace repflow::ops {

namespace {

// The reduction schedules by device (ops/dispatch.h).
const DispatchStub<void(ReduceKind, float*, const float*, const StridedLayout&,
                        const StridedLayout&, int64_t, int64_t)>
    reduce_stub{"reduce", reduce_cpu, RF_CUDA_SCHEDULE(reduce_cuda)};

}  // namespace
namespace {

const char* kind_name(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::kSum:
      return "sum";
    case ReduceKind::kMean:
      return "mean";
    case ReduceKind::kMax:
      return "max";
    case ReduceKind::kMin:
      return "min";
  }
  return "reduce";
}

std::string dims_str(const std::vector<int>& dims) {
  return shape_str(Shape(dims.begin(), dims.end()));
}

// Which dimensions a reduction removes, and the shapes on either side of it.
struct ReducePlan {
  std::vector<bool> reduced;
  Shape kept;      // the output with keepdim: reduced dims as size 1, so it broadcasts against x
  Shape out;       // the output as returned
  int64_t extent;  // elements combined into each output
};

ReducePlan plan_reduce(const char* op, const Tensor& x, const std::vector<int>& dims,
                       bool keepdim) {
  ReducePlan plan{std::vector<bool>(x.dim(), false), {}, {}, 1};
  for (int d : dims) {
    const int nd = normalize_dim(op, d, x.dim());
    RF_CHECK(!plan.reduced[nd], op, ": dimension ", nd, " repeated in dims ", dims_str(dims));
    plan.reduced[nd] = true;
  }
  for (int d = 0; d < x.dim(); ++d) {
    const int64_t size = x.shape()[d];
    plan.kept.push_back(plan.reduced[d] ? 1 : size);
    if (plan.reduced[d]) {
      plan.extent *= size;
      if (keepdim) plan.out.push_back(1);
    } else {
      plan.out.push_back(size);
    }
  }
  return plan;
}

// The kernels read the kept dimensions (in order) as the output index and the reduced ones as
// the index within a row, so the output comes out contiguous in any shape listing the kept
// dimensions in order.
Tensor run_reduce(ReduceKind kind, const Tensor& x, const std::vector<bool>& reduced,
                  int64_t extent, const Shape& out_shape) {
  StridedLayout outer, inner;
  for (int d = 0; d < x.dim(); ++d) {
    StridedLayout& l = reduced[d] ? inner : outer;
    l.sizes[l.ndim] = x.shape()[d];
    l.strides[l.ndim] = x.strides()[d];
    ++l.ndim;
  }
  coalesce({&outer});
  coalesce({&inner});
  Tensor out = Tensor::empty(out_shape, x.device());
  const int64_t outputs = out.numel();
  reduce_stub(x.device(), kind, out.data(), x.data(), outer, inner, outputs, extent);
  return out;
}

Tensor reduce(ReduceKind kind, const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  const char* op = kind_name(kind);
  const ReducePlan plan = plan_reduce(op, x, dims, keepdim);
  const bool extreme = kind == ReduceKind::kMax || kind == ReduceKind::kMin;
  RF_CHECK(!extreme || plan.extent > 0, op, ": no elements to reduce (tensor of shape ",
           shape_str(x.shape()), " over dims ", dims_str(dims), ")");
  Tensor out = run_reduce(kind, x, plan.reduced, plan.extent, plan.out);
  const Shape x_shape = x.shape(), kept = plan.kept;
  if (kind == ReduceKind::kSum) {
    return record(op, out, {x}, [x_shape, kept](const Tensor& g, const GradMask&) {
      return std::vector<Tensor>{expand(reshape(g, kept), x_shape)};
    });
  }
  if (kind == ReduceKind::kMean) {
    const float count = static_cast<float>(plan.extent);
    return record(op, out, {x}, [x_shape, kept, count](const Tensor& g, const GradMask&) {
      return std::vector<Tensor>{expand(div(reshape(g, kept), count), x_shape)};
    });
  }
  // Every element equal to the extreme of its row shares the row's gradient evenly.
  const Tensor saved_x = x.detach(), saved_out = out.detach();
  return record(op, out, {x}, [saved_x, saved_out, kept, dims](const Tensor& g, const GradMask&) {
    const Tensor mask = eq(saved_x, reshape(saved_out, kept));
    const Tensor ties = sum(mask, dims, true);
    return std::vector<Tensor>{mul(div(reshape(g, kept), ties), mask)};
  });
}

std::vector<int> all_dims(const Tensor& x) {
  std::vector<int> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  return dims;
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce(ReduceKind::kSum, x, all_dims(x), false); }
Tensor mean(const Tensor& x) { return reduce(ReduceKind::kMean, x, all_dims(x), false); }
Tensor max(const Tensor& x) { return reduce(ReduceKind::kMax, x, all_dims(x), false); }
Tensor min(const Tensor& x) { return reduce(ReduceKind::kMin, x, all_dims(x), false); }

Tensor sum(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  return reduce(ReduceKind::kSum, x, dims, keepdim);
}
Tensor mean(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  return reduce(ReduceKind::kMean, x, dims, keepdim);
}
Tensor max(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  return reduce(ReduceKind::kMax, x, dims, keepdim);
}
Tensor min(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  return reduce(ReduceKind::kMin, x, dims, keepdim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  const int lead = x.dim() - static_cast<int>(shape.size());
  bool broadcasts = lead >= 0;
  for (size_t i = 0; broadcasts && i < shape.size(); ++i)
    broadcasts = shape[i] == 1 || shape[i] == x.shape()[lead + i];
  RF_CHECK(broadcasts, "sum_to: shape ", shape_str(shape), " does not broadcast to ",
           shape_str(x.shape()));
  if (shape == x.shape()) return x;
  std::vector<bool> reduced(x.dim());
  int64_t extent = 1;
  for (int d = 0; d < x.dim(); ++d) {
    reduced[d] = d < lead || shape[d - lead] == 1;
    if (reduced[d]) extent *= x.shape()[d];
  }
  const Shape x_shape = x.shape();
  return record("sum_to", run_reduce(ReduceKind::kSum, x, reduced, extent, shape), {x},
                [x_shape](const Tensor& g, const GradMask&) {
                  return std::vector<Tensor>{expand(g, x_shape)};
                });
}

}  // namespace repflow::ops
