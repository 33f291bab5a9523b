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

// One SGD step of every slot (sgd_element, optim_math.h). With `lr_scale`, a one-element tensor
// on the slots' device, every slot's lr is multiplied by its value, read on the device (a step
// recorded as a CUDA graph writes it there before each replay). Errors name the slot whose
// tensors do not fit: shapes that differ, another device, not contiguous, a missing or
// unexpected buffer.
void sgd_step_(const std::vector<SgdSlot>& slots, const SgdHyper& hyper,
               const Tensor& lr_scale = Tensor());

// targets[i] += rate * (sources[i] - targets[i]) for every i (rate 1: an exact copy), rate in
// [0, 1], given as a number or as a one-element tensor on the targets' device (read there, not
// checked). Errors as sgd_step_'s.
void lerp_(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources, float rate);
void lerp_(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources,
           const Tensor& rate);

}  // namespace repflow::ops
