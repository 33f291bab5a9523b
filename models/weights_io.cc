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
  std::string text = path + ": loaded " + std::to_string(report.loaded) + " of " +
                     std::to_string(total) + " tensors of the model";
  const auto list = [&text](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    text += std::string("\n  skipped, ") + what + ":";
    for (const std::string& n : names) text += " " + n;
  };
  list("mis-shaped", report.mismatched);
  list("missing from the file (initial values kept)", report.missing);
  list("not in the model", report.unexpected);
  return text;
}

}  // namespace repflow
