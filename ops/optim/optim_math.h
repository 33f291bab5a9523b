#pragma once
// Per-element formulas of the fused optimiser updates, shared by the CPU and CUDA schedules.
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow::ops {

// The part of an SGD step that every parameter shares (torch.optim.SGD's arguments).
struct SgdHyper {
  float momentum = 0;
  float dampening = 0;
  bool nesterov = false;
  // Set by sgd_step_ from its lr_scale tensor: every parameter's lr is multiplied by the value
  // it points to, read where the kernel runs (a step recorded as a CUDA graph changes it there).
  const float* lr_scale = nullptr;
};

// An averaging rate: `value`, or where `cell` is set the value it points to (read where the
// kernel runs, as SgdHyper::lr_scale).
struct LerpRate {
  float value = 0;
  const float* cell = nullptr;
  RF_HD float get() const { return cell ? *cell : value; }
};

// One parameter's part of a fused SGD step: its data, gradient and momentum buffer (null without
// momentum), its group's learning rate and weight decay, and whether the buffer is new (the
// first step sets it to the gradient, as PyTorch does, rather than decaying zeros).
struct SgdTensor {
  float* param;
  const float* grad;
  float* momentum;
  float lr;
  float weight_decay;
  bool first_step;
};

// One averaged tensor: target += rate * (source - target).
struct LerpTensor {
  float* target;
  const float* source;
};

// A run of elements [begin, end) of tensor `tensor` of a fused update's table: the unit of work
// of one CPU thread's turn or one CUDA block, so that a large tensor is shared out and small
// ones do not each cost a launch.
struct TensorChunk {
  int64_t tensor;
  int64_t begin;
  int64_t end;
};

// Element i of an SGD step, torch.optim.SGD's rule: d = g + wd * p; with momentum,
// buf = first ? d : momentum * buf + (1 - dampening) * d, then d = nesterov ? d + momentum * buf
// : buf; p -= lr * d.
RF_HD void sgd_element(const SgdTensor& t, const SgdHyper& h, int64_t i) {
  const float p = t.param[i];
  float d = t.grad[i];
  if (t.weight_decay != 0.0f) d += t.weight_decay * p;
  if (h.momentum != 0.0f) {
    const float buf = t.first_step ? d : h.momentum * t.momentum[i] + (1.0f - h.dampening) * d;
    t.momentum[i] = buf;
    d = h.nesterov ? d + h.momentum * buf : buf;
  }
  t.param[i] = p - (h.lr_scale ? t.lr * *h.lr_scale : t.lr) * d;
}

// Element i of an average's update. Rate 1 copies exactly (target + (source - target) need not
// round to source).
RF_HD void lerp_element(const LerpTensor& t, float rate, int64_t i) {
  t.target[i] = rate == 1.0f ? t.source[i] : t.target[i] + rate * (t.source[i] - t.target[i]);
}

}  // namespace repflow::ops
