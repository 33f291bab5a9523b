#include <algorithm>
#include <vector>

#include "framework/parallel.h"
#include "ops/reduce/reduce_kernels.h"

namespace repflow::ops {
namespace {

// A row is reduced as blocks of kBlock elements whose partials are combined pairwise, the same
// way whichever threads run it, so results never depend on the thread count. Inside a block,
// kLanes interleaved accumulators keep float sums accurate and the adds independent.
constexpr int64_t kBlock = 1024;
constexpr int kLanes = 8;
// Outputs reduced side by side when the reduced dimensions are not the innermost ones.
constexpr int64_t kTile = 128;
// Elements a parallel chunk reads at least, so that short jobs stay on one thread.
constexpr int64_t kGrain = 1 << 15;

// The offsets of a strided layout in row-major order, advanced with carries rather than a
// division per dimension and element.
class OffsetCursor {
 public:
  OffsetCursor(const StridedLayout& layout, int64_t start) : layout_(layout) {
    for (int d = layout.ndim - 1; d >= 0; --d) {
      index_[d] = start % layout.sizes[d];
      start /= layout.sizes[d];
      offset_ += index_[d] * layout.strides[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (int d = layout_.ndim - 1; d >= 0; --d) {
      offset_ += layout_.strides[d];
      if (++index_[d] < layout_.sizes[d]) return;
      offset_ -= index_[d] * layout_.strides[d];
      index_[d] = 0;
    }
  }

 private:
  const StridedLayout& layout_;
  int64_t index_[kMaxDims] = {};
  int64_t offset_ = 0;
};

template <class Op>
float combine_pairwise(float* values, int64_t n) {
  if (n == 0) return Op::identity();
  for (int64_t width = 1; width < n; width *= 2)
    for (int64_t i = 0; i + width < n; i += 2 * width)
      values[i] = Op::combine(values[i], values[i + width]);
  return values[0];
}

// Adds p[0], p[stride], ... (n elements) to the lanes, element k going to lane
// (lane0 + k) % kLanes, with whole groups of kLanes in the middle for the compiler.
template <class Op>
void accumulate_run(float* lanes, const float* p, int64_t stride, int64_t n, int64_t lane0) {
  int64_t k = 0;
  for (; k < n && (lane0 + k) % kLanes != 0; ++k)
    lanes[(lane0 + k) % kLanes] = Op::combine(lanes[(lane0 + k) % kLanes], p[k * stride]);
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] = Op::combine(lanes[l], p[(k + l) * stride]);
  for (; k < n; ++k)
    lanes[(lane0 + k) % kLanes] = Op::combine(lanes[(lane0 + k) % kLanes], p[k * stride]);
}

// Elements [begin, end) of one row, element i in lane (i - begin) % kLanes, read as runs along
// the innermost reduced dimension.
template <class Op>
float reduce_block(const float* row, const StridedLayout& inner, int64_t begin, int64_t end) {
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, Op::identity());
  if (begin < end) {
    const int last = inner.ndim - 1;
    const int64_t len = last >= 0 ? inner.sizes[last] : 1;
    const int64_t stride = last >= 0 ? inner.strides[last] : 0;
    StridedLayout prefix = inner;
    prefix.ndim = std::max(last, 0);
    OffsetCursor runs(prefix, begin / len);
    for (int64_t i = begin; i < end; runs.next()) {
      const int64_t j = i % len, n = std::min(len - j, end - i);
      accumulate_run<Op>(lanes, row + runs.offset() + j * stride, stride, n, i - begin);
      i += n;
    }
  }
  return combine_pairwise<Op>(lanes, kLanes);
}

// The same blocks and lanes as reduce_block, for `tile` rows that start one element apart,
// walking the rows together: when the reduced dimensions are the outer ones, each step reads
// neighbouring elements of the tile instead of one element per row far apart.
template <class Op>
void reduce_tile_block(const float* rows, int64_t tile, const StridedLayout& inner, int64_t begin,
                       int64_t end, float* partials, int64_t partial_stride) {
  float lanes[kLanes][kTile];
  for (float* lane : lanes) std::fill(lane, lane + kTile, Op::identity());
  if (begin < end) {
    OffsetCursor cursor(inner, begin);
    for (int64_t i = begin; i < end; ++i, cursor.next()) {
      const float* p = rows + cursor.offset();
      float* lane = lanes[(i - begin) % kLanes];
      for (int64_t t = 0; t < tile; ++t) lane[t] = Op::combine(lane[t], p[t]);
    }
  }
  for (int64_t t = 0; t < tile; ++t) {
    float row_lanes[kLanes];
    for (int l = 0; l < kLanes; ++l) row_lanes[l] = lanes[l][t];
    partials[t * partial_stride] = combine_pairwise<Op>(row_lanes, kLanes);
  }
}

int64_t block_count(int64_t extent) { return std::max<int64_t>(1, (extent + kBlock - 1) / kBlock); }

// Spreads the blocks of a long row over the pool; inside an already parallel loop over rows
// the nested parallel_for runs inline.
template <class Op>
float reduce_row(const float* row, const StridedLayout& inner, int64_t extent) {
  if (extent <= kBlock) return reduce_block<Op>(row, inner, 0, extent);
  const int64_t blocks = block_count(extent);
  std::vector<float> partials(blocks);
  parallel_for(0, blocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      partials[k] = reduce_block<Op>(row, inner, k * kBlock, std::min(extent, (k + 1) * kBlock));
  });
  return combine_pairwise<Op>(partials.data(), blocks);
}

template <class Op>
void reduce_rows(float* out, const float* in, const StridedLayout& outer,
                 const StridedLayout& inner, int64_t outputs, int64_t extent) {
  // Fewer long rows than threads: rows run one after another, each over all threads.
  const int64_t grain = outputs < num_threads() && extent > kBlock
                            ? outputs
                            : std::max<int64_t>(1, kGrain / std::max<int64_t>(extent, 1));
  parallel_for(0, outputs, grain, [&](int64_t b, int64_t e) {
    OffsetCursor cursor(outer, b);
    for (int64_t o = b; o < e; ++o, cursor.next())
      out[o] = Op::finish(reduce_row<Op>(in + cursor.offset(), inner, extent), extent);
  });
}

// Tiles of kTile outputs along the innermost kept dimension, which has stride 1.
template <class Op>
void reduce_tiles(float* out, const float* in, const StridedLayout& outer,
                  const StridedLayout& inner, int64_t outputs, int64_t extent) {
  const int last = outer.ndim - 1;
  const int64_t len = outer.sizes[last];
  const int64_t tiles_per_run = (len + kTile - 1) / kTile;
  StridedLayout prefix = outer;
  prefix.ndim = last;
  const int64_t blocks = block_count(extent);
  const int64_t tile_grain = std::max<int64_t>(1, kGrain / (kTile * std::max<int64_t>(extent, 1)));
  parallel_for(0, outputs / len * tiles_per_run, tile_grain, [&](int64_t b, int64_t e) {
    std::vector<float> partials(kTile * blocks);
    for (int64_t task = b; task < e; ++task) {
      const int64_t run = task / tiles_per_run, first = (task % tiles_per_run) * kTile;
      const int64_t tile = std::min(kTile, len - first);
      const float* rows = in + prefix.offset(run) + first;
      for (int64_t k = 0; k < blocks; ++k)
        reduce_tile_block<Op>(rows, tile, inner, k * kBlock, std::min(extent, (k + 1) * kBlock),
                              partials.data() + k, blocks);
      for (int64_t t = 0; t < tile; ++t)
        out[run * len + first + t] =
            Op::finish(combine_pairwise<Op>(partials.data() + t * blocks, blocks), extent);
    }
  });
}

}  // namespace

void reduce_cpu(ReduceKind kind, float* out, const float* in, const StridedLayout& outer,
                const StridedLayout& inner, int64_t outputs, int64_t extent) {
  if (outputs == 0) return;
  // Tiles pay off when neighbouring outputs are neighbours in memory but neighbouring elements
  // of a row are not, and there are tiles enough for every thread.
  const bool tiled = outer.ndim > 0 && outer.strides[outer.ndim - 1] == 1 &&
                     (inner.ndim == 0 || inner.strides[inner.ndim - 1] != 1) &&
                     outputs / kTile >= num_threads();
  dispatch_reduce(kind, [&](auto op) {
    using Op = decltype(op);
    if (tiled) {
      reduce_tiles<Op>(out, in, outer, inner, outputs, extent);
    } else {
      reduce_rows<Op>(out, in, outer, inner, outputs, extent);
    }
  });
}

}  // namespace repflow::ops
