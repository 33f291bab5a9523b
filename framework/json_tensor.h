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

// The largest value of a tensor's "crc32" field: zlib's CRC-32 is an unsigned 32-bit number.
constexpr int64_t kMaxCrc32 = 0xffffffff;

// Reads one tensor in either encoding; `what` names it in errors (file and tensor name).
// Rejects a missing or non-array shape, negative, non-integer or overflowing sizes, an unknown
// encoding, bad base64, a data length that does not match, and non-numeric or non-finite
// values. An optional "crc32" (zlib's CRC-32 of the values as little-endian float32 bytes,
// row-major, whatever the encoding) must be an integer in 0..kMaxCrc32 and match the data;
// tensors written before the field existed have none and are read unchecked.
Tensor tensor_from_json(const nlohmann::json& j, const std::string& what);
// Writes "crc32" beside the data: a flipped bit in base64 or a changed digit still reads as a
// valid float, which only a checksum tells from the saved value.
// Rejects non-finite values (naming `what`): JSON has no spelling for them, and nlohmann would
// write null.
nlohmann::json tensor_to_json(const Tensor& t, const std::string& what,
                              TensorEncoding encoding = TensorEncoding::kPlain);

// The deepest nesting a JSON document may have. The project's own files nest a few levels;
// nlohmann's copy and dump recurse once per level, so a hostile document nested thousands deep
// would overflow the stack in them.
constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON document; `where` (the file, or the file and line) begins every
// error. Also an error: nesting deeper than kMaxJsonDepth, and an object with the same key
// twice, which parsers resolve silently and differently.
nlohmann::json parse_json(const std::string& text, const std::string& where);

// Parses a whole JSON file as parse_json does; errors name the file (missing, not a regular
// file, unreadable, truncated).
nlohmann::json read_json_file(const std::string& path);

// `value` as an integer in [lo, hi]; `name` (file and field) begins the Error when it is not an
// integer (1.5 and "1" are not: nlohmann would convert them silently) or is outside the range.
int64_t json_integer(const nlohmann::json& value, const std::string& name, int64_t lo, int64_t hi);

// A value as an error message shows it: scalars as JSON (at most about 100 bytes), arrays and
// objects by their size, so that a huge or deep input never lands in a message whole.
std::string json_excerpt(const nlohmann::json& j);

}  // namespace repflow
