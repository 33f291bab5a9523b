#include "training/report/metrics_log.h"

#include <filesystem>
#include <sstream>
#include <utility>

#include "framework/atomic_file.h"
#include "framework/error.h"
#include "framework/json_tensor.h"
#include "framework/read_file.h"
#include "framework/weights.h"

namespace repflow {

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {}

MetricsLog MetricsLog::read(const std::string& path) {
  MetricsLog log(path);
  std::error_code ec;
  if (std::filesystem::status(path, ec).type() == std::filesystem::file_type::not_found) return log;
  const std::string text = read_file(path, kMaxMetricsLogBytes);
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record = parse_json(line, path + ":" + std::to_string(number));
    RF_CHECK(record.is_object(), path, ":", number,
             ": a metrics record must be a JSON object, got ", record.type_name());
    log.check_epoch(record, path + ":" + std::to_string(number));
    log.records_.push_back(std::move(record));
  }
  return log;
}

void MetricsLog::check_epoch(const nlohmann::json& record, const std::string& where) const {
  const int64_t last = records_.empty() ? 0 : records_.back()["epoch"].get<int64_t>();
  const auto epoch = record.find("epoch");
  RF_CHECK(epoch != record.end() && epoch->is_number_integer() && epoch->get<int64_t>() > last,
           where, ": a metrics record's \"epoch\" must be an integer above ", last,
           " (the epoch before it, or 0), got ",
           epoch == record.end() ? std::string("none") : excerpt(epoch->dump()));
}

void MetricsLog::append(const nlohmann::json& record) {
  RF_CHECK(record.is_object(), path_, ": a metrics record must be a JSON object, got ",
           record.type_name());
  check_epoch(record, path_);
  std::ostringstream text;
  for (const nlohmann::json& r : records_) text << r.dump() << '\n';
  text << record.dump() << '\n';
  write_file_atomic(path_, text.str());
  records_.push_back(record);
}

void MetricsLog::drop_after_epoch(int64_t epoch) {
  std::vector<nlohmann::json> kept;
  for (nlohmann::json& r : records_) {
    if (r["epoch"].get<int64_t>() <= epoch) kept.push_back(std::move(r));
  }
  records_ = std::move(kept);
}

}  // namespace repflow
