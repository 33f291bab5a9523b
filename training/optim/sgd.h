#pragma once
// SGD with momentum, Nesterov momentum and weight decay, following torch.optim.SGD exactly, over
// parameter groups that each scale the learning rate (the paper's code trains the flow layer at
// 0.01x) and may carry their own weight decay. Works on CPU and CUDA parameters alike: every
// update is made of tensor ops on the parameters' device.
//
// Build the optimiser after module.to(device): Module::to replaces the tensors it holds.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/module.h"
#include "ops/optim/optim.h"

namespace repflow {

// Parameters whose dotted name contains `pattern` (a plain substring, e.g. "flow" matches
// `layer2.0.flow.theta`) train at lr * lr_mult, with `weight_decay` when given, else the
// optimiser's.
struct GroupRule {
  std::string pattern;
  double lr_mult = 1.0;
  std::optional<double> weight_decay;
};

struct ParamGroup {
  std::string name;  // the rule's pattern, "default", with ".no_decay" for the 1-d part
  NamedTensors params;
  double lr_mult = 1.0;
  double weight_decay = 0.0;
};

// Every parameter lands in exactly one group: the first rule whose pattern it contains, else
// "default" (lr_mult 1, `weight_decay`). With no_decay_1d, parameters of fewer than two
// dimensions (biases, BatchNorm scales and shifts, the flow layer's scalars) go to a twin group
// "<name>.no_decay" with weight decay 0 and the same lr_mult. Groups left empty are dropped.
// A rule that matches no parameter is an Error naming the pattern (a typo would otherwise pass
// silently).
std::vector<ParamGroup> make_param_groups(const NamedTensors& params,
                                          const std::vector<GroupRule>& rules, double weight_decay,
                                          bool no_decay_1d = false);

// Rules from flag text "pattern:lr_mult[:weight_decay],...", e.g. "flow:0.01" or
// "flow:0.01:0,fc:10"; "" gives none. Errors name `flag`.
std::vector<GroupRule> parse_group_rules(const std::string& text, const std::string& flag);

struct SgdOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening 0, as in PyTorch
};

class Sgd {
 public:
  // Errors: a negative momentum, dampening or weight decay, Nesterov without momentum or with
  // dampening, a parameter listed twice.
  Sgd(std::vector<ParamGroup> groups, SgdOptions options);

  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Drops every gradient (PyTorch's set_to_none): the next backward writes fresh ones.
  void zero_grad();
  // Scales all gradients together so that their global L2 norm is at most max_norm (scale
  // max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_); returns the norm before
  // clipping, which may be inf or nan (the gradients are then left as they are).
  double clip_grad_norm(double max_norm);
  // One update at base learning rate `lr` (each group uses lr * lr_mult); parameters without a
  // gradient are skipped. Per parameter, with g its gradient and wd the group's decay:
  //   g += wd * p; buf = g on the first step, else momentum * buf + (1 - dampening) * g;
  //   g = nesterov ? g + momentum * buf : buf (when momentum > 0); p -= lr * lr_mult * g.
  void step(double lr);
  // The same with the base learning rate in a one-element tensor on the parameters' device,
  // read there (a step recorded as a CUDA graph writes it before each replay): each group's
  // float lr_mult times that value, which can round a multiplier other than 1 one unit apart
  // from step(double).
  void step(const Tensor& lr);

  // The momentum buffers as "momentum.<parameter name>", in group order, for checkpoints; only
  // parameters that have been stepped have one. These are the live buffers, not copies: save
  // them before the next step.
  NamedTensors state() const;
  // Replaces the buffers with copies of `state` (any device). Errors name an entry that is not
  // "momentum.<a parameter of this optimiser>", a shape that differs, or state given to an
  // optimiser without momentum. Parameters absent from `state` start without a buffer.
  void load_state(const std::map<std::string, Tensor>& state);

 private:
  // The fused update's slots: every parameter that has a gradient, at lr_factor * lr_mult.
  std::vector<ops::SgdSlot> slots(double lr_factor);
  ops::SgdHyper hyper() const;

  std::vector<ParamGroup> groups_;
  SgdOptions options_;
  std::map<std::string, Tensor> momentum_;  // by parameter name
};

}  // namespace repflow
