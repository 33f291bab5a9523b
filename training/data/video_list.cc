#include "training/data/video_list.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/error.h"
#include "framework/json_tensor.h"
#include "training/data/list_parsing.h"
#include "training/data/official_lists.h"

namespace repflow {
namespace {

// The paper's lists name classes; a number in their place means the file is another layout,
// most often one of HMDB51's official split files: say what to give instead.
[[noreturn]] void fail_numbered_hmdb_label(const std::string& where, const std::string& line,
                                           const std::string& name, const std::string& label) {
  const bool avi = name.size() > 4 && ends_with(name, ".avi");
  if (avi && name.find('/') == std::string::npos && (label == "0" || label == "1" || label == "2"))
    RF_FAIL(where, ": expected 'NAME.avi CLASS' (the paper's split lists), got '", excerpt(line),
            "': a 0, 1 or 2 after the name is how HMDB51's official split files "
            "(<class>_test_split<k>.txt) mark training (1), testing (2) and unused (0) videos, "
            "not a class; give the directory that holds them (testTrainMulti_7030_splits) with "
            "--split 1, 2 or 3");
  RF_FAIL(where, ": expected 'NAME LABEL' with LABEL a class name, got '", excerpt(line),
          "': integer labels are those of the plain format ('PATH NUM_FRAMES LABEL') or of "
          "UCF101's lists (ucf101)");
}

void read_text_list(const std::string& path, ListFormat format, ClassIndex& classes,
                    std::vector<VideoEntry>& videos) {
  for (const auto& [line, where] : read_list_lines(path)) {
    auto [rest, label] = split_last(line);
    VideoEntry entry;
    if (format == ListFormat::kHmdb) {
      RF_CHECK(!rest.empty() && !has_space(rest), where, ": expected 'NAME LABEL', got '",
               excerpt(line), "'");
      int64_t number = 0;
      if (parse_int(label, &number)) fail_numbered_hmdb_label(where, line, rest, label);
      entry.name = rest;
      entry.label = classes.of_name(label, where);
    } else {
      auto [dir, frames] = split_last(rest);
      int64_t value = 0;
      // Or `PATH LABEL` for a video file (PATH with an extension): its frames are counted when
      // it is read (num_frames stays -1).
      const bool counted = !dir.empty() && parse_int(frames, &entry.num_frames);
      const bool file = !counted && std::filesystem::path(rest).has_extension();
      if (file) dir = rest;
      RF_CHECK((counted || file) && parse_int(label, &value), where,
               ": expected 'PATH NUM_FRAMES LABEL' with integer counts (or 'FILE.EXT LABEL' for "
               "a video file), got '",
               excerpt(line), "'");
      RF_CHECK(file || entry.num_frames >= 0, where, ": negative frame count ", entry.num_frames);
      entry.name = dir;
      entry.label = classes.of_integer(value, where);
    }
    videos.push_back(entry);
  }
}

// A file named as JSON must hold a JSON object: a CSV (or any text) given in its place is shown
// by its first line rather than by the JSON parser's byte offset.
void check_json_object(const std::string& path) {
  std::ifstream in(path);
  char c = 0;
  int64_t line = 1;
  while (in.get(c) && std::isspace(static_cast<unsigned char>(c)))
    if (c == '\n') ++line;
  if (!in || c == '{') return;  // unreadable files are read_json_file's to report
  std::string text(1, c);
  for (char d; text.size() <= 100 && in.get(d) && d != '\n' && d != '\r';) text += d;
  RF_FAIL(path, ":", line,
          ": expected a JSON object (the paper's Kinetics list or an official annotation file), "
          "got '",
          excerpt(text), "'",
          text.find("youtube_id") != std::string::npos
              ? " (a Kinetics CSV: give it a name ending in .csv)"
              : "");
}

void read_kinetics_list(const std::string& path, ListRole role, ClassIndex& classes,
                        std::vector<VideoEntry>& videos) {
  check_json_object(path);
  const nlohmann::json j = read_json_file(path);
  RF_CHECK(j.is_object(), path, ": expected a JSON object of videos");
  // The paper's lists map names to class indices; anything else is an official annotation file.
  if (j.empty() || !j.begin()->is_number_integer()) {
    read_kinetics_annotations(path, j, role, classes, videos);
    return;
  }
  for (const auto& [key, value] : j.items()) {
    const std::string where = path + ": video '" + excerpt(key) + "'";
    RF_CHECK(value.is_number_integer(), where,
             ": expected a class index like the other videos, got ", excerpt(value.dump()));
    VideoEntry entry;
    entry.name = key;
    entry.label = classes.of_integer(value.get<int64_t>(), where);
    videos.push_back(entry);
  }
}

// UCF101's lists number their classes by the classInd.txt published beside them.
std::vector<std::string> ucf101_classes(const std::string& list) {
  RF_CHECK(std::filesystem::is_regular_file(list), list, ": cannot open file");
  const std::string path =
      (std::filesystem::path(list).parent_path() / "classInd.txt").lexically_normal().string();
  RF_CHECK(std::filesystem::is_regular_file(path), list,
           ": UCF101's lists take their classes from the classInd.txt beside them, and there is "
           "no ",
           path, " (or give the class names: the trainer's --class-names)");
  std::vector<std::string> names;
  RF_CHECK(read_class_ind(path, read_lines(path), &names), path,
           ": expected classInd.txt's 'INDEX NAME' lines ('1 ApplyEyeMakeup')");
  return names;
}

// The formats by name, in the order list_format_choices() gives them.
const struct {
  ListFormat format;
  const char* name;
} kListFormats[] = {{ListFormat::kHmdb, "hmdb"},
                    {ListFormat::kUcf101, "ucf101"},
                    {ListFormat::kKinetics, "kinetics"},
                    {ListFormat::kPlain, "plain"}};

const char* format_name(ListFormat format) {
  for (const auto& f : kListFormats)
    if (f.format == format) return f.name;
  return "?";
}

}  // namespace

bool is_list_format(const std::string& name) {
  for (const auto& f : kListFormats)
    if (name == f.name) return true;
  return false;
}

std::string list_format_choices() {
  std::string text;
  const size_t n = std::size(kListFormats);
  for (size_t i = 0; i < n; ++i)
    text += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(kListFormats[i].name);
  return text;
}

ListFormat parse_list_format(const std::string& name) {
  for (const auto& f : kListFormats)
    if (name == f.name) return f.format;
  RF_FAIL("unknown list format '", name, "' (expected ", list_format_choices(), ")");
}

VideoList read_video_list(const std::string& path, ListFormat format,
                          const std::vector<std::string>& classes, ListRole role, int split) {
  const bool split_directories = format == ListFormat::kHmdb || format == ListFormat::kUcf101;
  const bool directory = std::filesystem::is_directory(path);
  RF_CHECK(split_directories || !directory, path, ": a directory, expected a ", format_name(format),
           " list file");
  RF_CHECK(!directory || split != 0, path,
           ": a directory; read as an official split directory it needs a split, 1, 2 or 3 "
           "(the trainer's --split)");
  RF_CHECK(directory || split == 0, path, ": split ", split,
           " picks the split of an official split directory (HMDB51's "
           "testTrainMulti_7030_splits, UCF101's ucfTrainTestlist), and this is a list file");
  std::string file = path;
  if (format == ListFormat::kUcf101 && directory) {
    RF_CHECK(split >= 1 && split <= 3, path, ": UCF101 has splits 1, 2 and 3, not ", split);
    file = (std::filesystem::path(path) / ((role == ListRole::kTrain ? "trainlist0" : "testlist0") +
                                           std::to_string(split) + ".txt"))
               .string();
  }
  ClassIndex index(format == ListFormat::kUcf101 && classes.empty() ? ucf101_classes(file)
                                                                    : classes);
  VideoList list;
  if (format == ListFormat::kHmdb && directory) {
    read_hmdb_split_directory(path, split, role, index, list.videos);
  } else if (format == ListFormat::kUcf101) {
    read_ucf101_list(file, index, list.videos);
  } else if (format == ListFormat::kKinetics) {
    const bool csv = ends_with(file, ".csv");
    if (csv) {
      read_kinetics_csv(file, role, index, list.videos);
    } else {
      read_kinetics_list(file, role, index, list.videos);
    }
  } else {
    read_text_list(file, format, index, list.videos);
  }
  list.classes = index.finish();
  return list;
}

std::vector<std::string> read_class_names(const std::string& path) {
  std::vector<std::string> names;
  const bool json = ends_with(path, ".json");
  if (!json) {
    const std::vector<std::string> lines = read_lines(path);
    if (read_class_ind(path, lines, &names)) return names;
    for (const std::string& line : lines) {
      if (!trim(line).empty()) names.push_back(trim(line));
    }
    RF_CHECK(!names.empty(), path, ": no class names");
    RF_CHECK(static_cast<int64_t>(names.size()) <= kMaxClasses, path, ": more than ", kMaxClasses,
             " classes");
    return names;
  }
  const nlohmann::json j = read_json_file(path);
  RF_CHECK(j.is_object() && !j.empty(), path, ": expected a JSON object {NAME: INDEX, ...}");
  names.resize(j.size());
  for (const auto& [key, value] : j.items()) {
    RF_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0 &&
                 value.get<int64_t>() < static_cast<int64_t>(j.size()),
             path, ": class '", excerpt(key), "' has index ", excerpt(value.dump()),
             ", expected 0 ... ", j.size() - 1);
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
