#pragma once
// Parameter averaging beside the live weights (the paper evaluates with a running average):
// an exponential moving average or a Polyak (arithmetic) mean of a module's parameters and
// BatchNorm running statistics, swapped into the module for evaluation.
//
// Build it after module.to(device): Module::to replaces the tensors it holds.
#include <cstdint>
#include <map>
#include <string>

#include "framework/flags.h"
#include "models/module.h"

namespace repflow {

enum class AveragingKind { kNone, kEma, kPolyak };

struct AveragingOptions {
  AveragingKind kind = AveragingKind::kNone;
  // EMA: avg = d * avg + (1 - d) * live, with d = decay, or with ema_warmup
  // d = min(decay, (1 + n) / (10 + n)), n the number of updates before this one (as
  // tf.train.ExponentialMovingAverage's num_updates), so early averages forget the random start.
  double decay = 0.999;
  bool ema_warmup = false;
  // Polyak: updates 1 .. polyak_start-1 copy the live values; from update polyak_start on the
  // average is the arithmetic mean of the live values at updates polyak_start .. now.
  int64_t polyak_start = 1;
};

class ParameterAverage {
 public:
  // Averages start as copies of the live values. Buffers whose name ends in
  // "num_batches_tracked" are counters: copied on each update, never averaged.
  ParameterAverage(Module& module, AveragingOptions options);

  const AveragingOptions& options() const { return options_; }
  // After each optimiser step. Error while the average is applied.
  void update();
  // update() in two halves, for a step recorded as a CUDA graph: next_rate() counts an update
  // and returns its rate (on the host, before each replay); update(rate) averages at the rate
  // the one-element tensor `rate` holds on the averages' device, and counts nothing (it runs
  // once, when the step is recorded).
  double next_rate();
  void update(const Tensor& rate);
  // How many times update() has run.
  int64_t updates() const { return updates_; }

  // apply() saves the live values and writes the averages into the module; restore() puts the
  // live values back exactly. Applying twice, or restoring without applying, is an Error.
  void apply();
  void restore();
  bool applied() const { return !live_.empty(); }

  // The averages as "average.<state dict name>" (the live tensors, not copies), for
  // checkpoints with updates(), and their counterpart.
  // load_state copies (from any device); Errors name a missing, unknown or mis-shaped entry.
  NamedTensors state() const;
  void load_state(const std::map<std::string, Tensor>& state, int64_t updates);

 private:
  // The counters copied, the other averages moved toward the live values at `rate`.
  template <class Rate>
  void average_at(const Rate& rate);

  AveragingOptions options_;
  NamedTensors tracked_;   // the module's parameters and buffers
  NamedTensors averages_;  // same order
  NamedTensors live_;      // saved by apply()
  int64_t updates_ = 0;
};

// Evaluates with the averages for the guard's lifetime: apply() now, restore() at scope exit.
class AveragedWeightsScope {
 public:
  explicit AveragedWeightsScope(ParameterAverage& average);
  ~AveragedWeightsScope();
  AveragedWeightsScope(const AveragedWeightsScope&) = delete;
  AveragedWeightsScope& operator=(const AveragedWeightsScope&) = delete;

 private:
  ParameterAverage& average_;
};

// --average none|ema|polyak, --ema-decay, --ema-warmup, --polyak-start.
void add_averaging_flags(Flags& flags);
// Errors name the flag.
AveragingOptions averaging_from_flags(const Flags& flags);

}  // namespace repflow
