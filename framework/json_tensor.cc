#include "framework/json_tensor.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace repflow {

Tensor tensor_from_json(const nlohmann::json& j, const std::string& what) {
  RF_CHECK(j.is_object(), what, ": expected an object with \"shape\" and \"data\"");
  RF_CHECK(j.contains("shape") && j["shape"].is_array(), what, ": missing \"shape\" array");
  RF_CHECK(j.contains("data") && j["data"].is_array(), what, ": missing \"data\" array");
  Shape shape;
  for (const auto& s : j["shape"]) {
    RF_CHECK(s.is_number_integer() && s.get<int64_t>() >= 0, what, ": shape entry ", s.dump(),
             " is not a non-negative integer");
    shape.push_back(s.get<int64_t>());
  }
  const auto& data = j["data"];
  RF_CHECK(static_cast<int64_t>(data.size()) == shape_numel(shape), what, ": shape ",
           shape_str(shape), " needs ", shape_numel(shape), " values but data has ", data.size());
  std::vector<float> values(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    RF_CHECK(data[i].is_number(), what, ": data[", i, "] is not a number");
    values[i] = data[i].get<float>();
    RF_CHECK(std::isfinite(values[i]), what, ": data[", i, "] is not finite");
  }
  return Tensor::from_vector(shape, values);
}

nlohmann::json tensor_to_json(const Tensor& t) {
  return nlohmann::json{{"shape", t.shape()}, {"data", t.to_vector()}};
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RF_CHECK(in, path, ": cannot open file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  RF_CHECK(!in.bad(), path, ": read error");
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    RF_FAIL(path, ": not valid JSON (truncated or corrupt): ", e.what());
  }
}

}  // namespace repflow
