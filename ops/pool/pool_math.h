#pragma once
// Window and index arithmetic of max and average pooling, shared by the CPU loops and the CUDA
// kernels. Problems always have three spatial dimensions: 1-D and 2-D pooling get leading
// dimensions of size 1 (kernel 1, stride 1, no padding), so one set of kernels serves all.
#include <cmath>
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow::ops {

struct PoolGeometry {
  int64_t planes = 0;  // N * C, each pooled independently
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  bool count_include_pad = true;  // average pooling only

  RF_HD int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  RF_HD int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// A half-open range [begin, end).
struct Range {
  int64_t begin, end;
};

// Floor division for a positive divisor (C++ truncates towards zero).
RF_HD int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's output size. With ceil_mode a partial window at the end counts, unless it would start
// past the input and the left padding (it would hold padding only).
RF_HD int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                               bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// The input positions of output o's window along dimension d, padding cut away. Never empty:
// the padding is at most half the kernel and no window starts past the input.
RF_HD Range pool_window(const PoolGeometry& g, int d, int64_t o) {
  const int64_t start = o * g.stride[d] - g.pad[d];
  const int64_t end = start + g.kernel[d];
  return {start > 0 ? start : 0, end < g.in[d] ? end : g.in[d]};
}

// The outputs along dimension d whose windows contain input position i.
RF_HD Range covering_outputs(const PoolGeometry& g, int d, int64_t i) {
  const int64_t shifted = i + g.pad[d];
  const int64_t first = shifted < g.kernel[d] ? 0 : (shifted - g.kernel[d]) / g.stride[d] + 1;
  const int64_t last = shifted / g.stride[d] + 1;
  return {first, last < g.out[d] ? last : g.out[d]};
}

// Average pooling's divisor is the product over dimensions of this count for output o along
// d. With count_include_pad it counts padded positions inside the padded input, not those past
// it (a ceil_mode overhang).
RF_HD int64_t avg_pool_count(const PoolGeometry& g, int d, int64_t o) {
  if (!g.count_include_pad) {
    const Range w = pool_window(g, d, o);
    return w.end - w.begin;
  }
  const int64_t start = o * g.stride[d] - g.pad[d];
  const int64_t end = start + g.kernel[d], limit = g.in[d] + g.pad[d];
  return (end < limit ? end : limit) - start;
}

// Whether v replaces the running maximum: strictly greater, so ties keep the first position,
// and NaN always, so that it propagates (both as in PyTorch). A template so that the CPU
// schedule applies the same formula to vectors of lanes (giving a lane mask).
template <class T>
RF_HD auto max_pool_takes(T v, T best) {
  return (v > best) | (v != v);
}

// Flat index of (i0, i1, i2) in a plane of sizes `size`.
RF_HD int64_t plane_index(const int64_t size[3], int64_t i0, int64_t i1, int64_t i2) {
  return (i0 * size[1] + i1) * size[2] + i2;
}

RF_HD float avg_pool_divisor(const PoolGeometry& g, int64_t o0, int64_t o1, int64_t o2) {
  return static_cast<float>(avg_pool_count(g, 0, o0) * avg_pool_count(g, 1, o1) *
                            avg_pool_count(g, 2, o2));
}

struct MaxResult {
  float value;
  int64_t position;  // flat in the plane
};

// Output (o0, o1, o2) of max pooling over `plane`. The window is scanned in row-major order,
// which with max_pool_takes gives ties to the first position; a window of -inf keeps its first.
RF_HD MaxResult max_pool_output(const PoolGeometry& g, const float* plane, int64_t o0, int64_t o1,
                                int64_t o2) {
  const Range w0 = pool_window(g, 0, o0), w1 = pool_window(g, 1, o1), w2 = pool_window(g, 2, o2);
  MaxResult r{-INFINITY, plane_index(g.in, w0.begin, w1.begin, w2.begin)};
  for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
    for (int64_t i1 = w1.begin; i1 < w1.end; ++i1)
      for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) {
        const int64_t at = plane_index(g.in, i0, i1, i2);
        if (max_pool_takes(plane[at], r.value)) r = {plane[at], at};
      }
  return r;
}

RF_HD float avg_pool_output(const PoolGeometry& g, const float* plane, int64_t o0, int64_t o1,
                            int64_t o2) {
  const Range w0 = pool_window(g, 0, o0), w1 = pool_window(g, 1, o1), w2 = pool_window(g, 2, o2);
  float sum = 0.0f;
  for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
    for (int64_t i1 = w1.begin; i1 < w1.end; ++i1)
      for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) sum += plane[plane_index(g.in, i0, i1, i2)];
  return sum / avg_pool_divisor(g, o0, o1, o2);
}

}  // namespace repflow::ops
