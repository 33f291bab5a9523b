#pragma once
// Convolution problems shared by the CPU tests and the CUDA parity tests.
#include <string>
#include <utility>
#include <vector>

#include "ops/conv/conv.h"

namespace repflow::testing {

inline ops::ConvOptions conv_options(std::vector<int64_t> stride, std::vector<int64_t> padding,
                                     std::vector<int64_t> dilation = {1}, int64_t groups = 1) {
  return ops::ConvOptions{std::move(stride), std::move(padding), std::move(dilation), groups};
}

struct ConvCase {
  std::string name;
  Shape x, w;
  bool bias;
  ops::ConvOptions opt;
};

// 1-D, 2-D and 3-D: strides above 1 and above the kernel, padding beyond half the kernel,
// dilation, groups, depthwise (with a channel multiplier), 1x1 inputs, batches of 1 and 3, odd
// sizes, and channel counts of 16 and more, where oneDNN computes in blocked layouts.
inline const std::vector<ConvCase> kConvCases = {
    {"1d_stride_pad_bias", {3, 4, 11}, {6, 4, 3}, true, conv_options({2}, {2})},
    {"1d_stride_over_kernel", {1, 2, 5}, {3, 2, 1}, false, conv_options({3}, {0})},
    {"1d_dilated_wide_pad", {2, 3, 9}, {4, 3, 3}, true, conv_options({1}, {3}, {2})},
    {"1d_groups", {3, 6, 8}, {9, 2, 2}, false, conv_options({1}, {1}, {1}, 3)},
    {"2d_pad1_bias", {3, 3, 7, 9}, {5, 3, 3, 3}, true, conv_options({1}, {1})},
    {"2d_per_dim", {1, 3, 8, 7}, {4, 3, 3, 2}, false, conv_options({2, 3}, {2, 1}, {2, 1})},
    {"2d_groups", {2, 4, 6, 5}, {6, 2, 3, 3}, true, conv_options({1}, {1}, {1}, 2)},
    {"2d_depthwise", {3, 4, 7, 7}, {4, 1, 3, 3}, false, conv_options({2}, {1}, {1}, 4)},
    {"2d_depthwise_multiplier", {1, 4, 5, 6}, {8, 1, 3, 3}, true, conv_options({1}, {1}, {1}, 4)},
    {"2d_1x1_input", {3, 5, 1, 1}, {4, 5, 1, 1}, true, conv_options({1}, {0})},
    {"2d_1x1_input_padded", {1, 2, 1, 1}, {3, 2, 3, 3}, false, conv_options({1}, {1})},
    {"2d_stride_over_kernel", {1, 3, 10, 10}, {2, 3, 2, 2}, false, conv_options({4}, {0})},
    {"2d_odd", {1, 3, 13, 11}, {7, 3, 5, 3}, true, conv_options({1}, {2, 0})},
    {"2d_blocked", {2, 16, 8, 8}, {32, 16, 3, 3}, true, conv_options({1}, {1})},
    {"2d_blocked_1x1_stride", {2, 32, 9, 9}, {64, 32, 1, 1}, false, conv_options({2}, {0})},
    {"2d_blocked_depthwise", {2, 32, 6, 6}, {32, 1, 3, 3}, false, conv_options({1}, {1}, {1}, 32)},
    {"3d_pad1_bias", {2, 3, 5, 6, 7}, {4, 3, 3, 3, 3}, true, conv_options({1}, {1})},
    {"3d_groups_per_dim",
     {1, 4, 4, 5, 6},
     {4, 2, 2, 3, 1},
     false,
     conv_options({2, 1, 3}, {1, 2, 0}, {1, 2, 1}, 2)},
    {"3d_blocked_stride",
     {1, 16, 4, 5, 5},
     {16, 16, 1, 3, 3},
     true,
     conv_options({1, 2, 2}, {0, 1, 1})},
};

// Small shapes of each kind: gradcheck perturbs every element.
inline const std::vector<ConvCase> kConvGradCases = {
    {"1d", {2, 3, 7}, {4, 3, 3}, true, conv_options({2}, {2})},
    {"1d_dilated_groups", {1, 4, 9}, {4, 2, 2}, true, conv_options({1}, {1}, {3}, 2)},
    {"2d", {2, 2, 5, 6}, {3, 2, 3, 2}, true, conv_options({2, 1}, {1, 2})},
    {"2d_dilated_stride_over_kernel",
     {1, 2, 7, 7},
     {2, 2, 2, 2},
     false,
     conv_options({3}, {1}, {2})},
    {"2d_depthwise", {2, 3, 5, 5}, {3, 1, 3, 3}, true, conv_options({1}, {1}, {1}, 3)},
    {"2d_1x1_input", {3, 2, 1, 1}, {2, 2, 3, 3}, true, conv_options({1}, {1})},
    {"2d_blocked", {1, 16, 4, 4}, {16, 16, 3, 3}, true, conv_options({1}, {1})},
    {"3d", {1, 2, 3, 4, 4}, {2, 2, 2, 3, 2}, true, conv_options({1, 2, 1}, {1, 1, 0})},
    {"3d_groups", {1, 4, 3, 3, 4}, {2, 2, 3, 1, 2}, false, conv_options({1}, {1}, {1, 1, 2}, 2)},
};

}  // namespace repflow::testing
