#include "models/reference/kinetics.h"

#include <string>

#include "models/reference/reference_flow_layer.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"

namespace repflow {
namespace {

// kinetics_2p1d_model.Block3D: a ModuleList `blocks`.
class BlockGroup : public Module {
 public:
  BlockGroup(int64_t inputs, int64_t filters, int blocks, int64_t stride) {
    auto list = register_module("blocks", std::make_shared<Sequential>());
    list->add(make_reference_bottleneck3d(inputs, filters, stride, /*use_projection=*/true, 3));
    // One temporal conv per two blocks after the first (from the non-local networks paper).
    int64_t t = 3;
    for (int i = 1; i < blocks; ++i) {
      list->add(make_reference_bottleneck3d(4 * filters, filters, 1, false, t));
      t = t == 1 ? 3 : 1;
    }
    blocks_ = list;
  }

  Tensor forward(const Tensor& x) override { return blocks_->forward(x); }

 private:
  std::shared_ptr<Module> blocks_;
};

}  // namespace

KineticsRepFlow::KineticsRepFlow(const KineticsOptions& options)
    : stem_(make_reference_kinetics_stem_layers()) {
  RF_CHECK(options.classes > 0, "kinetics_repflow_r50: classes must be positive, got ",
           options.classes);
  // Registered in the published constructor's order, so state dicts list names as PyTorch's.
  register_module("stem", stem_.conv);
  register_module("bn1", stem_.bn);
  rep_flow_ = register_module("rep_flow", std::make_shared<ReferenceFlowLayer>(
                                              512, options.flow_bottleneck, options.flow_iters));
  const int64_t inputs[4] = {64, 256, 512, 1024}, filters[4] = {64, 128, 256, 512};
  const int blocks[4] = {3, 4, 6, 3};
  for (int g = 0; g < 4; ++g)
    res_[g] = register_module(
        "res" + std::to_string(g + 2),
        std::make_shared<BlockGroup>(inputs[g], filters[g], blocks[g], g == 0 ? 1 : 2));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  classify_ = register_module(
      "classify", std::make_shared<Conv>(2048, options.classes, std::vector<int64_t>{1, 1, 1}));
}

Tensor KineticsRepFlow::forward(const Tensor& x) {
  RF_CHECK(x.dim() == 5 && x.size(1) == 3, "kinetics_repflow_r50: input ", shape_str(x.shape()),
           " is not (N, 3, T, H, W)");
  Tensor y = res_[1]->forward(res_[0]->forward(stem_.forward(x)));
  RF_CHECK(y.size(2) >= 2, "kinetics_repflow_r50: input ", shape_str(x.shape()), " leaves ",
           y.size(2), " frame(s) for the flow layer, which needs 2 (T >= 11)");
  y = res_[3]->forward(res_[2]->forward(rep_flow_->forward(y)));
  y = classify_->forward(dropout_->forward(ops::mean(y, {3, 4}, /*keepdim=*/true)));
  return ops::reshape(ops::mean(y, {2}), {y.size(0), y.size(1)});
}

}  // namespace repflow
