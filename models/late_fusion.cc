#include "models/late_fusion.h"

#include "ops/elementwise/elementwise.h"

namespace repflow {

LateFusion::LateFusion(std::shared_ptr<Module> rgb_net, std::shared_ptr<Module> flow_net)
    : rgb_net_(register_module("rgb_stream", std::move(rgb_net))),
      flow_net_(register_module("motion_stream", std::move(flow_net))) {}

Tensor LateFusion::forward(const Tensor& x) {
  const Tensor a = rgb_net_->forward(x), b = flow_net_->forward(x);
  RF_CHECK(a.shape() == b.shape(), "LateFusion: the networks' scores ", shape_str(a.shape()),
           " and ", shape_str(b.shape()), " differ in shape");
  return (a + b) * 0.5f;
}

}  // namespace repflow
