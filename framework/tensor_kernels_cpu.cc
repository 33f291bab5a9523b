#include <algorithm>

#include "framework/parallel.h"
#include "framework/tensor_kernels.h"

namespace repflow::kernels {
namespace {
constexpr int64_t kGrain = 1 << 15;

bool contiguous(const StridedLayout& l) {
  int64_t expected = 1;
  for (int d = l.ndim - 1; d >= 0; --d) {
    if (l.sizes[d] != 1 && l.strides[d] != expected) return false;
    expected *= l.sizes[d];
  }
  return true;
}
}  // namespace

void fill_cpu(float* dst, int64_t n, float value) {
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, value); });
}

void copy_cpu(float* dst, const StridedLayout& dst_layout, const float* src,
              const StridedLayout& src_layout, int64_t n) {
  if (contiguous(dst_layout) && contiguous(src_layout)) {
    parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { std::copy(src + b, src + e, dst + b); });
    return;
  }
  // Row by row along the last dimension: the index arithmetic of offset() (a division per
  // dimension) is paid once per row instead of once per element.
  const int64_t row = dst_layout.ndim == 0 ? 1 : dst_layout.sizes[dst_layout.ndim - 1];
  const int64_t dst_step = dst_layout.ndim == 0 ? 0 : dst_layout.strides[dst_layout.ndim - 1];
  const int64_t src_step = src_layout.ndim == 0 ? 0 : src_layout.strides[src_layout.ndim - 1];
  const int64_t grain = std::max<int64_t>(1, kGrain / 8 / std::max<int64_t>(row, 1));
  parallel_for(0, n / row, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* d = dst + dst_layout.offset(r * row);
      const float* s = src + src_layout.offset(r * row);
      for (int64_t j = 0; j < row; ++j) d[j * dst_step] = s[j * src_step];
    }
  });
}

void random_cpu(float* dst, int64_t n, RandomDist dist, float a, float b, uint64_t seed,
                uint64_t offset) {
  parallel_for(0, n, kGrain / 8, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dst[i] = random_value(dist, a, b, seed, offset, i);
  });
}

void axpy_cpu(float* dst, const float* src, float alpha, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] += alpha * src[i];
  });
}

}  // namespace repflow::kernels
