#include "models/resnet.h"

#include <algorithm>

#include "models/flow_input.h"
#include "models/layers.h"
#include "ops/elementwise/elementwise.h"
#include "ops/pool/pool.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"

namespace repflow {
namespace {

std::shared_ptr<Conv> conv(int64_t in, int64_t out, std::vector<int64_t> kernel,
                           std::vector<int64_t> stride, std::vector<int64_t> padding) {
  ops::ConvOptions options;
  options.stride = std::move(stride);
  options.padding = std::move(padding);
  return std::make_shared<Conv>(in, out, std::move(kernel), options, /*bias=*/false);
}

// How a flavour stands in for a 3x3 conv in one stage.
enum class Conv3x3 { k2d, k3d, k2plus1d, kSpatial3d };

Conv3x3 conv3x3_of(ResNetKind kind, int stage) {
  switch (kind) {
    case ResNetKind::k2d:
      return Conv3x3::k2d;
    case ResNetKind::k2plus1d:
      return Conv3x3::k2plus1d;
    case ResNetKind::k3d:
      return Conv3x3::k3d;
    case ResNetKind::kMixed3d:
      return stage == 0 ? Conv3x3::k3d : Conv3x3::kSpatial3d;
  }
  RF_FAIL("ResNet: unknown kind");
}

// A 1x1 conv (pointwise) with a stride in space and, for video, in time.
std::shared_ptr<Module> pointwise(Conv3x3 shape, int64_t in, int64_t out, int64_t stride,
                                  int64_t time_stride) {
  if (shape == Conv3x3::k2d) return conv(in, out, {1, 1}, {stride, stride}, {0});
  return conv(in, out, {1, 1, 1}, {time_stride, stride, stride}, {0});
}

// The stand-in for a 3x3 conv. `mid` is R(2+1)D's intermediate width.
std::shared_ptr<Module> spatial3(Conv3x3 shape, int64_t in, int64_t out, int64_t stride,
                                 int64_t time_stride, int64_t mid) {
  switch (shape) {
    case Conv3x3::k2d:
      return conv(in, out, {3, 3}, {stride, stride}, {1, 1});
    case Conv3x3::k3d:
      return conv(in, out, {3, 3, 3}, {time_stride, stride, stride}, {1, 1, 1});
    case Conv3x3::kSpatial3d:
      return conv(in, out, {1, 3, 3}, {1, stride, stride}, {0, 1, 1});
    case Conv3x3::k2plus1d: {
      auto seq = std::make_shared<Sequential>();
      seq->add(conv(in, mid, {1, 3, 3}, {1, stride, stride}, {0, 1, 1}))
          .add(std::make_shared<BatchNorm>(mid))
          .add(std::make_shared<ReLU>())
          .add(conv(mid, out, {3, 1, 1}, {time_stride, 1, 1}, {1, 0, 0}));
      return seq;
    }
  }
  RF_FAIL("ResNet: unknown conv shape");
}

// torchvision's BasicBlock / Bottleneck (stride on the 3x3 conv). The 2-D layout names the
// layers conv1, bn1, conv2, ...; the video layout groups each conv with its BN (and ReLU) in a
// Sequential named conv1, conv2, ..., as torchvision.models.video does.
class ResidualBlock : public Module {
 public:
  ResidualBlock(Conv3x3 shape, bool bottleneck, int64_t in, int64_t planes, int64_t stride,
                int64_t time_stride) {
    // R(2+1)D's width: a (1,3,3) + (3,1,1) pair with as many parameters as one (3,3,3) conv,
    // from the block's input and planes for every 3x3 of the block, as torchvision computes it.
    const int64_t mid = in * planes * 27 / (in * 9 + 3 * planes);
    struct Step {
      std::shared_ptr<Module> conv;
      int64_t out;
    };
    std::vector<Step> steps;
    if (bottleneck) {
      steps = {{pointwise(shape, in, planes, 1, 1), planes},
               {spatial3(shape, planes, planes, stride, time_stride, mid), planes},
               {pointwise(shape, planes, 4 * planes, 1, 1), 4 * planes}};
    } else {
      steps = {{spatial3(shape, in, planes, stride, time_stride, mid), planes},
               {spatial3(shape, planes, planes, 1, 1, mid), planes}};
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string index = std::to_string(i + 1);
      auto bn = std::make_shared<BatchNorm>(steps[i].out);
      const bool last = i + 1 == steps.size();
      if (shape == Conv3x3::k2d) {
        register_module("conv" + index, steps[i].conv);
        register_module("bn" + index, bn);
        path_.push_back(steps[i].conv);
        path_.push_back(bn);
        if (!last) path_.push_back(std::make_shared<ReLU>());
      } else {
        auto seq = std::make_shared<Sequential>();
        seq->add(steps[i].conv).add(bn);
        if (!last) seq->add(std::make_shared<ReLU>());
        path_.push_back(register_module("conv" + index, seq));
      }
    }
    const int64_t out = steps.back().out;
    if (stride != 1 || time_stride != 1 || in != out) {
      auto seq = std::make_shared<Sequential>();
      seq->add(pointwise(shape, in, out, stride, time_stride))
          .add(std::make_shared<BatchNorm>(out));
      downsample_ = register_module("downsample", seq);
    }
  }

  Tensor forward(const Tensor& x) override {
    return forward_chain_add_relu(path_, x, downsample_ ? downsample_->forward(x) : x);
  }

 private:
  std::vector<std::shared_ptr<Module>> path_;
  std::shared_ptr<Module> downsample_;
};

// (N*T, C, H, W) frames <-> (N, C, T, H, W) clips.
Tensor frames_to_clip(const Tensor& x, int64_t n) {
  const int64_t t = x.size(0) / n;
  return ops::permute(ops::reshape(x, {n, t, x.size(1), x.size(2), x.size(3)}), {0, 2, 1, 3, 4});
}

Tensor clip_to_frames(const Tensor& x) {
  return ops::reshape(ops::permute(x, {0, 2, 1, 3, 4}),
                      {x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}

}  // namespace

ResNet::ResNet(const ResNetOptions& options) : options_(options) {
  std::vector<int64_t> blocks;
  if (options.depth == 10) {
    blocks = {1, 1, 1, 1};
  } else if (options.depth == 18) {
    blocks = {2, 2, 2, 2};
  } else if (options.depth == 34 || options.depth == 50) {
    blocks = {3, 4, 6, 3};
  } else {
    RF_FAIL("ResNet: depth must be 10, 18, 34 or 50, got ", options.depth);
  }
  RF_CHECK(options.classes > 0, "ResNet: classes must be positive, got ", options.classes);
  RF_CHECK(options.width > 0, "ResNet: width must be positive, got ", options.width);
  const bool bottleneck = options.depth == 50;
  const ResNetKind kind = options.kind;
  const int64_t width = options.width;
  const bool small = options.stem == ResNetStem::kSmall;
  const int64_t k = small ? 3 : 7, s = small ? 1 : 2, p = small ? 1 : 3;
  const int64_t in_channels = options.flow_input ? 2 : 3;
  RF_CHECK(!options.flow_input || !options.flow,
           "ResNet: the Flow CNN (input flow) has no representation-flow layer: flow must be none");
  if (kind == ResNetKind::k2d) {
    conv1_ = register_module("conv1", conv(in_channels, width, {k, k}, {s, s}, {p, p}));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm>(width));
  } else {
    auto stem = std::make_shared<Sequential>();
    if (kind == ResNetKind::k3d || kind == ResNetKind::kMixed3d) {
      stem->add(conv(in_channels, width, {3, k, k}, {1, s, s}, {1, p, p}));
    } else {
      // torchvision's R2Plus1dStem: 45 channels (for 64 out) between the spatial and the
      // temporal conv.
      const int64_t mid = std::max<int64_t>(1, 45 * width / 64);
      stem->add(conv(in_channels, mid, {1, k, k}, {1, s, s}, {0, p, p}))
          .add(std::make_shared<BatchNorm>(mid))
          .add(std::make_shared<ReLU>())
          .add(conv(mid, width, {3, 1, 1}, {1, 1, 1}, {1, 0, 0}));
    }
    stem->add(std::make_shared<BatchNorm>(width)).add(std::make_shared<ReLU>());
    stem_ = register_module("stem", stem);
  }

  // Channels after each of res1..res5, for the flow block's width.
  std::vector<int64_t> channels{width};
  int64_t in = width;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = width << stage;
    auto layer = std::make_shared<Sequential>();
    layers_.emplace_back();
    const Conv3x3 shape = conv3x3_of(kind, stage);
    // torchvision strides in time where the block's convs reach across frames.
    const bool across_time = shape == Conv3x3::k3d || shape == Conv3x3::k2plus1d;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = b == 0 && stage > 0 ? 2 : 1;
      const int64_t time_stride = options.temporal_strides && across_time ? stride : 1;
      auto block =
          std::make_shared<ResidualBlock>(shape, bottleneck, in, planes, stride, time_stride);
      layer->add(block);
      layers_.back().push_back(block);
      in = bottleneck ? 4 * planes : planes;
    }
    register_module("layer" + std::to_string(stage + 1), layer);
    channels.push_back(in);
  }

  if (options.flow) {
    const FlowSpec& f = *options.flow;
    const int stage = f.position.stage;
    RF_CHECK(stage >= 0 && stage <= 5,
             "ResNet: flow stage must be 0..5 (0 = the input, res1 = stem, res2..res5 = ",
             "layer1..layer4), got ", stage);
    RF_CHECK(f.position.block < 0 || (stage >= 2 && f.position.block < blocks[stage - 2]),
             "ResNet: res", stage, " of ResNet-", options.depth, " has no block ",
             f.position.block);
    RF_CHECK(f.stages >= 1, "ResNet: flow stages must be positive, got ", f.stages);
    const int64_t c = stage == 0 ? 3 : channels[stage - 1];
    RF_CHECK(stage > 0 || f.block.fusion == FlowFusion::kNone, "ResNet: fusion ",
             flow_fusion_name(f.block.fusion),
             " joins the flow with the features it was computed from, which on the input are the "
             "frames themselves: a flow on the input takes fusion none (or late)");
    if (f.stages == 1)
      flow_ = register_module("flow", std::make_shared<FlowBlock>(c, f.block));
    else
      flow_ = register_module("flow",
                              std::make_shared<FlowOfFlow>(c, f.stages, f.conv_between, f.block));
  }
  dropout_ = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  fc_ = register_module("fc", std::make_shared<Linear>(in, options.classes));
}

bool ResNet::flow_after(int stage, int block) const {
  if (!flow_) return false;
  const FlowPosition& p = options_.flow->position;
  if (p.stage != stage) return false;
  const int last = stage <= 1 ? -1 : static_cast<int>(layers_[stage - 2].size()) - 1;
  return (p.block < 0 ? last : p.block) == block;
}

Tensor ResNet::apply_flow(const Tensor& x, int64_t n) {
  if (options_.kind != ResNetKind::k2d) return flow_->forward(x);
  return clip_to_frames(flow_->forward(frames_to_clip(x, n)));
}

Tensor ResNet::forward(const Tensor& x) {
  const int stages = options_.flow ? options_.flow->stages : (options_.flow_input ? 1 : 0);
  RF_CHECK(x.dim() == 5 && x.size(1) == 3 && x.size(2) > stages, "ResNet: input ",
           shape_str(x.shape()), " is not (N, 3, T, H, W) with T > ", stages,
           options_.flow_input ? " (the Flow CNN sees the flow between frames)"
                               : " (the number of flow stages)");
  const int64_t n = x.size(0);
  const bool per_frame = options_.kind == ResNetKind::k2d;
  const Tensor input =
      options_.flow_input ? tvl1_clip_flow(x) : (flow_after(0, -1) ? flow_->forward(x) : x);
  Tensor y;
  if (per_frame) {
    y = bn1_->forward_relu(conv1_->forward(clip_to_frames(input)));
    if (options_.stem == ResNetStem::kImageNet) {
      ops::PoolOptions pool;
      pool.kernel = {3, 3};
      pool.stride = {2, 2};
      pool.padding = {1, 1};
      y = ops::max_pool(y, pool);
    }
  } else {
    y = stem_->forward(input);
  }
  if (flow_after(1, -1)) y = apply_flow(y, n);
  for (size_t s = 0; s < layers_.size(); ++s) {
    for (size_t b = 0; b < layers_[s].size(); ++b) {
      y = layers_[s][b]->forward(y);
      if (flow_after(static_cast<int>(s) + 2, static_cast<int>(b))) y = apply_flow(y, n);
    }
  }
  if (!per_frame) return fc_->forward(dropout_->forward(ops::global_avg_pool(y, {2, 3, 4})));
  // Per frame: (N*T', classes) -> mean over the T' frames of each clip.
  const Tensor scores = fc_->forward(dropout_->forward(ops::global_avg_pool(y, {2, 3})));
  return ops::mean(ops::reshape(scores, {n, scores.size(0) / n, options_.classes}), {1});
}

}  // namespace repflow
