#include "framework/weights.h"

#include <cstdio>

namespace repflow {

namespace {

constexpr char kFormat[] = "repflow-weights";
constexpr int kVersion = 1;

std::string tensor_what(const std::string& path, const std::string& name) {
  return path + ": tensor '" + name + "'";
}

}  // namespace

void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  TensorEncoding encoding) {
  save_weights(path, tensors, nlohmann::json::object(), encoding);
}

void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const nlohmann::json& extra, TensorEncoding encoding) {
  RF_CHECK(extra.is_object(), path, ": extra fields must be a JSON object");
  nlohmann::json entries = nlohmann::json::object();
  for (const auto& [name, t] : tensors) {
    RF_CHECK(!entries.contains(name), tensor_what(path, name), ": the name appears twice");
    entries[name] = tensor_to_json(t, tensor_what(path, name), encoding);
  }
  nlohmann::json doc = extra;
  for (const char* key : {"format", "version", "tensors"})
    RF_CHECK(!doc.contains(key), path, ": extra field '", key, "' is the format's own");
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["tensors"] = std::move(entries);
  std::string text;
  try {
    text = doc.dump();
  } catch (const nlohmann::json::exception& e) {
    RF_FAIL(path, ": cannot write the weights as JSON: ", e.what());
  }
  write_file_atomic(path, text);
}

void save_weights(const std::string& path, const std::map<std::string, Tensor>& tensors,
                  TensorEncoding encoding) {
  save_weights(path, std::vector<std::pair<std::string, Tensor>>(tensors.begin(), tensors.end()),
               encoding);
}

std::map<std::string, Tensor> load_weights(const std::string& path) {
  return load_weights(path, nullptr);
}

std::map<std::string, Tensor> load_weights(const std::string& path, nlohmann::json* extra) {
  nlohmann::json doc = read_json_file(path);
  try {
    RF_CHECK(doc.is_object() && doc.contains("format") && doc["format"] == kFormat, path,
             ": not a weight file (expected an object with \"format\": \"", kFormat, "\")");
    RF_CHECK(
        doc.contains("version") && doc["version"].is_number_integer() && doc["version"] == kVersion,
        path, ": format version ",
        doc.contains("version") ? json_excerpt(doc["version"]) : "(missing)",
        " is not supported (this build reads ", kVersion, ")");
    RF_CHECK(doc.contains("tensors") && doc["tensors"].is_object(), path,
             ": \"tensors\" must be an object mapping names to tensors");
    std::map<std::string, Tensor> out;
    for (const auto& [name, value] : doc["tensors"].items())
      out[name] = tensor_from_json(value, tensor_what(path, name));
    if (extra) {
      for (const char* key : {"format", "version", "tensors"}) doc.erase(key);
      *extra = std::move(doc);
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    RF_FAIL(path, ": unexpected JSON content: ", e.what());
  }
}

}  // namespace repflow
