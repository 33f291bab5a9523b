#include "framework/json_tensor.h"

#include <zlib.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_set>
#include <vector>

#include "framework/read_file.h"

namespace repflow {

// The compact encoding stores the bytes as they lie in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "base64-f32le assumes a little-endian host");

namespace {

constexpr char kBase64Encoding[] = "base64-f32le";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const unsigned char* bytes, size_t n) {
  std::string out((n + 2) / 3 * 4, '=');
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  if (i < n) {
    const uint32_t v = bytes[i] << 16 | (i + 1 < n ? bytes[i + 1] << 8 : 0);
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    if (i + 1 < n) out[o] = kAlphabet[(v >> 6) & 63];
  }
  return out;
}

// Strict: the length is a multiple of 4, '=' only as the last one or two characters, nothing
// outside the alphabet (no whitespace), so a damaged string is an error, not other numbers.
std::vector<unsigned char> base64_decode(const std::string& s, const std::string& what) {
  static const std::array<int8_t, 256> value = [] {
    std::array<int8_t, 256> v;
    v.fill(-1);
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kAlphabet[i])] = i;
    return v;
  }();
  RF_CHECK(s.size() % 4 == 0, what, ": base64 data has length ", s.size(),
           ", not a multiple of 4 (truncated?)");
  const size_t pad = s.empty() ? 0 : (s.back() == '=') + (s.size() > 1 && s[s.size() - 2] == '=');
  std::vector<unsigned char> out(s.size() / 4 * 3 - pad);
  size_t o = 0;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const size_t at = i + k;
      const int8_t d = value[static_cast<unsigned char>(s[at])];
      const bool padding = s[at] == '=' && at >= s.size() - pad;
      RF_CHECK(d >= 0 || padding, what, ": invalid base64 character at offset ", at);
      v = v << 6 | (d >= 0 ? d : 0);
    }
    for (int k = 0; k < 3 && o < out.size(); ++k) out[o++] = (v >> (16 - 8 * k)) & 255;
  }
  return out;
}

Shape shape_from_json(const nlohmann::json& j, const std::string& what) {
  Shape shape;
  // The product of the sizes other than 0: an empty tensor's strides and sizes still multiply.
  int64_t extent = 1;
  for (const auto& s : j) {
    RF_CHECK(s.is_number_integer() && s.get<int64_t>() >= 0, what, ": shape entry ",
             json_excerpt(s), " is not a non-negative integer");
    const int64_t n = s.get<int64_t>();
    RF_CHECK(n == 0 || extent <= std::numeric_limits<int64_t>::max() / 4 / n, what,
             ": shape is too large");
    if (n != 0) extent *= n;
    shape.push_back(n);
  }
  RF_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), what, ": shape ", shape_str(shape),
           " has more than ", kMaxDims, " dimensions");
  return shape;
}

uint32_t data_crc32(const std::vector<float>& values) {
  // crc32_z takes a size_t length: crc32's is 32 bits, too short for a tensor over 4 GiB.
  return static_cast<uint32_t>(crc32_z(crc32_z(0, Z_NULL, 0),
                                       reinterpret_cast<const Bytef*>(values.data()),
                                       values.size() * sizeof(float)));
}

void check_finite(const float* values, int64_t n, const std::string& what) {
  for (int64_t i = 0; i < n; ++i)
    RF_CHECK(std::isfinite(values[i]), what, ": data[", i, "] is ", values[i],
             " (only finite values are allowed)");
}

}  // namespace

Tensor tensor_from_json(const nlohmann::json& j, const std::string& what) {
  RF_CHECK(j.is_object(), what, ": expected an object with \"shape\" and \"data\"");
  RF_CHECK(j.contains("shape") && j["shape"].is_array(), what, ": missing \"shape\" array");
  RF_CHECK(j.contains("data"), what, ": missing \"data\"");
  const Shape shape = shape_from_json(j["shape"], what);
  const int64_t numel = shape_numel(shape);
  const auto& data = j["data"];
  // Checked before the data is decoded, so that a damaged crc32 is reported as that.
  const std::optional<int64_t> crc =
      j.contains("crc32")
          ? std::optional<int64_t>(json_integer(j["crc32"], what + ": crc32", 0, kMaxCrc32))
          : std::nullopt;
  std::vector<float> values;
  if (j.contains("encoding")) {
    RF_CHECK(j["encoding"] == kBase64Encoding, what, ": unknown encoding ",
             json_excerpt(j["encoding"]), " (known: \"", kBase64Encoding,
             "\", or none for an array of numbers)");
    RF_CHECK(data.is_string(), what, ": \"data\" must be a base64 string with encoding \"",
             kBase64Encoding, "\"");
    const std::vector<unsigned char> bytes =
        base64_decode(data.get_ref<const std::string&>(), what);
    RF_CHECK(static_cast<int64_t>(bytes.size()) == 4 * numel, what, ": shape ", shape_str(shape),
             " needs ", 4 * numel, " bytes but data has ", bytes.size());
    values.resize(numel);
    // An empty vector's data() may be null, which memcpy must not be given even for 0 bytes.
    if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  } else {
    RF_CHECK(data.is_array(), what, ": \"data\" must be an array of numbers");
    RF_CHECK(static_cast<int64_t>(data.size()) == numel, what, ": shape ", shape_str(shape),
             " needs ", numel, " values but data has ", data.size());
    values.resize(numel);
    for (int64_t i = 0; i < numel; ++i) {
      RF_CHECK(data[i].is_number(), what, ": data[", i, "] is not a number");
      // Narrowing a double beyond float's range is undefined, so it is caught first.
      const double v = data[i].get<double>();
      RF_CHECK(std::fabs(v) <= std::numeric_limits<float>::max(), what, ": data[", i, "] = ", v,
               " is outside the float32 range");
      values[i] = static_cast<float>(v);
    }
  }
  // Before the finiteness check: a flipped bit that makes a NaN is damage, and is named so.
  if (crc) {
    const uint32_t actual = data_crc32(values);
    RF_CHECK(actual == *crc, what, ": data does not match its crc32 ", *crc, " (the data's is ",
             actual, "; file damaged?)");
  }
  check_finite(values.data(), numel, what);
  return Tensor::from_vector(shape, values);
}

nlohmann::json tensor_to_json(const Tensor& t, const std::string& what, TensorEncoding encoding) {
  const std::vector<float> values = t.to_vector();
  check_finite(values.data(), static_cast<int64_t>(values.size()), what);
  const uint32_t crc = data_crc32(values);
  if (encoding == TensorEncoding::kPlain)
    return {{"shape", t.shape()}, {"crc32", crc}, {"data", values}};
  return {{"shape", t.shape()},
          {"encoding", kBase64Encoding},
          {"crc32", crc},
          {"data", base64_encode(reinterpret_cast<const unsigned char*>(values.data()),
                                 values.size() * sizeof(float))}};
}

namespace {

// Builds the document from nlohmann's SAX events, checking the depth before each descent (the
// parser is iterative, so no recursion happens first) and each object's keys. nlohmann's own
// checking hook, the parse callback, rescans the enclosing container at every object's end,
// which made files of many small objects (a Kinetics annotation file: 250,000 of them) take
// time quadratic in their count.
class CheckedJsonBuilder : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit CheckedJsonBuilder(const std::string& where) : where_(where) {}
  nlohmann::json take() { return std::move(root_); }

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t&) override { return add(v); }
  bool string(string_t& v) override { return add(std::move(v)); }
  bool binary(binary_t& v) override { return add(nlohmann::json::binary(std::move(v))); }
  bool start_object(std::size_t) override {
    descend(nlohmann::json::object());
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    RF_CHECK(keys_.back().insert(key).second, where_, ": key \"", excerpt(key),
             "\" appears twice in one object");
    key_ = std::move(key);
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    descend(nlohmann::json::array());
    return true;
  }
  bool end_array() override {
    open_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw e;
  }

 private:
  // Places `value` in the innermost open container (as the member named by the last key), or as
  // the document; returns where it now lies. Containers on open_ stay put: an array grows only
  // while no element of it is open.
  nlohmann::json* place(nlohmann::json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    nlohmann::json& into = *open_.back();
    if (into.is_array()) {
      into.push_back(std::move(value));
      return &into.back();
    }
    nlohmann::json& member = into[key_];
    member = std::move(value);
    return &member;
  }
  bool add(nlohmann::json value) {
    place(std::move(value));
    return true;
  }
  void descend(nlohmann::json container) {
    RF_CHECK(open_.size() < static_cast<size_t>(kMaxJsonDepth), where_,
             ": JSON nested deeper than ", kMaxJsonDepth, " levels");
    open_.push_back(place(std::move(container)));
  }

  const std::string& where_;
  nlohmann::json root_;
  std::vector<nlohmann::json*> open_;                  // innermost last
  std::vector<std::unordered_set<std::string>> keys_;  // of each open object, innermost last
  std::string key_;
};

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& where) {
  // nlohmann's lexer takes a NUL byte for the end of the input, and would accept anything after
  // one; JSON text holds none (a string spells it \u0000).
  const size_t nul = text.find('\0');
  RF_CHECK(nul == std::string::npos, where, ": not JSON text: a NUL byte at offset ", nul);
  try {
    CheckedJsonBuilder builder(where);
    nlohmann::json::sax_parse(text, &builder);
    return builder.take();
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message quotes the token it stopped at, which may be most of the file.
    RF_FAIL(where, ": not valid JSON (truncated or corrupt): ", excerpt(e.what(), 200));
  }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

int64_t json_integer(const nlohmann::json& value, const std::string& name, int64_t lo, int64_t hi) {
  RF_CHECK(value.is_number_integer() &&
               (value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                           : value.get<int64_t>() <= hi),
           name, " is not an integer in ", lo, "..", hi, ", got ", json_excerpt(value));
  const int64_t v = value.get<int64_t>();
  RF_CHECK(v >= lo, name, " is not an integer in ", lo, "..", hi, ", got ", v);
  return v;
}

std::string json_excerpt(const nlohmann::json& j) {
  if (j.is_array()) return "an array of " + std::to_string(j.size()) + " values";
  if (j.is_object()) return "an object of " + std::to_string(j.size()) + " keys";
  const std::string text = j.dump();
  return excerpt(text);
}

}  // namespace repflow
