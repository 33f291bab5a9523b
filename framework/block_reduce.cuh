#pragma once
// Block-wide reductions for the CUDA kernels, on CUB's warp and block reductions (CUB ships with
// the toolkit and is tuned for each architecture). Only .cu files include it.
//
// Every thread of the block must call them, and they synchronise the block before returning, so
// a kernel may call them again at once (their shared storage is reused).
#include <cub/block/block_reduce.cuh>
#include <cub/warp/warp_reduce.cuh>

namespace repflow {

constexpr int kWarpThreads = 32;

// a + b, for the sums below.
struct Add {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

// Every thread's v combined by `op` (associative) over a block of exactly kThreads threads; the
// result is valid in thread 0.
template <int kThreads, class T, class Op>
__device__ T block_reduce(T v, Op op) {
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  v = Reduce(storage).Reduce(v, op);
  __syncthreads();
  return v;
}

// The same, returned to every thread of the block.
template <int kThreads, class T, class Op>
__device__ T block_all_reduce(T v, Op op) {
  __shared__ T result;
  v = block_reduce<kThreads>(v, op);
  if (threadIdx.x == 0) result = v;
  __syncthreads();
  v = result;
  __syncthreads();
  return v;
}

// Adds the block-wide sum of every thread's acc[s] to slot[s], s < kSlots, for blocks whose size
// follows the problem (any multiple of 32 threads up to kMaxThreads): each warp sums its
// threads' values with CUB, then threads s, s + blockDim.x, ... add up the warps' sums of those
// slots in warp order (a block of one warp may have fewer threads than slots). One barrier
// serves all slots, where a block reduction per slot would take one each.
template <int kMaxThreads, int kSlots>
__device__ void block_add_slots(const float* acc, float* slot) {
  static_assert(kMaxThreads % kWarpThreads == 0, "blocks are whole warps");
  constexpr int kWarps = kMaxThreads / kWarpThreads;
  using WarpSum = cub::WarpReduce<float>;
  __shared__ typename WarpSum::TempStorage storage[kWarps];
  __shared__ float warp_sums[kWarps][kSlots];
  const int lane = threadIdx.x % kWarpThreads, warp = threadIdx.x / kWarpThreads;
#pragma unroll
  for (int s = 0; s < kSlots; ++s) {
    const float v = WarpSum(storage[warp]).Sum(acc[s]);
    if (lane == 0) warp_sums[warp][s] = v;
    __syncwarp();  // the warp's storage is reused for the next slot
  }
  __syncthreads();
  for (int s = threadIdx.x; s < kSlots; s += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < static_cast<int>(blockDim.x / kWarpThreads); ++w) sum += warp_sums[w][s];
    slot[s] += sum;
  }
  __syncthreads();
}

}  // namespace repflow
