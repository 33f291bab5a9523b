#pragma once
// What tools/bench_model_torch.py needs to build a zoo model's network in PyTorch: the network,
// its option values, its class count and its flow layer's parameters (name, shape, values,
// learned) as the model builds them.
#include <nlohmann/json.hpp>

#include "models/registry.h"

namespace repflow {

// {"model", "options", "classes", "flow_params"} for a resolved network (not a preset).
nlohmann::json torch_model_config(const ModelSpec& spec);

}  // namespace repflow
