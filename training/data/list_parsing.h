#pragma once
// What the list readers (training/data/video_list.cc, official_lists.cc) share: lines and fields
// of a text list, quoting a line in an error, and numbering classes.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace repflow {

// More classes than any video dataset has; a larger integer label is an error rather than a
// request for millions of class names.
constexpr int64_t kMaxClasses = 100000;

std::string trim(const std::string& s);

// Splits off the last whitespace-separated field of a trimmed line: {rest, field}. The rest is
// empty when the line has one field.
std::pair<std::string, std::string> split_last(const std::string& line);

// A whole-string decimal integer; false for anything else (sign allowed, no spaces).
bool parse_int(const std::string& s, int64_t* value);

bool has_space(const std::string& s);
bool ends_with(const std::string& s, const std::string& suffix);

// The longest line of a list or class-name file: a path, a label and a count, with room to spare.
constexpr size_t kMaxListLineBytes = 65536;

// The file's lines, line ends ('\n', '\r\n') and a UTF-8 byte-order mark at its start (which
// editors on Windows write) removed. An Error when it cannot be read.
std::vector<std::string> read_lines(const std::string& path);

// A non-blank line of a list file, trimmed, and where it is ("PATH:LINE") for errors about it.
struct ListLine {
  std::string text;
  std::string where;
};

// The file's non-blank lines, as read_lines reads them.
std::vector<ListLine> read_list_lines(const std::string& path);

// A class name's characters: one with a control character (a newline, an escape sequence) would
// print as something else, even as a forged line of output. An Error naming `where`.
void check_class_name(const std::string& name, const std::string& where);

// Numbers class names as they come (or looks them up in fixed classes) and checks integer
// labels against the class count.
class ClassIndex {
 public:
  explicit ClassIndex(const std::vector<std::string>& classes);
  bool fixed() const { return fixed_; }
  int64_t size() const { return static_cast<int64_t>(classes_.size()); }
  const std::string& name(int64_t index) const { return classes_[index]; }

  // Errors (fixed classes without `name`) start with `where`.
  int64_t of_name(const std::string& name, const std::string& where);
  int64_t of_integer(int64_t label, const std::string& where);

  // The classes after the whole list: integer labels without fixed classes name their own.
  std::vector<std::string> finish();

 private:
  bool fixed_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> index_;
  int64_t max_integer_ = -1;
};

}  // namespace repflow
