#pragma once
// One cell of an experiment table as a run directory of //training:train: how far it got, its
// result, and the trainer's command line that starts or continues it.
#include <cstdint>
#include <string>
#include <vector>

#include "training/ablations/tables.h"

namespace repflow {

struct CellStatus {
  enum class State {
    kFresh,    // nothing to resume from: the run starts
    kPartial,  // a checkpoint short of the epochs wanted: the run resumes from it
    kDone,     // the epochs wanted are in metrics.jsonl and weights.json is written
  } state = State::kFresh;
  int64_t epochs_done = 0;  // epochs metrics.jsonl records
  double val_top1 = 0;      // the last recorded epoch's validation top-1, in percent
};

// What `run_dir` holds, for a run of `epochs` epochs. A metrics.jsonl that cannot be read is an
// Error naming it.
CellStatus read_cell_status(const std::string& run_dir, int64_t epochs);

// The trainer's arguments (after the program name) that bring the cell to `epochs` epochs: a
// fresh run gets the cell's flags after `common` (so that the cell's own win), a partial one
// resumes from its checkpoint, which holds its configuration.
std::vector<std::string> train_arguments(const ExperimentCell& cell, const CellStatus& status,
                                         const std::string& run_dir, int64_t epochs,
                                         const std::vector<std::string>& common);

}  // namespace repflow
