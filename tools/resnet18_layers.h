#pragma once
// The convolution, batch-norm (with the ReLU after it where one follows) and pooling layers of a
// ResNet-18 (torchvision's layout), as a list of layer specs that the benchmark times one by one
// and chains into a whole step.
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

struct LayerSpec {
  enum Kind { kConv, kBatchNorm, kBatchNormRelu, kMaxPool } kind;
  std::string name;
  Shape input;  // N, C, H, W
  int64_t out_channels = 0, kernel = 0, stride = 1, padding = 0;
};

// For a batch of `batch` RGB images of size `size` x `size`. Distinct layers only (ResNet-18
// repeats several); `count` says how often each occurs in the network.
struct ResNet18Layers {
  std::vector<LayerSpec> layers;
  std::vector<int> count;
};
ResNet18Layers resnet18_layers(int64_t batch, int64_t size);

}  // namespace repflow
