#include "training/data/official_lists.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "framework/error.h"

namespace repflow {
namespace {

std::string role_rows(ListRole role) {
  return role == ListRole::kTrain ? "training" : "validation";
}

// A Kinetics file's subset ("subset" in JSON, "split" in CSV); the spellings of the Kinetics and
// ActivityNet releases.
enum class Subset { kTrain, kVal, kTest };

bool parse_subset(const std::string& s, Subset* subset) {
  if (s == "train" || s == "training") {
    *subset = Subset::kTrain;
  } else if (s == "val" || s == "validate" || s == "validation") {
    *subset = Subset::kVal;
  } else if (s == "test" || s == "testing") {
    *subset = Subset::kTest;
  } else {
    return false;
  }
  return true;
}

bool selects(ListRole role, Subset subset) {
  return subset == (role == ListRole::kTrain ? Subset::kTrain : Subset::kVal);
}

// A list whose subsets all differ from the role is most likely the other subset's file given in
// the wrong place: say which subsets it has.
void check_selected(const std::string& path, ListRole role, size_t selected,
                    const std::map<std::string, int64_t>& subsets, const std::string& kind) {
  if (selected > 0) return;
  std::string have;
  for (const auto& [name, count] : subsets)
    have += (have.empty() ? "" : ", ") + excerpt(name) + " (" + std::to_string(count) + ")";
  RF_FAIL(path, ": no ", role_rows(role), " videos (", kind, " ",
          role == ListRole::kTrain ? "train" : "validate or val", "); the file's ", kind,
          "s: ", have.empty() ? "none" : have);
}

// A video whose class is known by name until the whole list is read.
struct Labelled {
  VideoEntry entry;
  std::string label;
  std::string where;
};

// Numbers the labels alphabetically (unless the classes are fixed), so that a training and a
// validation file agree whatever order their videos come in.
void number_alphabetically(const std::string& path, std::vector<Labelled>& rows,
                           ClassIndex& classes, std::vector<VideoEntry>& videos) {
  if (!classes.fixed()) {
    std::set<std::string> names;
    for (const Labelled& row : rows) names.insert(row.label);
    for (const std::string& name : names) classes.of_name(name, path);
  }
  for (Labelled& row : rows) {
    row.entry.label = classes.of_name(row.label, row.where);
    videos.push_back(std::move(row.entry));
  }
}

// Times of a Kinetics clip, seconds: the downloader prints them as integers, so they must fit.
bool valid_time(double t) { return std::isfinite(t) && t >= 0 && t < 1e9; }

bool parse_time(const std::string& s, double* t) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, *t);
  return ec == std::errc() && ptr == end && !s.empty() && valid_time(*t);
}

// The ActivityNet Kinetics downloader's names for a clip: `ID_%06d_%06d` (Python's %d truncates
// the times), in a folder per label, named by the label as it is or with '_' for spaces (both
// versions of the downloader are in use).
std::vector<std::string> kinetics_names(const std::string& id, double start, double end,
                                        const std::string& label) {
  char times[48];
  std::snprintf(times, sizeof times, "_%06lld_%06lld", static_cast<long long>(start),
                static_cast<long long>(end));
  const std::string clip = id + times;
  std::vector<std::string> names = {clip, label + "/" + clip};
  std::string underscored = label;
  for (char& c : underscored)
    if (c == ' ') c = '_';
  if (underscored != label) names.push_back(underscored + "/" + clip);
  return names;
}

// The fields of a CSV line as RFC 4180 quotes them ("a, b"; "" for a quote inside a quoted
// field), unquoted fields trimmed. False when a quote is left open or text follows a closing
// quote. Kinetics' labels are quoted when they hold a comma.
bool csv_fields(const std::string& line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool in_quotes = false, quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        in_quotes = false;
      }
    } else if (c == ',') {
      fields->push_back(quoted ? field : trim(field));
      field.clear();
      quoted = false;
    } else if (c == '"' && !quoted && trim(field).empty()) {
      in_quotes = quoted = true;
      field.clear();
    } else if (quoted) {
      if (c != ' ' && c != '\t') return false;
    } else {
      field += c;
    }
  }
  if (in_quotes) return false;
  fields->push_back(quoted ? field : trim(field));
  return true;
}

}  // namespace

void read_hmdb_split_directory(const std::string& dir, int split, ListRole role,
                               ClassIndex& classes, std::vector<VideoEntry>& videos) {
  RF_CHECK(split >= 1 && split <= 3, dir, ": HMDB51 has splits 1, 2 and 3, not ", split);
  const std::string suffix = "_test_split" + std::to_string(split) + ".txt";
  std::map<std::string, std::string> files;         // class -> file, in alphabetical order
  std::map<std::string, std::string> other_splits;  // class -> a file of another split
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string file = it->path().filename().string();
    for (int s = 1; s <= 3; ++s) {
      const std::string any = "_test_split" + std::to_string(s) + ".txt";
      if (file.size() <= any.size() || !ends_with(file, any)) continue;
      const std::string name = file.substr(0, file.size() - any.size());
      if (s == split)
        files[name] = it->path().string();
      else
        other_splits[name] = file;
    }
  }
  RF_CHECK(!ec, dir, ": cannot list the directory: ", ec.message());
  RF_CHECK(!files.empty(), dir, ": no HMDB51 split files '<class>", suffix,
           "' (expected the official split directory, testTrainMulti_7030_splits)");
  // A class whose file of this split is missing would drop out of the class list.
  for (const auto& [name, file] : other_splits)
    RF_CHECK(files.count(name), dir, ": class '", excerpt(name), "' has ", file, " but no ", name,
             suffix);
  if (!classes.fixed()) {
    for (const auto& [name, file] : files) classes.of_name(name, dir);
  }
  const std::string mark = role == ListRole::kTrain ? "1" : "2";
  size_t selected = 0;
  for (const auto& [name, file] : files) {
    for (const auto& [line, where] : read_list_lines(file)) {
      const auto [video, field] = split_last(line);
      RF_CHECK(
          !video.empty() && !has_space(video) && (field == "0" || field == "1" || field == "2"),
          where,
          ": expected 'NAME.avi 0|1|2' (HMDB51's split files: 1 training, 2 testing, 0 "
          "unused), got '",
          excerpt(line), "'");
      if (field != mark) continue;
      VideoEntry entry;
      entry.name = video;
      entry.other_names = {name + "/" + video};
      entry.label = classes.of_name(name, where);
      videos.push_back(std::move(entry));
      ++selected;
    }
  }
  RF_CHECK(selected > 0, dir, ": split ", split, " has no ", role_rows(role),
           " videos (lines marked ", mark, ")");
}

void read_ucf101_list(const std::string& path, ClassIndex& classes,
                      std::vector<VideoEntry>& videos) {
  for (const auto& [line, where] : read_list_lines(path)) {
    const auto [rest, last] = split_last(line);
    int64_t index = 0;
    const bool indexed = !rest.empty() && parse_int(last, &index);
    const std::string video = indexed ? rest : line;
    const size_t slash = video.rfind('/');
    RF_CHECK(
        !has_space(video) && slash != std::string::npos && slash > 0 && slash + 1 < video.size(),
        where,
        ": expected UCF101's 'CLASS/NAME.avi INDEX' (trainlist) or 'CLASS/NAME.avi' "
        "(testlist), got '",
        excerpt(line), "'");
    const std::string folder = video.substr(0, slash);
    VideoEntry entry;
    entry.name = video;
    entry.other_names = {video.substr(slash + 1)};
    if (indexed) {
      RF_CHECK(index >= 1 && index <= classes.size(), where, ": class index ", index,
               " is outside 1 ... ", classes.size(), " (classInd.txt's 1-based indices)");
    }
    entry.label = classes.of_name(folder, where);
    // The index repeats what the folder says; a disagreement means the class list is not the
    // one the list was written with.
    RF_CHECK(!indexed || entry.label == index - 1, where, ": class index ", index, " is '",
             excerpt(classes.name(index - 1)), "' in the class list, but the video's folder is '",
             excerpt(folder), "'");
    videos.push_back(std::move(entry));
  }
}

bool read_class_ind(const std::string& path, const std::vector<std::string>& lines,
                    std::vector<std::string>* names) {
  struct Row {
    int64_t index;
    std::string name, where, line;
  };
  std::vector<Row> rows;
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string line = trim(lines[n]);
    if (line.empty()) continue;
    size_t cut = 0;
    while (cut < line.size() && line[cut] != ' ' && line[cut] != '\t') ++cut;
    Row row{0, trim(line.substr(cut)), path + ":" + std::to_string(n + 1), lines[n]};
    if (row.name.empty() || !parse_int(line.substr(0, cut), &row.index)) return false;
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return false;
  const int64_t count = static_cast<int64_t>(rows.size());
  RF_CHECK(count <= kMaxClasses, path, ": more than ", kMaxClasses, " classes");
  std::vector<std::string> out(count);
  for (const Row& row : rows) {
    RF_CHECK(row.index >= 1 && row.index <= count, row.where, ": class index ", row.index,
             " is outside 1 ... ", count, " (one line per class), got '", excerpt(row.line), "'");
    RF_CHECK(out[row.index - 1].empty(), row.where, ": class index ", row.index,
             " appears twice, got '", excerpt(row.line), "'");
    out[row.index - 1] = row.name;
  }
  *names = std::move(out);
  return true;
}

void read_kinetics_csv(const std::string& path, ListRole role, ClassIndex& classes,
                       std::vector<VideoEntry>& videos) {
  const std::vector<std::string> lines = read_lines(path);
  size_t n = 0;
  while (n < lines.size() && trim(lines[n]).empty()) ++n;
  const std::string kHeader = "label,youtube_id,time_start,time_end,split[,is_cc]";
  RF_CHECK(n < lines.size(), path, ": expected a Kinetics CSV with the header '", kHeader,
           "', got an empty file");
  std::string header = lines[n];
  if (header.compare(0, 3, "\xEF\xBB\xBF") == 0) header = header.substr(3);  // a UTF-8 BOM
  std::vector<std::string> fields;
  std::map<std::string, size_t> column;
  if (csv_fields(header, &fields)) {
    for (size_t i = 0; i < fields.size(); ++i) column[fields[i]] = i;
  }
  const std::string head_where = path + ":" + std::to_string(n + 1);
  for (const char* name : {"label", "youtube_id", "time_start", "time_end", "split"}) {
    RF_CHECK(column.count(name), head_where, ": expected the Kinetics CSV header '", kHeader,
             "', got '", excerpt(lines[n]), "'",
             trim(header).compare(0, 1, "{") == 0 ? " (JSON: give it a name ending in .json)" : "");
  }
  const size_t width = fields.size();
  std::vector<Labelled> rows;
  std::map<std::string, int64_t> subsets;
  for (++n; n < lines.size(); ++n) {
    if (trim(lines[n]).empty()) continue;
    const std::string where = path + ":" + std::to_string(n + 1);
    const bool parsed = csv_fields(lines[n], &fields);
    RF_CHECK(parsed && fields.size() == width, where, ": expected ", width,
             " comma-separated fields as the header names them, got '", excerpt(lines[n]), "'");
    const std::string& split = fields[column["split"]];
    Subset subset;
    RF_CHECK(parse_subset(split, &subset), where, ": split '", excerpt(split),
             "' is not train, val or test, got '", excerpt(lines[n]), "'");
    ++subsets[split];
    if (!selects(role, subset)) continue;
    Labelled row;
    row.label = fields[column["label"]];
    row.where = where;
    const std::string& id = fields[column["youtube_id"]];
    double start = 0, end = 0;
    RF_CHECK(!row.label.empty() && !id.empty() && !has_space(id) &&
                 id.find('/') == std::string::npos &&
                 parse_time(fields[column["time_start"]], &start) &&
                 parse_time(fields[column["time_end"]], &end),
             where, ": expected a label, a YouTube id and start and end times in seconds, got '",
             excerpt(lines[n]), "'");
    std::vector<std::string> names = kinetics_names(id, start, end, row.label);
    row.entry.name = names.front();
    row.entry.other_names.assign(names.begin() + 1, names.end());
    rows.push_back(std::move(row));
  }
  check_selected(path, role, rows.size(), subsets, "split");
  number_alphabetically(path, rows, classes, videos);
}

void read_kinetics_annotations(const std::string& path, const nlohmann::json& j, ListRole role,
                               ClassIndex& classes, std::vector<VideoEntry>& videos) {
  std::vector<Labelled> rows;
  std::map<std::string, int64_t> subsets;
  for (const auto& [key, value] : j.items()) {
    const std::string where = path + ": video '" + excerpt(key) + "'";
    // An entry without a subset belongs to whichever list the file is given as.
    if (value.is_object() && value.contains("subset")) {
      const nlohmann::json& s = value["subset"];
      Subset subset;
      RF_CHECK(s.is_string() && parse_subset(s.get<std::string>(), &subset), where, ": subset ",
               excerpt(s.dump()), " is not train, validate or test");
      ++subsets[s.get<std::string>()];
      if (!selects(role, subset)) continue;
    }
    const nlohmann::json* annotations =
        value.is_object() && value.contains("annotations") ? &value["annotations"] : nullptr;
    const bool labelled = annotations && annotations->is_object() &&
                          annotations->contains("label") && (*annotations)["label"].is_string();
    RF_CHECK(labelled, where, ": expected {\"annotations\": {\"label\": NAME}}, got ",
             excerpt(value.dump()));
    Labelled row;
    row.label = (*annotations)["label"].get<std::string>();
    row.where = where;
    row.entry.name = key;
    if (annotations->contains("segment")) {
      const nlohmann::json& segment = (*annotations)["segment"];
      const bool valid = segment.is_array() && segment.size() == 2 && segment[0].is_number() &&
                         segment[1].is_number() && valid_time(segment[0].get<double>()) &&
                         valid_time(segment[1].get<double>());
      RF_CHECK(valid, where, ": expected \"segment\": [START, END] in seconds, got ",
               excerpt(segment.dump()));
      row.entry.other_names =
          kinetics_names(key, segment[0].get<double>(), segment[1].get<double>(), row.label);
    }
    rows.push_back(std::move(row));
  }
  if (!j.empty()) check_selected(path, role, rows.size(), subsets, "subset");
  number_alphabetically(path, rows, classes, videos);
}

}  // namespace repflow
