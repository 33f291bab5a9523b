// The CUDA schedule of TV-L1 optical flow: one thread per pixel of every plane and one launch
// per pass, every field in global memory (a level of a video frame's pyramid is far larger than
// a block's shared memory). The passes are the representation flow op's primal and dual sweeps
// (flow_math.h), which update in place without races: each reads its neighbours only from
// fields it does not write, and kernels on one stream run in order. Resampling and the image
// terms of each warp are tvl1_math.h's formulas, as on the CPU.
#include <algorithm>
#include <climits>
#include <vector>

#include "framework/cuda_context.h"
#include "ops/device_buffer.h"
#include "ops/flow/tvl1_kernels.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;
constexpr unsigned int kMaxGridY = 65535;

// Runs f(plane, i, j) for every pixel of every plane of h x w: blockIdx.x covers a plane's
// pixels and blockIdx.y (strided) the planes.
template <class F>
__global__ void __launch_bounds__(kThreads) pixels_kernel(int64_t planes, int h, int w, F f) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= h * w) return;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) f(plane, q / w, q % w);
}

template <class F>
void launch(cudaStream_t stream, int64_t planes, int h, int w, const F& f) {
  const unsigned int per_plane = static_cast<unsigned int>((h * w + kThreads - 1) / kThreads);
  const unsigned int grid_y = static_cast<unsigned int>(std::min<int64_t>(planes, kMaxGridY));
  pixels_kernel<F><<<dim3(per_plane, grid_y), kThreads, 0, stream>>>(planes, h, w, f);
  RF_CUDA_LAUNCH_CHECK();
}

// The working fields of every plane at one level (flow_forward_planes' layout, padded).
struct Fields {
  float* base;
  int padded;
  __device__ FlowForwardPlanes at(int64_t plane) const {
    return flow_forward_planes(base + plane * kFlowForwardPlanes * padded, padded);
  }
};

// Planes of h x w, plane after plane.
struct Planes {
  float* base;
  int h, w;
  __device__ float* at(int64_t plane) const { return base + plane * h * w; }
};

// The antialiasing blur of both images of a level, along x or along y.
struct Blur {
  Planes from0, from1, to0, to1;
  bool along_x;
  Tvl1Problem pb;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const int k = i * from0.w + j;
    to0.at(plane)[k] = tvl1_blurred(from0.at(plane), from0.h, from0.w, i, j, along_x, pb.blur);
    to1.at(plane)[k] = tvl1_blurred(from1.at(plane), from1.h, from1.w, i, j, along_x, pb.blur);
  }
};

struct Downsample {
  Planes from0, from1, to0, to1;
  __device__ void operator()(int64_t plane, int i, int j) const {
    to0.at(plane)[i * to0.w + j] =
        tvl1_resized(from0.at(plane), from0.h, from0.w, to0.h, to0.w, i, j);
    to1.at(plane)[i * to1.w + j] =
        tvl1_resized(from1.at(plane), from1.h, from1.w, to1.h, to1.w, i, j);
  }
};

struct Gradient {
  Planes i1, gx, gy;
  FlowScalars scalars;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const int k = i * i1.w + j;
    tvl1_gradient(i1.at(plane), i1.h, i1.w, i, j, scalars, gx.at(plane)[k], gy.at(plane)[k]);
  }
};

// The level's starting flow: the coarser level's (x then y planes of `coarse`), resized and
// scaled, or zero on the coarsest level (the fields are zeroed before).
struct StartLevel {
  Fields work;
  const float* coarse;
  int ch, cw, h, w;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const FlowState st = work.at(plane).st;
    const float* c1 = coarse + plane * 2 * ch * cw;
    const int k = flow_index(i, j, w);
    st.u1[k] = static_cast<float>(w) / cw * tvl1_resized(c1, ch, cw, h, w, i, j);
    st.u2[k] = static_cast<float>(h) / ch * tvl1_resized(c1 + ch * cw, ch, cw, h, w, i, j);
  }
};

struct WarpTerms {
  Fields work;
  Planes i0, i1, gx, gy;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const FlowForwardPlanes fp = work.at(plane);
    const int k = flow_index(i, j, i0.w);
    tvl1_warp_terms(fp.im, k, fp.st.u1[k], fp.st.u2[k], i0.at(plane), i1.at(plane), gx.at(plane),
                    gy.at(plane), i0.h, i0.w, i, j);
  }
};

struct Primal {
  Fields work;
  FlowScalars scalars;
  int w;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const FlowForwardPlanes fp = work.at(plane);
    flow_primal_step<float>(fp.im, fp.st, fp.st, scalars, flow_stride(w), flow_index(i, j, w),
                            true);
  }
};

struct Dual {
  Fields work;
  FlowScalars scalars;
  int h, w;
  __device__ void operator()(int64_t plane, int i, int j) const {
    flow_dual_step_at(work.at(plane).st, scalars, h, w, i, j);
  }
};

// The level's flow into `coarse` (x then y planes per plane) or, on the finest level, into the
// op's output.
struct EndLevel {
  Fields work;
  float* coarse;
  float* out;  // null but on the finest level
  int64_t channels;
  int h, w;
  __device__ void operator()(int64_t plane, int i, int j) const {
    const FlowState st = work.at(plane).st;
    const int k = flow_index(i, j, w);
    const int64_t hw = int64_t{h} * w;
    float* x = out ? out + flow_out_offset(plane, channels, hw) : coarse + plane * 2 * hw;
    float* y = out ? x + channels * hw : x + hw;
    x[i * w + j] = st.u1[k];
    y[i * w + j] = st.u2[k];
  }
};

}  // namespace

void tvl1_cuda(int device, const Tvl1Problem& pb, const float* i0, const float* i1, float* out) {
  RF_CHECK(pb.planes <= INT_MAX, "tvl1_flow: ", pb.planes, " planes exceed one CUDA grid");
  CudaDeviceGuard guard(device);
  cudaStream_t stream = cuda_stream(device);
  const int64_t planes = pb.planes, hw = int64_t{pb.h()} * pb.w();
  // The coarser levels' images, level after level, i0 then i1 planes of each.
  std::vector<int64_t> offset(pb.levels, 0);
  int64_t pyramid = 0;
  for (int s = 1; s < pb.levels; ++s) {
    offset[s] = pyramid;
    pyramid += 2 * planes * pb.level_h[s] * pb.level_w[s];
  }
  DeviceBuffer pyramid_buffer(std::max<int64_t>(pyramid, 1) * sizeof(float), device);
  DeviceBuffer gradients(2 * planes * hw * sizeof(float), device);
  DeviceBuffer along_x(2 * planes * hw * sizeof(float), device);
  DeviceBuffer blurred(2 * planes * hw * sizeof(float), device);
  DeviceBuffer coarse(2 * planes * hw * sizeof(float), device);
  const int64_t work_floats = planes * kFlowForwardPlanes * flow_padded_size(pb.h(), pb.w());
  DeviceBuffer work_buffer(work_floats * sizeof(float), device);
  const auto level = [&](int s, int which) -> Planes {
    const int h = pb.level_h[s], w = pb.level_w[s];
    if (s == 0) return {const_cast<float*>(which == 0 ? i0 : i1), h, w};
    return {pyramid_buffer.as<float>() + offset[s] + which * planes * h * w, h, w};
  };
  for (int s = 1; s < pb.levels; ++s) {
    const int fh = pb.level_h[s - 1], fw = pb.level_w[s - 1];
    const Planes x0{along_x.as<float>(), fh, fw},
        x1{along_x.as<float>() + planes * fh * fw, fh, fw};
    const Planes b0{blurred.as<float>(), fh, fw},
        b1{blurred.as<float>() + planes * fh * fw, fh, fw};
    launch(stream, planes, fh, fw, Blur{level(s - 1, 0), level(s - 1, 1), x0, x1, true, pb});
    launch(stream, planes, fh, fw, Blur{x0, x1, b0, b1, false, pb});
    launch(stream, planes, pb.level_h[s], pb.level_w[s],
           Downsample{b0, b1, level(s, 0), level(s, 1)});
  }
  for (int s = pb.levels - 1; s >= 0; --s) {
    const int h = pb.level_h[s], w = pb.level_w[s], padded = flow_padded_size(h, w);
    const Fields work{work_buffer.as<float>(), padded};
    const Planes gx{gradients.as<float>(), h, w}, gy{gradients.as<float>() + planes * h * w, h, w};
    RF_CUDA_CHECK(cudaMemsetAsync(work.base, 0,
                                  planes * kFlowForwardPlanes * padded * sizeof(float), stream));
    if (s < pb.levels - 1)
      launch(stream, planes, h, w,
             StartLevel{work, coarse.as<float>(), pb.level_h[s + 1], pb.level_w[s + 1], h, w});
    launch(stream, planes, h, w, Gradient{level(s, 1), gx, gy, pb.scalars});
    for (int warp = 0; warp < pb.warps; ++warp) {
      launch(stream, planes, h, w, WarpTerms{work, level(s, 0), level(s, 1), gx, gy});
      for (int it = 0; it < pb.iterations; ++it) {
        launch(stream, planes, h, w, Primal{work, pb.scalars, w});
        launch(stream, planes, h, w, Dual{work, pb.scalars, h, w});
      }
    }
    launch(stream, planes, h, w,
           EndLevel{work, coarse.as<float>(), s == 0 ? out : nullptr, pb.channels, h, w});
  }
  RF_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace repflow::ops
