#pragma once
// Tensors in JSON, as {"shape": [..], "data": [..row-major floats..]}: the layout of the parity
// fixtures and of weight files.
#include <nlohmann/json.hpp>
#include <string>

#include "framework/tensor.h"

namespace repflow {

// Reads one tensor; `what` names it in errors (file and tensor name). Rejects a missing or
// non-array shape, negative or non-integer sizes, a data length that does not match, and
// non-numeric or non-finite values.
Tensor tensor_from_json(const nlohmann::json& j, const std::string& what);
nlohmann::json tensor_to_json(const Tensor& t);

// Parses a whole JSON file, with errors that name the file (missing, unreadable, truncated).
nlohmann::json read_json_file(const std::string& path);

}  // namespace repflow
