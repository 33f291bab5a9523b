#include "ops/cat/cat.h"

#include "framework/autograd.h"
#include "ops/op_common.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"

namespace repflow::ops {

Tensor cat(const std::vector<Tensor>& xs, int dim) {
  RF_CHECK(!xs.empty(), "cat: expected at least one tensor, got an empty list");
  const Tensor& first = xs[0];
  const int d = normalize_dim("cat", dim, first.dim());
  check_same_device("cat", xs);
  Shape shape = first.shape();
  shape[d] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    RF_CHECK(s.size() == first.shape().size(), "cat: tensor ", i, " has shape ", shape_str(s),
             " but tensor 0 has ", shape_str(first.shape()), " (different ranks)");
    for (int e = 0; e < first.dim(); ++e)
      RF_CHECK(e == d || s[e] == first.shape()[e], "cat: tensor ", i, " has shape ", shape_str(s),
               " but tensor 0 has ", shape_str(first.shape()), " outside dimension ", d);
    sizes.push_back(s[d]);
    shape[d] += s[d];
  }
  Tensor out = Tensor::empty(shape, first.device());
  int64_t start = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    narrow(out, d, start, sizes[i]).copy_(xs[i]);
    start += sizes[i];
  }
  return record("cat", out, xs, [d, sizes](const Tensor& g, const GradMask& needs) {
    std::vector<Tensor> grads(sizes.size());
    int64_t at = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs[i]) grads[i] = narrow(g, d, at, sizes[i]);
      at += sizes[i];
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int dim) {
  RF_CHECK(!xs.empty(), "stack: expected at least one tensor, got an empty list");
  const int d = normalize_dim("stack", dim, xs[0].dim() + 1);
  std::vector<Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    RF_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ",
             shape_str(xs[i].shape()), " but tensor 0 has ", shape_str(xs[0].shape()));
    parts.push_back(unsqueeze(xs[i], d));
  }
  return cat(parts, d);
}

}  // namespace repflow::ops
