#include "training/data/video_list.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>

#include "framework/error.h"
#include "framework/json_tensor.h"

namespace repflow {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string trim(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

// Splits off the last whitespace-separated field of a trimmed line: {rest, field}. The rest is
// empty when the line has one field.
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

// Numbers class names as they come (or looks them up in fixed classes) and checks integer
// labels against the class count.
class ClassIndex {
 public:
  explicit ClassIndex(const std::vector<std::string>& classes)
      : fixed_(!classes.empty()), classes_(classes) {
    for (size_t i = 0; i < classes_.size(); ++i) index_[classes_[i]] = static_cast<int64_t>(i);
  }
  bool fixed() const { return fixed_; }

  int64_t of_name(const std::string& name, const std::string& where) {
    const auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    RF_CHECK(!fixed_, where, ": unknown label '", name, "' (not among the ", classes_.size(),
             " classes)");
    classes_.push_back(name);
    return index_[name] = static_cast<int64_t>(classes_.size()) - 1;
  }

  int64_t of_integer(int64_t label, const std::string& where) {
    RF_CHECK(label >= 0, where, ": label ", label, " is negative");
    RF_CHECK(!fixed_ || label < static_cast<int64_t>(classes_.size()), where, ": unknown label ",
             label, " (there are ", classes_.size(), " classes)");
    max_integer_ = std::max(max_integer_, label);
    return label;
  }

  // The classes after the whole list: integer labels without fixed classes name their own.
  std::vector<std::string> finish() {
    if (!fixed_ && max_integer_ >= 0) {
      for (int64_t i = 0; i <= max_integer_; ++i) classes_.push_back(std::to_string(i));
    }
    return classes_;
  }

 private:
  bool fixed_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> index_;
  int64_t max_integer_ = -1;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  RF_CHECK(in, path, ": cannot open file");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  RF_CHECK(!in.bad(), path, ": read error");
  return lines;
}

void read_text_list(const std::string& path, ListFormat format, ClassIndex& classes,
                    std::vector<VideoEntry>& videos) {
  const std::vector<std::string> lines = read_lines(path);
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string line = trim(lines[n]);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n + 1);
    auto [rest, label] = split_last(line);
    VideoEntry entry;
    if (format == ListFormat::kHmdb) {
      RF_CHECK(!rest.empty(), where, ": expected 'NAME LABEL', got '", line, "'");
      entry.name = rest;
      entry.label = classes.of_name(label, where);
    } else {
      auto [dir, frames] = split_last(rest);
      int64_t value = 0;
      RF_CHECK(!dir.empty() && parse_int(frames, &entry.num_frames) && parse_int(label, &value),
               where, ": expected 'PATH NUM_FRAMES LABEL' with integer counts, got '", line, "'");
      RF_CHECK(entry.num_frames >= 0, where, ": negative frame count ", entry.num_frames);
      entry.name = dir;
      entry.label = classes.of_integer(value, where);
    }
    videos.push_back(entry);
  }
}

// The label name of an official Kinetics entry, null when the entry has none.
const nlohmann::json* annotated_label(const nlohmann::json& video) {
  if (!video.is_object()) return nullptr;
  const auto annotations = video.find("annotations");
  if (annotations == video.end() || !annotations->is_object()) return nullptr;
  const auto label = annotations->find("label");
  return label != annotations->end() && label->is_string() ? &*label : nullptr;
}

void read_kinetics_list(const std::string& path, ClassIndex& classes,
                        std::vector<VideoEntry>& videos) {
  const nlohmann::json j = read_json_file(path);
  RF_CHECK(j.is_object(), path, ": expected a JSON object of videos");
  bool integer_labels = false;
  if (!j.empty()) integer_labels = j.begin()->is_number_integer();
  // Named labels are numbered alphabetically, so that the training and validation lists agree
  // whatever order the videos come in.
  if (!integer_labels && !classes.fixed()) {
    std::set<std::string> names;
    for (const auto& [key, value] : j.items()) {
      if (const nlohmann::json* label = annotated_label(value))
        names.insert(label->get<std::string>());
    }
    for (const std::string& name : names) classes.of_name(name, path);
  }
  for (const auto& [key, value] : j.items()) {
    const std::string where = path + ": video '" + key + "'";
    VideoEntry entry;
    if (integer_labels) {
      RF_CHECK(value.is_number_integer(), where,
               ": expected a class index like the other videos, got ", value.dump());
      entry.name = key;
      entry.label = classes.of_integer(value.get<int64_t>(), where);
    } else {
      const nlohmann::json* label = annotated_label(value);
      RF_CHECK(label, where, ": expected {\"annotations\": {\"label\": NAME}}, got ", value.dump());
      entry.name = key;
      entry.label = classes.of_name(label->get<std::string>(), where);
    }
    videos.push_back(entry);
  }
}

}  // namespace

ListFormat parse_list_format(const std::string& name) {
  if (name == "hmdb") return ListFormat::kHmdb;
  if (name == "kinetics") return ListFormat::kKinetics;
  if (name == "plain") return ListFormat::kPlain;
  RF_FAIL("unknown list format '", name, "' (expected hmdb, kinetics or plain)");
}

VideoList read_video_list(const std::string& path, ListFormat format,
                          const std::vector<std::string>& classes) {
  ClassIndex index(classes);
  VideoList list;
  if (format == ListFormat::kKinetics) {
    read_kinetics_list(path, index, list.videos);
  } else {
    read_text_list(path, format, index, list.videos);
  }
  list.classes = index.finish();
  return list;
}

std::vector<std::string> read_class_names(const std::string& path) {
  std::vector<std::string> names;
  const bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (!json) {
    for (const std::string& line : read_lines(path)) {
      if (!trim(line).empty()) names.push_back(trim(line));
    }
    RF_CHECK(!names.empty(), path, ": no class names");
    return names;
  }
  const nlohmann::json j = read_json_file(path);
  RF_CHECK(j.is_object() && !j.empty(), path, ": expected a JSON object {NAME: INDEX, ...}");
  names.resize(j.size());
  for (const auto& [key, value] : j.items()) {
    RF_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0 &&
                 value.get<int64_t>() < static_cast<int64_t>(j.size()),
             path, ": class '", key, "' has index ", value.dump(), ", expected 0 ... ",
             j.size() - 1);
    std::string name = key;
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    std::string& slot = names[value.get<int64_t>()];
    RF_CHECK(slot.empty(), path, ": two classes have index ", value.dump());
    slot = name;
  }
  return names;
}

}  // namespace repflow
