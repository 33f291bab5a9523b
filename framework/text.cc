#include "framework/text.h"

#include <sstream>

namespace repflow {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  if (text.empty()) return items;
  size_t at = 0;
  for (;;) {
    const size_t end = text.find(separator, at);
    items.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) return items;
    at = end + 1;
  }
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

std::string number_text(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

}  // namespace repflow
