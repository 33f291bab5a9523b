#include "training/checkpoint.h"

#include <map>

#include "framework/error.h"
#include "framework/weights.h"

namespace repflow {

namespace {

const char* const kGroups[] = {"model/", "optimizer/", "average/"};

// Member pointers in kGroups' order, so saving and loading cannot disagree on which is which.
NamedTensors Checkpoint::*const kMembers[] = {&Checkpoint::model, &Checkpoint::optimizer,
                                              &Checkpoint::average};

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  NamedTensors all;
  for (int g = 0; g < 3; ++g)
    for (const auto& [name, t] : checkpoint.*kMembers[g]) all.emplace_back(kGroups[g] + name, t);
  save_weights(path, all, nlohmann::json{{"trainer", checkpoint.trainer}});
}

Checkpoint load_checkpoint(const std::string& path) {
  nlohmann::json extra;
  const std::map<std::string, Tensor> tensors = load_weights(path, &extra);
  RF_CHECK(extra.contains("trainer") && extra["trainer"].is_object(), path,
           ": not a training checkpoint (no \"trainer\" state; a plain weight file can be loaded "
           "with --init-weights instead)");
  Checkpoint c;
  c.trainer = extra["trainer"];
  for (const auto& [name, t] : tensors) {
    bool placed = false;
    for (int g = 0; g < 3 && !placed; ++g) {
      const std::string prefix = kGroups[g];
      if (name.compare(0, prefix.size(), prefix) == 0) {
        (c.*kMembers[g]).emplace_back(name.substr(prefix.size()), t);
        placed = true;
      }
    }
    RF_CHECK(placed, path, ": tensor '", name,
             "' belongs to no checkpoint group (model/, optimizer/, average/)");
  }
  return c;
}

}  // namespace repflow
