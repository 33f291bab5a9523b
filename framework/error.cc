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
  return text.size() <= max_bytes ? text : text.substr(0, max_bytes) + "...";
}

}  // namespace repflow
