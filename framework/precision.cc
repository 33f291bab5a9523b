#include "framework/precision.h"

#include "framework/error.h"

namespace repflow {
namespace {

thread_local Precision t_precision = Precision::kFp32;

}  // namespace

Precision parse_precision(const std::string& text, const std::string& flag) {
  if (text == "fp32") return Precision::kFp32;
  if (text == "tf32") return Precision::kTf32;
  if (text == "bf16") return Precision::kBf16;
  RF_FAIL("flag --", flag, ": '", excerpt(text), "' is not fp32, tf32 or bf16");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kTf32:
      return "tf32";
    case Precision::kBf16:
      return "bf16";
  }
  return "?";
}

Precision compute_precision() { return t_precision; }

PrecisionScope::PrecisionScope(Precision precision) : previous_(t_precision) {
  t_precision = precision;
}

PrecisionScope::~PrecisionScope() { t_precision = previous_; }

bool cpu_has_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

Precision precision_for(Precision requested, const Device& device, std::string* note) {
  note->clear();
  // Every precision runs on a GPU: bf16 and tf32 on tensor cores (Ampere and later; cuDNN
  // names the convolution it has no algorithm for on older GPUs).
  if (device.is_cuda()) return requested;
  RF_CHECK(requested != Precision::kTf32,
           "precision tf32 is a GPU's (tensor cores, NVIDIA Ampere and later); on the CPU use "
           "fp32 or bf16");
  if (requested == Precision::kBf16 && !cpu_has_bf16()) {
    *note =
        "this CPU has neither AVX512-BF16 nor AMX, so bf16 would be emulated (slower than fp32): "
        "convolutions run in fp32";
    return Precision::kFp32;
  }
  return requested;
}

}  // namespace repflow
