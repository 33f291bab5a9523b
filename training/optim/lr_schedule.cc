#include "training/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "framework/error.h"
#include "framework/json_tensor.h"
#include "framework/text.h"

namespace repflow {

namespace {

LrScheduleKind parse_kind(const std::string& text) {
  if (text == "constant") return LrScheduleKind::kConstant;
  if (text == "step") return LrScheduleKind::kStep;
  if (text == "cosine") return LrScheduleKind::kCosine;
  if (text == "plateau") return LrScheduleKind::kPlateau;
  RF_FAIL("flag --lr-schedule: '", excerpt(text),
          "' is not one of constant, step, cosine, plateau");
}

std::vector<int64_t> parse_milestones(const std::string& text) {
  std::vector<int64_t> out;
  const std::vector<std::string> items = split(text, ',');
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    RF_CHECK(!(item.empty() && i + 1 == items.size()), "flag --lr-steps: '", excerpt(text),
             "' ends with a comma");
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    RF_CHECK(!item.empty() && *end == '\0', "flag --lr-steps: '", excerpt(item), "' in '",
             excerpt(text), "' is not an integer epoch");
    out.push_back(v);
  }
  return out;
}

constexpr double kMaxWarmupEpochs = 1e6;

int64_t warmup_length(const LrScheduleOptions& o, int64_t steps_per_epoch) {
  if (o.warmup_steps > 0) return o.warmup_steps;
  return static_cast<int64_t>(std::ceil(o.warmup_epochs * static_cast<double>(steps_per_epoch)));
}

template <class T>
T field(const nlohmann::json& j, const char* name) {
  RF_CHECK(j.is_object() && j.contains(name), "plateau state: field '", excerpt(name),
           "' is missing");
  try {
    return j.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    RF_FAIL("plateau state: field '", excerpt(name),
            "' has the wrong type: ", json_excerpt(j.at(name)));
  }
}

}  // namespace

nlohmann::json plateau_state_to_json(const PlateauState& s) {
  // JSON has no infinities, so "no best yet" is null rather than -inf.
  return {{"scale", s.scale},
          {"best", s.has_best ? nlohmann::json(s.best) : nlohmann::json(nullptr)},
          {"bad_epochs", s.bad_epochs},
          {"cooldown_left", s.cooldown_left}};
}

PlateauState plateau_state_from_json(const nlohmann::json& j) {
  PlateauState s;
  s.scale = field<double>(j, "scale");
  RF_CHECK(j.contains("best"), "plateau state: field 'best' is missing");
  s.has_best = !j.at("best").is_null();
  if (s.has_best) s.best = field<double>(j, "best");
  s.bad_epochs = field<int64_t>(j, "bad_epochs");
  s.cooldown_left = field<int64_t>(j, "cooldown_left");
  RF_CHECK(s.scale > 0 && s.scale <= 1 && s.bad_epochs >= 0 && s.cooldown_left >= 0,
           "plateau state: out of range: ", j.dump());
  return s;
}

LrSchedule::LrSchedule(LrScheduleOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  RF_CHECK(o.base_lr > 0 && std::isfinite(o.base_lr), "flag --lr: ", o.base_lr,
           " must be a positive number");
  RF_CHECK(o.min_lr >= 0 && o.min_lr <= o.base_lr, "flag --lr-min: ", o.min_lr,
           " must lie in [0, --lr ", o.base_lr, "]");
  RF_CHECK(o.warmup_steps >= 0, "flag --warmup-steps: ", o.warmup_steps, " is negative");
  RF_CHECK(o.warmup_epochs >= 0, "flag --warmup-epochs: ", o.warmup_epochs, " is negative");
  // Bounded so that the warm-up's length in steps stays well inside 64 bits.
  RF_CHECK(o.warmup_epochs <= kMaxWarmupEpochs, "flag --warmup-epochs: ", o.warmup_epochs,
           " is above ", kMaxWarmupEpochs, " epochs");
  RF_CHECK(o.warmup_steps == 0 || o.warmup_epochs == 0,
           "flags --warmup-steps and --warmup-epochs: give at most one of them");
  switch (o.kind) {
    case LrScheduleKind::kConstant:
      break;
    case LrScheduleKind::kStep:
      RF_CHECK(o.gamma > 0 && o.gamma <= 1, "flag --lr-gamma: ", o.gamma, " must lie in (0, 1]");
      RF_CHECK(o.milestones.empty() != (o.step_every == 0),
               "flags --lr-steps and --lr-step-every: the step schedule needs exactly one of "
               "them");
      RF_CHECK(o.step_every >= 0, "flag --lr-step-every: ", o.step_every, " is negative");
      RF_CHECK(std::is_sorted(o.milestones.begin(), o.milestones.end()) &&
                   (o.milestones.empty() || o.milestones.front() > 0),
               "flag --lr-steps: milestones must be positive epochs in increasing order");
      break;
    case LrScheduleKind::kCosine:
      RF_CHECK(o.epochs > 0, "flag --epochs: the cosine schedule needs a positive run length, got ",
               o.epochs);
      break;
    case LrScheduleKind::kPlateau:
      RF_CHECK(o.factor > 0 && o.factor < 1, "flag --plateau-factor: ", o.factor,
               " must lie in (0, 1)");
      RF_CHECK(o.patience >= 0, "flag --plateau-patience: ", o.patience, " is negative");
      RF_CHECK(o.cooldown >= 0, "flag --plateau-cooldown: ", o.cooldown, " is negative");
      RF_CHECK(o.threshold >= 0, "flag --plateau-threshold: ", o.threshold, " is negative");
      break;
  }
}

double LrSchedule::lr(int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) const {
  RF_CHECK(
      steps_per_epoch > 0 && epoch >= 0 && step_in_epoch >= 0 && step_in_epoch < steps_per_epoch,
      "lr schedule: step ", step_in_epoch, " of epoch ", epoch, " with ", steps_per_epoch,
      " steps per epoch is out of range");
  const auto& o = options_;
  double lr = o.base_lr;
  switch (o.kind) {
    case LrScheduleKind::kConstant:
      break;
    case LrScheduleKind::kStep: {
      const int64_t k = o.step_every > 0
                            ? epoch / o.step_every
                            : std::upper_bound(o.milestones.begin(), o.milestones.end(), epoch) -
                                  o.milestones.begin();
      lr = o.base_lr * std::pow(o.gamma, static_cast<double>(k));
      break;
    }
    case LrScheduleKind::kCosine: {
      const double t =
          std::min(1.0, (static_cast<double>(epoch) + static_cast<double>(step_in_epoch) /
                                                          static_cast<double>(steps_per_epoch)) /
                            static_cast<double>(o.epochs));
      lr = o.min_lr + (o.base_lr - o.min_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
      break;
    }
    case LrScheduleKind::kPlateau:
      lr = o.base_lr * plateau_.scale;
      break;
  }
  const int64_t warmup = warmup_length(o, steps_per_epoch);
  const int64_t step = epoch * steps_per_epoch + step_in_epoch;
  if (step < warmup) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup);
  return lr;
}

void LrSchedule::observe(double metric) {
  const auto& o = options_;
  if (o.kind != LrScheduleKind::kPlateau) return;
  PlateauState& s = plateau_;
  const bool better = std::isfinite(metric) &&
                      (!s.has_best || (o.plateau_maximise ? metric > s.best * (1.0 + o.threshold)
                                                          : metric < s.best * (1.0 - o.threshold)));
  if (better) {
    s.has_best = true;
    s.best = metric;
    s.bad_epochs = 0;
  } else {
    ++s.bad_epochs;
  }
  if (s.cooldown_left > 0) {
    --s.cooldown_left;
    s.bad_epochs = 0;
  }
  if (s.bad_epochs > o.patience) {
    s.scale = std::max(s.scale * o.factor, o.min_lr / o.base_lr);
    s.cooldown_left = o.cooldown;
    s.bad_epochs = 0;
  }
}

void add_lr_schedule_flags(Flags& flags) {
  flags.add("lr", "0.1", "base learning rate");
  flags.add("lr-schedule", "constant", "constant, step, cosine or plateau");
  flags.add("lr-steps", "", "step: epochs at which the lr is multiplied by --lr-gamma, e.g. 30,60");
  flags.add("lr-step-every", "0", "step: multiply the lr by --lr-gamma every this many epochs");
  flags.add("lr-gamma", "0.1", "step: the factor per milestone");
  flags.add("lr-min", "0", "cosine: the final lr; plateau: the lowest lr");
  flags.add("plateau-mode", "max",
            "plateau: max (the metric is validation accuracy) or min (validation loss)");
  flags.add("plateau-patience", "5", "plateau: epochs without improvement tolerated");
  flags.add("plateau-factor", "0.1", "plateau: the factor per reduction");
  flags.add("plateau-cooldown", "0", "plateau: epochs after a reduction before counting again");
  flags.add("plateau-threshold", "1e-4", "plateau: the relative improvement that counts");
  flags.add("warmup-epochs", "0", "linear warm-up over this many epochs (may be fractional)");
  flags.add("warmup-steps", "0", "linear warm-up over this many steps (instead of epochs)");
}

LrScheduleOptions lr_schedule_from_flags(const Flags& flags, int64_t epochs) {
  LrScheduleOptions o;
  o.kind = parse_kind(flags.str("lr-schedule"));
  o.base_lr = flags.number("lr");
  o.milestones = parse_milestones(flags.str("lr-steps"));
  o.step_every = flags.integer("lr-step-every");
  o.gamma = flags.number("lr-gamma");
  o.epochs = epochs;
  o.min_lr = flags.number("lr-min");
  const std::string mode = flags.str("plateau-mode");
  RF_CHECK(mode == "max" || mode == "min", "flag --plateau-mode: '", mode, "' is not max or min");
  o.plateau_maximise = mode == "max";
  o.patience = flags.integer("plateau-patience");
  o.factor = flags.number("plateau-factor");
  o.cooldown = flags.integer("plateau-cooldown");
  o.threshold = flags.number("plateau-threshold");
  o.warmup_epochs = flags.number("warmup-epochs");
  o.warmup_steps = flags.integer("warmup-steps");
  LrSchedule check(o);  // validates, with errors naming the flags
  // A flag of another schedule than the one chosen would be ignored.
  const struct {
    std::vector<std::string> flags;
    std::vector<LrScheduleKind> kinds;
    const char* names;
  } owned[] = {
      {{"lr-steps", "lr-step-every", "lr-gamma"}, {LrScheduleKind::kStep}, "step"},
      {{"lr-min"}, {LrScheduleKind::kCosine, LrScheduleKind::kPlateau}, "cosine or plateau"},
      {{"plateau-mode", "plateau-patience", "plateau-factor", "plateau-cooldown",
        "plateau-threshold"},
       {LrScheduleKind::kPlateau},
       "plateau"},
  };
  for (const auto& [names, kinds, schedules] : owned)
    if (std::find(kinds.begin(), kinds.end(), o.kind) == kinds.end())
      flags.refuse_given(names, std::string("is for --lr-schedule ") + schedules + ", not " +
                                    flags.str("lr-schedule"));
  return o;
}

}  // namespace repflow
