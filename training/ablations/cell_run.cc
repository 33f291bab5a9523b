#include "training/ablations/cell_run.h"

#include <filesystem>

#include "framework/error.h"
#include "training/report/metrics_log.h"
#include "training/run_files.h"

namespace repflow {

CellStatus read_cell_status(const std::string& run_dir, int64_t epochs) {
  CellStatus s;
  std::error_code ec;
  const MetricsLog log = MetricsLog::read(metrics_path(run_dir));
  // The result after `epochs` epochs, or after the last one recorded if fewer: a cell trained
  // further (by hand) still reports the epoch its table is for.
  for (const nlohmann::json& r : log.records()) {
    const int64_t epoch = r["epoch"].get<int64_t>();
    if (epoch > epochs) break;
    const auto top1 = r.find("val_top1");
    RF_CHECK(top1 != r.end() && top1->is_number() && top1->get<double>() >= 0 &&
                 top1->get<double>() <= 1,
             log.path(), ": epoch ", epoch, "'s val_top1 is not an accuracy in [0, 1], got ",
             top1 == r.end() ? std::string("none") : excerpt(top1->dump()));
    s.epochs_done = epoch;
    s.val_top1 = 100 * top1->get<double>();
  }
  // A finished cell's checkpoint may have been deleted to save space; its results stand.
  if (s.epochs_done >= epochs && std::filesystem::exists(weights_path(run_dir), ec))
    s.state = CellStatus::State::kDone;
  else if (std::filesystem::exists(checkpoint_path(run_dir), ec))
    s.state = CellStatus::State::kPartial;
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
