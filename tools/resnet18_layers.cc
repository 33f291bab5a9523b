#include "tools/resnet18_layers.h"

#include <map>

namespace repflow {

ResNet18Layers resnet18_layers(int64_t batch, int64_t size) {
  std::vector<LayerSpec> all;
  const auto out_size = [](int64_t in, int64_t k, int64_t s, int64_t p) {
    return (in + 2 * p - k) / s + 1;
  };
  int64_t c = 3, h = size;
  // A conv and its batch norm; `relu` when a ReLU follows the batch norm directly (the block's
  // last one is followed by the residual sum instead).
  const auto conv = [&](const std::string& name, int64_t out, int64_t k, int64_t s, int64_t p,
                        bool relu) {
    all.push_back({LayerSpec::kConv, name, {batch, c, h, h}, out, k, s, p});
    c = out;
    h = out_size(h, k, s, p);
    all.push_back({relu ? LayerSpec::kBatchNormRelu : LayerSpec::kBatchNorm,
                   (relu ? "bn+relu " : "bn ") + std::to_string(c) + "x" + std::to_string(h),
                   {batch, c, h, h}});
  };
  conv("conv1 7x7/2", 64, 7, 2, 3, true);
  all.push_back({LayerSpec::kMaxPool, "maxpool 3x3/2", {batch, c, h, h}, c, 3, 2, 1});
  h = out_size(h, 3, 2, 1);
  for (int64_t width : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      const bool down = block == 0 && width != 64;
      const int64_t in_c = c, in_h = h;
      const std::string stage = "conv3x3 " + std::to_string(width);
      conv(stage + (down ? "/2" : ""), width, 3, down ? 2 : 1, 1, true);
      conv(stage, width, 3, 1, 1, false);
      if (down) {
        const int64_t keep_c = c, keep_h = h;
        c = in_c;
        h = in_h;
        conv("downsample 1x1/2 " + std::to_string(width), width, 1, 2, 0, false);
        c = keep_c;
        h = keep_h;
      }
    }
  }
  // Merge identical layers, keeping the first occurrence's order.
  ResNet18Layers result;
  std::map<std::string, size_t> index;
  for (const LayerSpec& l : all) {
    const std::string key = l.name + shape_str(l.input);
    auto it = index.find(key);
    if (it == index.end()) {
      index[key] = result.layers.size();
      result.layers.push_back(l);
      result.count.push_back(1);
    } else {
      ++result.count[it->second];
    }
  }
  return result;
}

}  // namespace repflow
