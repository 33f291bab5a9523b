#pragma once
// The training loop of //training:train: SGD over parameter groups with a learning-rate
// schedule, parameter averaging used for evaluation, evaluation after every epoch, metrics.jsonl
// + chart.png + config.json + checkpoint.json + weights.json in the run directory, and exact
// resumption from a checkpoint (also one written mid-epoch by Ctrl-C).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "framework/device.h"
#include "models/module.h"
#include "training/checkpoint.h"
#include "training/data/dataset.h"
#include "training/data/loader.h"
#include "training/data_parallel.h"
#include "training/optim/averaging.h"
#include "training/optim/lr_schedule.h"
#include "training/optim/sgd.h"
#include "training/report/evaluation.h"

namespace repflow {

struct TrainerOptions {
  int64_t epochs = 10;
  // Their `order` fields are filled in by the trainer (seed, train/eval, shard) except
  // clips_per_video for evaluation. batch_size is per process.
  LoaderOptions train_loader, val_loader;
  uint64_t seed = 0;
  std::vector<GroupRule> group_rules;  // e.g. the flow layer's parameters at 0.01x
  double weight_decay = 0.0;
  bool no_decay_1d = false;
  SgdOptions sgd;
  double clip_grad_norm = 0.0;  // 0: off
  // Record the training step once as a CUDA graph and replay it (training/graphed_step.h):
  // one process on a GPU, without clipping.
  bool cuda_graph = false;
  LrScheduleOptions schedule;
  AveragingOptions averaging;
  std::string run_dir;
  bool quiet = false;
  // Only check the run (train --check): everything up to the first step is validated, the run
  // directory and a resumed checkpoint included, and nothing is trained or written.
  bool check = false;
  Device device = Device::cpu();
  // The run's configuration (flag values), saved to config.json and into every checkpoint so
  // that --resume can rebuild the same run.
  nlohmann::json config = nlohmann::json::object();
  // What weights.json says about itself, its field "meta" (training/weights_meta.h): the model,
  // the class names and the clip geometry, so that //tools:infer needs nothing else.
  nlohmann::json weights_meta = nlohmann::json::object();
  std::optional<Checkpoint> resume_from;
  std::string resume_path;  // the file resume_from was read from, which its errors name
  // Several processes: each trains on its shard of every epoch (same number of steps on each)
  // with gradients averaged before every step, and evaluates its shard of the validation clips
  // with the totals summed, so every process gets the same EvalResult. Only the root prints and
  // writes the run directory; every process reads resume_from. Processes stop together: when
  // one is interrupted, or one's loader runs out of batches (skipped bad samples).
  DataParallel data_parallel;
};

struct TrainSummary {
  std::optional<EvalResult> last_eval;  // none if no epoch finished in this process
  int64_t epochs_done = 0;              // over the whole run, resumed parts included
  double seconds = 0.0;                 // this process's wall time
  bool interrupted = false;             // stopped by SIGINT/SIGTERM after saving a checkpoint
  int interrupt_signal = 0;  // SIGTERM on a process stopped because another one was interrupted
};

// Trains `model` (already on options.device) in place.
TrainSummary train_model(Module& model, const Dataset& train_set, const Dataset& val_set,
                         const TrainerOptions& options);

}  // namespace repflow
