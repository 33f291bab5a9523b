#include <algorithm>

#include "framework/tensor_kernels.h"
#include "framework/thread_pool.h"

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
  parallel_for(0, n, kGrain / 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[dst_layout.offset(i)] = src[src_layout.offset(i)];
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
