#pragma once
// The representation-flow block of the paper (Fig. 3) in paper mode, and flow-of-flow stacks
// (Fig. 6). Input and output are (N, C, T, H, W); each flow stage turns T frames into T - 1.
#include <memory>

#include "models/layers.h"
#include "models/module.h"
#include "ops/flow/flow.h"

namespace repflow {

struct FlowBlockOptions {
  int64_t reduced_channels = 32;  // C': the 1x1x1 reduction before the flow
  int n_iter = 10;
  bool batch_norm = true;  // BN after the 2C' -> C conv
  bool residual = true;    // add the input's first T - 1 frames, then ReLU
  bool learnable_gradients = false;
  bool learnable_sobel = false;
};

// reduce (1x1x1 conv C -> C') -> per-sample min-max normalisation to [0, 255] -> flow between
// frames t and t+1 -> 1x1x1 conv 2C' -> C -> [BN] -> [+ residual, ReLU].
// Parameters: reduce.weight, expand.weight, bn.*, and the flow's theta, lambda, tau, div_x,
// div_y, grad_x, grad_y, sobel_x, sobel_y (ops::kFlowParamTable's names; requires_grad per
// FlowBlockOptions and the defaults of ops::default_flow_params).
class FlowBlock : public Module {
 public:
  FlowBlock(int64_t channels, FlowBlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  // The flow itself, (N, 2C', T - 1, H, W), for visualisation.
  Tensor flow(const Tensor& x);

 private:
  FlowBlockOptions options_;
  std::shared_ptr<Conv> reduce_, expand_;
  std::shared_ptr<BatchNorm> bn_;
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
