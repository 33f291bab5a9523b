#pragma once
// Fused optimiser updates over many tensors at once (PyTorch's foreach / multi-tensor-apply
// idea): one parallel loop on the CPU, one kernel launch on a GPU, and one read and write of
// each element, where a step written with tensor ops costs several passes and launches per
// parameter. Every tensor is updated in place and must be contiguous float32, all on one device;
// the updates record nothing for autograd.
#include <vector>

#include "framework/tensor.h"
#include "ops/optim/optim_math.h"

namespace repflow::ops {

// One parameter's part of sgd_step_: momentum is undefined exactly when hyper.momentum is 0.
struct SgdSlot {
  Tensor param;
  Tensor grad;
  Tensor momentum;
  float lr = 0;
  float weight_decay = 0;
  bool first_step = false;
};

// One SGD step of every slot (sgd_element, optim_math.h). Errors name the slot whose tensors do
// not fit: shapes that differ, another device, not contiguous, a missing or unexpected buffer.
void sgd_step_(const std::vector<SgdSlot>& slots, const SgdHyper& hyper);

// targets[i] += rate * (sources[i] - targets[i]) for every i (rate 1: an exact copy), rate in
// [0, 1]. Errors as sgd_step_'s.
void lerp_(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources, float rate);

}  // namespace repflow::ops
