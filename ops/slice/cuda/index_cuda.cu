#include <memory>

#include "framework/allocator.h"
#include "framework/cuda_context.h"
#include "ops/slice/index_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;

struct DeviceFree {
  int device;
  void operator()(int64_t* p) const { device_free(p, device); }
};
using DeviceIndex = std::unique_ptr<int64_t, DeviceFree>;

// The block may go back to the cache right after the launch: every kernel of the device runs
// on its one stream, so later users of the block run after this launch has read it.
DeviceIndex to_device(int device, const std::vector<int64_t>& index) {
  const size_t bytes = index.size() * sizeof(int64_t);
  DeviceIndex d(static_cast<int64_t*>(device_alloc(bytes, device)), DeviceFree{device});
  RF_CUDA_CHECK(
      cudaMemcpyAsync(d.get(), index.data(), bytes, cudaMemcpyHostToDevice, cuda_stream(device)));
  return d;
}

__global__ void index_select_kernel(float* out, const float* x, StridedLayout src, int dim,
                                    const int64_t* index, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    out[i] = x[indexed_offset(src, dim, index, i)];
}

// Repeated indices send several entries of g to one element of gx, hence the atomics.
__global__ void index_add_kernel(float* gx, StridedLayout dst, const float* g, StridedLayout src,
                                 int dim, const int64_t* index, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    atomicAdd(gx + indexed_offset(dst, dim, index, i), g[src.offset(i)]);
}

}  // namespace

void index_select_cuda(int /*device: the tensors' own*/, const Tensor& x, int dim,
                       const std::vector<int64_t>& index, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int device = out.device().index;
  CudaDeviceGuard guard(device);
  const DeviceIndex idx = to_device(device, index);
  index_select_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(
      out.data(), x.data(), indexed_layout(x, out.shape()), dim, idx.get(), n);
  RF_CUDA_LAUNCH_CHECK();
}

void index_add_cuda(int /*device: the tensors' own*/, const Tensor& g, int dim,
                    const std::vector<int64_t>& index, const Tensor& gx) {
  const int64_t n = g.numel();
  if (n == 0) return;
  const int device = g.device().index;
  CudaDeviceGuard guard(device);
  const DeviceIndex idx = to_device(device, index);
  index_add_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(
      gx.data(), indexed_layout(gx, g.shape()), g.data(), g.layout(), dim, idx.get(), n);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace repflow::ops
