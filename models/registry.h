#pragma once
// Models by name, for the tools and the trainer:
//
//   resnet{10,18,34,50}_2d     torchvision ResNet per frame, predictions averaged over time
//   resnet{10,18,34,50}_2p1d   R(2+1)D
//   resnet{10,18,34,50}_3d     (3,3,3)-inflated 3D ResNet
//   (ResNet-10: one basic block per stage. The default training run uses resnet10_2d with
//   width 8, stem small, flow after2 and reduced-channels 8: README, "The default run's recipe")
//   kinetics_repflow_r50    the paper's published Kinetics-400 model (models/kinetics.h)
//
// (models/resnet.h describes the ResNets and where a flow block can go.) Every model maps
// (N, 3, T, H, W) to (N, classes).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/module.h"
#include "models/resnet.h"

namespace repflow {

// Flag names (as set_model_option takes them) in brackets.
struct ModelOptions {
  int64_t classes = 400;                              // [classes]
  int64_t width = 64;                                 // [width] channels of res1 and res2
  ResNetStem stem = ResNetStem::kImageNet;            // [stem] imagenet | small
  std::optional<FlowPosition> flow = FlowPosition{};  // [flow] none | after<S> | after<S>.<B>
  int flow_iters = 10;                                // [flow-iters]
  // [flow-stages] flow-of-flow: stages chained, each T -> T - 1. 0: 1, or 2 with fcf.
  int flow_stages = 0;
  bool fcf = false;               // [fcf] flow-conv-flow: a (1,3,3) conv + BN + ReLU between stages
  int64_t reduced_channels = 32;  // [reduced-channels] C' of a FlowBlock, the published bottleneck
  // [dropout] before the classifier; unset: 0 for the ResNets, 0.5 for kinetics_repflow_r50.
  std::optional<float> dropout;
};

// kinetics_repflow_r50 has one flow layer, after res3: flow must stay after3 (or the default),
// and flow-stages, fcf, width and stem are Errors for it.
std::shared_ptr<Module> make_model(const std::string& name, const ModelOptions& options = {});
std::vector<std::string> model_names();

// "none" -> nullopt; "after3" -> {3, -1}; "after3.1" -> {3, 1}. Anything else is an Error.
std::optional<FlowPosition> parse_flow_position(const std::string& text);
// Sets the option a flag names (without the leading dashes) from its text; a flag without a
// value (fcf) takes "true" or "false". Unknown flags and bad values are Errors listing the valid
// ones.
void set_model_option(ModelOptions* options, const std::string& flag, const std::string& value);

}  // namespace repflow
