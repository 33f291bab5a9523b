#pragma once
// What a weight file says about itself, in its top-level field "meta" (docs/weights.md,
// "Metadata"): the model the tensors belong to, the class names, and how clips were cut and
// normalised for it. The trainer writes it into every weights.json; tools/convert_torch.py adds
// it on request; //tools:infer builds the model and reads clips from it, so a run's weights
// need nothing else. Every field is optional to a reader.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/registry.h"
#include "training/data/video_frames.h"

namespace repflow {

struct WeightsMeta {
  // The model's name and options; a reader resolves it (resolve_model), so options the record
  // leaves out take the model's defaults.
  std::optional<ModelSpec> model;
  std::vector<std::string> class_names;  // index -> name; empty: unknown
  ClipMeta input;
};

nlohmann::json weights_meta_to_json(const WeightsMeta& meta);
// The inverse. Errors name `file` and the field: a wrong type, a count out of range, a norm
// without three finite means and three finite, non-zero stds, class names that are not strings,
// an unknown model or option (resolve_model's message).
WeightsMeta weights_meta_from_json(const nlohmann::json& meta, const std::string& file);

// A weight file's metadata from the extra fields load_weights returns (none: an empty one).
WeightsMeta weights_meta_from_extra(const nlohmann::json& extra, const std::string& file);

}  // namespace repflow
