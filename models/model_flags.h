#pragma once
// The registry's model options (models/registry.h) as command-line flags, declared the same way
// by every binary that builds a model by name (//training:train, //tools:infer).
#include <string>

#include "framework/flags.h"
#include "models/registry.h"

namespace repflow {

// Declares --model (default `model`) and one flag per model option (--classes only with
// `with_classes`: the trainer takes the class count from its dataset), each defaulting to its
// value in `defaults` (the model's own, model_defaults, or a weight file's record), so that
// --help shows what the chosen model will be built with. Options absent from `defaults` (those
// that do not apply to the model) default to "".
void add_model_flags(Flags& flags, const std::string& model, const OptionValues& defaults,
                     bool with_classes);

// The model the flags describe: --model resolved (resolve_model) with every option flag that
// holds a value and applies to it (except values at the model's default the user did not
// type), then `extra` (e.g. the trainer's class count). An option
// given on the command line that does not apply to the model is an Error naming the flag.
ModelSpec model_spec_from_flags(const Flags& flags, bool with_classes,
                                const OptionValues& extra = {});

}  // namespace repflow
