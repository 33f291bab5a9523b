#include "tools/torch_model_config.h"

#include <string>

#include "ops/flow/flow.h"

namespace repflow {

nlohmann::json torch_model_config(const ModelSpec& spec) {
  nlohmann::json flow_params = nlohmann::json::array();
  const auto learn = spec.options.find("flow-learn");
  const ops::FlowParams params = ops::default_flow_params(
      learn == spec.options.end() ? ops::FlowLearned() : ops::FlowLearned::parse(learn->second));
  for (const ops::FlowParamSpec& p : ops::kFlowParamTable) {
    const Tensor& t = params[p.id];
    flow_params.push_back({{"name", p.name},
                           {"shape", t.shape()},
                           {"values", t.to_vector()},
                           {"learned", t.requires_grad()}});
  }
  return {{"model", spec.name},
          {"options", spec.options},
          {"classes", std::stoll(spec.options.at("classes"))},
          {"flow_params", flow_params}};
}

}  // namespace repflow
