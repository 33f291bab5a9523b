#pragma once
// Learning-rate schedules evaluated per step: constant, step decay, cosine annealing and
// reduce-on-plateau, each optionally under a linear warm-up. Epochs and steps count from 0.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/flags.h"

namespace repflow {

enum class LrScheduleKind { kConstant, kStep, kCosine, kPlateau };

struct LrScheduleOptions {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double base_lr = 0.1;
  // step: lr = base_lr * gamma^k, k = the number of milestones <= epoch, or, with no
  // milestones, epoch / step_every (step_every > 0 then).
  std::vector<int64_t> milestones;
  int64_t step_every = 0;
  double gamma = 0.1;
  // cosine: from base_lr at the start to min_lr at the end of `epochs`, smoothly per step.
  int64_t epochs = 0;
  // Floor for cosine and plateau.
  double min_lr = 0.0;
  // plateau (torch.optim.lr_scheduler.ReduceLROnPlateau, threshold_mode "rel"): the lr is
  // multiplied by `factor` when more than `patience` epochs in a row failed to improve on the
  // best metric by the relative `threshold`; then `cooldown` epochs pass before counting again.
  bool plateau_maximise = true;  // true for accuracy, false for loss
  int64_t patience = 5;
  double factor = 0.1;
  int64_t cooldown = 0;
  double threshold = 1e-4;
  // Warm-up: the first W steps (warmup_steps, or warmup_epochs * steps_per_epoch rounded up;
  // at most one of them non-zero) scale the lr by (global step + 1) / W.
  int64_t warmup_steps = 0;
  double warmup_epochs = 0.0;
};

// What reduce-on-plateau remembers between epochs; checkpoints store it as JSON.
struct PlateauState {
  double scale = 1.0;  // the product of the reductions so far, floored at min_lr / base_lr
  bool has_best = false;
  double best = 0.0;
  int64_t bad_epochs = 0;
  int64_t cooldown_left = 0;
};
nlohmann::json plateau_state_to_json(const PlateauState& state);
// Errors name the missing or mistyped field.
PlateauState plateau_state_from_json(const nlohmann::json& j);

class LrSchedule {
 public:
  // Errors name the offending option (as its flag, e.g. --lr-gamma).
  explicit LrSchedule(LrScheduleOptions options);
  const LrScheduleOptions& options() const { return options_; }

  // The lr for step `step_in_epoch` (0..steps_per_epoch-1) of `epoch`.
  double lr(int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) const;
  // After each epoch's evaluation, with the validation metric; only plateau acts on it.
  // A non-finite metric counts as no improvement.
  void observe(double metric);

  const PlateauState& plateau_state() const { return plateau_; }
  void set_plateau_state(const PlateauState& state) { plateau_ = state; }

 private:
  LrScheduleOptions options_;
  PlateauState plateau_;
};

// Declares --lr, --lr-schedule, --lr-steps, --lr-step-every, --lr-gamma, --lr-min,
// --plateau-mode, --plateau-patience, --plateau-factor, --plateau-cooldown,
// --plateau-threshold, --warmup-epochs, --warmup-steps.
void add_lr_schedule_flags(Flags& flags);
// Reads them back (epochs: the run's length, for cosine). Errors name the flag.
LrScheduleOptions lr_schedule_from_flags(const Flags& flags, int64_t epochs);

}  // namespace repflow
