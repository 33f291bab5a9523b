#include <algorithm>

#include "framework/parallel.h"
#include "ops/slice/index_kernels.h"

namespace repflow::ops {
namespace {
constexpr int64_t kGrain = 1 << 12;
}

void index_select_cpu(const Tensor& x, int dim, const std::vector<int64_t>& index,
                      const Tensor& out) {
  const StridedLayout src = indexed_layout(x, out.shape());
  const float* xs = x.data();
  float* o = out.data();
  const int64_t* idx = index.data();
  parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = xs[indexed_offset(src, dim, idx, i)];
  });
}

void index_add_cpu(const Tensor& g, int dim, const std::vector<int64_t>& index, const Tensor& gx) {
  const int64_t n = g.numel();
  if (n == 0) return;
  const Shape& shape = g.shape();
  const StridedLayout dst = indexed_layout(gx, shape);
  const StridedLayout src = g.layout();
  const int64_t k = shape[dim];
  int64_t inner = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  const float* gs = g.data();
  float* gxd = gx.data();
  const int64_t* idx = index.data();
  // One thread owns each lane (a position outside `dim`) and adds its k entries in order, so
  // repeated indices never race and the sums do not depend on the thread count.
  parallel_for(0, n / k, std::max<int64_t>(1, kGrain / k), [&](int64_t b, int64_t e) {
    for (int64_t lane = b; lane < e; ++lane) {
      const int64_t outer = lane / inner, in = lane % inner;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t linear = (outer * k + j) * inner + in;
        gxd[indexed_offset(dst, dim, idx, linear)] += gs[src.offset(linear)];
      }
    }
  });
}

}  // namespace repflow::ops
