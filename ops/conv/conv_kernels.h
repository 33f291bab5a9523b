#pragma once
// Entry points of the convolution backends. Every tensor is contiguous: x (N, C_in, *in),
// weight (C_out, C_in / groups, *kernel), bias (C_out), y (N, C_out, *out).
#include <cstdint>
#include <vector>

#include "framework/precision.h"

namespace repflow::ops {

struct ConvGeometry {
  int spatial = 0;  // 1, 2 or 3
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  int64_t in[3] = {}, kernel[3] = {}, out[3] = {};
  int64_t stride[3] = {}, padding[3] = {}, dilation[3] = {};
  // The products' precision (framework/precision.h): bf16 on the CPU (oneDNN), TF32 on CUDA
  // (cuDNN's tensor-op math); fp32 otherwise. Inputs and outputs are float32 tensors either way.
  Precision precision = Precision::kFp32;

  // Everything that determines a primitive or an algorithm choice, for the caches.
  std::vector<int64_t> key() const {
    std::vector<int64_t> k = {spatial,      batch,  in_channels,
                              out_channels, groups, static_cast<int64_t>(precision)};
    for (int d = 0; d < spatial; ++d)
      k.insert(k.end(), {in[d], kernel[d], stride[d], padding[d], dilation[d]});
    return k;
  }
};

// y = conv(x, w) (+ bias when non-null).
void conv_forward_cpu(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                      float* y);
// Writes the gradients whose pointers are non-null; x is read only for gw and gb, w only for gx.
void conv_backward_cpu(const ConvGeometry& g, const float* x, const float* w, const float* gy,
                       float* gx, float* gw, float* gb);

#if REPFLOW_WITH_CUDA
void conv_forward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                       const float* bias, float* y);
void conv_backward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                        const float* gy, float* gx, float* gw, float* gb);
#endif

}  // namespace repflow::ops
