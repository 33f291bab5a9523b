#include "ops/conv/conv.h"

#include <string>

#include "framework/autograd.h"
#include "ops/conv/conv_kernels.h"
#include "ops/dispatch.h"
#include "ops/op_common.h"

namespace repflow::ops {

namespace {

// The convolution schedules by device (ops/dispatch.h).
const DispatchStub<void(const ConvGeometry&, const float*, const float*, const float*, float*)>
    forward_stub{"conv", conv_forward_cpu, RF_CUDA_SCHEDULE(conv_forward_cuda)};
const DispatchStub<void(const ConvGeometry&, const float*, const float*, const float*, float*,
                        float*, float*)>
    backward_stub{"conv backward", conv_backward_cpu, RF_CUDA_SCHEDULE(conv_backward_cuda)};

}  // namespace
namespace {

std::string list_str(const std::vector<int64_t>& v) { return shape_str(Shape(v)); }

// A per-dimension option expanded to one entry per spatial dimension.
std::vector<int64_t> expand_option(const char* op, const char* name, const std::vector<int64_t>& v,
                                   int spatial) {
  RF_CHECK(v.size() == 1 || static_cast<int>(v.size()) == spatial, op, ": ", name, " ", list_str(v),
           " has ", v.size(), " entries but the input has ", spatial, " spatial dims (give 1 or ",
           spatial, ")");
  return v.size() == 1 ? std::vector<int64_t>(spatial, v[0]) : v;
}

ConvGeometry plan_conv(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const ConvOptions& options) {
  RF_CHECK(x.defined() && weight.defined(), op, ": input and weight must be defined");
  check_same_device(op, {x, weight, bias});
  RF_CHECK(x.dim() >= 3 && x.dim() <= 5, op, ": input ", shape_str(x.shape()),
           " must have rank 3, 4 or 5 (N, C, then 1 to 3 spatial dims)");
  RF_CHECK(weight.dim() == x.dim(), op, ": weight ", shape_str(weight.shape()), " must have rank ",
           x.dim(), " like the input ", shape_str(x.shape()), " (C_out, C_in / groups, kernel)");
  ConvGeometry g;
  g.precision = compute_precision();
  g.spatial = x.dim() - 2;
  g.batch = x.size(0);
  g.in_channels = x.size(1);
  g.out_channels = weight.size(0);
  g.groups = options.groups;
  const std::string w_str = shape_str(weight.shape());
  RF_CHECK(g.groups >= 1, op, ": groups must be at least 1, got ", g.groups);
  RF_CHECK(g.in_channels % g.groups == 0, op, ": input channels ", g.in_channels,
           " are not divisible by groups ", g.groups);
  RF_CHECK(g.out_channels % g.groups == 0, op, ": output channels ", g.out_channels, " (weight ",
           w_str, ") are not divisible by groups ", g.groups);
  RF_CHECK(weight.size(1) * g.groups == g.in_channels, op, ": input has ", g.in_channels,
           " channels but weight ", w_str, " with groups ", g.groups, " expects ",
           weight.size(1) * g.groups);
  RF_CHECK(weight.numel() > 0, op, ": weight ", w_str, " is empty");
  if (bias.defined()) {
    RF_CHECK(bias.dim() == 1 && bias.size(0) == g.out_channels, op, ": bias ",
             shape_str(bias.shape()), " must have shape [", g.out_channels,
             "] to match the output channels of weight ", w_str);
  }
  const auto stride = expand_option(op, "stride", options.stride, g.spatial);
  const auto padding = expand_option(op, "padding", options.padding, g.spatial);
  const auto dilation = expand_option(op, "dilation", options.dilation, g.spatial);
  for (int d = 0; d < g.spatial; ++d) {
    RF_CHECK(stride[d] >= 1, op, ": stride ", list_str(options.stride), " must be at least 1");
    RF_CHECK(dilation[d] >= 1, op, ": dilation ", list_str(options.dilation),
             " must be at least 1");
    RF_CHECK(padding[d] >= 0, op, ": padding ", list_str(options.padding), " must not be negative");
    g.in[d] = x.size(2 + d);
    g.kernel[d] = weight.size(2 + d);
    g.stride[d] = stride[d];
    g.padding[d] = padding[d];
    g.dilation[d] = dilation[d];
    const int64_t span = dilation[d] * (g.kernel[d] - 1) + 1;
    const int64_t padded = g.in[d] + 2 * padding[d];
    RF_CHECK(span <= padded, op, ": kernel ", span, " (dilated) larger than padded input ", padded,
             " in spatial dim ", d, " (input ", shape_str(x.shape()), ", weight ", w_str, ")");
    g.out[d] = (padded - span) / stride[d] + 1;
  }
  return g;
}

Shape output_shape(const ConvGeometry& g) {
  Shape s = {g.batch, g.out_channels};
  s.insert(s.end(), g.out, g.out + g.spatial);
  return s;
}

Tensor conv_impl(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const ConvOptions& options) {
  const ConvGeometry g = plan_conv(op, x, weight, bias, options);
  const Device device = x.device();
  // The node records x, weight and bias themselves; these copies stay out of the graph.
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = Tensor::empty(output_shape(g), device);
  if (g.batch > 0) {
    const float* b = bc.defined() ? bc.data() : nullptr;
    forward_stub(device, g, xc.data(), wc.data(), b, y.data());
  }
  // x is needed only for the weight gradient, the weight only for the input's.
  const Tensor saved_x = weight.requires_grad() ? xc : Tensor();
  const Tensor saved_w = x.requires_grad() ? wc : Tensor();
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  const bool has_bias = bias.defined();
  return record(
      op, y, {x, weight, bias},
      [g, saved_x, saved_w, x_shape, w_shape, has_bias](const Tensor& grad, const GradMask& needs) {
        const Device dev = grad.device();
        const Tensor gy = grad.contiguous();
        Tensor gx = needs[0] ? Tensor::empty(x_shape, dev) : Tensor();
        Tensor gw = needs[1] ? Tensor::empty(w_shape, dev) : Tensor();
        Tensor gb = has_bias && needs[2] ? Tensor::empty({g.out_channels}, dev) : Tensor();
        if (g.batch == 0) {
          // No samples: nothing flows back to the weights.
          if (gw.defined()) gw.fill_(0.0f);
          if (gb.defined()) gb.fill_(0.0f);
          return std::vector<Tensor>{gx, gw, gb};
        }
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data() : nullptr; };
        // g carries the forward's precision: the backward runs in it too.
        backward_stub(dev, g, ptr(saved_x), ptr(saved_w), gy.data(), ptr(gx), ptr(gw), ptr(gb));
        return std::vector<Tensor>{gx, gw, gb};
      });
}

}  // namespace

Tensor conv(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options) {
  return conv_impl("conv", x, weight, bias, options);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  RF_CHECK(!x.defined() || x.dim() == 4, "conv2d: input ", shape_str(x.shape()),
           " must have rank 4 (N, C, H, W)");
  return conv_impl("conv2d", x, weight, bias, options);
}

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  RF_CHECK(!x.defined() || x.dim() == 5, "conv3d: input ", shape_str(x.shape()),
           " must have rank 5 (N, C, D, H, W)");
  return conv_impl("conv3d", x, weight, bias, options);
}

}  // namespace repflow::ops
