#include <array>

#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "ops/elementwise/elementwise_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {
namespace {

constexpr int kThreads = 256;

// Operands of one elementwise launch, by value: up to three inputs read through broadcast
// layouts, one contiguous output.
template <int N>
struct Operands {
  const float* in[N];
  StridedLayout layout[N];
  float* out;
  int64_t n;
};

template <int N>
Operands<N> operands(const Tensor& out, const std::array<const Tensor*, N>& inputs) {
  Operands<N> o;
  for (int k = 0; k < N; ++k) {
    o.in[k] = inputs[k]->data();
    o.layout[k] = broadcast_layout(*inputs[k], out.shape());
  }
  StridedLayout out_layout = out.layout();
  std::vector<StridedLayout*> all{&out_layout};
  for (int k = 0; k < N; ++k) all.push_back(&o.layout[k]);
  coalesce(all);
  o.out = out.data();
  o.n = out.numel();
  return o;
}

template <int N, class F>
__global__ void map_kernel(Operands<N> o, F f) {
  for (int64_t i : grid_stride(o.n)) {
    if constexpr (N == 1) o.out[i] = f(o.in[0][o.layout[0].offset(i)]);
    if constexpr (N == 2)
      o.out[i] = f(o.in[0][o.layout[0].offset(i)], o.in[1][o.layout[1].offset(i)]);
    if constexpr (N == 3)
      o.out[i] = f(o.in[0][o.layout[0].offset(i)], o.in[1][o.layout[1].offset(i)],
                   o.in[2][o.layout[2].offset(i)]);
  }
}

template <int N, class F>
void launch(const Tensor& out, const std::array<const Tensor*, N>& inputs, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int device = out.device().index;
  CudaDeviceGuard guard(device);
  map_kernel<N>
      <<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(operands<N>(out, inputs), f);
  RF_CUDA_LAUNCH_CHECK();
}

template <UnaryOp k>
struct UnaryFn {
  UnaryParams p;
  __device__ float operator()(float x) const { return unary_value<k>(x, p); }
};

template <UnaryOp k>
struct UnaryGradFn {
  UnaryParams p;
  __device__ float operator()(float x, float y, float g) const { return unary_grad<k>(x, y, g, p); }
};

template <BinaryOp k>
struct BinaryFn {
  __device__ float operator()(float a, float b) const { return binary_value<k>(a, b); }
};

struct WhereFn {
  __device__ float operator()(float c, float a, float b) const { return where_value(c, a, b); }
};

}  // namespace

void unary_cuda(int /*device: the tensors' own*/, UnaryOp op, UnaryParams p, const Tensor& x,
                const Tensor& y) {
  visit_unary(op, [&](auto tag) { launch<1>(y, {&x}, UnaryFn<decltype(tag)::value>{p}); });
}

void unary_grad_cuda(int /*device: the tensors' own*/, UnaryOp op, UnaryParams p, const Tensor& x,
                     const Tensor& y, const Tensor& g, const Tensor& gx) {
  const Tensor& xs = x.defined() ? x : g;
  const Tensor& ys = y.defined() ? y : g;
  visit_unary(op, [&](auto tag) {
    launch<3>(gx, {&xs, &ys, &g}, UnaryGradFn<decltype(tag)::value>{p});
  });
}

void binary_cuda(int /*device: the tensors' own*/, BinaryOp op, const Tensor& a, const Tensor& b,
                 const Tensor& out) {
  visit_binary(op, [&](auto tag) { launch<2>(out, {&a, &b}, BinaryFn<decltype(tag)::value>{}); });
}

void where_cuda(int /*device: the tensors' own*/, const Tensor& cond, const Tensor& a,
                const Tensor& b, const Tensor& out) {
  launch<3>(out, {&cond, &a, &b}, WhereFn{});
}

}  // namespace repflow::ops
