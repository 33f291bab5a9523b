#pragma once
// Gradient checking for any test: autograd gradients against central finite differences.
#include <functional>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow::testing {

struct GradcheckOptions {
  double eps = 1e-3;   // finite-difference step
  double atol = 1e-3;  // |analytic - numeric| <= atol + rtol * |numeric| for every element
  double rtol = 2e-3;
  uint64_t seed = 1234;  // for the random output weights
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  int64_t checked = 0;  // elements compared
  std::string report;   // the first mismatches, by input and element
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Differentiates loss = sum(fn(inputs) * w) for fixed random weights w, for every input that
// requires grad (CPU tensors; parameters are passed as inputs too). The loss is summed in double
// and the step is the difference of the float32 values actually stored, so float32 rounding of
// the inputs adds no error; what remains is the rounding of fn's outputs.
GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// ||a - b|| / ||b|| over all elements, in double: how far a lower precision lands from float32.
double relative_error(const std::vector<float>& a, const std::vector<float>& b);
double relative_error(const Tensor& a, const Tensor& b);

// Leaves for tests: uniform in [low, high) from a seed, requiring grad.
Tensor random_leaf(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f);

}  // namespace repflow::testing

// EXPECT_GRADCHECK(fn, inputs[, options]): a gtest expectation that prints the report.
#define EXPECT_GRADCHECK(...)                                            \
  do {                                                                   \
    const auto rf_result_ = ::repflow::testing::gradcheck(__VA_ARGS__);  \
    EXPECT_TRUE(rf_result_.ok) << rf_result_.report;                     \
    EXPECT_GT(rf_result_.checked, 0) << "gradcheck compared no element"; \
  } while (0)
