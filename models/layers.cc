#include "models/layers.h"

#include <cmath>

#include "ops/batch_norm/batch_norm.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/linear/linear.h"
#include "ops/pad/pad.h"

namespace repflow {

Conv::Conv(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel,
           ops::ConvOptions options, bool bias)
    : options_(std::move(options)) {
  RF_CHECK(options_.groups >= 1 && in_channels % options_.groups == 0, "Conv: ", in_channels,
           " input channels do not split into ", options_.groups, " groups");
  Shape shape{out_channels, in_channels / options_.groups};
  int64_t fan_in = in_channels / options_.groups;
  for (int64_t k : kernel) {
    shape.push_back(k);
    fan_in *= k;
  }
  const float bound = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in, 1)));
  weight_ =
      &register_parameter("weight", Tensor::uniform(shape, -bound, bound, default_generator()));
  if (bias)
    bias_ = &register_parameter(
        "bias", Tensor::uniform({out_channels}, -bound, bound, default_generator()));
}

Tensor Conv::forward(const Tensor& x) {
  return ops::conv(x, *weight_, bias_ ? *bias_ : Tensor(), options_);
}

BatchNorm::BatchNorm(int64_t channels, float eps, float momentum) : eps_(eps), momentum_(momentum) {
  weight_ = &register_parameter("weight", Tensor::ones({channels}));
  bias_ = &register_parameter("bias", Tensor::zeros({channels}));
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = &register_buffer("running_var", Tensor::ones({channels}));
}

Tensor BatchNorm::forward(const Tensor& x) {
  if (sync_ && is_training())
    return ops::sync_batch_norm(x, *weight_, *bias_, *running_mean_, *running_var_, momentum_, eps_,
                                sync_);
  return ops::batch_norm(x, *weight_, *bias_, *running_mean_, *running_var_, is_training(),
                         momentum_, eps_);
}

Tensor BatchNorm::forward_relu(const Tensor& x) {
  if (sync_ && is_training()) return ops::relu(forward(x));
  return ops::batch_norm_relu(x, *weight_, *bias_, *running_mean_, *running_var_, is_training(),
                              momentum_, eps_);
}

Tensor BatchNorm::forward_add_relu(const Tensor& x, const Tensor& residual) {
  if (sync_ && is_training()) return ops::relu(forward(x) + residual);
  return ops::batch_norm_add_relu(x, residual, *weight_, *bias_, *running_mean_, *running_var_,
                                  is_training(), momentum_, eps_);
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(in_features, 1)));
  weight_ = &register_parameter(
      "weight", Tensor::uniform({out_features, in_features}, -bound, bound, default_generator()));
  if (bias)
    bias_ = &register_parameter(
        "bias", Tensor::uniform({out_features}, -bound, bound, default_generator()));
}

Tensor Linear::forward(const Tensor& x) {
  return ops::linear(x, *weight_, bias_ ? *bias_ : Tensor());
}

Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p_, is_training(), *gen_); }

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

Tensor MaxPool::forward(const Tensor& x) { return ops::max_pool(x, options_); }

Tensor SamePadding::forward(const Tensor& x) {
  const int spatial = static_cast<int>(kernel_.size());
  RF_CHECK(stride_.size() == kernel_.size() && x.dim() >= spatial, "SamePadding: kernel ",
           shape_str(kernel_), " and stride ", shape_str(stride_), " do not fit input ",
           shape_str(x.shape()));
  std::vector<std::pair<int64_t, int64_t>> padding(x.dim(), {0, 0});
  for (int i = 0; i < spatial; ++i) {
    const int64_t n = x.shape()[x.dim() - spatial + i], k = kernel_[i], s = stride_[i];
    const int64_t total =
        n % s == 0 ? std::max<int64_t>(k - s, 0) : std::max<int64_t>(k - n % s, 0);
    padding[x.dim() - spatial + i] = {total / 2, total - total / 2};
  }
  return ops::pad(x, padding);
}

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
  return *this;
}

Tensor forward_chain(const std::vector<std::shared_ptr<Module>>& modules, const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < modules.size(); ++i) {
    auto* bn = dynamic_cast<BatchNorm*>(modules[i].get());
    if (bn && i + 1 < modules.size() && dynamic_cast<ReLU*>(modules[i + 1].get())) {
      y = bn->forward_relu(y);
      ++i;
    } else {
      y = modules[i]->forward(y);
    }
  }
  return y;
}

Tensor forward_chain_add_relu(const std::vector<std::shared_ptr<Module>>& modules, const Tensor& x,
                              const Tensor& residual) {
  if (modules.empty()) return ops::relu(x + residual);
  const Tensor y = forward_chain({modules.begin(), modules.end() - 1}, x);
  Module* last = modules.back().get();
  if (auto* bn = dynamic_cast<BatchNorm*>(last)) return bn->forward_add_relu(y, residual);
  if (auto* seq = dynamic_cast<Sequential*>(last))
    return forward_chain_add_relu(seq->modules(), y, residual);
  return ops::relu(last->forward(y) + residual);
}

Tensor Sequential::forward(const Tensor& x) { return forward_chain(modules_, x); }

}  // namespace repflow
