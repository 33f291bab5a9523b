#include <climits>

#include "framework/block_reduce.cuh"
#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/batch_norm/batch_norm_kernels.h"
#include "ops/batch_norm/batch_norm_math.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;
constexpr unsigned int kMaxGrid = 65535;

struct Dims {
  int64_t n, c, s;
};

Dims dims_of(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

int cudnn_dim(int64_t v) {
  RF_CHECK(v <= INT_MAX, "batch_norm: dimension ", v, " is too large for cuDNN");
  return static_cast<int>(v);
}

// A 4-D float NCHW cuDNN descriptor, destroyed with its scope.
class TensorDescriptor {
 public:
  TensorDescriptor(int64_t n, int64_t c, int64_t h, int64_t w) {
    RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    try {
      RF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                cudnn_dim(n), cudnn_dim(c), cudnn_dim(h),
                                                cudnn_dim(w)));
    } catch (...) {
      cudnnDestroyTensorDescriptor(desc_);
      throw;
    }
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// cuDNN's spatial mode normalises each channel over N and all of H x W, so any number of
// spatial dimensions is the same problem with them flattened into H: (N, C, S, 1).
struct Descriptors {
  explicit Descriptors(const Dims& d) : data(d.n, d.c, d.s, 1), param(1, d.c, 1, 1) {}
  TensorDescriptor data, param;
};

// cuDNN always reads a scale and a bias: without affine parameters they are ones and zeros.
Tensor or_filled(const Tensor& t, int64_t c, float value, Device device) {
  return t.defined() ? t : Tensor::full({c}, value, device);
}

unsigned int grid_for(int64_t tasks) {
  const int64_t clamped = tasks < 1 ? 1 : (tasks < kMaxGrid ? tasks : kMaxGrid);
  return static_cast<unsigned int>(clamped);
}

__global__ void eval_stats_kernel(const float* running_mean, const float* running_var, float eps,
                                  float* mean, float* invstd, int64_t c) {
  for (int64_t i : grid_stride(c)) {
    mean[i] = running_mean[i];
    invstd[i] = bn_invstd(running_var[i], eps);
  }
}

// Eval mode's weight and bias gradients, one block per channel: gb = sum of g, gw = sum of
// g xhat. Either output may be null. Summed in double, as the CPU's channel totals: a thread's
// share of a large channel (N * S / kThreads terms, tens of thousands) would lose digits in float.
__global__ void eval_param_grad_kernel(const float* x, const float* g, const float* mean,
                                       const float* invstd, float* gw, float* gb, Dims d) {
  for (int64_t ch = blockIdx.x; ch < d.c; ch += gridDim.x) {
    const float m = mean[ch];
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t e = threadIdx.x; e < d.n * d.s; e += blockDim.x) {
      const int64_t i = ((e / d.s) * d.c + ch) * d.s + e % d.s;
      sum_g += g[i];
      sum_gx += static_cast<double>(g[i] * (x[i] - m));
    }
    sum_g = block_reduce<kThreads>(sum_g, Add{});
    sum_gx = block_reduce<kThreads>(sum_gx, Add{});
    if (threadIdx.x == 0) {
      if (gb) gb[ch] = static_cast<float>(sum_g);
      if (gw) gw[ch] = static_cast<float>(sum_gx * invstd[ch]);
    }
  }
}

// The input gradient with given statistics: eval mode's (constants, so no channel means of g
// enter: mean_g and mean_g_xhat null) or sync BN's (the means over every process's batch).
__global__ void given_stats_grad_input_kernel(const float* x, const float* g, const float* mean,
                                              const float* invstd, const float* weight,
                                              const float* mean_g, const float* mean_g_xhat,
                                              float* gx, Dims d) {
  const int64_t total = d.n * d.c * d.s;
  for (int64_t i : grid_stride(total)) {
    const int64_t ch = (i / d.s) % d.c;
    const float k = (weight ? weight[ch] : 1.0f) * invstd[ch];
    gx[i] = bn_grad_input(g[i], x[i], mean[ch], invstd[ch], k, mean_g ? mean_g[ch] : 0.0f,
                          mean_g_xhat ? mean_g_xhat[ch] : 0.0f);
  }
}

// cuDNN fuses an activation (and a residual add) into batch norm only for NHWC tensors
// (cudnnBatchNormalizationForwardTrainingEx) and these are NCHW, so batch_norm_relu and
// batch_norm_add_relu apply theirs here as a pass over cuDNN's output, in place: the op still
// keeps one tensor. residual is null without one.
__global__ void add_relu_in_place_kernel(float* y, const float* residual, int64_t n) {
  for (int64_t i : grid_stride(n)) y[i] = bn_relu(residual ? y[i] + residual[i] : y[i]);
}

__global__ void relu_grad_kernel(const float* g, const float* y, float* out, int64_t n) {
  for (int64_t i : grid_stride(n)) out[i] = bn_relu_grad(g[i], y[i]);
}

const float kOne = 1.0f, kZero = 0.0f;

void forward_cudnn(const BatchNormForward& a) {
  RF_CHECK(a.eps >= CUDNN_BN_MIN_EPSILON, "batch_norm: eps ", a.eps, " is below cuDNN's minimum ",
           CUDNN_BN_MIN_EPSILON);
  const Device device = a.x.device();
  cudaStream_t stream = cuda_stream(device.index);
  const Dims d = dims_of(a.x);
  if (!a.training) {
    eval_stats_kernel<<<cuda_blocks(d.c, kThreads), kThreads, 0, stream>>>(
        a.running_mean.data(), a.running_var.data(), a.eps, a.save_mean.data(),
        a.save_invstd.data(), d.c);
    RF_CUDA_LAUNCH_CHECK();
  }
  if (a.x.numel() == 0) return;
  const Descriptors desc(d);
  const Tensor weight = or_filled(a.weight, d.c, 1.0f, device);
  const Tensor bias = or_filled(a.bias, d.c, 0.0f, device);
  cudnnHandle_t handle = cudnn_handle(device.index);
  if (a.training) {
    // cuDNN's moving average is running = (1 - factor) running + factor batch, with the
    // unbiased batch variance for the variance, which is PyTorch's update with factor =
    // momentum. Null running pointers skip the update. save_invstd receives 1 / sqrt(var + eps).
    const bool tracked = a.running_mean.defined();
    RF_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, desc.data.get(), a.x.data(),
        desc.data.get(), a.y.data(), desc.param.get(), weight.data(), bias.data(),
        static_cast<double>(a.momentum), tracked ? a.running_mean.data() : nullptr,
        tracked ? a.running_var.data() : nullptr, static_cast<double>(a.eps), a.save_mean.data(),
        a.save_invstd.data()));
  } else {
    RF_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
        handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, desc.data.get(), a.x.data(),
        desc.data.get(), a.y.data(), desc.param.get(), weight.data(), bias.data(),
        a.running_mean.data(), a.running_var.data(), static_cast<double>(a.eps)));
  }
}

void backward_ungated(const BatchNormBackward& a) {
  const Device device = a.x.device();
  const Dims d = dims_of(a.x);
  if (a.training) {
    // cuDNN writes all three gradients; the unwanted ones go to scratch tensors.
    const Tensor gx = a.gx.defined() ? a.gx : Tensor::empty(a.x.shape(), device);
    const Tensor gw = a.gw.defined() ? a.gw : Tensor::empty({d.c}, device);
    const Tensor gb = a.gb.defined() ? a.gb : Tensor::empty({d.c}, device);
    const Tensor weight = or_filled(a.weight, d.c, 1.0f, device);
    const Descriptors desc(d);
    RF_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        cudnn_handle(device.index), CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero,
        desc.data.get(), a.x.data(), desc.data.get(), a.g.data(), desc.data.get(), gx.data(),
        desc.param.get(), weight.data(), gw.data(), gb.data(), static_cast<double>(a.eps),
        a.save_mean.data(), a.save_invstd.data()));
    return;
  }
  cudaStream_t stream = cuda_stream(device.index);
  if (a.gw.defined() || a.gb.defined()) {
    eval_param_grad_kernel<<<grid_for(d.c), kThreads, 0, stream>>>(
        a.x.data(), a.g.data(), a.save_mean.data(), a.save_invstd.data(),
        a.gw.defined() ? a.gw.data() : nullptr, a.gb.defined() ? a.gb.data() : nullptr, d);
    RF_CUDA_LAUNCH_CHECK();
  }
  if (a.gx.defined() && a.x.numel() > 0) {
    given_stats_grad_input_kernel<<<cuda_blocks(a.x.numel(), kThreads), kThreads, 0, stream>>>(
        a.x.data(), a.g.data(), a.save_mean.data(), a.save_invstd.data(),
        a.weight.defined() ? a.weight.data() : nullptr,
        a.mean_g.defined() ? a.mean_g.data() : nullptr,
        a.mean_g_xhat.defined() ? a.mean_g_xhat.data() : nullptr, a.gx.data(), d);
    RF_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace

void batch_norm_forward_cuda(int /*device: the tensors' own*/, const BatchNormForward& a) {
  CudaDeviceGuard guard(a.x.device().index);
  forward_cudnn(a);
  if (!a.relu || a.y.numel() == 0) return;
  const int64_t n = a.y.numel();
  add_relu_in_place_kernel<<<cuda_blocks(n, kThreads), kThreads, 0,
                             cuda_stream(a.y.device().index)>>>(
      a.y.data(), a.residual.defined() ? a.residual.data() : nullptr, n);
  RF_CUDA_LAUNCH_CHECK();
}

void batch_norm_backward_cuda(int /*device: the tensors' own*/, const BatchNormBackward& a) {
  CudaDeviceGuard guard(a.x.device().index);
  if (!a.y.defined() || a.g.numel() == 0) return backward_ungated(a);
  // The fused ReLU's gradient first, then batch norm's backward of it.
  BatchNormBackward gated = a;
  gated.g = Tensor::empty(a.g.shape(), a.g.device());
  gated.y = Tensor();
  const int64_t n = a.g.numel();
  relu_grad_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(a.g.device().index)>>>(
      a.g.data(), a.y.data(), gated.g.data(), n);
  RF_CUDA_LAUNCH_CHECK();
  backward_ungated(gated);
}

}  // namespace repflow::ops
