#pragma once
// A weight file (framework/weights.h) into a module. Saving needs no helper:
// `save_weights(path, module.state_dict())`.
#include <string>

#include "models/module.h"

namespace repflow {

// Reads `path` and copies it into the module with load_state_dict: with strict, every missing,
// unexpected and mis-shaped name is reported in one Error that also names the file.
void load_weights_into(Module& module, const std::string& path, bool strict = true);

}  // namespace repflow
