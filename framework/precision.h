#pragma once
// Mixed precision: the arithmetic of the ops that have a faster lower-precision path. Only
// convolutions take it (oneDNN on CPUs, cuDNN on GPUs): their inputs and weights are rounded to
// bf16 (or TF32 on a GPU's tensor cores) and their products summed in float32, and their outputs
// and gradients are float32 tensors. Everything else computes in float32 whatever the setting:
// batch norm, the flow layer, softmax and the loss, the classifier's matrix product (a fraction
// of a percent of a step), and the optimiser, whose weights stay float32 (the master copy).
// Gradient checks run in float32, the default.
#include <string>

#include "framework/device.h"

namespace repflow {

enum class Precision { kFp32, kTf32, kBf16 };

// "fp32", "tf32", "bf16"; anything else is an Error naming `flag` and the valid values.
Precision parse_precision(const std::string& text, const std::string& flag = "precision");
const char* precision_name(Precision precision);

// The calling thread's precision for convolutions: fp32 unless a PrecisionScope says otherwise.
// An op records the precision it ran its forward in, and its backward uses the same, wherever
// and whenever backward() runs.
Precision compute_precision();

// Sets the calling thread's precision for its lifetime, then restores the previous one.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision precision);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

// Whether this CPU computes bf16 products in hardware (AVX512-BF16; every CPU with AMX has it).
bool cpu_has_bf16();

// The precision a run asked for as it will run on `device`. bf16 on a CPU without bf16 hardware
// falls back to fp32 (oneDNN would emulate it, slower than fp32) and `note` says so; tf32 exists
// only on GPUs and is an Error on the CPU. `note` is empty when nothing changed.
Precision precision_for(Precision requested, const Device& device, std::string* note);

}  // namespace repflow
