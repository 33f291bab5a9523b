#include "training/weights_meta.h"

#include <cmath>

#include "framework/error.h"
#include "framework/json_tensor.h"
#include "training/data/frame_dataset.h"
#include "training/data/list_parsing.h"

namespace repflow {
namespace {

// A count in [lo, hi], or an Error naming the field.
int64_t count_field(const nlohmann::json& j, const std::string& field, int64_t lo, int64_t hi,
                    const std::string& file) {
  return json_integer(j, file + ": meta.input." + field, lo, hi);
}

std::array<float, 3> triple(const nlohmann::json& j, const std::string& field,
                            const std::string& file) {
  RF_CHECK(j.is_array() && j.size() == 3, file, ": meta.input.norm.", field,
           " is not an array of three numbers");
  std::array<float, 3> out{};
  for (int c = 0; c < 3; ++c) {
    RF_CHECK(j[c].is_number(), file, ": meta.input.norm.", field, " is not an array of numbers");
    out[c] = j[c].get<float>();
    RF_CHECK(std::isfinite(out[c]), file, ": meta.input.norm.", field, " is not finite");
  }
  return out;
}

}  // namespace

nlohmann::json weights_meta_to_json(const WeightsMeta& meta) {
  nlohmann::json j = nlohmann::json::object();
  if (meta.model) j["model"] = {{"name", meta.model->name}, {"options", meta.model->options}};
  if (!meta.class_names.empty()) j["class_names"] = meta.class_names;
  nlohmann::json input = nlohmann::json::object();
  const ClipMeta& c = meta.input;
  if (c.frames) input["frames"] = *c.frames;
  if (c.stride) input["stride"] = *c.stride;
  if (c.resize) input["resize"] = *c.resize;
  if (c.size) input["size"] = *c.size;
  if (c.clips) input["clips"] = *c.clips;
  if (c.decode_size) input["decode_size"] = *c.decode_size;
  if (c.norm) input["norm"] = {{"mean", c.norm->mean}, {"std", c.norm->std}};
  if (!input.empty()) j["input"] = input;
  return j;
}

WeightsMeta weights_meta_from_json(const nlohmann::json& j, const std::string& file) {
  RF_CHECK(j.is_object(), file, ": meta is not an object");
  WeightsMeta meta;
  if (j.contains("model")) {
    const nlohmann::json& m = j["model"];
    RF_CHECK(m.is_object() && m.contains("name") && m["name"].is_string(), file,
             ": meta.model has no name");
    OptionValues options;
    if (m.contains("options")) {
      RF_CHECK(m["options"].is_object(), file, ": meta.model.options is not an object");
      for (const auto& [name, value] : m["options"].items()) {
        RF_CHECK(value.is_string(), file, ": meta.model.options.", name,
                 " is not a string (options are kept as the flags spell them)");
        options[name] = value.get<std::string>();
      }
    }
    try {
      meta.model = resolve_model(m["name"].get<std::string>(), options);
    } catch (const Error& e) {
      RF_FAIL(file, ": meta.model: ", e.what());
    }
  }
  if (j.contains("class_names")) {
    const nlohmann::json& names = j["class_names"];
    RF_CHECK(names.is_array(), file, ": meta.class_names is not an array");
    RF_CHECK(names.size() <= static_cast<size_t>(kMaxClasses), file, ": meta.class_names has ",
             names.size(), " names, more than the ", kMaxClasses, " classes a model may have");
    for (const nlohmann::json& n : names) {
      RF_CHECK(n.is_string(), file, ": meta.class_names holds a value that is not a string");
      check_class_name(n.get<std::string>(), file + ": meta.class_names[" +
                                                 std::to_string(meta.class_names.size()) + "]");
      meta.class_names.push_back(n.get<std::string>());
    }
  }
  if (j.contains("input")) {
    const nlohmann::json& in = j["input"];
    RF_CHECK(in.is_object(), file, ": meta.input is not an object");
    // The flags' own bounds, so that a value out of them is refused naming this file.
    ClipMeta& c = meta.input;
    if (in.contains("frames"))
      c.frames = count_field(in["frames"], "frames", 1, kMaxClipFrames, file);
    if (in.contains("stride"))
      c.stride = count_field(in["stride"], "stride", 1, kMaxClipFrames, file);
    if (in.contains("resize"))
      c.resize = static_cast<int>(count_field(in["resize"], "resize", 0, kMaxFrameSide, file));
    if (in.contains("size"))
      c.size = static_cast<int>(count_field(in["size"], "size", 0, kMaxFrameSide, file));
    if (in.contains("clips"))
      c.clips = static_cast<int>(count_field(in["clips"], "clips", 1, kMaxClipsPerVideo, file));
    if (in.contains("decode_size"))
      c.decode_size =
          static_cast<int>(count_field(in["decode_size"], "decode_size", 0, kMaxFrameSide, file));
    if (in.contains("norm")) {
      const nlohmann::json& n = in["norm"];
      RF_CHECK(n.is_object() && n.contains("mean") && n.contains("std"), file,
               ": meta.input.norm needs mean and std");
      Normalisation norm{triple(n["mean"], "mean", file), triple(n["std"], "std", file)};
      for (float s : norm.std) RF_CHECK(s != 0, file, ": meta.input.norm.std holds a zero");
      check_normalisation(norm, file + ": meta.input.norm");
      c.norm = norm;
    }
  }
  return meta;
}

WeightsMeta weights_meta_from_extra(const nlohmann::json& extra, const std::string& file) {
  if (!extra.is_object() || !extra.contains("meta")) return {};
  return weights_meta_from_json(extra["meta"], file);
}

}  // namespace repflow
