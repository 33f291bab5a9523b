// The CUDA convolution: cuDNN's legacy convolution API with descriptors and algorithm choices
// made once per shape, precision, device and algorithm policy (conv_algorithms.h). In fp32 the
// math stays plain FMA (no TF32), so results agree with the CPU backend to float rounding (under
// the policy "fastest", FFT and Winograd algorithms may widen that); precision tf32 lets cuDNN use
// tensor cores. In bf16 cuDNN computes on bf16 tensors with float32 sums (its only bf16
// configuration: inputs and outputs alike are bf16), so each call rounds its float32 operands into
// bf16 copies and widens the bf16 result back into the caller's float32 tensor, adding the bias as
// it does. Unlike oneDNN's bf16 on the CPU, which writes float32 outputs, the results are thus
// rounded to bf16 too, as under PyTorch's autocast.
#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include "framework/cuda_context.h"
#include "framework/grid_stride.cuh"
#include "framework/tensor.h"
#include "ops/conv/conv_algorithms.h"
#include "ops/conv/conv_cache.h"
#include "ops/conv/conv_kernels.h"

namespace repflow::ops {
namespace {

constexpr size_t kCacheCapacity = 512;
constexpr int kThreads = 256;

int to_int(int64_t v, const char* what) {
  RF_CHECK(v <= INT_MAX, "conv: ", what, " ", v, " exceeds cuDNN's limit of ", INT_MAX);
  return static_cast<int>(v);
}

// Descriptors for one problem and the algorithm (with its workspace) for each direction.
// In bf16, x, y and w describe the bf16 copies, and y_float the caller's float32 output, which
// the bias gradient is summed from; otherwise y_float is y. Each direction has a convolution
// descriptor of its own, which carries the math type its algorithm was chosen with (cuDNN ranks
// algorithm and math type pairs, and a call under another math type may run another kernel).
struct CudnnConv {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, y_float = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t forward_conv = nullptr, data_conv = nullptr, filter_conv = nullptr;
  cudnnConvolutionFwdAlgo_t forward_algo{};
  cudnnConvolutionBwdDataAlgo_t data_algo{};
  cudnnConvolutionBwdFilterAlgo_t filter_algo{};
  size_t forward_workspace = 0, data_workspace = 0, filter_workspace = 0;

  CudnnConv() = default;
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;
  // Destroying a descriptor fails only for a null one, which is skipped, and a destructor has
  // nobody to report to.
  ~CudnnConv() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (y_float && y_float != y) cudnnDestroyTensorDescriptor(y_float);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    for (cudnnConvolutionDescriptor_t conv : {forward_conv, data_conv, filter_conv})
      if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

void set_tensor(cudnnTensorDescriptor_t desc, cudnnDataType_t type, const std::vector<int>& dims) {
  std::vector<int> strides(dims.size());
  int64_t s = 1;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    strides[d] = to_int(s, "tensor size");
    s *= dims[d];
  }
  to_int(s, "tensor size");
  RF_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, type, static_cast<int>(dims.size()), dims.data(),
                                            strides.data()));
}

// Workspace from the caching allocator. Freeing it when the call returns is safe although the
// work is still queued: the allocator hands blocks out again only to later work on the same
// stream.
struct Workspace {
  Tensor buffer;
  Workspace(int device, size_t bytes) {
    if (bytes > 0)
      buffer = Tensor::empty({static_cast<int64_t>((bytes + 3) / 4)}, Device::cuda(device));
  }
  void* data() const { return buffer.defined() ? buffer.data() : nullptr; }
};

int64_t product(const int64_t* dims, int count) {
  int64_t p = 1;
  for (int d = 0; d < count; ++d) p *= dims[d];
  return p;
}
int64_t x_numel(const ConvGeometry& g) {
  return g.batch * g.in_channels * product(g.in, g.spatial);
}
int64_t w_numel(const ConvGeometry& g) {
  return g.out_channels * (g.in_channels / g.groups) * product(g.kernel, g.spatial);
}
int64_t y_numel(const ConvGeometry& g) {
  return g.batch * g.out_channels * product(g.out, g.spatial);
}

bool exact_float_math(cudnnMathType_t math) {
  return math == CUDNN_DEFAULT_MATH || math == CUDNN_FMA_MATH;
}

// FFT and Winograd algorithms trade accuracy for speed: on an H100 they put whole-model
// gradients about 1e-2 (relative to the largest) away from the CPU backend, while the
// implicit-GEMM ones stay at float rounding.
bool transform_based(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transform_based(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transform_based(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

// Whether a ranked or timed algorithm may serve: it ran (or would), in math the precision
// allows (tensor cores only with `tensor_ops`, TF32 or bf16), and with `exact` not FFT or
// Winograd based.
template <class Perf>
bool allowed(const Perf& perf, bool tensor_ops, bool exact) {
  return perf.status == CUDNN_STATUS_SUCCESS && (tensor_ops || exact_float_math(perf.mathType)) &&
         !(exact && transform_based(perf.algo));
}

[[noreturn]] void no_algorithm(const char* direction, bool tensor_ops) {
  RF_FAIL("conv: cuDNN offers no ", tensor_ops ? "tensor-core " : "float ", direction,
          " algorithm for this convolution",
          tensor_ops ? " (bf16 and tf32 need Ampere or later)" : "");
}

// The largest workspace cuDNN's timed search offers an algorithm: more is rarely faster.
constexpr size_t kSearchWorkspaceCap = size_t{1} << 30;

// A direction's algorithm, the math type it runs in and its workspace. With `tensor_ops` the
// math type cuDNN ranked the algorithm with is set on the direction's descriptor `conv`; float32
// keeps FMA math, since cuDNN's default math allows TF32 on Ampere and later. With `fastest`, cuDNN
// times every algorithm on scratch operands (find(count, &returned, results, workspace, bytes)) and
// the fastest allowed one is taken, the ranking's workspace sizes bounding the search's workspace;
// otherwise the first allowed one of cuDNN's heuristic ranking (query(count, &returned, results))
// whose workspace size (size(algo, &bytes), under the descriptor's math type) cuDNN can state.
template <class Perf, class Algo, class Query, class Size, class Find>
void choose(int device, const char* direction, int max_count, bool tensor_ops, bool fastest,
            cudnnConvolutionDescriptor_t conv, Query query, Size size, Find find, Algo* algo,
            size_t* bytes) {
  std::vector<Perf> perf(max_count);
  int returned = 0;
  RF_CUDNN_CHECK(query(max_count, &returned, perf.data()));
  if (!fastest) {
    for (int i = 0; i < returned; ++i) {
      if (!allowed(perf[i], tensor_ops, /*exact=*/true)) continue;
      if (tensor_ops) RF_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, perf[i].mathType));
      if (size(perf[i].algo, bytes) != CUDNN_STATUS_SUCCESS) continue;
      *algo = perf[i].algo;
      return;
    }
    no_algorithm(direction, tensor_ops);
  }
  size_t largest = 0;
  for (int i = 0; i < returned; ++i) {
    size_t need = 0;
    if (allowed(perf[i], tensor_ops, /*exact=*/false) &&
        size(perf[i].algo, &need) == CUDNN_STATUS_SUCCESS && need <= kSearchWorkspaceCap)
      largest = std::max(largest, need);
  }
  {
    const Workspace work(device, largest);
    RF_CUDNN_CHECK(find(max_count, &returned, perf.data(), work.data(), largest));
  }
  for (int i = 0; i < returned; ++i) {  // fastest first
    if (!allowed(perf[i], tensor_ops, /*exact=*/false)) continue;
    if (tensor_ops) RF_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, perf[i].mathType));
    size_t need = 0;
    if (size(perf[i].algo, &need) != CUDNN_STATUS_SUCCESS) need = 0;
    *algo = perf[i].algo;
    *bytes = std::max(perf[i].memory, need);
    return;
  }
  no_algorithm(direction, tensor_ops);
}

std::shared_ptr<const CudnnConv> make_problem(int device, const ConvGeometry& g,
                                              ConvAlgorithms algorithms) {
  auto c = std::make_shared<CudnnConv>();
  // cuDNN convolves 2 or 3 spatial dims: a 1-D problem gets a leading unit dim.
  const int lead = g.spatial == 1 ? 1 : 0;
  const int spatial = g.spatial + lead;
  std::vector<int> x_dims = {to_int(g.batch, "batch"), to_int(g.in_channels, "channels")};
  std::vector<int> y_dims = {x_dims[0], to_int(g.out_channels, "channels")};
  std::vector<int> w_dims = {y_dims[1], to_int(g.in_channels / g.groups, "channels")};
  std::vector<int> bias_dims = {1, y_dims[1]};
  std::vector<int> padding(lead, 0), stride(lead, 1), dilation(lead, 1);
  for (int d = 0; d < lead; ++d) {
    x_dims.push_back(1);
    y_dims.push_back(1);
    w_dims.push_back(1);
  }
  for (int d = 0; d < g.spatial; ++d) {
    x_dims.push_back(to_int(g.in[d], "input size"));
    y_dims.push_back(to_int(g.out[d], "output size"));
    w_dims.push_back(to_int(g.kernel[d], "kernel size"));
    padding.push_back(to_int(g.padding[d], "padding"));
    stride.push_back(to_int(g.stride[d], "stride"));
    dilation.push_back(to_int(g.dilation[d], "dilation"));
  }
  bias_dims.resize(x_dims.size(), 1);

  const bool bf16 = g.precision == Precision::kBf16;
  const cudnnDataType_t type = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->x));
  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->y));
  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->bias));
  RF_CUDNN_CHECK(cudnnCreateFilterDescriptor(&c->w));
  set_tensor(c->x, type, x_dims);
  set_tensor(c->y, type, y_dims);
  set_tensor(c->bias, CUDNN_DATA_FLOAT, bias_dims);
  c->y_float = c->y;
  if (bf16) {
    RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->y_float));
    set_tensor(c->y_float, CUDNN_DATA_FLOAT, y_dims);
  }
  RF_CUDNN_CHECK(cudnnSetFilterNdDescriptor(c->w, type, CUDNN_TENSOR_NCHW,
                                            static_cast<int>(w_dims.size()), w_dims.data()));
  // TF32: cuDNN may round the float operands to TF32 on tensor cores (Ampere and later); bf16
  // runs on tensor cores too, its sums in float32 (the convolution descriptor's type below).
  const bool tensor_ops = g.precision != Precision::kFp32;
  for (cudnnConvolutionDescriptor_t* conv : {&c->forward_conv, &c->data_conv, &c->filter_conv}) {
    RF_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(conv));
    RF_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(*conv, spatial, padding.data(), stride.data(),
                                                   dilation.data(), CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    RF_CUDNN_CHECK(cudnnSetConvolutionGroupCount(*conv, to_int(g.groups, "groups")));
    RF_CUDNN_CHECK(
        cudnnSetConvolutionMathType(*conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }

  cudnnHandle_t h = cudnn_handle(device);
  // Zeroed scratch operands for the timed search, in the precision's type: each direction
  // writes its result into one of them.
  const bool fastest = algorithms == ConvAlgorithms::kFastest;
  const size_t element = bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
  const Workspace sx(device, fastest ? x_numel(g) * element : 0),
      sw(device, fastest ? w_numel(g) * element : 0),
      sy(device, fastest ? y_numel(g) * element : 0);
  for (const Workspace* s : {&sx, &sw, &sy})
    if (s->data())
      RF_CUDA_CHECK(
          cudaMemsetAsync(s->data(), 0, s->buffer.numel() * sizeof(float), cuda_stream(device)));
  int count = 0;
  RF_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionFwdAlgoPerf_t>(
      device, "forward", count, tensor_ops, fastest, c->forward_conv,
      [&](int n, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, c->x, c->w, c->forward_conv, c->y, n,
                                                      returned, perf);
      },
      [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, c->x, c->w, c->forward_conv, c->y, algo,
                                                       bytes);
      },
      [&](int n, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf, void* work, size_t bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, c->x, sx.data(), c->w, sw.data(),
                                                      c->forward_conv, c->y, sy.data(), n, returned,
                                                      perf, work, bytes);
      },
      &c->forward_algo, &c->forward_workspace);
  RF_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionBwdDataAlgoPerf_t>(
      device, "backward-data", count, tensor_ops, fastest, c->data_conv,
      [&](int n, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c->w, c->y, c->data_conv, c->x, n,
                                                           returned, perf);
      },
      [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->data_conv, c->x, algo,
                                                            bytes);
      },
      [&](int n, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf, void* work, size_t bytes) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, c->w, sw.data(), c->y, sy.data(),
                                                           c->data_conv, c->x, sx.data(), n,
                                                           returned, perf, work, bytes);
      },
      &c->data_algo, &c->data_workspace);
  RF_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
      device, "backward-filter", count, tensor_ops, fastest, c->filter_conv,
      [&](int n, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c->x, c->y, c->filter_conv, c->w, n,
                                                             returned, perf);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->filter_conv, c->w,
                                                              algo, bytes);
      },
      [&](int n, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf, void* work,
          size_t bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, c->x, sx.data(), c->y, sy.data(),
                                                             c->filter_conv, c->w, sw.data(), n,
                                                             returned, perf, work, bytes);
      },
      &c->filter_algo, &c->filter_workspace);
  return c;
}

std::shared_ptr<const CudnnConv> problem(int device, const ConvGeometry& g) {
  static LruCache<CudnnConv> cache(kCacheCapacity);
  const ConvAlgorithms algorithms = conv_algorithms();
  std::vector<int64_t> key = g.key();
  key.push_back(device);
  key.push_back(static_cast<int64_t>(algorithms));
  return cache.get(key, [&] { return make_problem(device, g, algorithms); });
}

__global__ void round_to_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n) {
  for (int64_t i : grid_stride(n)) out[i] = __float2bfloat16(in[i]);
}

// out = in, plus bias[channel] where bias is non-null; elements are (N, channels, inner).
__global__ void widen_from_bf16_kernel(const __nv_bfloat16* in, const float* bias, int64_t channels,
                                       int64_t inner, float* out, int64_t n) {
  for (int64_t i : grid_stride(n)) {
    const float v = __bfloat162float(in[i]);
    out[i] = bias ? v + bias[(i / inner) % channels] : v;
  }
}

// An operand as cuDNN reads it: the caller's float32 data, or in bf16 a rounded copy.
class Operand {
 public:
  Operand(int device, const ConvGeometry& g, const float* data, int64_t n)
      : copy_(device, g.precision == Precision::kBf16 ? n * sizeof(__nv_bfloat16) : 0),
        data_(data) {
    if (g.precision != Precision::kBf16) return;
    round_to_bf16_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(device)>>>(
        data, static_cast<__nv_bfloat16*>(copy_.data()), n);
    RF_CUDA_LAUNCH_CHECK();
    data_ = copy_.data();
  }
  const void* data() const { return data_; }

 private:
  Workspace copy_;
  const void* data_;
};

// A result as cuDNN writes it: the caller's float32 tensor, or in bf16 a copy that finish()
// widens into it.
class Result {
 public:
  Result(int device, const ConvGeometry& g, float* out, int64_t n)
      : device_(device),
        n_(n),
        out_(out),
        copy_(device, g.precision == Precision::kBf16 ? n * sizeof(__nv_bfloat16) : 0) {}
  void* data() const { return copy_.data() ? copy_.data() : out_; }
  bool widens() const { return copy_.data() != nullptr; }
  // Widens a bf16 result, adding bias (per channel of (N, channels, inner)) when non-null.
  void finish(const float* bias = nullptr, int64_t channels = 1, int64_t inner = 1) const {
    if (!widens()) return;
    widen_from_bf16_kernel<<<cuda_blocks(n_, kThreads), kThreads, 0, cuda_stream(device_)>>>(
        static_cast<const __nv_bfloat16*>(copy_.data()), bias, channels, inner, out_, n_);
    RF_CUDA_LAUNCH_CHECK();
  }

 private:
  int device_;
  int64_t n_;
  float* out_;
  Workspace copy_;
};

}  // namespace

void conv_forward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                       const float* bias, float* y) {
  CudaDeviceGuard guard(device);
  const auto c = problem(device, g);
  cudnnHandle_t h = cudnn_handle(device);
  const float one = 1.0f, zero = 0.0f;
  const Operand xs(device, g, x, x_numel(g)), ws(device, g, w, w_numel(g));
  const Result ys(device, g, y, y_numel(g));
  {
    const Workspace work(device, c->forward_workspace);
    RF_CUDNN_CHECK(cudnnConvolutionForward(h, &one, c->x, xs.data(), c->w, ws.data(),
                                           c->forward_conv, c->forward_algo, work.data(),
                                           c->forward_workspace, &zero, c->y, ys.data()));
  }
  if (ys.widens())
    ys.finish(bias, g.out_channels, product(g.out, g.spatial));
  else if (bias)
    RF_CUDNN_CHECK(cudnnAddTensor(h, &one, c->bias, bias, &one, c->y, y));
}

void conv_backward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                        const float* gy, float* gx, float* gw, float* gb) {
  CudaDeviceGuard guard(device);
  const auto c = problem(device, g);
  cudnnHandle_t h = cudnn_handle(device);
  const float one = 1.0f, zero = 0.0f;
  if (gx || gw) {
    const Operand gys(device, g, gy, y_numel(g));
    if (gx) {
      const Operand ws(device, g, w, w_numel(g));
      const Result gxs(device, g, gx, x_numel(g));
      const Workspace work(device, c->data_workspace);
      RF_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, c->w, ws.data(), c->y, gys.data(),
                                                  c->data_conv, c->data_algo, work.data(),
                                                  c->data_workspace, &zero, c->x, gxs.data()));
      gxs.finish();
    }
    if (gw) {
      const Operand xs(device, g, x, x_numel(g));
      const Result gws(device, g, gw, w_numel(g));
      const Workspace work(device, c->filter_workspace);
      RF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, c->x, xs.data(), c->y, gys.data(),
                                                    c->filter_conv, c->filter_algo, work.data(),
                                                    c->filter_workspace, &zero, c->w, gws.data()));
      gws.finish();
    }
  }
  if (gb) RF_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, c->y_float, gy, &zero, c->bias, gb));
}

}  // namespace repflow::ops
