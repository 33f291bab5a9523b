// The CUDA convolution: cuDNN's legacy convolution API with descriptors and algorithm choices
// made once per shape, precision and device. In fp32 the math stays plain FMA (no TF32), so
// results agree with the CPU backend to float rounding; precision tf32 lets cuDNN use tensor
// cores.
#include <climits>
#include <memory>
#include <vector>

#include "framework/cuda_context.h"
#include "framework/tensor.h"
#include "ops/conv/conv_cache.h"
#include "ops/conv/conv_kernels.h"

namespace repflow::ops {
namespace {

constexpr size_t kCacheCapacity = 512;

int to_int(int64_t v, const char* what) {
  RF_CHECK(v <= INT_MAX, "conv: ", what, " ", v, " exceeds cuDNN's limit of ", INT_MAX);
  return static_cast<int>(v);
}

// Descriptors for one problem and the algorithm (with its workspace) for each direction.
struct CudnnConv {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
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
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

void set_tensor(cudnnTensorDescriptor_t desc, const std::vector<int>& dims) {
  std::vector<int> strides(dims.size());
  int64_t s = 1;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    strides[d] = to_int(s, "tensor size");
    s *= dims[d];
  }
  to_int(s, "tensor size");
  RF_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, CUDNN_DATA_FLOAT, static_cast<int>(dims.size()),
                                            dims.data(), strides.data()));
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

// The first of cuDNN's heuristic ranking that works in plain float math, is not FFT or
// Winograd based, and whose workspace size cuDNN can state. query(count, &returned, results) and
// workspace(algo, &bytes) wrap the direction's cuDNN calls.
// With `tensor_ops` (TF32 precision) tensor-core math is allowed too.
template <class Perf, class Algo, class Query, class Workspace>
void choose(const char* direction, int max_count, bool tensor_ops, Query query, Workspace workspace,
            Algo* algo, size_t* bytes) {
  std::vector<Perf> perf(max_count);
  int returned = 0;
  RF_CUDNN_CHECK(query(max_count, &returned, perf.data()));
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS ||
        !(tensor_ops || exact_float_math(perf[i].mathType)) || transform_based(perf[i].algo))
      continue;
    if (workspace(perf[i].algo, bytes) != CUDNN_STATUS_SUCCESS) continue;
    *algo = perf[i].algo;
    return;
  }
  RF_FAIL("conv: cuDNN offers no float ", direction, " algorithm for this convolution");
}

std::shared_ptr<const CudnnConv> make_problem(int device, const ConvGeometry& g) {
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

  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->x));
  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->y));
  RF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->bias));
  RF_CUDNN_CHECK(cudnnCreateFilterDescriptor(&c->w));
  RF_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c->conv));
  set_tensor(c->x, x_dims);
  set_tensor(c->y, y_dims);
  set_tensor(c->bias, bias_dims);
  RF_CUDNN_CHECK(cudnnSetFilterNdDescriptor(c->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                            static_cast<int>(w_dims.size()), w_dims.data()));
  RF_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(c->conv, spatial, padding.data(), stride.data(),
                                                 dilation.data(), CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT));
  RF_CUDNN_CHECK(cudnnSetConvolutionGroupCount(c->conv, to_int(g.groups, "groups")));
  RF_CHECK(g.precision != Precision::kBf16,
           "conv: bf16 convolutions are not built for CUDA yet (use precision tf32 or fp32)");
  // TF32: cuDNN may round the float operands to TF32 on tensor cores (Ampere and later).
  const bool tensor_ops = g.precision == Precision::kTf32;
  RF_CUDNN_CHECK(
      cudnnSetConvolutionMathType(c->conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  cudnnHandle_t h = cudnn_handle(device);
  int count = 0;
  RF_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionFwdAlgoPerf_t>(
      "forward", count, tensor_ops,
      [&](int n, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, c->x, c->w, c->conv, c->y, n, returned,
                                                      perf);
      },
      [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, c->x, c->w, c->conv, c->y, algo, bytes);
      },
      &c->forward_algo, &c->forward_workspace);
  RF_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionBwdDataAlgoPerf_t>(
      "backward-data", count, tensor_ops,
      [&](int n, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c->w, c->y, c->conv, c->x, n,
                                                           returned, perf);
      },
      [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->conv, c->x, algo,
                                                            bytes);
      },
      &c->data_algo, &c->data_workspace);
  RF_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &count));
  choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
      "backward-filter", count, tensor_ops,
      [&](int n, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c->x, c->y, c->conv, c->w, n,
                                                             returned, perf);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->conv, c->w, algo,
                                                              bytes);
      },
      &c->filter_algo, &c->filter_workspace);
  return c;
}

std::shared_ptr<const CudnnConv> problem(int device, const ConvGeometry& g) {
  static LruCache<CudnnConv> cache(kCacheCapacity);
  std::vector<int64_t> key = g.key();
  key.push_back(device);
  return cache.get(key, [&] { return make_problem(device, g); });
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

}  // namespace

void conv_forward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                       const float* bias, float* y) {
  CudaDeviceGuard guard(device);
  const auto c = problem(device, g);
  cudnnHandle_t h = cudnn_handle(device);
  const float one = 1.0f, zero = 0.0f;
  const Workspace ws(device, c->forward_workspace);
  RF_CUDNN_CHECK(cudnnConvolutionForward(h, &one, c->x, x, c->w, w, c->conv, c->forward_algo,
                                         ws.data(), c->forward_workspace, &zero, c->y, y));
  if (bias) RF_CUDNN_CHECK(cudnnAddTensor(h, &one, c->bias, bias, &one, c->y, y));
}

void conv_backward_cuda(int device, const ConvGeometry& g, const float* x, const float* w,
                        const float* gy, float* gx, float* gw, float* gb) {
  CudaDeviceGuard guard(device);
  const auto c = problem(device, g);
  cudnnHandle_t h = cudnn_handle(device);
  const float one = 1.0f, zero = 0.0f;
  if (gx) {
    const Workspace ws(device, c->data_workspace);
    RF_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, c->w, w, c->y, gy, c->conv, c->data_algo,
                                                ws.data(), c->data_workspace, &zero, c->x, gx));
  }
  if (gw) {
    const Workspace ws(device, c->filter_workspace);
    RF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, c->x, x, c->y, gy, c->conv,
                                                  c->filter_algo, ws.data(), c->filter_workspace,
                                                  &zero, c->w, gw));
  }
  if (gb) RF_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, c->y, gy, &zero, c->bias, gb));
}

}  // namespace repflow::ops
