#include <algorithm>

#include "framework/allocator.h"
#include "framework/block_reduce.cuh"
#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/device_buffer.h"
#include "ops/reduce/reduce_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;
// Rows up to this long get one thread each; a block per row would leave most threads idle.
constexpr int64_t kShortRow = 64;
// Long rows are split into chunks (then combined by a second launch) until the grid has about
// this many blocks, so a few long rows still fill the GPU.
constexpr int64_t kTargetBlocks = 1024;
// Elements per thread at least, so that chunks are worth a block.
constexpr int64_t kMinPerThread = 16;
constexpr unsigned int kMaxGrid = 65535;

// Op's combine as the functor CUB's reductions take.
template <class Op>
struct Combine {
  __device__ float operator()(float a, float b) const { return Op::combine(a, b); }
};

template <class Op>
__global__ void reduce_short_rows_kernel(float* out, const float* in, StridedLayout outer,
                                         StridedLayout inner, int64_t outputs, int64_t extent) {
  for (int64_t o : grid_stride(outputs)) {
    const float* row = in + outer.offset(o);
    float acc = Op::identity();
    for (int64_t r = 0; r < extent; ++r) acc = Op::combine(acc, row[inner.offset(r)]);
    out[o] = Op::finish(acc, extent);
  }
}

// Block task t reduces chunk t % chunks of row t / chunks into out[t]: the finished value when
// `finish` is set (with `count` elements in the whole row), else a raw partial.
template <class Op>
__global__ void reduce_rows_kernel(float* out, const float* in, StridedLayout outer,
                                   StridedLayout inner, int64_t outputs, int64_t extent,
                                   int64_t chunks, int64_t chunk_len, bool finish, int64_t count) {
  for (int64_t t = blockIdx.x; t < outputs * chunks; t += gridDim.x) {
    const float* row = in + outer.offset(t / chunks);
    const int64_t begin = (t % chunks) * chunk_len;
    const int64_t end = begin + chunk_len < extent ? begin + chunk_len : extent;
    float acc = Op::identity();
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x)
      acc = Op::combine(acc, row[inner.offset(r)]);
    acc = block_reduce<kThreads>(acc, Combine<Op>{});
    if (threadIdx.x == 0) out[t] = finish ? Op::finish(acc, count) : acc;
  }
}

unsigned int grid_for(int64_t tasks) {
  return static_cast<unsigned int>(std::min<int64_t>(std::max<int64_t>(tasks, 1), kMaxGrid));
}

template <class Op>
void launch(int device, float* out, const float* in, const StridedLayout& outer,
            const StridedLayout& inner, int64_t outputs, int64_t extent) {
  cudaStream_t stream = cuda_stream(device);
  if (extent <= kShortRow) {
    reduce_short_rows_kernel<Op><<<cuda_blocks(outputs, kThreads), kThreads, 0, stream>>>(
        out, in, outer, inner, outputs, extent);
    RF_CUDA_LAUNCH_CHECK();
    return;
  }
  const int64_t max_chunks = std::max<int64_t>(1, extent / (kThreads * kMinPerThread));
  const int64_t chunks = std::min(max_chunks, (kTargetBlocks + outputs - 1) / outputs);
  const int64_t chunk_len = (extent + chunks - 1) / chunks;
  if (chunks == 1) {
    reduce_rows_kernel<Op><<<grid_for(outputs), kThreads, 0, stream>>>(
        out, in, outer, inner, outputs, extent, 1, extent, true, extent);
    RF_CUDA_LAUNCH_CHECK();
    return;
  }
  const DeviceBuffer partials(outputs * chunks * sizeof(float), device);
  reduce_rows_kernel<Op><<<grid_for(outputs * chunks), kThreads, 0, stream>>>(
      partials.as<float>(), in, outer, inner, outputs, extent, chunks, chunk_len, false, extent);
  RF_CUDA_LAUNCH_CHECK();
  // The partials are an [outputs, chunks] contiguous matrix reduced along its rows.
  StridedLayout partial_outer, partial_inner;
  partial_outer.ndim = partial_inner.ndim = 1;
  partial_outer.sizes[0] = outputs;
  partial_outer.strides[0] = chunks;
  partial_inner.sizes[0] = chunks;
  partial_inner.strides[0] = 1;
  reduce_rows_kernel<Op><<<grid_for(outputs), kThreads, 0, stream>>>(
      out, partials.as<float>(), partial_outer, partial_inner, outputs, chunks, 1, chunks, true,
      extent);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void reduce_cuda(int device, ReduceKind kind, float* out, const float* in,
                 const StridedLayout& outer, const StridedLayout& inner, int64_t outputs,
                 int64_t extent) {
  if (outputs == 0) return;
  CudaDeviceGuard guard(device);
  dispatch_reduce(
      kind, [&](auto op) { launch<decltype(op)>(device, out, in, outer, inner, outputs, extent); });
}

}  // namespace repflow::ops
