#pragma once
// Lists in flag values and file fields: one way to split and join them, so that every list
// treats empty items, a trailing separator and the empty text alike.
#include <string>
#include <vector>

namespace repflow {

// The items of `text` between separators, empty items kept ("a,,b" gives "a", "", "b"; "a,"
// gives "a", ""), so that a caller can name an empty item in its error. "" gives no items.
std::vector<std::string> split(const std::string& text, char separator);

// The items with `separator` between them.
std::string join(const std::vector<std::string>& items, const std::string& separator);

// A number as a flag's default or a message shows it, in its shortest form ("0.05", "0.0001").
std::string number_text(double value);

}  // namespace repflow
