#pragma once
// What the tools that run a trained model on a video share (//tools:infer, //tools:show_flow):
// the weight file read before the flags are declared (its metadata gives their defaults), the
// model and clip flags, and clips cut from a video or taken from a .npy array.
#include <map>
#include <optional>
#include <string>

#include "framework/flags.h"
#include "framework/tensor.h"
#include "models/registry.h"
#include "training/weights_meta.h"

namespace repflow {

struct WeightsFile {
  std::string path;
  std::map<std::string, Tensor> tensors;
  WeightsMeta meta;
};

// The file --weights names, when it is given (peeked at before parsing).
std::optional<WeightsFile> read_weights_file(int argc, char** argv);

// Declares --model and the model's options, defaulting to the weight file's model (or --model's
// own defaults when it names another), and --weights, --video, --input-npy and the clip flags
// (--frames --stride --clips --resize --size --decode-size --norm), defaulting to how the
// weight file's clips were cut.
void add_model_and_clip_flags(Flags& flags, int argc, char** argv,
                              const std::optional<WeightsFile>& weights);

// The clips the flags name, (N, 3, T, H, W): --clips clips of the --video cut exactly as the
// trainer's evaluation cuts them, or the --input-npy array as it is. `what` says what was read.
// Exactly one of --video and --input-npy must be given (an Error naming `tool` otherwise).
Tensor read_clips(const Flags& flags, const std::string& tool, std::string* what);

// What the tool reads (the weight file, --video, --input-npy): the inputs an output it writes
// must not replace (check_output_file).
std::vector<std::string> clip_input_paths(const Flags& flags, const WeightsFile& weights);

}  // namespace repflow
