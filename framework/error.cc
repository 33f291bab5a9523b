#include "framework/error.h"

namespace repflow {

std::string shape_str(const Shape& shape) {
  // Tensors have at most 8 dimensions; a shape read from a hostile file may list millions.
  constexpr size_t kMaxShown = 16;
  std::string s = "[";
  for (size_t i = 0; i < shape.size() && i < kMaxShown; ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  if (shape.size() > kMaxShown) s += ",... (" + std::to_string(shape.size()) + " sizes)";
  return s + "]";
}

std::string excerpt(const std::string& text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      // A control byte from a binary file would garble the terminal or split the message.
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    } else {
      out += static_cast<char>(c);
    }
  }
  return text.size() <= max_bytes ? out : out + "...";
}

}  // namespace repflow
