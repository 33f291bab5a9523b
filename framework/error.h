#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace repflow {

// The one exception type of the project: its message names the op or file and the offending
// shapes or values. Binaries catch it at the top, print it and exit non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Shape = std::vector<int64_t>;

// "[2,3]": the spelling every error message uses for a shape (the first 16 sizes of a longer one).
std::string shape_str(const Shape& shape);

// `text` as an error message quotes it: at most `max_bytes`, then "...", so that a hostile file's
// line, key or a library's message about it never lands in a message whole; control bytes
// (newlines, escapes) are written \xNN, so that the quote stays on the message's one line.
std::string excerpt(const std::string& text, size_t max_bytes = 100);

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}
}  // namespace detail

}  // namespace repflow

// RF_CHECK(cond, parts...): throws repflow::Error with the parts streamed together.
#define RF_CHECK(cond, ...)                                                      \
  do {                                                                           \
    if (!(cond)) throw ::repflow::Error(::repflow::detail::concat(__VA_ARGS__)); \
  } while (0)

#define RF_FAIL(...) throw ::repflow::Error(::repflow::detail::concat(__VA_ARGS__))
