#pragma once
// Mixed-precision checks of whole models, shared by the CPU and `gpu` tests.
#include <cstdint>
#include <vector>

#include "framework/precision.h"
#include "framework/tensor.h"
#include "models/module.h"

namespace repflow::testing {

struct StepGradients {
  float loss = 0;
  std::vector<float> gradients;  // every parameter's, in named_parameters() order
};

// One training step of `model` in `precision` (forward with batch statistics, cross-entropy,
// backward), on the device x is on. The parameters' gradients are cleared again after.
StepGradients step_gradients(Module& model, const Tensor& x, const std::vector<int64_t>& labels,
                             Precision precision);

}  // namespace repflow::testing
