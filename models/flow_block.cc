#include "models/flow_block.h"

#include "ops/batch_norm/batch_norm.h"
#include "ops/cat/cat.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"

namespace repflow {
namespace {

constexpr std::pair<FlowFusion, const char*> kFusionNames[] = {
    {FlowFusion::kNone, "none"},
    {FlowFusion::kAdd, "add"},
    {FlowFusion::kMultiply, "multiply"},
    {FlowFusion::kLayerMultiply, "layer-multiply"},
    {FlowFusion::kConcat, "concat"}};

}  // namespace

FlowFusion parse_flow_fusion(const std::string& text) {
  std::string valid;
  for (const auto& [fusion, name] : kFusionNames) {
    if (text == name) return fusion;
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  RF_FAIL("unknown flow fusion '", excerpt(text), "'; valid: ", valid);
}

const char* flow_fusion_name(FlowFusion fusion) {
  for (const auto& [f, name] : kFusionNames)
    if (f == fusion) return name;
  RF_FAIL("flow_fusion_name: unknown fusion");
}

FlowBlock::FlowBlock(int64_t channels, FlowBlockOptions options) : options_(options) {
  RF_CHECK(channels > 0 && options.reduced_channels > 0 && options.n_iter >= 1,
           "FlowBlock: channels, reduced_channels and n_iter must be positive");
  const int64_t c = channels, r = options.reduced_channels;
  const ops::ConvOptions one;
  reduce_ = register_module(
      "reduce", std::make_shared<Conv>(c, r, std::vector<int64_t>{1, 1, 1}, one, /*bias=*/false));
  expand_ = register_module(
      "expand",
      std::make_shared<Conv>(2 * r, c, std::vector<int64_t>{1, 1, 1}, one, /*bias=*/false));
  if (options.batch_norm) bn_ = register_module("bn", std::make_shared<BatchNorm>(c));
  if (options.fusion == FlowFusion::kLayerMultiply || options.fusion == FlowFusion::kConcat) {
    const bool concat = options.fusion == FlowFusion::kConcat;
    ops::ConvOptions pad;
    if (!concat) pad.padding = {0, 1, 1};
    fuse_ = register_module("fuse", std::make_shared<Sequential>());
    fuse_
        ->add(std::make_shared<Conv>(concat ? 2 * c : c, c,
                                     std::vector<int64_t>{1, concat ? 1 : 3, concat ? 1 : 3}, pad,
                                     /*bias=*/false))
        .add(std::make_shared<BatchNorm>(c));
  }
  const ops::FlowParams d = ops::default_flow_params(options.learned);
  // Registered under their own names, in table order; requires_grad comes from the defaults.
  for (const ops::FlowParamSpec& spec : ops::kFlowParamTable) {
    const Tensor& value = d[spec.id];
    Tensor* t = &register_parameter(spec.name, value.detach().clone());
    t->set_requires_grad(value.requires_grad());
    params_[spec.id] = t;
  }
}

void FlowBlock::check_loaded(const std::string& name, const Tensor& value) const {
  if (name == ops::flow_param_spec(ops::FlowParam::kTheta).name)
    RF_CHECK(value.item() != 0.0f, "theta must be nonzero (the dual step is tau / theta)");
}

Tensor FlowBlock::flow(const Tensor& x) {
  RF_CHECK(x.dim() == 5 && x.size(2) >= 2, "FlowBlock: input ", shape_str(x.shape()),
           " is not (N, C, T, H, W) with T >= 2");
  const int64_t n = x.size(0), t = x.size(2), h = x.size(3), w = x.size(4);
  const int64_t r = options_.reduced_channels;
  Tensor z = reduce_->forward(x);
  // Per-sample min-max to [0, 255]: the TV-L1 parameters assume intensities on that scale.
  const Tensor mn = ops::min(z, {1, 2, 3, 4}, true), mx = ops::max(z, {1, 2, 3, 4}, true);
  z = (z - mn) * 255.0f / (mx - mn + 1e-6f);
  const Tensor frames = ops::permute(z, {0, 2, 1, 3, 4});  // (N, T, C', H, W)
  const Tensor f1 = ops::reshape(ops::narrow(frames, 1, 0, t - 1), {n * (t - 1), r, h, w});
  const Tensor f2 = ops::reshape(ops::narrow(frames, 1, 1, t - 1), {n * (t - 1), r, h, w});
  ops::FlowParams params;
  for (const ops::FlowParamSpec& spec : ops::kFlowParamTable) params[spec.id] = *params_[spec.id];
  const Tensor flow = ops::representation_flow(f1, f2, params, options_.n_iter);
  return ops::permute(ops::reshape(flow, {n, t - 1, 2 * r, h, w}), {0, 2, 1, 3, 4});
}

Tensor FlowBlock::forward(const Tensor& x) {
  const Tensor f = flow(x);
  observe(f);
  Tensor y = expand_->forward(f);
  if (bn_) y = bn_->forward(y);
  if (options_.fusion == FlowFusion::kNone) return y;
  const Tensor features = ops::narrow(x, 2, 0, x.size(2) - 1);
  switch (options_.fusion) {
    case FlowFusion::kAdd:
      return ops::relu(features + y);
    case FlowFusion::kMultiply:
      return ops::relu(features * y);
    case FlowFusion::kLayerMultiply:
      return ops::relu(features * fuse_->forward(y));
    case FlowFusion::kConcat:
      return ops::relu(fuse_->forward(ops::cat({features, y}, 1)));
    case FlowFusion::kNone:
      break;
  }
  return y;
}

FlowOfFlow::FlowOfFlow(int64_t channels, int stages, bool conv_between, FlowBlockOptions options) {
  RF_CHECK(stages >= 1, "FlowOfFlow: needs at least one stage, got ", stages);
  stages_ = register_module("stages", std::make_shared<Sequential>());
  for (int s = 0; s < stages; ++s) {
    stages_->add(std::make_shared<FlowBlock>(channels, options));
    if (conv_between && s + 1 < stages) {
      ops::ConvOptions pad;
      pad.padding = {0, 1, 1};
      stages_
          ->add(std::make_shared<Conv>(channels, channels, std::vector<int64_t>{1, 3, 3}, pad,
                                       /*bias=*/false))
          .add(std::make_shared<BatchNorm>(channels))
          .add(std::make_shared<ReLU>());
    }
  }
}

Tensor FlowOfFlow::forward(const Tensor& x) { return stages_->forward(x); }

}  // namespace repflow
