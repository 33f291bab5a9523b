#pragma once
// The elements a CUDA thread visits in a grid-stride loop over [0, n): its global index, then
// every (grid size)-th after it, so any grid covers any n (launches cap their grids, see
// cuda_blocks in framework/cuda_context.h). Only .cu files include it.
//
//   for (int64_t i : grid_stride(n)) out[i] = f(in[i]);
#include <cstdint>

namespace repflow {

class GridStride {
 public:
  struct Iterator {
    int64_t index, step;
    __device__ int64_t operator*() const { return index; }
    __device__ Iterator& operator++() {
      index += step;
      return *this;
    }
    // Range-for compares with end() only: "not past the end".
    __device__ bool operator!=(const Iterator& end) const { return index < end.index; }
  };

  __device__ explicit GridStride(int64_t n) : n_(n) {}
  __device__ Iterator begin() const {
    return {blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x};
  }
  __device__ Iterator end() const { return {n_, 0}; }

 private:
  int64_t n_;
};

__device__ inline GridStride grid_stride(int64_t n) { return GridStride(n); }

}  // namespace repflow
