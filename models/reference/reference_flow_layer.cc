#include "models/reference/reference_flow_layer.h"

#include "framework/autograd.h"
#include "ops/cat/cat.h"
#include "ops/conv/conv.h"
#include "ops/elementwise/elementwise.h"
#include "ops/pad/pad.h"
#include "ops/reduce/reduce.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"

namespace repflow {
namespace {

// The published layer's theta, named `t` in its state dict; a = tau is divided by it.
constexpr const char* kThetaName = "t";

// A (B, B, kh, kw) kernel whose every (out, in) pair holds `taps`: the published code repeats
// one small kernel over all channel pairs, so each output channel sums over every input one.
Tensor dense_kernel(int64_t b, int64_t kh, int64_t kw, const std::vector<float>& taps) {
  std::vector<float> values;
  for (int64_t i = 0; i < b * b; ++i) values.insert(values.end(), taps.begin(), taps.end());
  return Tensor::from_vector({b, b, kh, kw}, values);
}

using Pads = std::vector<std::pair<int64_t, int64_t>>;

// Pads the last two dims (rows, columns) of an (n, B, H, W) tensor.
Tensor pad_hw(const Tensor& x, std::pair<int64_t, int64_t> rows, std::pair<int64_t, int64_t> cols) {
  return ops::pad(x, Pads{{0, 0}, {0, 0}, rows, cols});
}

// 0.5 * (x[..., 1] - x[..., 0]) and 0.5 * (x[..., n-1] - x[..., n-2]) along `dim`, each kept
// as a size-1 slice: the published layer's one-sided differences at the borders.
std::pair<Tensor, Tensor> border_differences(const Tensor& x, int dim) {
  const int64_t n = x.size(dim);
  const Tensor first = (ops::narrow(x, dim, 1, 1) - ops::narrow(x, dim, 0, 1)) * 0.5f;
  const Tensor last = (ops::narrow(x, dim, n - 1, 1) - ops::narrow(x, dim, n - 2, 1)) * 0.5f;
  return {first, last};
}

// g with its first and last entries along `dim` replaced (the published code assigns into
// them in place; here they are rebuilt by concatenation so autograd sees the same function).
Tensor replace_borders(const Tensor& g, int dim, const std::pair<Tensor, Tensor>& borders) {
  const int64_t n = g.size(dim);
  return ops::cat({borders.first, ops::narrow(g, dim, 1, n - 2), borders.second}, dim);
}

// D(q, k): shift q down one row (zero first row, last row dropped), pad one zero row at the
// bottom, convolve with the (B, B, 2, 1) kernel k.
Tensor shifted_difference(const Tensor& q, const Tensor& k) {
  const int64_t h = q.size(2);
  const Tensor shifted = pad_hw(ops::narrow(q, 2, 0, h - 1), {1, 0}, {0, 0});
  return ops::conv2d(pad_hw(shifted, {0, 1}, {0, 0}), k);
}

}  // namespace

ReferenceFlowLayer::ReferenceFlowLayer(int64_t channels, int64_t bottleneck, int n_iter,
                                       std::vector<bool> learnable)
    : bottleneck_(bottleneck), n_iter_(n_iter) {
  RF_CHECK(channels > 0 && bottleneck > 0 && n_iter >= 1,
           "reference_flow_layer: channels, bottleneck and n_iter must be positive, got ", channels,
           ", ", bottleneck, ", ", n_iter);
  RF_CHECK(learnable.size() == 5, "reference_flow_layer: 'learnable' needs 5 flags, got ",
           learnable.size());
  const int64_t b = bottleneck;
  const auto param = [this](const char* name, Tensor value, bool learn) -> Tensor* {
    Tensor* t = &register_parameter(name, std::move(value));
    t->set_requires_grad(learn);
    return t;
  };
  img_grad_ = param("img_grad", dense_kernel(b, 1, 3, {-0.5f, 0.0f, 0.5f}), learnable[0]);
  img_grad2_ = param("img_grad2", dense_kernel(b, 3, 1, {-0.5f, 0.0f, 0.5f}), learnable[0]);
  f_grad_ = param("f_grad", dense_kernel(b, 2, 1, {-1.0f, 1.0f}), learnable[1]);
  f_grad2_ = param("f_grad2", dense_kernel(b, 2, 1, {-1.0f, 1.0f}), learnable[1]);
  div_ = param("div", dense_kernel(b, 2, 1, {-1.0f, 1.0f}), learnable[1]);
  div2_ = param("div2", dense_kernel(b, 2, 1, {-1.0f, 1.0f}), learnable[1]);
  t_ = param(kThetaName, Tensor::full({1}, 0.3f), learnable[2]);
  l_ = param("l", Tensor::full({1}, 0.15f), learnable[3]);
  a_ = param("a", Tensor::full({1}, 0.25f), learnable[4]);
  bottleneck_conv_ = register_module(
      "bottleneck", std::make_shared<Conv>(channels, b, std::vector<int64_t>{1, 1, 1},
                                           ops::ConvOptions{}, /*bias=*/false));
  unbottleneck_conv_ = register_module(
      "unbottleneck", std::make_shared<Conv>(2 * b, channels, std::vector<int64_t>{1, 1, 1},
                                             ops::ConvOptions{}, /*bias=*/false));
  bn_ = register_module("bn", std::make_shared<BatchNorm>(channels));
}

Tensor ReferenceFlowLayer::forward(const Tensor& x) {
  RF_CHECK(x.dim() == 5 && x.size(2) >= 2 && x.size(3) >= 2 && x.size(4) >= 2,
           "reference_flow_layer: input ", shape_str(x.shape()),
           " is not (n, C, T, H, W) with T, H, W >= 2");
  const int64_t n = x.size(0), t = x.size(2), h = x.size(3), w = x.size(4), b = bottleneck_;
  const Tensor residual = ops::narrow(x, 2, 0, t - 1);

  // Min-max over the whole tensor, with the published sign: values land in [-255, 0].
  Tensor z = bottleneck_conv_->forward(x);
  const Tensor mn = ops::min(z), mx = ops::max(z);
  z = (z - mn) * 255.0f / (mn - mx);

  // (n, B, T, H, W) -> frames t and t+1 as (n (T-1), B, H, W), sample-major.
  const Tensor frames = ops::permute(z, {0, 2, 1, 3, 4});
  const Tensor first = ops::reshape(ops::narrow(frames, 1, 0, t - 1), {n * (t - 1), b, h, w});
  const Tensor second = ops::reshape(ops::narrow(frames, 1, 1, t - 1), {n * (t - 1), b, h, w});

  const Tensor flow = this->flow(first, second);
  // (n (T-1), 2B, H, W) -> (n, 2B, T-1, H, W).
  const Tensor flow_frames =
      ops::permute(ops::reshape(flow, {n, t - 1, 2 * b, h, w}), {0, 2, 1, 3, 4});
  observe(flow_frames);
  return bn_->forward_add_relu(unbottleneck_conv_->forward(flow_frames), residual);
}

void ReferenceFlowLayer::check_loaded(const std::string& name, const Tensor& value) const {
  if (name == kThetaName)
    RF_CHECK(value.item() != 0.0f, kThetaName,
             " (theta) must be nonzero (a = tau is divided by it)");
}

Tensor ReferenceFlowLayer::flow(const Tensor& first, const Tensor& second) {
  RF_CHECK(first.dim() == 4 && first.shape() == second.shape() && first.size(1) == bottleneck_ &&
               first.size(2) >= 2 && first.size(3) >= 2,
           "reference_flow_layer: frames ", shape_str(first.shape()), " and ",
           shape_str(second.shape()), " are not two (m, ", bottleneck_, ", H, W) with H, W >= 2");
  const int64_t h = first.size(2), w = first.size(3);
  const Tensor gx = replace_borders(ops::conv2d(pad_hw(second, {0, 0}, {1, 1}), *img_grad_), 3,
                                    border_differences(first, 3));
  const Tensor gy = replace_borders(ops::conv2d(pad_hw(second, {1, 1}, {0, 0}), *img_grad2_), 2,
                                    border_differences(first, 2));

  const Tensor lt = *l_ * *t_, taut = *a_ / *t_;
  const Tensor g2 = gx * gx + gy * gy + 1e-12f;
  const Tensor rho_c = second - first;
  const Tensor zero = Tensor::zeros(first.shape(), first.device());
  // The published fgrad zeroes the last row of both components.
  const Tensor last_row_zero =
      ops::pad(Tensor::ones({h - 1, w}, first.device()), Pads{{0, 1}, {0, 0}});
  const auto fgrad = [&](const Tensor& u) {
    const Tensor padded = pad_hw(u, {0, 1}, {0, 0});
    return std::make_pair(ops::conv2d(padded, *f_grad_) * last_row_zero,
                          ops::conv2d(padded, *f_grad2_) * last_row_zero);
  };
  const auto divergence = [&](const Tensor& a, const Tensor& c) {
    return shifted_difference(a, *div_) + shifted_difference(c, *div2_);
  };
  const auto p_update = [&](const Tensor& p, const Tensor& grad, const Tensor& gx_u,
                            const Tensor& gy_u) {
    return (p + taut * grad) / (taut * ops::sqrt(gx_u * gx_u + gy_u * gy_u + 1e-12f) + 1.0f);
  };

  Tensor u1 = zero, u2 = zero, p11 = zero, p12 = zero, p21 = zero, p22 = zero;
  for (int iter = 0; iter < n_iter_; ++iter) {
    const Tensor rho = rho_c + gx * u1 + gy * u2 + 1e-12f;
    Tensor m1, m2, m3;
    {
      NoGradGuard no_grad;  // the masks carry no gradient
      const Tensor bound = lt.detach() * g2.detach();
      m1 = ops::lt(rho, ops::neg(bound));
      m2 = ops::gt(rho, bound);
      m3 = ops::gt(g2, Tensor::scalar(1e-12f, first.device()));
    }
    const auto threshold = [&](const Tensor& g) {
      return ops::where(
          m1, lt * g,
          ops::where(m2, ops::neg(lt * g), ops::where(m3, ops::neg(rho / g2 * g), zero)));
    };
    const Tensor v1 = threshold(gx) + u1, v2 = threshold(gy) + u2;
    u1 = v1 + *t_ * divergence(p11, p12);
    u2 = v2 + *t_ * divergence(p21, p22);
    const auto [u1x, u1y] = fgrad(u1);
    const auto [u2x, u2y] = fgrad(u2);
    p11 = p_update(p11, u1x, u1x, u1y);
    p12 = p_update(p12, u1y, u1x, u1y);
    p21 = p_update(p21, u2x, u2x, u2y);
    p22 = p_update(p22, u2y, u2x, u2y);
  }

  return ops::cat({u1, u2}, 1);
}

}  // namespace repflow
