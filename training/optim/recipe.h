#pragma once

namespace repflow {

// The default run's optimisation (docs/training.md): the trainer's defaults for --lr,
// --momentum, --nesterov, --weight-decay and --ema-decay, and the step bench_model times, so
// that the benchmark's step is the one a default run takes.
struct Recipe {
  double lr;
  double momentum;
  bool nesterov;
  double weight_decay;
  double ema_decay;
};
inline constexpr Recipe kDefaultRecipe = {0.05, 0.9, false, 1e-4, 0.99};

}  // namespace repflow
