#include "framework/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>

#include "framework/error.h"
#include "framework/read_file.h"

namespace repflow {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "read_npy copies '<f4' data as is");

// The value of `key` in the header's Python dict literal, up to the next top-level comma or
// closing brace (a tuple's commas stay inside its parentheses).
std::string header_value(const std::string& path, const std::string& header,
                         const std::string& key) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  // A key given twice is read as the last by numpy, as the first by a search: neither is trusted.
  int count = 0;
  for (const std::string& q : quoted)
    for (size_t p = header.find(q); p != std::string::npos; p = header.find(q, p + q.size()))
      ++count;
  RF_CHECK(count <= 1, path, ": .npy header gives '", key, "' ", count, " times");
  size_t at = std::string::npos;
  for (const std::string& q : quoted)
    if ((at = header.find(q)) != std::string::npos) {
      at += q.size();
      break;
    }
  RF_CHECK(at != std::string::npos, path, ": .npy header has no '", key, "': ", excerpt(header));
  at = header.find(':', at);
  RF_CHECK(at != std::string::npos, path, ": .npy header is malformed: ", excerpt(header));
  size_t end = at + 1;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string value = header.substr(at + 1, end - at - 1);
  const size_t first = value.find_first_not_of(" \t"), last = value.find_last_not_of(" \t");
  return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

Shape parse_shape(const std::string& path, const std::string& text) {
  RF_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', path,
           ": .npy shape is not a tuple: ", excerpt(text));
  Shape shape;
  size_t i = 1;
  while (i < text.size() - 1) {
    while (i < text.size() - 1 && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() - 1) break;
    size_t j = i;
    while (j < text.size() - 1 && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    RF_CHECK(j > i && j - i <= 12, path, ": .npy shape has a bad dimension: ", excerpt(text));
    shape.push_back(std::stoll(text.substr(i, j - i)));
    i = j;
  }
  RF_CHECK(!shape.empty() && shape.size() <= 8, path, ": .npy shape ", excerpt(text),
           " must have 1 to 8 dimensions");
  return shape;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  RF_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, path,
           ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  RF_CHECK(major >= 1 && major <= 3, path, ": .npy format version ", major, " is not 1, 2 or 3");
  const auto byte = [&](size_t i) {
    return static_cast<size_t>(static_cast<unsigned char>(bytes[i]));
  };
  size_t header_len, header_start;
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    header_start = 10;
  } else {
    RF_CHECK(bytes.size() >= 12, path, ": .npy header is truncated");
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  }
  RF_CHECK(bytes.size() >= header_start + header_len, path, ": .npy header is truncated");
  const std::string header = bytes.substr(header_start, header_len);
  const std::string descr = header_value(path, header, "descr");
  RF_CHECK(descr == "'<f4'" || descr == "\"<f4\"", path, ": .npy dtype ", excerpt(descr),
           " is not little-endian float32 ('<f4')");
  const std::string order = header_value(path, header, "fortran_order");
  RF_CHECK(order == "False" || order == "True", path, ": .npy fortran_order '", excerpt(order),
           "' is not True or False");
  RF_CHECK(order == "False", path, ": .npy array is in Fortran order; save a C-order array");
  const Shape shape = parse_shape(path, header_value(path, header, "shape"));
  int64_t count = 1;
  for (int64_t d : shape) {
    RF_CHECK(d == 0 || count <= (int64_t{1} << 40) / d, path, ": .npy shape ", shape_str(shape),
             " is too large");
    count *= d;
  }
  const size_t data_start = header_start + header_len;
  const size_t want = static_cast<size_t>(count) * 4, have = bytes.size() - data_start;
  RF_CHECK(have == want, path, ": .npy shape ", shape_str(shape), " needs ", want,
           " data bytes but the file has ", have, have < want ? " (truncated)" : "");
  Tensor out = Tensor::empty(shape);
  if (count > 0) std::memcpy(out.data(), bytes.data() + data_start, want);
  return out;
}

}  // namespace repflow
