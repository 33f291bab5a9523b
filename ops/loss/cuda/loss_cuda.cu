#include <algorithm>

#include "framework/block_reduce.cuh"
#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/loss/loss_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;
// Rows up to this long get one thread each; longer ones a block each, unless there are so many
// rows along a strided dimension that one thread per row already fills the GPU and keeps the
// reads of neighbouring threads together.
constexpr int64_t kShortRow = 64;
constexpr int64_t kManyRows = 8192;
constexpr unsigned int kMaxGrid = 65535;

struct MaxOp {
  __device__ float operator()(float a, float b) const { return softmax_max(a, b); }
};

// Where row `row` (o, i) starts; its elements are inner apart.
__device__ int64_t row_base(SoftmaxShape s, int64_t row) {
  return (row / s.inner) * s.n * s.inner + row % s.inner;
}

// The schedules below differ in who walks a row: `first` and `step` are the thread's share of
// [0, n) (all of it, or every blockDim.x-th element), and all() combines the shares.
struct ThreadRow {
  template <class Op>
  __device__ static float all(float v) {
    return v;
  }
  __device__ static int64_t first() { return 0; }
  __device__ static int64_t step() { return 1; }
};
struct BlockRow {
  template <class Op>
  __device__ static float all(float v) {
    return block_all_reduce<kThreads>(v, Op{});
  }
  __device__ static int64_t first() { return threadIdx.x; }
  __device__ static int64_t step() { return blockDim.x; }
};

template <class Row>
__device__ void softmax_row(bool log, const float* p, float* q, SoftmaxShape s) {
  float max = -INFINITY, sum = 0.0f;
  for (int64_t r = Row::first(); r < s.n; r += Row::step()) max = softmax_max(max, p[r * s.inner]);
  max = Row::template all<MaxOp>(max);
  for (int64_t r = Row::first(); r < s.n; r += Row::step())
    sum += softmax_exp_term(p[r * s.inner], max);
  sum = Row::template all<Add>(sum);
  for (int64_t r = Row::first(); r < s.n; r += Row::step())
    q[r * s.inner] = softmax_value(log, p[r * s.inner], max, sum);
}

template <class Row>
__device__ void softmax_grad_row(bool log, const float* y, const float* g, float* gx,
                                 SoftmaxShape s) {
  float sum = 0.0f;
  for (int64_t r = Row::first(); r < s.n; r += Row::step())
    sum += softmax_grad_term(log, y[r * s.inner], g[r * s.inner]);
  sum = Row::template all<Add>(sum);
  for (int64_t r = Row::first(); r < s.n; r += Row::step())
    gx[r * s.inner] = softmax_grad(log, y[r * s.inner], g[r * s.inner], sum);
}

__global__ void softmax_thread_kernel(bool log, const float* x, float* y, SoftmaxShape s) {
  for (int64_t row : grid_stride(s.outer * s.inner)) {
    const int64_t base = row_base(s, row);
    softmax_row<ThreadRow>(log, x + base, y + base, s);
  }
}

__global__ void softmax_block_kernel(bool log, const float* x, float* y, SoftmaxShape s) {
  for (int64_t row = blockIdx.x; row < s.outer * s.inner; row += gridDim.x) {
    const int64_t base = row_base(s, row);
    softmax_row<BlockRow>(log, x + base, y + base, s);
  }
}

__global__ void softmax_grad_thread_kernel(bool log, const float* y, const float* g, float* gx,
                                           SoftmaxShape s) {
  for (int64_t row : grid_stride(s.outer * s.inner)) {
    const int64_t base = row_base(s, row);
    softmax_grad_row<ThreadRow>(log, y + base, g + base, gx + base, s);
  }
}

__global__ void softmax_grad_block_kernel(bool log, const float* y, const float* g, float* gx,
                                          SoftmaxShape s) {
  for (int64_t row = blockIdx.x; row < s.outer * s.inner; row += gridDim.x) {
    const int64_t base = row_base(s, row);
    softmax_grad_row<BlockRow>(log, y + base, g + base, gx + base, s);
  }
}

bool block_per_row(SoftmaxShape s) {
  return s.n > kShortRow && (s.inner == 1 || s.outer * s.inner < kManyRows);
}

unsigned int block_grid(SoftmaxShape s) {
  return static_cast<unsigned int>(std::min<int64_t>(s.outer * s.inner, kMaxGrid));
}

}  // namespace

void softmax_cuda(int device, bool log, const float* x, float* y, SoftmaxShape s) {
  if (s.outer * s.n * s.inner == 0) return;
  CudaDeviceGuard guard(device);
  cudaStream_t stream = cuda_stream(device);
  if (block_per_row(s)) {
    softmax_block_kernel<<<block_grid(s), kThreads, 0, stream>>>(log, x, y, s);
  } else {
    softmax_thread_kernel<<<cuda_blocks(s.outer * s.inner, kThreads), kThreads, 0, stream>>>(log, x,
                                                                                             y, s);
  }
  RF_CUDA_LAUNCH_CHECK();
}

void softmax_grad_cuda(int device, bool log, const float* y, const float* g, float* gx,
                       SoftmaxShape s) {
  if (s.outer * s.n * s.inner == 0) return;
  CudaDeviceGuard guard(device);
  cudaStream_t stream = cuda_stream(device);
  if (block_per_row(s)) {
    softmax_grad_block_kernel<<<block_grid(s), kThreads, 0, stream>>>(log, y, g, gx, s);
  } else {
    softmax_grad_thread_kernel<<<cuda_blocks(s.outer * s.inner, kThreads), kThreads, 0, stream>>>(
        log, y, g, gx, s);
  }
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace repflow::ops
