#pragma once
// A run directory's files, by name: what the trainer writes there and what the experiment runner
// and the benchmarks read back.
#include <string>

namespace repflow {

std::string checkpoint_path(const std::string& run_dir);
std::string weights_path(const std::string& run_dir);
std::string metrics_path(const std::string& run_dir);
std::string chart_path(const std::string& run_dir);
std::string config_path(const std::string& run_dir);

}  // namespace repflow
