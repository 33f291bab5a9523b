#pragma once
// ResNet-18/34/50 for clips (N, 3, T, H, W) -> class scores (N, classes), in three flavours, each
// with an optional representation-flow block (or flow-of-flow stack) between two residual blocks:
//
// - k2d: torchvision's 2-D ResNet applied to every frame (time folded into the batch), names as
//   torchvision's (`conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`,
//   `layer2.0.downsample.0.weight`, `fc.weight`), so ImageNet checkpoints load. Per-frame
//   predictions are averaged over time (the paper's Fig. 3).
// - k2plus1d: R(2+1)D, each 3x3 conv replaced by a (1,3,3) conv to M channels -> BN -> ReLU ->
//   (3,1,1) conv, M chosen as R(2+1)D does to keep the parameter count of a (3,3,3) conv.
// - k3d: every 3x3 conv inflated to (3,3,3).
// - kMixed3d: MC3, (3,3,3) convs in the stem and res2, (1,3,3) convs in res3..res5.
//   The video flavours use torchvision.models.video's layout and names (`stem.0.weight`,
//   `layer1.0.conv1.0.weight`, (2+1)D `layer1.0.conv1.0.3.weight`, `fc.*`; no max pool), so
//   r3d_18 / mc3_18 / r2plus1d_18 checkpoints load. By default, unlike torchvision, no layer
//   strides in time: a flow layer needs consecutive frames, and the paper's clips are short.
//   With temporal_strides, the first block of res3..res5 strides by 2 in time too wherever its
//   convs reach across time (as torchvision's downsampling does): the exact torchvision
//   networks. The output is the mean over T, H and W of the last features, then `fc` (a linear
//   map, so the same as averaging per-frame predictions).
//
// Flow positions follow the residual stages res1..res5 of the ResNet papers: res1 is the stem
// (conv1 + max pool, or the video stem), res2..res5 are torchvision's layer1..layer4. "After
// block 3", the paper's best position and the published Kinetics model's, is after res3
// (layer2). Stage 0 is the RGB input itself (Table 1's first row): the flow block then works on
// the 3 colour channels and its fusion must be none, so that the network sees the flow's
// representation (3 channels out, after its BN) rather than the frames plus a correction (a
// ReLU after a residual sum would also cut off the normalised frames' negative values). Each
// flow stage turns T frames into T - 1; the frames that remain go on through the network.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/flow_block.h"
#include "models/layers.h"
#include "models/module.h"

namespace repflow {

enum class ResNetKind { k2d, k2plus1d, k3d, kMixed3d };

struct FlowPosition {
  int stage = 3;   // after res<stage>, 1..5; 0: on the input, before any conv
  int block = -1;  // >= 0: after block `block` of that stage instead of its end (stages 2..5)
};

struct FlowSpec {
  FlowPosition position;
  FlowBlockOptions block;     // reduced channels, iterations, ...
  int stages = 1;             // > 1: flow-of-flow (Fig. 6), T - stages frames out
  bool conv_between = false;  // FcF: (1,3,3) conv + BN + ReLU between consecutive stages
};

// kImageNet: torchvision's stem, a 7x7 stride-2 conv (+ a 3x3 stride-2 max pool in 2D), for
// frames of 112 pixels and more. kSmall: one 3x3 stride-1 conv and no pool (as ResNets for
// CIFAR), which keeps the resolution of small frames (32x32) for the layers and the flow.
enum class ResNetStem { kImageNet, kSmall };

struct ResNetOptions {
  int depth = 18;  // 10, 18, 34 (basic blocks: 1, 2, 3-4-6-3 per stage) or 50 (bottlenecks)
  ResNetKind kind = ResNetKind::k2d;
  int64_t width = 64;  // channels of res1 and res2; each later stage doubles them
  ResNetStem stem = ResNetStem::kImageNet;
  int64_t classes = 400;
  std::optional<FlowSpec> flow;  // none: a plain ResNet
  // The Flow CNN: the network sees the TV-L1 flow between the clip's consecutive frames
  // (models/flow_input.h: 2 channels, T - 1 frames) in place of the frames.
  bool flow_input = false;
  float dropout = 0;  // before `fc`
  // Video flavours: stride 2 in time where res3..res5 halve the resolution (torchvision's
  // r3d_18, mc3_18, r2plus1d_18).
  bool temporal_strides = false;
};

class ResNet : public Module {
 public:
  explicit ResNet(const ResNetOptions& options);
  // x: (N, 3, T, H, W) with T > the number of flow stages (> 1 with flow_input) ->
  // (N, classes).
  Tensor forward(const Tensor& x) override;

 private:
  Tensor apply_flow(const Tensor& x, int64_t n);
  bool flow_after(int stage, int block) const;

  ResNetOptions options_;
  std::shared_ptr<Module> conv1_, stem_;  // conv1 (and bn1) for k2d, stem otherwise
  std::shared_ptr<BatchNorm> bn1_;
  std::vector<std::vector<std::shared_ptr<Module>>> layers_;
  std::shared_ptr<Module> flow_, dropout_, fc_;
};

}  // namespace repflow
