#include "ops/op_common.h"

namespace repflow::ops {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    RF_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot broadcast");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

StridedLayout broadcast_layout(const Tensor& t, const Shape& out) {
  StridedLayout l;
  l.ndim = static_cast<int>(out.size());
  const int lead = l.ndim - t.dim();
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = out[d];
    l.strides[d] = (d < lead || t.shape()[d - lead] == 1) ? 0 : t.strides()[d - lead];
  }
  return l;
}

void coalesce(std::vector<StridedLayout*> layouts) {
  if (layouts.empty()) return;
  const StridedLayout& first = *layouts[0];
  int out = 0;
  std::vector<StridedLayout> result(layouts.size());
  for (int d = 0; d < first.ndim; ++d) {
    if (first.sizes[d] == 1) continue;
    bool can_merge = out > 0;
    for (size_t k = 0; k < layouts.size() && can_merge; ++k) {
      const StridedLayout& l = *layouts[k];
      can_merge = result[k].strides[out - 1] == l.strides[d] * l.sizes[d];
    }
    for (size_t k = 0; k < layouts.size(); ++k) {
      if (can_merge) {
        result[k].sizes[out - 1] *= layouts[k]->sizes[d];
        result[k].strides[out - 1] = layouts[k]->strides[d];
      } else {
        result[k].sizes[out] = layouts[k]->sizes[d];
        result[k].strides[out] = layouts[k]->strides[d];
      }
    }
    if (!can_merge) ++out;
  }
  for (size_t k = 0; k < layouts.size(); ++k) {
    result[k].ndim = out;
    *layouts[k] = result[k];
  }
}

int normalize_dim(const char* op, int dim, int ndim) {
  RF_CHECK(dim >= -ndim && dim < ndim, op, ": dimension ", dim, " out of range for a tensor of ",
           ndim, " dimensions");
  return dim < 0 ? dim + ndim : dim;
}

void check_same_device(const char* op, const std::vector<Tensor>& tensors) {
  const Tensor* first = nullptr;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (!first) {
      first = &t;
      continue;
    }
    RF_CHECK(t.device() == first->device(), op, ": tensors on different devices (",
             first->device().str(), " and ", t.device().str(), ")");
  }
}

}  // namespace repflow::ops
