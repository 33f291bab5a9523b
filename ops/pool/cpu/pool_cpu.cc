#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/parallel.h"
#include "ops/pool/pool_kernels.h"

namespace repflow::ops {
namespace {

// Window elements a parallel chunk visits at least, so that small problems stay on one thread.
constexpr int64_t kGrain = 1 << 15;

// Each output's window along each dimension, computed once per call rather than per output.
struct Tables {
  std::vector<Range> window[3];
  explicit Tables(const PoolGeometry& g) {
    for (int d = 0; d < 3; ++d)
      for (int64_t o = 0; o < g.out[d]; ++o) window[d].push_back(pool_window(g, d, o));
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

// The outputs along the innermost dimension whose windows lie wholly inside the input.
Range interior_outputs(const PoolGeometry& g) {
  const int64_t lo = std::min((g.pad[2] + g.stride[2] - 1) / g.stride[2], g.out[2]);
  const int64_t hi = floor_div(g.in[2] + g.pad[2] - g.kernel[2], g.stride[2]) + 1;
  return {lo, std::max(lo, std::min(hi, g.out[2]))};
}

// Interior outputs are pooled kLanes at a time in GCC/Clang vector types: branch-free compares
// and selects, where a scalar max would mispredict its branch on every new maximum.
constexpr int kLanes = 4;
typedef float Floats __attribute__((vector_size(4 * kLanes)));
typedef int32_t Ints __attribute__((vector_size(4 * kLanes)));
static_assert(kLanes == 4, "visit_lanes fills four lanes");

// combine(values, positions) once per element of the windows of outputs o2 .. o2 + kLanes - 1
// (all interior) in row-major window order; lane l holds output o2 + l's element and its flat
// position in the plane.
template <class Combine>
void visit_lanes(const PoolGeometry& g, const Range& w0, const Range& w1, const float* xp,
                 int64_t o2, Combine combine) {
  const int64_t s = g.stride[2];
  const Ints lane_offsets = Ints{0, 1, 2, 3} * static_cast<int32_t>(s);
  for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
    for (int64_t i1 = w1.begin; i1 < w1.end; ++i1)
      for (int64_t k = 0; k < g.kernel[2]; ++k) {
        const int64_t first = plane_index(g.in, i0, i1, o2 * s + k - g.pad[2]);
        const float* p = xp + first;
        combine(Floats{p[0], p[s], p[2 * s], p[3 * s]}, static_cast<int32_t>(first) + lane_offsets);
      }
}

// fn(o2) for the outputs of a row not pooled by lanes: the edges and the interior's remainder.
template <class F>
int64_t for_scalar_outputs(const PoolGeometry& g, const Range& interior, F fn) {
  for (int64_t o2 = 0; o2 < interior.begin; ++o2) fn(o2);
  const int64_t lanes_end = interior.begin + (interior.end - interior.begin) / kLanes * kLanes;
  for (int64_t o2 = lanes_end; o2 < g.out[2]; ++o2) fn(o2);
  return lanes_end;
}

}  // namespace

void max_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y, int32_t* indices) {
  const Tables t(g);
  const Range interior = interior_outputs(g);
  for_output_rows(g, [&](int64_t plane, int64_t o0, int64_t o1, int64_t row) {
    const float* xp = x + plane * g.in_plane();
    float* yr = y + row * g.out[2];
    int32_t* ir = indices + row * g.out[2];
    const Range w0 = t.window[0][o0], w1 = t.window[1][o1];
    const int64_t lanes_end = for_scalar_outputs(g, interior, [&](int64_t o2) {
      const MaxResult r = max_pool_output(g, xp, o0, o1, o2);
      yr[o2] = r.value;
      ir[o2] = static_cast<int32_t>(r.position);
    });
    for (int64_t o2 = interior.begin; o2 < lanes_end; o2 += kLanes) {
      Floats best = Floats{} - INFINITY;
      Ints best_at;
      for (int l = 0; l < kLanes; ++l)
        best_at[l] =
            static_cast<int32_t>(plane_index(g.in, w0.begin, w1.begin, t.window[2][o2 + l].begin));
      visit_lanes(g, w0, w1, xp, o2, [&](Floats values, Ints positions) {
        const Ints takes = max_pool_takes(values, best);
        best = takes ? values : best;
        best_at = takes ? positions : best_at;
      });
      for (int l = 0; l < kLanes; ++l) {
        yr[o2 + l] = best[l];
        ir[o2 + l] = best_at[l];
      }
    }
  });
}

void avg_pool_forward_cpu(const PoolGeometry& g, const float* x, float* y) {
  const Tables t(g);
  const Range interior = interior_outputs(g);
  for_output_rows(g, [&](int64_t plane, int64_t o0, int64_t o1, int64_t row) {
    const float* xp = x + plane * g.in_plane();
    float* yr = y + row * g.out[2];
    const Range w0 = t.window[0][o0], w1 = t.window[1][o1];
    const int64_t lanes_end = for_scalar_outputs(
        g, interior, [&](int64_t o2) { yr[o2] = avg_pool_output(g, xp, o0, o1, o2); });
    for (int64_t o2 = interior.begin; o2 < lanes_end; o2 += kLanes) {
      Floats sum = {};
      visit_lanes(g, w0, w1, xp, o2, [&](Floats values, Ints) { sum += values; });
      for (int l = 0; l < kLanes; ++l) yr[o2 + l] = sum[l] / avg_pool_divisor(g, o0, o1, o2 + l);
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
        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
          const Range w2 = t.window[2][o2];
          const float share = gyp[plane_index(g.out, o0, o1, o2)] / avg_pool_divisor(g, o0, o1, o2);
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
