#pragma once
// The published representation-flow layer (rep_flow_layer.FlowLayer of the paper's code),
// reproduced exactly, quirks included, as ../shared/fixtures/README.md describes: dense
// channel-mixing gradient kernels, vertical-only difference kernels, whole-tensor min-max
// normalisation to [-255, 0], boundary columns taken from the first frame. It is composed of
// framework ops (its backward is autograd's), which is what exactness needs; the fused paper-mode
// op is ops::representation_flow.
#include <memory>

#include "models/flow_observer.h"
#include "models/layers.h"
#include "models/module.h"

namespace repflow {

class ReferenceFlowLayer : public Module, public FlowObservable {
 public:
  // channels C, bottleneck B, n_iter iterations. `learnable` is the published constructor's
  // `params`: five flags deciding requires_grad of (img_grad, img_grad2), (f_grad, f_grad2,
  // div, div2), t, l and a.
  ReferenceFlowLayer(int64_t channels, int64_t bottleneck, int n_iter,
                     std::vector<bool> learnable = {true, true, true, true, true});
  // x: (n, C, T, H, W) -> (n, C, T - 1, H, W).
  Tensor forward(const Tensor& x) override;
  // The TV-L1 iterations alone: frames t and t+1 as (m, B, H, W) (H, W >= 2), already on the
  // layer's intensity scale; returns (m, 2B, H, W), u1's channels first.
  Tensor flow(const Tensor& first, const Tensor& second);

 protected:
  // t (theta) must be nonzero, as the published layer divides by it: refused at load.
  void check_loaded(const std::string& name, const Tensor& value) const override;

 private:
  int64_t bottleneck_;
  int n_iter_;
  std::shared_ptr<Conv> bottleneck_conv_, unbottleneck_conv_;
  std::shared_ptr<BatchNorm> bn_;
  Tensor *img_grad_, *img_grad2_, *f_grad_, *f_grad2_, *div_, *div2_, *t_, *l_, *a_;
};

}  // namespace repflow
