#include "ops/pad/pad.h"

#include "framework/autograd.h"
#include "ops/slice/slice.h"

namespace repflow::ops {
namespace {

using Padding = std::vector<std::pair<int64_t, int64_t>>;

// The view of a padded tensor `t` that holds the unpadded input.
Tensor interior(const Tensor& t, const Padding& padding, const Shape& in_shape) {
  Tensor v = t;
  for (size_t d = 0; d < padding.size(); ++d)
    v = narrow(v, static_cast<int>(d), padding[d].first, in_shape[d]);
  return v;
}

}  // namespace

Tensor pad(const Tensor& x, const Padding& padding, float value) {
  const Shape in_shape = x.shape();
  RF_CHECK(padding.size() == in_shape.size(), "pad: expected ", in_shape.size(),
           " (before, after) pairs for shape ", shape_str(in_shape), ", got ", padding.size());
  Shape shape = in_shape;
  for (size_t d = 0; d < padding.size(); ++d) {
    const auto [before, after] = padding[d];
    RF_CHECK(before >= 0 && after >= 0, "pad: negative padding (", before, ", ", after,
             ") for dimension ", d, " of shape ", shape_str(in_shape));
    shape[d] += before + after;
  }
  Tensor out = Tensor::full(shape, value, x.device());
  interior(out, padding, in_shape).copy_(x);
  return record("pad", out, {x}, [padding, in_shape](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{interior(g, padding, in_shape).contiguous()};
  });
}

}  // namespace repflow::ops
