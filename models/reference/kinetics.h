#pragma once
// The paper's published Kinetics-400 model (kinetics_2p1d_model.resnet_3d_v1(50, classes)), with
// its PyTorch names, so the released checkpoint loads by name:
//
//   stem, bn1: the reference stem (conv 7 stride 2, BN, ReLU, same padding, max pool 3 stride 2)
//   res2: 3 Bottleneck3D, 64 filters, stride 1     res3: 4 blocks, 128 filters, stride 2
//   rep_flow: the published FlowLayer(512 channels, bottleneck 32, 10 iterations)
//   res4: 6 blocks, 256 filters, stride 2           res5: 3 blocks, 512 filters, stride 2
//   mean over H and W -> dropout -> classify (Conv3d 2048 -> classes, 1x1x1, bias) -> mean over T
//
// Each group's first block is a projection block with T = 3; the rest alternate T = 3, 1, 3, ...
// Names: `stem.weight`, `bn1.*`, `rep_flow.img_grad`, `rep_flow.bottleneck.weight`,
// `res2.blocks.0.layers.1.weight`, `res2.blocks.0.shortcut.1.weight`, `classify.weight`, ...
#include <memory>

#include "models/layers.h"
#include "models/module.h"
#include "models/reference/reference_modules.h"

namespace repflow {

struct KineticsOptions {
  int64_t classes = 400;
  int flow_iters = 10;
  int64_t flow_bottleneck = 32;
  float dropout = 0.5f;
};

class KineticsRepFlow : public Module {
 public:
  explicit KineticsRepFlow(const KineticsOptions& options = {});
  // x: (N, 3, T, H, W) -> (N, classes). The stem's unpadded 7-frame conv and two temporal
  // strides need T >= 11 for the flow's two frames (published clips have 32 or 64).
  // The published forward returns (N, classes, 1, 1); the trailing ones are dropped here.
  Tensor forward(const Tensor& x) override;

 private:
  KineticsStemLayers stem_;
  std::shared_ptr<Module> rep_flow_, res_[4], dropout_, classify_;
};

}  // namespace repflow
