#include "models/weights_io.h"

#include "framework/weights.h"

namespace repflow {

void load_weights_into(Module& module, const std::string& path, bool strict) {
  const std::map<std::string, Tensor> state = load_weights(path);
  try {
    module.load_state_dict(state, strict);
  } catch (const Error& e) {
    RF_FAIL(path, ": ", e.what());
  }
}

}  // namespace repflow
