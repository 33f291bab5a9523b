#pragma once
// metrics.jsonl in a run directory: one JSON object per epoch, in epoch order. Whatever the
// trainer puts in a record is kept as is; the chart (training/report/chart.h) reads the keys it
// documents. Every append rewrites the whole file atomically (write_file_atomic): the file
// holds a few hundred short lines, so the rewrite is cheap, and a crash at any moment leaves
// either the previous file or the new one, never a half-written line.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace repflow {

// The largest metrics.jsonl read: a line takes a few KB (its per-class counts over 400
// classes about 5 KB), so this is thousands of epochs, while parsed JSON takes some 50 times a
// file's size in memory.
constexpr int64_t kMaxMetricsLogBytes = int64_t{16} << 20;

class MetricsLog {
 public:
  // An empty log for `path`; nothing is written until the first append, so a fresh run
  // replaces an older file only once it has an epoch to record.
  explicit MetricsLog(std::string path);

  // The records already in `path`, for --resume; a missing file gives an empty log. Blank lines
  // are skipped; a line that is not a JSON object whose "epoch" is an integer above the line
  // before's is an Error naming the file and line number, as is a file over
  // kMaxMetricsLogBytes.
  static MetricsLog read(const std::string& path);

  // `record` must be a JSON object whose "epoch" is above the last record's (an Error
  // otherwise, before anything is written). Rewrites
  // the file with every record; a failed write is an Error and leaves both the old file and
  // this log's records as they were.
  void append(const nlohmann::json& record);

  // Forgets records whose "epoch" is above `epoch` (a resumed run restarting from an earlier
  // checkpoint than the log reached). The file changes at the next append.
  void drop_after_epoch(int64_t epoch);

  const std::vector<nlohmann::json>& records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  // An Error naming `where` unless `record`'s "epoch" is an integer above the last record's.
  void check_epoch(const nlohmann::json& record, const std::string& where) const;

  std::string path_;
  std::vector<nlohmann::json> records_;
};

}  // namespace repflow
