#include "framework/cuda_context.h"
#include "ops/pool_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;

// Position (plane, i0, i1, i2) of element e of a (planes, size) array.
struct Position {
  int64_t plane, i[3];
};

__device__ Position unravel(int64_t e, const int64_t size[3]) {
  Position p;
  p.i[2] = e % size[2];
  e /= size[2];
  p.i[1] = e % size[1];
  e /= size[1];
  p.i[0] = e % size[0];
  p.plane = e / size[0];
  return p;
}

__device__ float avg_divisor(const PoolGeometry& g, const int64_t o[3]) {
  return static_cast<float>(avg_pool_count(g, 0, o[0]) * avg_pool_count(g, 1, o[1]) *
                            avg_pool_count(g, 2, o[2]));
}

// One thread per output.
__global__ void max_pool_forward_kernel(PoolGeometry g, const float* x, float* y,
                                        int32_t* indices) {
  const int64_t total = g.planes * g.out_plane();
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const Position p = unravel(e, g.out);
    const float* xp = x + p.plane * g.in_plane();
    const Range w0 = pool_window(g, 0, p.i[0]), w1 = pool_window(g, 1, p.i[1]),
                w2 = pool_window(g, 2, p.i[2]);
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
    y[e] = best;
    indices[e] = static_cast<int32_t>(best_at);
  }
}

__global__ void avg_pool_forward_kernel(PoolGeometry g, const float* x, float* y) {
  const int64_t total = g.planes * g.out_plane();
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const Position p = unravel(e, g.out);
    const float* xp = x + p.plane * g.in_plane();
    const Range w0 = pool_window(g, 0, p.i[0]), w1 = pool_window(g, 1, p.i[1]),
                w2 = pool_window(g, 2, p.i[2]);
    float sum = 0.0f;
    for (int64_t i0 = w0.begin; i0 < w0.end; ++i0)
      for (int64_t i1 = w1.begin; i1 < w1.end; ++i1) {
        const float* line = xp + plane_index(g.in, i0, i1, 0);
        for (int64_t i2 = w2.begin; i2 < w2.end; ++i2) sum += line[i2];
      }
    y[e] = sum / avg_divisor(g, p.i);
  }
}

// The backward passes gather: one thread per input element sums over the outputs whose windows
// hold it, so no two threads write the same element and no atomics are needed.
__global__ void max_pool_backward_kernel(PoolGeometry g, const float* gy, const int32_t* indices,
                                         float* gx) {
  const int64_t total = g.planes * g.in_plane();
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const Position p = unravel(e, g.in);
    const int64_t at = plane_index(g.in, p.i[0], p.i[1], p.i[2]);
    const Range r0 = covering_outputs(g, 0, p.i[0]), r1 = covering_outputs(g, 1, p.i[1]),
                r2 = covering_outputs(g, 2, p.i[2]);
    const int64_t first = p.plane * g.out_plane();
    float sum = 0.0f;
    for (int64_t o0 = r0.begin; o0 < r0.end; ++o0)
      for (int64_t o1 = r1.begin; o1 < r1.end; ++o1)
        for (int64_t o2 = r2.begin; o2 < r2.end; ++o2) {
          const int64_t o = first + plane_index(g.out, o0, o1, o2);
          if (indices[o] == at) sum += gy[o];
        }
    gx[e] = sum;
  }
}

__global__ void avg_pool_backward_kernel(PoolGeometry g, const float* gy, float* gx) {
  const int64_t total = g.planes * g.in_plane();
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * blockDim.x) {
    const Position p = unravel(e, g.in);
    const Range r0 = covering_outputs(g, 0, p.i[0]), r1 = covering_outputs(g, 1, p.i[1]),
                r2 = covering_outputs(g, 2, p.i[2]);
    const float* gyp = gy + p.plane * g.out_plane();
    float sum = 0.0f;
    for (int64_t o0 = r0.begin; o0 < r0.end; ++o0)
      for (int64_t o1 = r1.begin; o1 < r1.end; ++o1)
        for (int64_t o2 = r2.begin; o2 < r2.end; ++o2) {
          const int64_t o[3] = {o0, o1, o2};
          sum += gyp[plane_index(g.out, o0, o1, o2)] / avg_divisor(g, o);
        }
    gx[e] = sum;
  }
}

// Launches kernel over n elements on the device's stream.
template <class Kernel, class... Args>
void launch(int device, int64_t n, Kernel kernel, Args... args) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(args...);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void max_pool_forward_cuda(int device, const PoolGeometry& g, const float* x, float* y,
                           int32_t* indices) {
  launch(device, g.planes * g.out_plane(), max_pool_forward_kernel, g, x, y, indices);
}

void avg_pool_forward_cuda(int device, const PoolGeometry& g, const float* x, float* y) {
  launch(device, g.planes * g.out_plane(), avg_pool_forward_kernel, g, x, y);
}

void max_pool_backward_cuda(int device, const PoolGeometry& g, const float* gy,
                            const int32_t* indices, float* gx) {
  launch(device, g.planes * g.in_plane(), max_pool_backward_kernel, g, gy, indices, gx);
}

void avg_pool_backward_cuda(int device, const PoolGeometry& g, const float* gy, float* gx) {
  launch(device, g.planes * g.in_plane(), avg_pool_backward_kernel, g, gy, gx);
}

}  // namespace repflow::ops
