#pragma once
// The registry's model options (models/registry.h) as command-line flags, declared the same way
// by every binary that builds a model by name (//training:train, //tools:infer).
#include <map>
#include <string>

#include "framework/flags.h"
#include "models/registry.h"

namespace repflow {

// Declares --model (default `default_model`) and one flag per option of set_model_option, each
// defaulting to its entry in `defaults`, else "" = the model's own default. --classes only with
// `with_classes` (the trainer takes the class count from its dataset).
void add_model_flags(Flags& flags, const std::string& default_model, bool with_classes,
                     const std::map<std::string, std::string>& defaults = {});
// `base` with every option flag that is not "" applied; Errors name the flag and the value.
ModelOptions model_options_from_flags(const Flags& flags, ModelOptions base, bool with_classes);

}  // namespace repflow
