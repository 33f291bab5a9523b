#include "training/ablations/cell_run.h"

#include <filesystem>

#include "training/report/metrics_log.h"
#include "training/trainer.h"

namespace repflow {

CellStatus read_cell_status(const std::string& run_dir, int64_t epochs) {
  CellStatus s;
  std::error_code ec;
  if (!std::filesystem::exists(checkpoint_path(run_dir), ec)) return s;
  const MetricsLog log = MetricsLog::read(run_dir + "/metrics.jsonl");
  for (const nlohmann::json& r : log.records()) {
    const auto epoch = r.find("epoch"), top1 = r.find("val_top1");
    if (epoch == r.end() || !epoch->is_number_integer()) continue;
    s.epochs_done = epoch->get<int64_t>();
    s.val_top1 = top1 != r.end() && top1->is_number() ? 100 * top1->get<double>() : 0;
  }
  const bool weights = std::filesystem::exists(weights_path(run_dir), ec);
  s.state =
      s.epochs_done >= epochs && weights ? CellStatus::State::kDone : CellStatus::State::kPartial;
  return s;
}

std::vector<std::string> train_arguments(const ExperimentCell& cell, const CellStatus& status,
                                         const std::string& run_dir, int64_t epochs,
                                         const std::vector<std::string>& common) {
  std::vector<std::string> args;
  if (status.state == CellStatus::State::kPartial) {
    args = {"--resume", run_dir};
  } else {
    args = {"--run-dir", run_dir};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), cell.flags.begin(), cell.flags.end());
  }
  args.insert(args.end(), {"--epochs", std::to_string(epochs), "--quiet", "true"});
  return args;
}

}  // namespace repflow
