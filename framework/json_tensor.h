#pragma once
// Tensors in JSON, as {"shape": [..], "data": [..row-major floats..]} or, compact,
// {"shape": [..], "encoding": "base64-f32le", "data": "<base64>"}: the layout of the parity
// fixtures and of weight files (docs/weights.md).
#include <nlohmann/json.hpp>
#include <string>

#include "framework/tensor.h"

namespace repflow {

enum class TensorEncoding {
  // A JSON array of numbers, each the shortest decimal that reads back as the double equal to
  // the float, so reading it as a double and narrowing is exact.
  kPlain,
  // The raw little-endian float32 bytes, base64-encoded: a third of the size of plain arrays,
  // and decoding is a table lookup instead of a decimal conversion per value.
  kBase64,
};

// Reads one tensor in either encoding; `what` names it in errors (file and tensor name).
// Rejects a missing or non-array shape, negative, non-integer or overflowing sizes, an unknown
// encoding, bad base64, a data length that does not match, and non-numeric or non-finite
// values.
Tensor tensor_from_json(const nlohmann::json& j, const std::string& what);
// Rejects non-finite values (naming `what`): JSON has no spelling for them, and nlohmann would
// write null.
nlohmann::json tensor_to_json(const Tensor& t, const std::string& what,
                              TensorEncoding encoding = TensorEncoding::kPlain);

// Parses a whole JSON file, with errors that name the file (missing, unreadable, truncated).
nlohmann::json read_json_file(const std::string& path);

}  // namespace repflow
