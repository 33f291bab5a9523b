#include "ops/conv/conv_algorithms.h"

#include <atomic>

#include "framework/error.h"

namespace repflow::ops {
namespace {

std::atomic<ConvAlgorithms> g_algorithms{ConvAlgorithms::kExact};

}  // namespace

void set_conv_algorithms(ConvAlgorithms algorithms) { g_algorithms = algorithms; }
ConvAlgorithms conv_algorithms() { return g_algorithms; }

ConvAlgorithms parse_conv_algorithms(const std::string& text) {
  if (text == "exact") return ConvAlgorithms::kExact;
  if (text == "fastest") return ConvAlgorithms::kFastest;
  RF_FAIL("flag --conv-algo: '", excerpt(text), "' is not exact or fastest");
}

const char* conv_algorithms_name(ConvAlgorithms algorithms) {
  return algorithms == ConvAlgorithms::kFastest ? "fastest" : "exact";
}

void add_conv_algo_flag(Flags& flags) {
  flags.add("conv-algo", "exact",
            "how cuDNN's convolution algorithms are chosen on a GPU: exact (its heuristic "
            "ranking without FFT and Winograd: float rounding of the CPU's results) or fastest "
            "(each timed on first use, as torch.backends.cudnn.benchmark); no effect on the CPU");
}

void apply_conv_algo_flag(const Flags& flags) {
  set_conv_algorithms(parse_conv_algorithms(flags.str("conv-algo")));
}

}  // namespace repflow::ops
