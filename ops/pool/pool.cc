#include "ops/pool/pool.h"

#include <climits>
#include <memory>

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/op_common.h"
#include "ops/pool/pool_kernels.h"
#include "ops/reduce/reduce.h"

namespace repflow::ops {

namespace {

// The pooling schedules by device (ops/dispatch.h).
const DispatchStub<void(const PoolGeometry&, const float*, float*, int32_t*)> max_pool_forward_stub{
    "max_pool", max_pool_forward_cpu, RF_CUDA_SCHEDULE(max_pool_forward_cuda)};
const DispatchStub<void(const PoolGeometry&, const float*, float*)> avg_pool_forward_stub{
    "avg_pool", avg_pool_forward_cpu, RF_CUDA_SCHEDULE(avg_pool_forward_cuda)};
const DispatchStub<void(const PoolGeometry&, const float*, const int32_t*, float*)>
    max_pool_backward_stub{"max_pool backward", max_pool_backward_cpu,
                           RF_CUDA_SCHEDULE(max_pool_backward_cuda)};
const DispatchStub<void(const PoolGeometry&, const float*, float*)> avg_pool_backward_stub{
    "avg_pool backward", avg_pool_backward_cpu, RF_CUDA_SCHEDULE(avg_pool_backward_cuda)};

}  // namespace
namespace {

// One entry per spatial dimension: a single entry is repeated.
std::vector<int64_t> per_dim(const char* op, const char* name, const std::vector<int64_t>& list,
                             int spatial) {
  RF_CHECK(list.size() == 1 || static_cast<int>(list.size()) == spatial, op, ": ", name, " has ",
           list.size(), " entries for ", spatial, " spatial dims (give 1 or ", spatial, ")");
  return list.size() == 1 ? std::vector<int64_t>(spatial, list[0]) : list;
}

// The geometry of pooling x with `options`, and the output shape; every check of the options.
PoolGeometry plan_pool(const char* op, const Tensor& x, const PoolOptions& options,
                       Shape* out_shape) {
  const int spatial = x.dim() - 2;
  RF_CHECK(spatial >= 1 && spatial <= 3, op,
           ": expected an input (N, C, *spatial) with 1 to 3 spatial dims, got ",
           shape_str(x.shape()));
  const Shape kernel = per_dim(op, "kernel", options.kernel, spatial);
  const Shape stride =
      options.stride.empty() ? kernel : per_dim(op, "stride", options.stride, spatial);
  const Shape pad = per_dim(op, "padding", options.padding, spatial);
  const std::string settings = " (kernel " + shape_str(kernel) + ", stride " + shape_str(stride) +
                               ", padding " + shape_str(pad) + ")";
  PoolGeometry g;
  g.planes = x.size(0) * x.size(1);
  g.count_include_pad = options.count_include_pad;
  *out_shape = {x.size(0), x.size(1)};
  for (int d = 0; d < spatial; ++d) {
    RF_CHECK(kernel[d] >= 1, op, ": kernel must be at least 1 in every dim", settings);
    RF_CHECK(stride[d] >= 1, op, ": stride must be at least 1 in every dim", settings);
    RF_CHECK(pad[d] >= 0 && pad[d] <= kernel[d] / 2, op, ": padding ", pad[d], " in spatial dim ",
             d, " should be between 0 and half the kernel", settings);
    const int64_t in = x.size(d + 2);
    const int64_t out = pool_output_size(in, kernel[d], stride[d], pad[d], options.ceil_mode);
    RF_CHECK(out > 0, op, ": output size ", out, " in spatial dim ", d, " for input ",
             shape_str(x.shape()), settings);
    // Dimensions are right-aligned: 1-D and 2-D problems keep size-1 leading dimensions.
    const int k = 3 - spatial + d;
    g.in[k] = in;
    g.out[k] = out;
    g.kernel[k] = kernel[d];
    g.stride[k] = stride[d];
    g.pad[k] = pad[d];
    out_shape->push_back(out);
  }
  return g;
}

}  // namespace

Tensor max_pool(const Tensor& x, const PoolOptions& options) {
  Shape out_shape;
  const PoolGeometry g = plan_pool("max_pool", x, options, &out_shape);
  // The argmax positions are int32 within a plane; Storage holds float32, so they live in a
  // float buffer of the same size, written and read as int32 only.
  RF_CHECK(g.in_plane() <= INT_MAX, "max_pool: planes of ", g.in_plane(),
           " elements are more than int32 indices address (input ", shape_str(x.shape()), ")");
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.device());
  const auto indices = std::make_shared<Storage>(static_cast<size_t>(y.numel()), x.device());
  int32_t* index_data = reinterpret_cast<int32_t*>(indices->data());
  max_pool_forward_stub(x.device(), g, xc.data(), y.data(), index_data);
  const Shape x_shape = x.shape();
  return record("max_pool", y, {xc}, [g, indices, x_shape](const Tensor& grad, const GradMask&) {
    const Tensor gy = grad.contiguous();
    Tensor gx = Tensor::zeros(x_shape, gy.device());
    const int32_t* idx = reinterpret_cast<const int32_t*>(indices->data());
    max_pool_backward_stub(gy.device(), g, gy.data(), idx, gx.data());
    return std::vector<Tensor>{gx};
  });
}

Tensor avg_pool(const Tensor& x, const PoolOptions& options) {
  Shape out_shape;
  const PoolGeometry g = plan_pool("avg_pool", x, options, &out_shape);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.device());
  avg_pool_forward_stub(x.device(), g, xc.data(), y.data());
  const Shape x_shape = x.shape();
  return record("avg_pool", y, {xc}, [g, x_shape](const Tensor& grad, const GradMask&) {
    const Tensor gy = grad.contiguous();
    Tensor gx = Tensor::zeros(x_shape, gy.device());
    avg_pool_backward_stub(gy.device(), g, gy.data(), gx.data());
    return std::vector<Tensor>{gx};
  });
}

Tensor global_avg_pool(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  return mean(x, dims, keepdim);
}

}  // namespace repflow::ops
