#pragma once
// CUDA-against-CPU comparison for the `gpu` tests: the same function on the same inputs on both
// backends, outputs and input gradients compared element by element.
#include <functional>
#include <vector>

#include "framework/tensor.h"

namespace repflow::testing {

using ParityFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs fn on `inputs` (CPU leaves) and on their copies on cuda:0, backpropagates the same
// random output gradient through both, and expects outputs and gradients to agree within
// atol + rtol * |cpu value|.
void expect_cuda_matches_cpu(const ParityFn& fn, const std::vector<Tensor>& inputs,
                             double atol = 1e-5, double rtol = 1e-4);

// Skips the calling test (GTEST_SKIP) when no GPU is visible; returns true if skipped.
bool skip_without_gpu();

}  // namespace repflow::testing
