#pragma once
// A weight file (framework/weights.h) into a module. Saving needs no helper:
// `save_weights(path, module.state_dict())`.
#include <map>
#include <string>

#include "models/module.h"

namespace repflow {

// Reads `path` and copies it into the module with load_state_dict: with strict, every missing,
// unexpected and mis-shaped name is reported in one Error that also names the file; without
// it, what fits is loaded and the rest reported.
LoadReport load_weights_into(Module& module, const std::string& path, bool strict = true);
// The same for tensors already read from `path` (load_weights).
LoadReport load_weights_into(Module& module, const std::map<std::string, Tensor>& state,
                             const std::string& path, bool strict = true);

// "PATH: loaded N of M tensors", then one line for each kind of name skipped.
std::string describe_partial_load(const std::string& path, const LoadReport& report);

}  // namespace repflow
