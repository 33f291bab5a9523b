#include <algorithm>
#include <cmath>

#include "framework/parallel.h"
#include "ops/loss/loss_kernels.h"

namespace repflow::ops {
namespace {

// Rows (o, i) for neighbouring i are neighbours in memory, so a task takes up to kTile of them
// at once and walks them together: each step reads a contiguous run instead of one element per
// row far apart. With inner == 1 a tile is a single contiguous row.
constexpr int64_t kTile = 64;
// Elements a parallel chunk reads at least, so that short jobs stay on one thread.
constexpr int64_t kGrain = 1 << 15;

// Calls fn(offset of the tile's first element, tile width) for every tile, on the pool.
template <class Fn>
void for_each_tile(SoftmaxShape s, Fn fn) {
  if (s.outer * s.n * s.inner == 0) return;
  const int64_t tiles = (s.inner + kTile - 1) / kTile;
  const int64_t work = s.n * std::min(s.inner, kTile);
  parallel_for(0, s.outer * tiles, std::max<int64_t>(1, kGrain / work), [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t o = task / tiles, first = (task % tiles) * kTile;
      fn(o * s.n * s.inner + first, std::min(kTile, s.inner - first));
    }
  });
}

}  // namespace

void softmax_cpu(bool log, const float* x, float* y, SoftmaxShape s) {
  for_each_tile(s, [&](int64_t base, int64_t width) {
    float max[kTile], sum[kTile];
    std::fill(max, max + width, -INFINITY);
    std::fill(sum, sum + width, 0.0f);
    for (int64_t r = 0; r < s.n; ++r) {
      const float* p = x + base + r * s.inner;
      for (int64_t t = 0; t < width; ++t) max[t] = softmax_max(max[t], p[t]);
    }
    for (int64_t r = 0; r < s.n; ++r) {
      const float* p = x + base + r * s.inner;
      for (int64_t t = 0; t < width; ++t) sum[t] += softmax_exp_term(p[t], max[t]);
    }
    for (int64_t r = 0; r < s.n; ++r) {
      const float* p = x + base + r * s.inner;
      float* q = y + base + r * s.inner;
      for (int64_t t = 0; t < width; ++t) q[t] = softmax_value(log, p[t], max[t], sum[t]);
    }
  });
}

void softmax_grad_cpu(bool log, const float* y, const float* g, float* gx, SoftmaxShape s) {
  for_each_tile(s, [&](int64_t base, int64_t width) {
    float sum[kTile];
    std::fill(sum, sum + width, 0.0f);
    for (int64_t r = 0; r < s.n; ++r) {
      const int64_t row = base + r * s.inner;
      for (int64_t t = 0; t < width; ++t) sum[t] += softmax_grad_term(log, y[row + t], g[row + t]);
    }
    for (int64_t r = 0; r < s.n; ++r) {
      const int64_t row = base + r * s.inner;
      for (int64_t t = 0; t < width; ++t)
        gx[row + t] = softmax_grad(log, y[row + t], g[row + t], sum[t]);
    }
  });
}

}  // namespace repflow::ops
