#include "ops/view/view.h"

#include <algorithm>

#include "framework/autograd.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce.h"

namespace repflow::ops {
namespace {

Shape infer_shape(const char* op, const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      RF_CHECK(infer < 0, op, ": shape ", shape_str(shape), " has more than one -1");
      infer = static_cast<int>(d);
    } else {
      RF_CHECK(out[d] >= 0, op, ": shape ", shape_str(shape), " has a negative size");
      known *= out[d];
    }
  }
  if (infer >= 0) {
    RF_CHECK(known > 0 && x.numel() % known == 0, op, ": cannot reshape ", shape_str(x.shape()),
             " into ", shape_str(shape));
    out[infer] = x.numel() / known;
  }
  RF_CHECK(shape_numel(out) == x.numel(), op, ": cannot reshape ", shape_str(x.shape()), " (",
           x.numel(), " elements) into ", shape_str(shape));
  return out;
}

// Strides that let `x` be read as `shape` without a copy, if any: each run of input dimensions
// that is contiguous in memory (a chunk) may be split or merged freely, never mixed with another.
bool view_strides(const Tensor& x, const Shape& shape, Shape* strides) {
  const Shape& in = x.shape();
  const Shape& in_strides = x.strides();
  *strides = contiguous_strides(shape);
  if (x.numel() == 0 || in.empty()) return true;
  int view_d = static_cast<int>(shape.size()) - 1;
  int64_t chunk_stride = in_strides.back(), chunk_numel = 1, view_numel = 1;
  for (int d = static_cast<int>(in.size()) - 1; d >= 0; --d) {
    chunk_numel *= in[d];
    const bool chunk_ends =
        d == 0 || (in[d - 1] != 1 && in_strides[d - 1] != chunk_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < chunk_numel || shape[view_d] == 1)) {
      (*strides)[view_d] = view_numel * chunk_stride;
      view_numel *= shape[view_d];
      --view_d;
    }
    if (view_numel != chunk_numel) return false;
    if (d > 0) {
      chunk_stride = in_strides[d - 1];
      chunk_numel = 1;
      view_numel = 1;
    }
  }
  return view_d == -1;
}

Tensor view_impl(const char* op, const Tensor& x, const Shape& target, bool allow_copy) {
  const Shape shape = infer_shape(op, x, target);
  Shape strides;
  if (!view_strides(x, shape, &strides)) {
    RF_CHECK(allow_copy, op, ": a tensor of shape ", shape_str(x.shape()), " and strides ",
             shape_str(x.strides()), " cannot be viewed as ", shape_str(shape),
             "; use reshape, which copies");
    return view_impl(op, x.contiguous(), shape, false);
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  const Shape in_shape = x.shape();
  return record(op, out, {x}, [in_shape](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{reshape(g, in_shape)};
  });
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) { return view_impl("reshape", x, shape, true); }
Tensor view(const Tensor& x, const Shape& shape) { return view_impl("view", x, shape, false); }

Tensor flatten(const Tensor& x, int start, int end) {
  if (x.dim() == 0) return reshape(x, {1});
  start = normalize_dim("flatten", start, x.dim());
  end = normalize_dim("flatten", end, x.dim());
  RF_CHECK(start <= end, "flatten: start dimension ", start, " is after end dimension ", end);
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int d = start; d <= end; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  RF_CHECK(static_cast<int>(dims.size()) == x.dim(), "permute: ", dims.size(),
           " dimensions given for a tensor of shape ", shape_str(x.shape()));
  std::vector<int> order(dims.size()), inverse(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape shape(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int d = normalize_dim("permute", dims[i], x.dim());
    RF_CHECK(!used[d], "permute: dimension ", d, " repeated");
    used[d] = true;
    order[i] = d;
    inverse[d] = static_cast<int>(i);
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record("permute", out, {x}, [inverse](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  std::vector<int> order(x.dim());
  for (int d = 0; d < x.dim(); ++d) order[d] = d;
  std::swap(order[normalize_dim("transpose", dim0, x.dim())],
            order[normalize_dim("transpose", dim1, x.dim())]);
  return permute(x, order);
}

Tensor squeeze(const Tensor& x, int dim) {
  dim = normalize_dim("squeeze", dim, x.dim());
  RF_CHECK(x.shape()[dim] == 1, "squeeze: dimension ", dim, " of shape ", shape_str(x.shape()),
           " has size ", x.shape()[dim], ", not 1");
  Shape shape = x.shape();
  shape.erase(shape.begin() + dim);
  return view(x, shape);
}

Tensor unsqueeze(const Tensor& x, int dim) {
  dim = normalize_dim("unsqueeze", dim, x.dim() + 1);
  Shape shape = x.shape();
  shape.insert(shape.begin() + dim, 1);
  return view(x, shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  RF_CHECK(static_cast<int>(shape.size()) >= x.dim(), "expand: shape ", shape_str(x.shape()),
           " has more dimensions than target ", shape_str(shape));
  const int lead = static_cast<int>(shape.size()) - x.dim();
  Shape strides(shape.size(), 0);
  for (int d = lead; d < static_cast<int>(shape.size()); ++d) {
    const int64_t s = x.shape()[d - lead];
    RF_CHECK(s == shape[d] || s == 1, "expand: shape ", shape_str(x.shape()),
             " cannot be expanded to ", shape_str(shape));
    strides[d] = s == 1 && shape[d] != 1 ? 0 : x.strides()[d - lead];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  const Shape in_shape = x.shape();
  return record("expand", out, {x}, [in_shape](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{sum_to(g, in_shape)};
  });
}

}  // namespace repflow::ops
