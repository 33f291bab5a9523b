#pragma once
// Late fusion (the paper's Fig. 4 "late", and two-stream networks): two networks see the same
// clip and their class scores are averaged. Parameters are the two networks', under `rgb_stream.`
// and `motion_stream.` (not "flow": the trainer's default --param-groups flow:0.01 picks the flow
// layer by that substring).
#include <memory>

#include "models/module.h"

namespace repflow {

class LateFusion : public Module {
 public:
  // Both map (N, 3, T, H, W) to (N, classes) with the same classes.
  LateFusion(std::shared_ptr<Module> rgb_net, std::shared_ptr<Module> flow_net);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Module> rgb_net_, flow_net_;
};

}  // namespace repflow
