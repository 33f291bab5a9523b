#include "training/report/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "framework/atomic_file.h"
#include "framework/error.h"
#include "framework/json_tensor.h"
#include "framework/weights.h"

namespace repflow {

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)) {}

MetricsLog MetricsLog::read(const std::string& path) {
  MetricsLog log(path);
  std::error_code ec;
  const std::filesystem::file_type type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) return log;
  RF_CHECK(type == std::filesystem::file_type::regular, path,
           ": cannot read the metrics log: not a regular file");
  std::ifstream in(path);
  RF_CHECK(in, path, ": cannot read the metrics log: ", std::strerror(errno));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record = parse_json(line, path + ":" + std::to_string(number));
    RF_CHECK(record.is_object(), path, ":", number,
             ": a metrics record must be a JSON object, got ", record.type_name());
    log.records_.push_back(std::move(record));
  }
  RF_CHECK(!in.bad(), path, ": read failed: ", std::strerror(errno));
  return log;
}

void MetricsLog::append(const nlohmann::json& record) {
  RF_CHECK(record.is_object(), path_, ": a metrics record must be a JSON object, got ",
           record.type_name());
  std::ostringstream text;
  for (const nlohmann::json& r : records_) text << r.dump() << '\n';
  text << record.dump() << '\n';
  write_file_atomic(path_, text.str());
  records_.push_back(record);
}

void MetricsLog::drop_after_epoch(int64_t epoch) {
  std::vector<nlohmann::json> kept;
  for (nlohmann::json& r : records_) {
    const auto it = r.find("epoch");
    if (it == r.end() || !it->is_number() || it->get<double>() <= static_cast<double>(epoch))
      kept.push_back(std::move(r));
  }
  records_ = std::move(kept);
}

}  // namespace repflow
