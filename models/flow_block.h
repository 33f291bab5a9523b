#pragma once
// The representation-flow block of the paper (Fig. 3) in paper mode, and flow-of-flow stacks
// (Fig. 6). Input and output are (N, C, T, H, W); each flow stage turns T frames into T - 1.
#include <memory>
#include <string>

#include "models/flow_observer.h"
#include "models/layers.h"
#include "models/module.h"
#include "ops/flow/flow.h"

namespace repflow {

// How a flow block's output y (T - 1 frames of C channels, after its BN) joins the feature map
// x it was computed from (x', x's first T - 1 frames): the paper's Fig. 4.
//   none:           y, which replaces the features
//   add:            relu(x' + y), the published layer's residual sum
//   multiply:       relu(x' * y)
//   layer-multiply: relu(x' * BN(conv(y))), a (1,3,3) conv C -> C on the flow before the product
//   concat:         relu(BN(conv([x', y]))), the channels stacked, then a 1x1x1 conv 2C -> C
// (Late fusion, a separate RGB network, is a model of two networks: models/registry.h.)
enum class FlowFusion { kNone, kAdd, kMultiply, kLayerMultiply, kConcat };
// "none", "add", "multiply", "layer-multiply", "concat"; anything else is an Error listing them.
FlowFusion parse_flow_fusion(const std::string& text);
const char* flow_fusion_name(FlowFusion fusion);

struct FlowBlockOptions {
  int64_t reduced_channels = 32;  // C': the 1x1x1 reduction before the flow
  int n_iter = 10;
  bool batch_norm = true;  // BN after the 2C' -> C conv
  FlowFusion fusion = FlowFusion::kAdd;
  ops::FlowLearned learned;  // the flow's parameter groups that are learned, the rest fixed
};

// reduce (1x1x1 conv C -> C') -> per-sample min-max normalisation to [0, 255] -> flow between
// frames t and t+1 -> 1x1x1 conv 2C' -> C -> [BN] -> fusion with the input (FlowFusion).
// Parameters: reduce.weight, expand.weight, bn.*, fuse.* (layer-multiply: fuse.0 the conv,
// fuse.1 its BN; concat likewise), and the flow's theta, lambda, tau, div_x,
// div_y, grad_x, grad_y, sobel_x, sobel_y (ops::kFlowParamTable's names; requires_grad per
// FlowBlockOptions::learned, ops::default_flow_params).
class FlowBlock : public Module, public FlowObservable {
 public:
  FlowBlock(int64_t channels, FlowBlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  // The flow itself, (N, 2C', T - 1, H, W) (forward hands it to the flow observer).
  Tensor flow(const Tensor& x);

 protected:
  // theta must be nonzero (the op divides by it): a weight file's zero is refused at load.
  void check_loaded(const std::string& name, const Tensor& value) const override;

 private:
  FlowBlockOptions options_;
  std::shared_ptr<Conv> reduce_, expand_;
  std::shared_ptr<BatchNorm> bn_;
  std::shared_ptr<Sequential> fuse_;  // layer-multiply and concat: the conv and BN of the fusion
  // Slots of the flow's parameters (slots, not copies, so that Module::to and load_state_dict
  // reach them).
  ops::FlowParamArray<Tensor*> params_;
};

// Flow -> [conv] -> Flow -> ...: `stages` FlowBlocks; with `conv_between` (FcF) a (1,3,3)
// conv + BN + ReLU sits between consecutive stages. T frames in, T - stages out.
class FlowOfFlow : public Module {
 public:
  FlowOfFlow(int64_t channels, int stages, bool conv_between, FlowBlockOptions options = {});
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> stages_;
};

}  // namespace repflow
