#pragma once
// Models by name, for the tools and the trainer:
//
//   resnet{10,18,34,50}_2d     torchvision ResNet per frame, predictions averaged over time
//   resnet{10,18,34,50}_2p1d   R(2+1)D
//   resnet{10,18,34,50}_3d     (3,3,3)-inflated 3D ResNet
//   (ResNet-10: one basic block per stage)
//   r3d_18, mc3_18, r2plus1d_18   torchvision.models.video's networks exactly (temporal strides
//                           in res3..res5; MC3: 3D convs in the stem and res2 only), with flow
//                           none by default
//   kinetics_repflow_r50    the paper's published Kinetics-400 model (models/reference/kinetics.h)
//
// and presets, a network under a name with defaults of its own:
//
//   resnet10_2d_tiny        resnet10_2d, width 8, stem small, flow after2, reduced-channels 8:
//                           the default training run's network (README, "Training")
//
// (models/resnet.h describes the ResNets and where a flow block can go.) Every model maps
// (N, 3, T, H, W) to (N, classes).
//
// By name, a model takes only the options that apply to it, each with that model's own default:
// resolve_model gives the network and every option value, which is what builds it exactly (and
// what a weight file's metadata records, docs/weights.md).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/module.h"
#include "models/resnet.h"

namespace repflow {

// Flag names (as set_model_option takes them) in brackets.
struct ModelOptions {
  int64_t classes = 400;                    // [classes]
  int64_t width = 64;                       // [width] channels of res1 and res2
  ResNetStem stem = ResNetStem::kImageNet;  // [stem] imagenet | small
  // [flow] none | input | after<S> | after<S>.<B>
  std::optional<FlowPosition> flow = FlowPosition{};
  int flow_iters = 10;  // [flow-iters]
  // [flow-learn] the flow parameter groups learned: none | all | a comma list of tlt, div, grad,
  // sobel (ops::FlowLearned); the others are fixed at the paper's values.
  ops::FlowLearned flow_learn;
  // [flow-stages] flow-of-flow: stages chained, each T -> T - 1. 0: 1, or 2 with fcf.
  int flow_stages = 0;
  bool fcf = false;               // [fcf] flow-conv-flow: a (1,3,3) conv + BN + ReLU between stages
  int64_t reduced_channels = 32;  // [reduced-channels] C' of a FlowBlock, the published bottleneck
  // [fusion] how the flow joins the RGB features (Fig. 4): none | add | multiply | layer-multiply
  // | concat (FlowFusion, in the flow block), or late: a second network of the same backbone
  // without flow sees the clip too, and the two networks' scores are averaged (the flow
  // network's block then fuses nothing). Unset with flow input: none.
  FlowFusion fusion = FlowFusion::kAdd;
  bool late_fusion = false;
  // [input] rgb | flow: flow is the Flow CNN, which sees the TV-L1 flow between the clip's
  // consecutive frames (models/flow_input.h) and has no flow layer (flow none, which input flow
  // sets when flow is not given). With fusion late, a two-stream network: an RGB network's
  // scores averaged with the Flow CNN's.
  bool flow_input = false;
  // [dropout] before the classifier; unset: 0 for the ResNets, 0.5 for kinetics_repflow_r50.
  std::optional<float> dropout;
};

// A network (not a preset) from typed options. kinetics_repflow_r50 has one flow layer, after
// res3: flow must stay after3 (or the default), and flow-stages, fcf, width and stem are Errors
// for it.
std::shared_ptr<Module> make_model(const std::string& name, const ModelOptions& options = {});

// Options as the flags spell them, name -> text ("width" -> "64").
using OptionValues = std::map<std::string, std::string>;

// A network with the value of every option that applies to it.
struct ModelSpec {
  std::string name;
  OptionValues options;
};

// Networks and presets, sorted.
std::vector<std::string> model_names();
// Every option flag name, in the order --help lists them.
const std::vector<std::string>& model_option_names();
// The options `name` (a network or a preset) takes, each with its default for that model.
OptionValues model_defaults(const std::string& name);
// `name`'s defaults with `given` applied; a preset becomes its network. Errors name an unknown
// model, an option that does not apply to it (listing those that do) and a bad value. Given
// `fcf` true without `flow-stages`, the flow of flow has two stages; given `flow` input without
// `fusion`, the fusion is none.
ModelSpec resolve_model(const std::string& name, const OptionValues& given);
// Builds a resolved spec (resolve_model's result, or a weight file's record of one).
std::shared_ptr<Module> make_model(const ModelSpec& spec);

// "none" -> nullopt; "input" -> {0, -1}; "after3" -> {3, -1}; "after3.1" -> {3, 1}. Anything
// else is an Error.
std::optional<FlowPosition> parse_flow_position(const std::string& text);
// Sets the option a flag names (without the leading dashes) from its text; a flag without a
// value (fcf) takes "true" or "false". Unknown flags and bad values are Errors listing the valid
// ones.
void set_model_option(ModelOptions* options, const std::string& flag, const std::string& value);

}  // namespace repflow
