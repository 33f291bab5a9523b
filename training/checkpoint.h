#pragma once
// A training checkpoint: everything `--resume` needs to continue exactly where a run stopped.
// On disk it is a weight file (docs/weights.md) whose tensors are named `model/<name>`,
// `optimizer/<name>` and `average/<name>`, with the trainer's state in the top-level field
// `trainer`; it is written atomically, so an interrupted save keeps the previous checkpoint.
#include <nlohmann/json.hpp>
#include <string>

#include "models/module.h"

namespace repflow {

struct Checkpoint {
  NamedTensors model;      // the live weights and buffers (Module::state_dict)
  NamedTensors optimizer;  // e.g. momentum buffers
  NamedTensors average;    // the averaged weights and buffers, empty without averaging
  nlohmann::json trainer = nlohmann::json::object();  // epoch, step, random state, schedule...
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// A file without the `trainer` field, or with a tensor outside the three groups, is an Error
// naming the file (a plain weight file is not a checkpoint).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace repflow
