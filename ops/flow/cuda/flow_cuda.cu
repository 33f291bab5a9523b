// The CUDA schedules of the representation flow op.
//
// Plane in shared memory (the usual case): one block per (sample, channel) plane holds the
// plane's padded working fields in shared memory for all iterations; the sweeps of an
// iteration are separated by __syncthreads, so the only global traffic inside the loop is the
// backward state (written by the forward; read by the backward straight from global memory,
// each value by at most the three threads whose stencils cover it, so mostly from cache). The
// passes themselves are ops/flow/flow_plane.h's, which tests/flow_plane_test.cc also runs on the
// host against the CPU schedule.
//
// Image fields in global memory, for backward planes whose 19 fields exceed the shared memory
// a block may opt into (76 B per padded pixel, against 227 KB on an H100: 56 x 56 needs 255 KB)
// but whose 15 adjoint fields fit (60 B, up to 60 x 60): as many of the four image fields as
// fit stay in shared memory (two at 56 x 56), the others, written once and then only read, live
// in a global scratch plane per block and are served from cache; the kernel is otherwise the
// same.
//
// Fallback, for planes whose forward fields (40 B per padded pixel) or backward adjoint fields
// (60 B) exceed the shared memory: the same fields in global
// memory, one thread per pixel of every plane and one launch per sweep. The sweeps update in
// place without races because each one reads its neighbours only from fields it does not
// write (see flow_math.h), and kernels on one stream run in order.
//
// Parameter gradients: each block adds its threads' partial sums (a fixed tree) into its own
// slot of a per-(plane, block) array, then one block per parameter value sums the slots in
// double. No float atomics, so results are deterministic.
//
// The parameters never reach the host: a one-thread kernel assembles the call's FlowScalars on
// the device, each schedule copies them to constant memory before its launches, and a
// one-thread kernel turns the summed slots into the parameter gradients. Nothing here waits for
// the GPU, and a step with the op can be recorded as a CUDA graph.
#include <algorithm>
#include <climits>

#include "framework/allocator.h"
#include "framework/block_reduce.cuh"
#include "framework/cuda_context.h"
#include "ops/device_buffer.h"
#include "ops/flow/flow_kernels.h"
#include "ops/flow/flow_plane.h"

namespace repflow::ops {
namespace {

constexpr int kMaxThreads = 256;  // a multiple of kWarpThreads: blocks are whole warps
constexpr unsigned int kMaxGridY = 65535;

// The running call's parameter values (use_scalars): the kernels read them from the constant
// bank, as they would read kernel arguments.
__constant__ FlowScalars c_scalars;

// Makes `scalars` (on the device) the values that the kernels launched next on `stream` read.
// Kernels on one stream run in order, so a later call's copy cannot overtake this call's kernels,
// as long as one host thread issues a device's flow calls (as everything in the project does):
// two threads could interleave one's copy between the other's copy and its launches.
void use_scalars(const FlowScalars* scalars, cudaStream_t stream) {
  RF_CUDA_CHECK(cudaMemcpyToSymbolAsync(c_scalars, scalars, sizeof(FlowScalars), 0,
                                        cudaMemcpyDeviceToDevice, stream));
}

__global__ void scalars_kernel(FlowParamPointers<const float> params, FlowScalars* scalars) {
  *scalars = flow_scalars_from(params);
}

__global__ void param_grads_kernel(const double* sums, FlowParamPointers<float> grads) {
  flow_store_param_grads(c_scalars, sums, grads);
}

// Adds the block-wide sum of every thread's acc[t] to slot[t] (every thread of the block calls
// it).
__device__ void block_add(const float* acc, float* slot) {
  block_add_slots<kMaxThreads, kFlowSlots>(acc, slot);
}

// sums[t] = the sum over rows of partials[row][t], one block of kMaxThreads per t, in double.
__global__ void sum_slots_kernel(const float* partials, int64_t rows, double* sums) {
  const int t = blockIdx.x;
  double v = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) v += partials[r * kFlowSlots + t];
  v = block_reduce<kMaxThreads>(v, Add{});
  if (threadIdx.x == 0) sums[t] = v;
}

// Zeroes the first n floats of shared memory, pads included, for the whole block.
__device__ void clear_shared(float* smem, int n) {
  for (int k = threadIdx.x; k < n; k += blockDim.x) smem[k] = 0.0f;
  __syncthreads();
}

// The saved blocks of `plane`'s n_iter iterations (the saved pads stay as zeroed before the
// forward: flow_forward_plane writes interior pixels only).
template <class T>
__device__ T* saved_plane(T* saved, const FlowShape& pb, int64_t plane) {
  return saved + plane * flow_saved_offset(pb.n_iter, flow_padded_size(pb.h, pb.w));
}

// ---- Plane in shared memory --------------------------------------------------------------

// A block as flow_plane.h's team.
struct BlockTeam {
  __device__ int rank() const { return static_cast<int>(threadIdx.x); }
  __device__ int size() const { return static_cast<int>(blockDim.x); }
  __device__ void sync() const { __syncthreads(); }
};

__global__ void __launch_bounds__(kMaxThreads)
    forward_shared_kernel(FlowShape shape, const float* f1, const float* f2, float* out,
                          float* saved) {
  extern __shared__ float smem[];
  const FlowProblem pb{shape, c_scalars};
  const int64_t hw = int64_t{pb.h} * pb.w, plane = blockIdx.x;
  clear_shared(smem, kFlowForwardPlanes * flow_padded_size(pb.h, pb.w));
  float* out1 = out + flow_out_offset(plane, pb.channels, hw);
  flow_forward_plane(BlockTeam{}, pb, flow_forward_planes(smem, flow_padded_size(pb.h, pb.w)),
                     f1 + plane * hw, f2 + plane * hw, out1, out1 + pb.channels * hw,
                     saved ? saved_plane(saved, pb, plane) : nullptr);
}

// Shared memory holds the adjoint fields, then the first `shared_images` image fields; the
// others are this plane's part of `image_scratch` (zeroed, pads included).
__global__ void __launch_bounds__(kMaxThreads)
    backward_shared_kernel(FlowShape shape, const float* f1, const float* f2, const float* saved,
                           const float* grad_out, float* grad_f1, float* grad_f2, float* partials,
                           int shared_images, float* image_scratch) {
  extern __shared__ float smem[];
  const FlowProblem pb{shape, c_scalars};
  const int hw = pb.h * pb.w, padded = flow_padded_size(pb.h, pb.w);
  const int64_t plane = blockIdx.x;
  static_assert(kFlowImagePlanes == 4, "the FlowImage below lists every image field");
  float* image[kFlowImagePlanes];
  for (int f = 0; f < kFlowImagePlanes; ++f)
    image[f] = f < shared_images
                   ? smem + (kFlowAdjointPlanes + f) * padded
                   : image_scratch +
                         (plane * (kFlowImagePlanes - shared_images) + f - shared_images) * padded;
  const FlowBackwardPlanes bp{{image[0], image[1], image[2], image[3]},
                              flow_adjoint_at(smem, padded)};
  clear_shared(smem, (kFlowAdjointPlanes + shared_images) * padded);
  const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
  float acc[kFlowSlots] = {};
  flow_backward_plane(BlockTeam{}, pb, bp, f1 + plane * hw, f2 + plane * hw, g1,
                      g1 + pb.channels * hw, saved_plane(saved, pb, plane), grad_f1 + plane * hw,
                      grad_f2 + plane * hw, acc);
  block_add(acc, partials + plane * kFlowSlots);
}

// ---- Fallback: fields in global memory, one launch per sweep -----------------------------

// Runs sweep(plane, i, j, acc) for every pixel of every plane, blockIdx.x covering a plane's
// pixels and blockIdx.y (strided) the planes. When the sweep has parameter partials, each
// block adds them to its slot (plane, blockIdx.x) of `partials`.
template <class Sweep>
__global__ void __launch_bounds__(kMaxThreads)
    fallback_kernel(int64_t planes, int h, int w, Sweep sweep, float* partials) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    float acc[kFlowSlots] = {};
    if (q < h * w) sweep(plane, q / w, q % w, acc);
    if constexpr (Sweep::kPartials)
      block_add(acc, partials + (plane * gridDim.x + blockIdx.x) * kFlowSlots);
  }
}

// The fields of every plane, plane after plane, `fields` padded planes each.
struct Fields {
  float* base;
  int fields;
  int padded;
  __device__ float* at(int64_t plane) const { return base + plane * fields * padded; }
};

struct ForwardInit {
  static constexpr bool kPartials = false;
  FlowShape pb;
  Fields work;
  const float *f1, *f2;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    const int64_t hw = int64_t{pb.h} * pb.w;
    flow_image_init(flow_forward_planes(work.at(plane), work.padded).im, f1 + plane * hw,
                    f2 + plane * hw, pb.h, pb.w, i, j, c_scalars);
  }
};

struct ForwardPrimal {
  static constexpr bool kPartials = false;
  FlowShape pb;
  Fields work;
  float* saved;  // null without a backward
  int it;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    const FlowForwardPlanes fp = flow_forward_planes(work.at(plane), work.padded);
    const int k = flow_index(i, j, pb.w);
    if (saved)
      flow_save_state(fp.st, saved_plane(saved, pb, plane) + flow_saved_offset(it, work.padded),
                      work.padded, k);
    flow_primal_step<float>(fp.im, fp.st, fp.st, c_scalars, flow_stride(pb.w), k, true);
  }
};

struct ForwardDual {
  static constexpr bool kPartials = false;
  FlowShape pb;
  Fields work;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    flow_dual_step_at(flow_forward_planes(work.at(plane), work.padded).st, c_scalars, pb.h, pb.w, i,
                      j);
  }
};

struct ForwardOutput {
  static constexpr bool kPartials = false;
  FlowShape pb;
  Fields work;
  float* out;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    const FlowState st = flow_forward_planes(work.at(plane), work.padded).st;
    const int64_t hw = int64_t{pb.h} * pb.w;
    float* out1 = out + flow_out_offset(plane, pb.channels, hw);
    const int k = flow_index(i, j, pb.w);
    out1[i * pb.w + j] = st.u1[k];
    out1[pb.channels * hw + i * pb.w + j] = st.u2[k];
  }
};

struct BackwardInit {
  static constexpr bool kPartials = false;
  FlowShape pb;
  Fields work;
  const float *f1, *f2, *grad_out;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    const int64_t hw = int64_t{pb.h} * pb.w;
    const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
    flow_back_init(flow_backward_planes(work.at(plane), work.padded), f1 + plane * hw,
                   f2 + plane * hw, g1, g1 + pb.channels * hw, pb.h, pb.w, i, j, c_scalars);
  }
};

// What the backward sweeps of iteration `it` share.
struct BackwardStep {
  FlowShape pb;
  Fields work;
  const float* saved;
  int it;
  __device__ FlowBackwardPlanes planes(int64_t plane) const {
    return flow_backward_planes(work.at(plane), work.padded);
  }
  __device__ FlowState state(int64_t plane) const {
    return flow_saved_state_at(saved_plane(saved, pb, plane) + flow_saved_offset(it, work.padded),
                               work.padded);
  }
};

struct BackwardRecompute : BackwardStep {
  static constexpr bool kPartials = false;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    const FlowBackwardPlanes bp = planes(plane);
    flow_back_recompute<float>(bp.im, state(plane), bp.ad, c_scalars, flow_stride(pb.w),
                               flow_index(i, j, pb.w));
  }
};

struct BackwardDual : BackwardStep {
  static constexpr bool kPartials = true;
  __device__ void operator()(int64_t plane, int i, int j, float* acc) const {
    flow_back_dual_at(state(plane), planes(plane).ad, c_scalars, pb.h, pb.w, i, j, acc);
  }
};

struct BackwardGrad : BackwardStep {
  static constexpr bool kPartials = false;
  __device__ void operator()(int64_t plane, int i, int j, float*) const {
    flow_back_grad<float>(planes(plane).ad, c_scalars, flow_stride(pb.w), flow_index(i, j, pb.w));
  }
};

struct BackwardPrimal : BackwardStep {
  static constexpr bool kPartials = true;
  __device__ void operator()(int64_t plane, int i, int j, float* acc) const {
    const FlowBackwardPlanes bp = planes(plane);
    flow_back_primal_at(bp.im, state(plane), bp.ad, c_scalars, pb.h, pb.w, i, j, acc);
  }
};

struct BackwardInputs {
  static constexpr bool kPartials = true;
  FlowShape pb;
  Fields work;
  const float* f2;
  float *grad_f1, *grad_f2;
  __device__ void operator()(int64_t plane, int i, int j, float* acc) const {
    const int64_t hw = int64_t{pb.h} * pb.w;
    flow_back_inputs(flow_backward_planes(work.at(plane), work.padded).ad, f2 + plane * hw, pb.h,
                     pb.w, i, j, c_scalars, grad_f1 + plane * hw, grad_f2 + plane * hw, acc);
  }
};

// Launch shape of the fallback: blocks per plane and the plane stride of the grid.
struct FallbackGrid {
  dim3 grid;
  int threads;
};

FallbackGrid fallback_grid(const FlowShape& pb) {
  const int hw = pb.h * pb.w;
  const unsigned int per_plane = static_cast<unsigned int>((hw + kMaxThreads - 1) / kMaxThreads);
  const unsigned int planes = static_cast<unsigned int>(std::min<int64_t>(pb.planes, kMaxGridY));
  return {dim3(per_plane, planes), kMaxThreads};
}

template <class Sweep>
void launch_sweep(const FallbackGrid& g, cudaStream_t stream, const FlowShape& pb,
                  const Sweep& sweep, float* partials = nullptr) {
  fallback_kernel<Sweep><<<g.grid, g.threads, 0, stream>>>(pb.planes, pb.h, pb.w, sweep, partials);
  RF_CUDA_LAUNCH_CHECK();
}

// ---- Dispatch ----------------------------------------------------------------------------

// Threads of a plane-per-block launch: enough for one pixel each up to kMaxThreads.
int plane_threads(int hw) {
  return std::min(kMaxThreads, (hw + kWarpThreads - 1) / kWarpThreads * kWarpThreads);
}

// The dynamic shared memory `kernel` may opt into on `device`.
template <class Kernel>
size_t usable_shared(Kernel kernel, int device) {
  int optin = 0;
  RF_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attrs;
  RF_CUDA_CHECK(cudaFuncGetAttributes(&attrs, kernel));
  return static_cast<size_t>(optin) - std::min<size_t>(attrs.sharedSizeBytes, optin);
}

// How many padded planes of `plane_bytes` fit in it.
template <class Kernel>
int64_t shared_planes(Kernel kernel, size_t plane_bytes, int device) {
  return static_cast<int64_t>(usable_shared(kernel, device) / plane_bytes);
}

// Lets `kernel` launch on `device` with as much dynamic shared memory as it may opt into. The
// limit belongs to the kernel, not to a launch, so it is never set lower than some launch needs:
// a CUDA graph may hold launches of several plane sizes, each checked against it on replay.
template <class Kernel>
void opt_in_shared(Kernel kernel, int device) {
  RF_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(usable_shared(kernel, device))));
}

void check_grid(const FlowShape& pb) {
  RF_CHECK(pb.planes <= INT_MAX, "representation_flow: ", pb.planes,
           " planes exceed one CUDA grid");
}

}  // namespace

void flow_scalars_cuda(int device, const FlowParamPointers<const float>& params,
                       FlowScalars* scalars) {
  CudaDeviceGuard guard(device);
  scalars_kernel<<<1, 1, 0, cuda_stream(device)>>>(params, scalars);
  RF_CUDA_LAUNCH_CHECK();
}

void flow_forward_cuda(int device, const FlowShape& pb, const FlowScalars* scalars, const float* f1,
                       const float* f2, float* out, float* saved) {
  check_grid(pb);
  CudaDeviceGuard guard(device);
  cudaStream_t stream = cuda_stream(device);
  use_scalars(scalars, stream);
  const int padded = flow_padded_size(pb.h, pb.w);
  if (saved)
    RF_CUDA_CHECK(cudaMemsetAsync(
        saved, 0, pb.planes * flow_saved_floats(pb.h, pb.w, pb.n_iter) * sizeof(float), stream));
  const size_t plane_bytes = static_cast<size_t>(padded) * sizeof(float);
  if (shared_planes(forward_shared_kernel, plane_bytes, device) >= kFlowForwardPlanes) {
    const size_t shared = kFlowForwardPlanes * plane_bytes;
    opt_in_shared(forward_shared_kernel, device);
    forward_shared_kernel<<<static_cast<unsigned int>(pb.planes), plane_threads(pb.h * pb.w),
                            shared, stream>>>(pb, f1, f2, out, saved);
    RF_CUDA_LAUNCH_CHECK();
    return;
  }
  const size_t work_bytes = pb.planes * kFlowForwardPlanes * padded * sizeof(float);
  DeviceBuffer buffer(work_bytes, device);
  const Fields w{buffer.as<float>(), kFlowForwardPlanes, padded};
  RF_CUDA_CHECK(cudaMemsetAsync(w.base, 0, work_bytes, stream));
  const FallbackGrid g = fallback_grid(pb);
  launch_sweep(g, stream, pb, ForwardInit{pb, w, f1, f2});
  for (int it = 0; it < pb.n_iter; ++it) {
    launch_sweep(g, stream, pb, ForwardPrimal{pb, w, saved, it});
    launch_sweep(g, stream, pb, ForwardDual{pb, w});
  }
  launch_sweep(g, stream, pb, ForwardOutput{pb, w, out});
}

void flow_backward_cuda(int device, const FlowShape& pb, const FlowScalars* scalars,
                        const float* f1, const float* f2, const float* saved, const float* grad_out,
                        float* grad_f1, float* grad_f2,
                        const FlowParamPointers<float>& param_grads) {
  check_grid(pb);
  CudaDeviceGuard guard(device);
  cudaStream_t stream = cuda_stream(device);
  use_scalars(scalars, stream);
  const int padded = flow_padded_size(pb.h, pb.w);
  const size_t plane_bytes = static_cast<size_t>(padded) * sizeof(float);
  const int shared_images = static_cast<int>(std::min<int64_t>(
      kFlowImagePlanes,
      shared_planes(backward_shared_kernel, plane_bytes, device) - kFlowAdjointPlanes));
  const bool in_shared = shared_images >= 0;
  const FallbackGrid g = fallback_grid(pb);
  const int64_t rows = in_shared ? pb.planes : pb.planes * g.grid.x;
  DeviceBuffer partials(rows * kFlowSlots * sizeof(float), device);
  RF_CUDA_CHECK(
      cudaMemsetAsync(partials.as<float>(), 0, rows * kFlowSlots * sizeof(float), stream));
  if (in_shared) {
    const size_t shared = (kFlowAdjointPlanes + shared_images) * plane_bytes;
    const size_t image_bytes = pb.planes * (kFlowImagePlanes - shared_images) * plane_bytes;
    DeviceBuffer images(image_bytes, device);
    if (image_bytes > 0) RF_CUDA_CHECK(cudaMemsetAsync(images.as<float>(), 0, image_bytes, stream));
    opt_in_shared(backward_shared_kernel, device);
    backward_shared_kernel<<<static_cast<unsigned int>(pb.planes), plane_threads(pb.h * pb.w),
                             shared, stream>>>(pb, f1, f2, saved, grad_out, grad_f1, grad_f2,
                                               partials.as<float>(), shared_images,
                                               images.as<float>());
    RF_CUDA_LAUNCH_CHECK();
  } else {
    const size_t work_bytes = pb.planes * kFlowBackwardPlanes * padded * sizeof(float);
    DeviceBuffer buffer(work_bytes, device);
    const Fields w{buffer.as<float>(), kFlowBackwardPlanes, padded};
    RF_CUDA_CHECK(cudaMemsetAsync(w.base, 0, work_bytes, stream));
    float* p = partials.as<float>();
    launch_sweep(g, stream, pb, BackwardInit{pb, w, f1, f2, grad_out});
    for (int it = pb.n_iter - 1; it >= 0; --it) {
      const BackwardStep step{pb, w, saved, it};
      launch_sweep(g, stream, pb, BackwardRecompute{step});
      launch_sweep(g, stream, pb, BackwardDual{step}, p);
      launch_sweep(g, stream, pb, BackwardGrad{step});
      launch_sweep(g, stream, pb, BackwardPrimal{step}, p);
    }
    launch_sweep(g, stream, pb, BackwardInputs{pb, w, f2, grad_f1, grad_f2}, p);
  }
  DeviceBuffer totals(kFlowSlots * sizeof(double), device);
  sum_slots_kernel<<<kFlowSlots, kMaxThreads, 0, stream>>>(partials.as<float>(), rows,
                                                           totals.as<double>());
  RF_CUDA_LAUNCH_CHECK();
  param_grads_kernel<<<1, 1, 0, stream>>>(totals.as<double>(), param_grads);
  RF_CUDA_LAUNCH_CHECK();
}

}  // namespace repflow::ops
