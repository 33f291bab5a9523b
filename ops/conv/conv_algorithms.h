#pragma once
// How cuDNN's convolution algorithms are chosen on a GPU, once per problem (shape, precision,
// device, and this choice): a process-wide setting, and its --conv-algo flag. The CPU's oneDNN
// makes its own choices and ignores it.
#include <string>

#include "framework/flags.h"

namespace repflow::ops {

enum class ConvAlgorithms {
  // cuDNN's heuristic ranking, without FFT and Winograd: results agree with the CPU to float
  // rounding in fp32 (the default).
  kExact,
  // Every algorithm timed on first use and the fastest kept, FFT and Winograd included, as
  // PyTorch's torch.backends.cudnn.benchmark does: faster where those win, and further from
  // the CPU's results (about 1e-2 relative in a whole model's gradients in fp32).
  kFastest,
};

void set_conv_algorithms(ConvAlgorithms algorithms);
ConvAlgorithms conv_algorithms();

// "exact" or "fastest" (--conv-algo's values); anything else is an Error naming the flag.
ConvAlgorithms parse_conv_algorithms(const std::string& text);
const char* conv_algorithms_name(ConvAlgorithms algorithms);

// --conv-algo exact|fastest, default exact; applying it sets the process's choice, and a bad
// value is an Error naming the flag.
void add_conv_algo_flag(Flags& flags);
void apply_conv_algo_flag(const Flags& flags);

}  // namespace repflow::ops
