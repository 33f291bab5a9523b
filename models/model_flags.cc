#include "models/model_flags.h"

#include <utility>

#include "framework/error.h"

namespace repflow {

namespace {

// (flag, help) in the order --help lists them; names as set_model_option takes them.
const std::pair<const char*, const char*> kOptionFlags[] = {
    {"classes", "model option: number of classes"},
    {"width", "model option: channels of res1 and res2 (ResNets; default 64)"},
    {"stem", "model option: imagenet (7x7 stride 2 + max pool) or small (3x3 stride 1)"},
    {"flow", "model option: flow block position none | after<S> | after<S>.<B> (default after3)"},
    {"flow-iters", "model option: TV-L1 iterations of the flow layer (default 10)"},
    {"flow-stages", "model option: flow-of-flow stages"},
    {"fcf", "model option: conv + BN + ReLU between flow-of-flow stages (true/false)"},
    {"reduced-channels", "model option: channels of the flow block's bottleneck (default 32)"},
    {"dropout", "model option: dropout before the classifier"},
};

}  // namespace

void add_model_flags(Flags& flags, const std::string& default_model, bool with_classes,
                     const std::map<std::string, std::string>& defaults) {
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  flags.add("model", default_model, "model name: " + names);
  for (const auto& [name, help] : kOptionFlags)
    if (with_classes || std::string(name) != "classes")
      flags.add(name, defaults.count(name) ? defaults.at(name) : "", help);
}

ModelOptions model_options_from_flags(const Flags& flags, ModelOptions base, bool with_classes) {
  for (const auto& [name, help] : kOptionFlags) {
    if (!with_classes && std::string(name) == "classes") continue;
    const std::string value = flags.str(name);
    if (value.empty()) continue;
    try {
      set_model_option(&base, name, value);
    } catch (const Error& e) {
      RF_FAIL("flag --", name, ": ", e.what());
    }
  }
  return base;
}

}  // namespace repflow
