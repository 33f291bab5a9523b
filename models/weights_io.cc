#include "models/weights_io.h"

#include "framework/weights.h"

namespace repflow {

LoadReport load_weights_into(Module& module, const std::string& path, bool strict) {
  return load_weights_into(module, load_weights(path), path, strict);
}

LoadReport load_weights_into(Module& module, const std::map<std::string, Tensor>& state,
                             const std::string& path, bool strict) {
  try {
    return module.load_state_dict(state, strict);
  } catch (const Error& e) {
    RF_FAIL(path, ": ", e.what());
  }
}

std::string describe_partial_load(const std::string& path, const LoadReport& report) {
  const size_t total = report.loaded + report.missing.size() + report.mismatched.size();
  // What the model has but did not get keeps its initial values.
  return path + ": loaded " + std::to_string(report.loaded) + " of " + std::to_string(total) +
         " tensors of the model" + report.lines("skipped, ");
}

}  // namespace repflow
