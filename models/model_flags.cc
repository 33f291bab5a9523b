#include "models/model_flags.h"

#include <map>

#include "framework/error.h"

namespace repflow {

namespace {

// Help lines by option name (defaults come from the model and --help shows them).
const std::map<std::string, std::string>& option_help() {
  static const std::map<std::string, std::string> help = {
      {"classes", "model option: number of classes"},
      {"width", "model option: channels of res1 and res2 (ResNets)"},
      {"stem", "model option: imagenet (7x7 stride 2 + max pool) or small (3x3 stride 1)"},
      {"flow", "model option: flow block position none | input | after<S> | after<S>.<B>"},
      {"flow-iters", "model option: TV-L1 iterations of the flow layer"},
      {"flow-stages", "model option: flow-of-flow stages (2 when --fcf is given without it)"},
      {"fcf", "model option: conv + BN + ReLU between flow-of-flow stages (true/false)"},
      {"reduced-channels", "model option: channels of the flow block's bottleneck"},
      {"dropout", "model option: dropout before the classifier"},
      {"flow-learn",
       "model option: flow parameter groups learned, none | all | a comma list of tlt (tau, "
       "lambda, theta), div (divergence taps), grad (flow-gradient taps), sobel (image-gradient "
       "kernels); the rest stay fixed"},
      {"fusion",
       "model option: how the flow joins the RGB features, none | add | multiply | "
       "layer-multiply | concat, or late (an RGB network's scores averaged in)"},
      {"input",
       "model option: what the network sees, rgb (the frames) or flow (the Flow CNN: the TV-L1 "
       "flow between consecutive frames; with --fusion late, two-stream)"},
  };
  return help;
}

}  // namespace

void add_model_flags(Flags& flags, const std::string& model, const OptionValues& defaults,
                     bool with_classes) {
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  flags.add("model", model, "model name: " + names);
  for (const std::string& name : model_option_names()) {
    if (!with_classes && name == "classes") continue;
    const auto it = defaults.find(name);
    const std::string& help = option_help().at(name);
    flags.add(name, it != defaults.end() ? it->second : "",
              it != defaults.end() ? help : help + " (does not apply to " + model + ")");
  }
}

ModelSpec model_spec_from_flags(const Flags& flags, bool with_classes, const OptionValues& extra) {
  const std::string model = flags.str("model");
  const OptionValues applicable = model_defaults(model);
  OptionValues given;
  for (const std::string& name : model_option_names()) {
    if (!with_classes && name == "classes") continue;
    const std::string value = flags.str(name);
    if (!applicable.count(name)) {
      // Empty is the default of an option the model lacks, and a default declared for another
      // model (a resumed run's) is not the user's choice.
      flags.refuse_given({name}, "does not apply to " + model);
      continue;
    }
    if (value.empty()) {
      // Typed empty, it would fall back silently to the model's (or a weight file's) own value.
      RF_CHECK(!flags.given(name), "flag --", name, ": the value is empty");
      continue;
    }
    // An option at the model's own default that the user did not type is left to
    // resolve_model, whose rules for options not given then apply (fcf without flow-stages: two
    // stages; flow input without fusion: none; input flow without flow: none).
    if (!flags.given(name) && value == applicable.at(name)) continue;
    ModelOptions checked;
    try {
      set_model_option(&checked, name, value);
    } catch (const Error& e) {
      RF_FAIL("flag --", name, ": ", e.what());
    }
    given[name] = value;
  }
  for (const auto& [name, value] : extra) given[name] = value;
  ModelSpec spec;
  try {
    spec = resolve_model(model, given);
  } catch (const Error& e) {
    RF_FAIL("flag --model ", model, ": ", e.what());
  }
  // The flow layer's settings without a flow layer would be recorded with the weights as if they
  // had shaped them. (A weight file's own record holds every option, so only typed flags count.)
  const auto flow = spec.options.find("flow");
  if (flow != spec.options.end() && flow->second == "none")
    flags.refuse_given({"flow-iters", "flow-stages", "fcf", "reduced-channels", "flow-learn"},
                       "is for a flow layer, and --flow is none");
  return spec;
}

}  // namespace repflow
