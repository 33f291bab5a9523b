#include "ops/slice/slice.h"

#include <algorithm>

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/op_common.h"
#include "ops/slice/index_kernels.h"

namespace repflow::ops {

namespace {

// The index schedules by device (ops/dispatch.h).
const DispatchStub<void(const Tensor&, int, const std::vector<int64_t>&, const Tensor&)>
    index_select_stub{"index_select", index_select_cpu, RF_CUDA_SCHEDULE(index_select_cuda)};
const DispatchStub<void(const Tensor&, int, const std::vector<int64_t>&, const Tensor&)>
    index_add_stub{"index_select backward", index_add_cpu, RF_CUDA_SCHEDULE(index_add_cuda)};

}  // namespace
namespace {

// Entries start, start + step, ... (`length` of them) along `dim`; `drop` removes the
// dimension (length 1). Applied to the input in the forward and to a zero tensor of the
// input's shape in the backward, so both see the same elements whatever their strides.
struct Along {
  int dim;
  int64_t start;
  int64_t step;
  int64_t length;
  bool drop;

  Tensor view_of(const Tensor& t) const {
    Shape shape = t.shape(), strides = t.strides();
    const int64_t offset = t.offset() + start * strides[dim];
    shape[dim] = length;
    strides[dim] *= step;
    if (drop) {
      shape.erase(shape.begin() + dim);
      strides.erase(strides.begin() + dim);
    }
    return t.as_strided(shape, strides, offset);
  }
};

Tensor view_along(const char* name, const Tensor& x, const Along& a) {
  const Shape in_shape = x.shape();
  return record(name, a.view_of(x), {x}, [a, in_shape](const Tensor& g, const GradMask&) {
    Tensor gx = Tensor::zeros(in_shape, g.device());
    a.view_of(gx).copy_(g);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end, int64_t step) {
  const int d = normalize_dim("slice", dim, x.dim());
  RF_CHECK(step >= 1, "slice: step ", step, " must be at least 1 (dimension ", dim, " of shape ",
           shape_str(x.shape()), ")");
  const int64_t n = x.shape()[d];
  const auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  const int64_t s = clamp(start), e = clamp(end);
  const int64_t length = e > s ? (e - s + step - 1) / step : 0;
  return view_along("slice", x, Along{d, s, step, length, false});
}

Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length) {
  const int d = normalize_dim("narrow", dim, x.dim());
  const int64_t n = x.shape()[d];
  RF_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start,
           " and length ", length, " out of range for dimension ", dim, " of size ", n, " (shape ",
           shape_str(x.shape()), ")");
  return view_along("narrow", x, Along{d, start, 1, length, false});
}

Tensor select(const Tensor& x, int dim, int64_t index) {
  const int d = normalize_dim("select", dim, x.dim());
  const int64_t n = x.shape()[d];
  RF_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", dim,
           " of size ", n, " (shape ", shape_str(x.shape()), ")");
  return view_along("select", x, Along{d, index < 0 ? index + n : index, 1, 1, true});
}

Tensor index_select(const Tensor& x, int dim, const std::vector<int64_t>& index) {
  const int d = normalize_dim("index_select", dim, x.dim());
  const int64_t n = x.shape()[d];
  std::vector<int64_t> idx(index.size());
  for (size_t j = 0; j < index.size(); ++j) {
    RF_CHECK(index[j] >= -n && index[j] < n, "index_select: index ", index[j],
             " out of range for dimension ", dim, " of size ", n);
    idx[j] = index[j] < 0 ? index[j] + n : index[j];
  }
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::empty(shape, x.device());
  index_select_stub(x.device(), x, d, idx, out);
  const Shape in_shape = x.shape();
  return record("index_select", out, {x}, [d, idx, in_shape](const Tensor& g, const GradMask&) {
    Tensor gx = Tensor::zeros(in_shape, g.device());
    index_add_stub(g.device(), g, d, idx, gx);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace repflow::ops
