#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/thread_pool.h"
#include "ops/pool_kernels.h"

namespace repflow::ops {
namespace {

// Window elements a parallel chunk visits at least, so that small problems stay on one thread.
constexpr int64_t kGrain = 1 << 15;

// Each output's window and average-pooling count along each dimension, computed once per call
// rather than once per output.
struct Tables {
  std::vector<Range> window[3];
  std::vector<int64_t> count[3];
  explicit Tables(const PoolGeometry& g) {
    for (int d = 0; d < 3; ++d)
      for (int64_t o = 0; o < g.out[d]; ++o) {
        window[d].push_back(pool_window(g, d, o));
        count[d].push_back(avg_pool_count(g, d, o));
      }
  }
};

int64_t kernel_volume(const PoolGeometry& g) { return g.kernel[0] * g.kernel[1] * g.kernel[2]; }

// fn(plane, o0, o1, row) for every row of outputs (the innermost spatial dimension), rows split
// over the pool; row is the row's index among all of them.
template <class F>
void for_output_rows(const PoolGeometry& g, F fn) {
  const int64_t rows = g.planes * g.out[0] * g.out[1];
  const int64_t grain = std::max<int64_t>(1, kGrain / (g.out[2] * kernel_volume(g)));
  parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      fn(r / (g.out[0] * g.out[1]), (r / g.out[1]) % g.out[0], r % g.out[1], r);
  });
}

// fn(plane) for every plane, split over the pool: the backward passes add into overlapping
// windows, so a plane belongs to one thread.
template <class F>
void for_planes(const PoolGeometry& g, F fn) {
  const int64_t grain = std::max<int64_t>(1, kGrain / (g.out_plane() * kernel_volume(g)));
  parallel_for(0, g.planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) fn(p);
  });
}

}  // namespace

void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y, int32_t* indices) {
  const Tables t(g);
  for_output_rows(g, [&](int64_t plane, int64_t o0, int64_t o1, int64_t row) {
    const float* xp = x + plane * g.in_plane();
    const Range w0 = t.window[0][o0], w1 = t.window[1][o1];
    for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
      const Range w2 = t.window[2][o2];
      float best = -INFINITY;
      int64_t best_at = plane_index(g.in, w0.begin, w1.begin, w2.begin);
      for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
        for (int64_t i1 = w1.begin; i1 < w1.end; ++i1) {
          const int64_t line = plane_index(g.in, i0, i1, 0);
          for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) {
            const float v = xp[line + i2];
            if (max_pool_takes(v, best)) {
              best = v;
              best_at = line + i2;
            }
          }
        }
      y[row * g.out[2] + o2] = best;
      indices[row * g.out[2] + o2] = static_cast<int32_t>(best_at);
    }
  });
}

void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y) {
  const Tables t(g);
  for_output_rows(g, [&](int64_t plane, int64_t o0, int64_t o1, int64_t row) {
    const float* xp = x + plane * g.in_plane();
    const Range w0 = t.window[0][o0], w1 = t.window[1][o1];
    const int64_t count01 = t.count[0][o0] * t.count[1][o1];
    for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
      const Range w2 = t.window[2][o2];
      float sum = 0.0f;
      for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
        for (int64_t i1 = w1.begin; i1 < w1.end; ++i1) {
          const float* line = xp + plane_index(g.in, i0, i1, 0);
          for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) sum += line[i2];
        }
      y[row * g.out[2] + o2] = sum / static_cast<float>(count01 * t.count[2][o2]);
    }
  });
}

void max_pool_backward_cpu(const PoolGeometry& g, const float* gy, const int32_t* indices,
                           float* gx) {
  for_planes(g, [&](int64_t plane) {
    const int64_t first = plane * g.out_plane();
    float* gxp = gx + plane * g.in_plane();
    for (int64_t o = first; o < first + g.out_plane(); ++o) gxp[indices[o]] += gy[o];
  });
}

void avg_pool_backward_cpu(const PoolGeometry& g, const float* gy, float* gx) {
  const Tables t(g);
  for_planes(g, [&](int64_t plane) {
    const float* gyp = gy + plane * g.out_plane();
    float* gxp = gx + plane * g.in_plane();
    for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
      for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
        const Range w0 = t.window[0][o0], w1 = t.window[1][o1];
        const int64_t count01 = t.count[0][o0] * t.count[1][o1];
        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
          const Range w2 = t.window[2][o2];
          const float share =
              gyp[plane_index(g.out, o0, o1, o2)] / static_cast<float>(count01 * t.count[2][o2]);
          for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
            for (int64_t i1 = w1.begin; i1 < w1.end; ++i1) {
              float* line = gxp + plane_index(g.in, i0, i1, 0);
              for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) line[i2] += share;
            }
        }
      }
  });
}

}  // namespace repflow::ops
