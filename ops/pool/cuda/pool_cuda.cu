#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/pool/pool_kernels.h"

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

// One thread per output.
__global__ void max_pool_forward_kernel(PoolGeometry g, const float* x, float* y,
                                        int32_t* indices) {
  const int64_t total = g.planes * g.out_plane();
  for (int64_t e : grid_stride(total)) {
    const Position p = unravel(e, g.out);
    const MaxResult r = max_pool_output(g, x + p.plane * g.in_plane(), p.i[0], p.i[1], p.i[2]);
    y[e] = r.value;
    indices[e] = static_cast<int32_t>(r.position);
  }
}

__global__ void avg_pool_forward_kernel(PoolGeometry g, const float* x, float* y) {
  const int64_t total = g.planes * g.out_plane();
  for (int64_t e : grid_stride(total)) {
    const Position p = unravel(e, g.out);
    y[e] = avg_pool_output(g, x + p.plane * g.in_plane(), p.i[0], p.i[1], p.i[2]);
  }
}

// The backward passes gather: one thread per input element sums over the outputs whose windows
// hold it, so no two threads write the same element and no atomics are needed.
__global__ void max_pool_backward_kernel(PoolGeometry g, const float* gy, const int32_t* indices,
                                         float* gx) {
  const int64_t total = g.planes * g.in_plane();
  for (int64_t e : grid_stride(total)) {
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
  for (int64_t e : grid_stride(total)) {
    const Position p = unravel(e, g.in);
    const Range r0 = covering_outputs(g, 0, p.i[0]), r1 = covering_outputs(g, 1, p.i[1]),
                r2 = covering_outputs(g, 2, p.i[2]);
    const float* gyp = gy + p.plane * g.out_plane();
    float sum = 0.0f;
    for (int64_t o0 = r0.begin; o0 < r0.end; ++o0)
      for (int64_t o1 = r1.begin; o1 < r1.end; ++o1)
        for (int64_t o2 = r2.begin; o2 < r2.end; ++o2) {
          sum += gyp[plane_index(g.out, o0, o1, o2)] / avg_pool_divisor(g, o0, o1, o2);
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
