#pragma once
// The CPU schedule for elementwise work over broadcast, strided operands: operands are
// coalesced, then processed row by row (one offset computation per row, a strided inner loop),
// rows split across the CPU threads (parallel_for).
#include <algorithm>
#include <array>

#include "framework/parallel.h"
#include "framework/tensor.h"
#include "ops/op_common.h"

namespace repflow::ops {

// out (contiguous, shape `shape`) [i] = f(in_0[...], ..., in_{N-1}[...]) with each input read
// through its broadcast layout.
template <size_t N, class F>
void strided_map_cpu(const Tensor& out, const std::array<const Tensor*, N>& inputs, F f) {
  const Shape& shape = out.shape();
  const int64_t n = out.numel();
  if (n == 0) return;
  std::array<StridedLayout, N + 1> layouts;
  std::array<const float*, N> base;
  for (size_t k = 0; k < N; ++k) {
    layouts[k] = broadcast_layout(*inputs[k], shape);
    base[k] = inputs[k]->data();
  }
  layouts[N] = out.layout();
  std::vector<StridedLayout*> all;
  for (auto& l : layouts) all.push_back(&l);
  coalesce(all);
  const int nd = layouts[N].ndim;
  const int64_t inner = nd == 0 ? 1 : layouts[N].sizes[nd - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = nd == 0 ? 0 : layouts[k].strides[nd - 1];
  // The row index space drops the inner dimension.
  std::array<StridedLayout, N> rows = {};
  for (size_t k = 0; k < N; ++k) {
    rows[k] = layouts[k];
    rows[k].ndim = std::max(nd - 1, 0);
  }
  float* dst = out.data();
  const int64_t row_count = n / inner;
  parallel_for(0, row_count, std::max<int64_t>(1, 16384 / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::array<const float*, N> p;
      for (size_t k = 0; k < N; ++k) p[k] = base[k] + rows[k].offset(r);
      float* o = dst + r * inner;
      bool unit = true;
      for (size_t k = 0; k < N; ++k) unit = unit && inner_stride[k] == 1;
      if (unit) {
        for (int64_t i = 0; i < inner; ++i) {
          if constexpr (N == 1) o[i] = f(p[0][i]);
          if constexpr (N == 2) o[i] = f(p[0][i], p[1][i]);
          if constexpr (N == 3) o[i] = f(p[0][i], p[1][i], p[2][i]);
        }
      } else {
        for (int64_t i = 0; i < inner; ++i) {
          if constexpr (N == 1) o[i] = f(p[0][i * inner_stride[0]]);
          if constexpr (N == 2) o[i] = f(p[0][i * inner_stride[0]], p[1][i * inner_stride[1]]);
          if constexpr (N == 3)
            o[i] =
                f(p[0][i * inner_stride[0]], p[1][i * inner_stride[1]], p[2][i * inner_stride[2]]);
        }
      }
    }
  });
}

}  // namespace repflow::ops
