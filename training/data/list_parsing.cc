#include "training/data/list_parsing.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "framework/error.h"
#include "framework/read_file.h"

namespace repflow {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::string trim(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

std::pair<std::string, std::string> split_last(const std::string& line) {
  size_t cut = line.size();
  while (cut > 0 && !is_space(line[cut - 1])) --cut;
  return {trim(line.substr(0, cut)), line.substr(cut)};
}

bool parse_int(const std::string& s, int64_t* value) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, *value);
  return ec == std::errc() && ptr == end && !s.empty();
}

bool has_space(const std::string& s) { return std::any_of(s.begin(), s.end(), is_space); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::string text = read_file(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    RF_CHECK(line.size() <= kMaxListLineBytes, path, ":", lines.size() + 1, ": a line of ",
             line.size(), " bytes, longer than any list's (", kMaxListLineBytes, ")");
    lines.push_back(line);
  }
  return lines;
}

std::vector<ListLine> read_list_lines(const std::string& path) {
  const std::vector<std::string> lines = read_lines(path);
  std::vector<ListLine> out;
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string text = trim(lines[n]);
    if (!text.empty()) out.push_back({std::move(text), path + ":" + std::to_string(n + 1)});
  }
  return out;
}

void check_class_name(const std::string& name, const std::string& where) {
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    RF_CHECK(byte >= 0x20 && byte != 0x7f, where, ": class name '", excerpt(name),
             "' holds the control character ", static_cast<int>(byte));
  }
}

ClassIndex::ClassIndex(const std::vector<std::string>& classes)
    : fixed_(!classes.empty()), classes_(classes) {
  for (size_t i = 0; i < classes_.size(); ++i) {
    check_class_name(classes_[i], "class " + std::to_string(i));
    const auto [it, first] = index_.emplace(classes_[i], static_cast<int64_t>(i));
    RF_CHECK(first, "class name '", excerpt(classes_[i]), "' is given twice (classes ", it->second,
             " and ", i, "): a label could not say which it means");
  }
}

int64_t ClassIndex::of_name(const std::string& name, const std::string& where) {
  const auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  RF_CHECK(!fixed_, where, ": unknown label '", excerpt(name), "' (not among the ", classes_.size(),
           " classes)");
  RF_CHECK(size() < kMaxClasses, where, ": more than ", kMaxClasses, " classes");
  check_class_name(name, where);
  classes_.push_back(name);
  return index_[name] = size() - 1;
}

int64_t ClassIndex::of_integer(int64_t label, const std::string& where) {
  RF_CHECK(label >= 0, where, ": label ", label, " is negative");
  RF_CHECK(!fixed_ || label < size(), where, ": unknown label ", label, " (there are ", size(),
           " classes)");
  RF_CHECK(label < kMaxClasses, where, ": label ", label, " is above the largest class index ",
           kMaxClasses - 1);
  max_integer_ = std::max(max_integer_, label);
  return label;
}

std::vector<std::string> ClassIndex::finish() {
  if (!fixed_ && max_integer_ >= 0) {
    for (int64_t i = 0; i <= max_integer_; ++i) classes_.push_back(std::to_string(i));
  }
  return classes_;
}

}  // namespace repflow
