#pragma once
// A flow layer that shows what it computes: tools such as //tools:show_flow (the paper's Fig. 7)
// find every such layer of a model (Module::apply and dynamic_cast) and are handed each flow the
// layer computes, without the model's code knowing about them.
#include <functional>
#include <utility>

#include "framework/tensor.h"

namespace repflow {

class FlowObservable {
 public:
  // Called with every flow the layer computes in forward: (N, 2C', T - 1, H, W), the C' x-flow
  // channels, then the C' y-flow channels, in pixels of the layer's input. Empty: none.
  using Observer = std::function<void(const Tensor& flow)>;
  void set_flow_observer(Observer observer) { observer_ = std::move(observer); }

 protected:
  ~FlowObservable() = default;
  void observe(const Tensor& flow) const {
    if (observer_) observer_(flow);
  }

 private:
  Observer observer_;
};

}  // namespace repflow
