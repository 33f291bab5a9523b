#include "training/run_files.h"

namespace repflow {

std::string checkpoint_path(const std::string& run_dir) { return run_dir + "/checkpoint.json"; }
std::string weights_path(const std::string& run_dir) { return run_dir + "/weights.json"; }
std::string metrics_path(const std::string& run_dir) { return run_dir + "/metrics.jsonl"; }
std::string chart_path(const std::string& run_dir) { return run_dir + "/chart.png"; }
std::string config_path(const std::string& run_dir) { return run_dir + "/config.json"; }

}  // namespace repflow
