#include <algorithm>
#include <vector>

#include "framework/thread_pool.h"
#include "ops/reduce_kernels.h"

namespace repflow::ops {
namespace {

// A row is reduced as blocks of kBlock elements whose partials are combined pairwise, the same
// way whichever threads run it, so results never depend on the thread count. Inside a block,
// kLanes interleaved accumulators keep float sums accurate and the adds independent.
constexpr int64_t kBlock = 1024;
constexpr int kLanes = 8;
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

// Elements [begin, end) of one row; both paths put element i in lane i % kLanes.
template <class Op>
float reduce_block(const float* row, const StridedLayout& inner, int64_t begin, int64_t end) {
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, Op::identity());
  const int64_t n = end - begin;
  if (inner.ndim <= 1) {
    const int64_t stride = inner.ndim == 1 ? inner.strides[0] : 0;
    const float* p = row + begin * stride;
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int k = 0; k < kLanes; ++k) lanes[k] = Op::combine(lanes[k], p[(i + k) * stride]);
    for (; i < n; ++i) lanes[i % kLanes] = Op::combine(lanes[i % kLanes], p[i * stride]);
  } else if (n > 0) {
    OffsetCursor cursor(inner, begin);
    for (int64_t i = 0; i < n; ++i, cursor.next())
      lanes[i % kLanes] = Op::combine(lanes[i % kLanes], row[cursor.offset()]);
  }
  return combine_pairwise<Op>(lanes, kLanes);
}

// Spreads the blocks of a long row over the pool; inside an already parallel loop over rows
// the nested parallel_for runs inline.
template <class Op>
float reduce_row(const float* row, const StridedLayout& inner, int64_t extent) {
  if (extent <= kBlock) return reduce_block<Op>(row, inner, 0, extent);
  const int64_t blocks = (extent + kBlock - 1) / kBlock;
  std::vector<float> partials(blocks);
  parallel_for(0, blocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k)
      partials[k] = reduce_block<Op>(row, inner, k * kBlock, std::min(extent, (k + 1) * kBlock));
  });
  return combine_pairwise<Op>(partials.data(), blocks);
}

}  // namespace

void reduce_cpu(ReduceKind kind, float* out, const float* in, const StridedLayout& outer,
                const StridedLayout& inner, int64_t outputs, int64_t extent) {
  if (outputs == 0) return;
  // Fewer long rows than threads: rows run one after another, each over all threads.
  const int64_t grain = outputs < num_threads() && extent > kBlock
                            ? outputs
                            : std::max<int64_t>(1, kGrain / std::max<int64_t>(extent, 1));
  dispatch_reduce(kind, [&](auto op) {
    using Op = decltype(op);
    parallel_for(0, outputs, grain, [&](int64_t b, int64_t e) {
      OffsetCursor cursor(outer, b);
      for (int64_t o = b; o < e; ++o, cursor.next())
        out[o] = Op::finish(reduce_row<Op>(in + cursor.offset(), inner, extent), extent);
    });
  });
}

}  // namespace repflow::ops
