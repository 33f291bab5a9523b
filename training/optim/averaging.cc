#include "training/optim/averaging.h"

#include <algorithm>
#include <vector>

#include "framework/autograd.h"
#include "ops/optim/optim.h"

namespace repflow {

namespace {

const char kAveragePrefix[] = "average.";

bool is_counter(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_options(const AveragingOptions& o) {
  RF_CHECK(o.decay >= 0 && o.decay < 1, "flag --ema-decay: ", o.decay, " must lie in [0, 1)");
  RF_CHECK(o.polyak_start >= 1, "flag --polyak-start: ", o.polyak_start,
           " must be at least 1 (the first update)");
}

}  // namespace

ParameterAverage::ParameterAverage(Module& module, AveragingOptions options)
    : options_(options), tracked_(module.state_dict()) {
  check_options(options_);
  NoGradGuard no_grad;
  for (const auto& [name, t] : tracked_) averages_.emplace_back(name, t.detach().clone());
}

double ParameterAverage::next_rate() {
  ++updates_;
  // Both averages are avg += rate * (live - avg); they differ only in the rate.
  if (options_.kind == AveragingKind::kEma) {
    const double n = static_cast<double>(updates_ - 1);
    const double d =
        options_.ema_warmup ? std::min(options_.decay, (1 + n) / (10 + n)) : options_.decay;
    return 1.0 - d;
  }
  if (options_.kind == AveragingKind::kPolyak && updates_ >= options_.polyak_start)
    return 1.0 / static_cast<double>(updates_ - options_.polyak_start + 1);
  return 1.0;
}

template <class Rate>
void ParameterAverage::average_at(const Rate& rate) {
  RF_CHECK(!applied(), "parameter averaging: update() while the averages are applied");
  NoGradGuard no_grad;
  std::vector<Tensor> averages, lives;
  for (size_t i = 0; i < tracked_.size(); ++i) {
    if (is_counter(tracked_[i].first)) {
      averages_[i].second.copy_(tracked_[i].second);
    } else {
      averages.push_back(averages_[i].second);
      lives.push_back(tracked_[i].second.detach().contiguous());
    }
  }
  ops::lerp_(averages, lives, rate);
}

void ParameterAverage::update() {
  // Checked before next_rate() counts the update (average_at checks again, for update(rate)).
  RF_CHECK(!applied(), "parameter averaging: update() while the averages are applied");
  average_at(static_cast<float>(next_rate()));
}

void ParameterAverage::update(const Tensor& rate) { average_at(rate); }

void ParameterAverage::apply() {
  RF_CHECK(!applied(), "parameter averaging: apply() while already applied");
  NoGradGuard no_grad;
  for (size_t i = 0; i < tracked_.size(); ++i) {
    live_.emplace_back(tracked_[i].first, tracked_[i].second.detach().clone());
    Tensor(tracked_[i].second).copy_(averages_[i].second);
  }
}

void ParameterAverage::restore() {
  RF_CHECK(applied(), "parameter averaging: restore() without apply()");
  NoGradGuard no_grad;
  for (size_t i = 0; i < tracked_.size(); ++i) Tensor(tracked_[i].second).copy_(live_[i].second);
  live_.clear();
}

NamedTensors ParameterAverage::state() const {
  NamedTensors out;
  for (const auto& [name, avg] : averages_) out.emplace_back(kAveragePrefix + name, avg);
  return out;
}

void ParameterAverage::load_state(const std::map<std::string, Tensor>& state, int64_t updates) {
  RF_CHECK(updates >= 0, "parameter averaging state: update count ", updates, " is negative");
  std::map<std::string, const Tensor*> expected;
  for (const auto& [name, avg] : averages_) expected.emplace(kAveragePrefix + name, &avg);
  for (const auto& [key, value] : state) {
    const auto it = expected.find(key);
    RF_CHECK(it != expected.end(), "parameter averaging state: '", excerpt(key),
             "' is not average.<name> of a parameter or buffer of this module");
    RF_CHECK(value.shape() == it->second->shape(), "parameter averaging state: '", excerpt(key),
             "' has shape ", shape_str(value.shape()), ", the module's tensor has ",
             shape_str(it->second->shape()));
  }
  for (const auto& [key, avg] : expected) {
    RF_CHECK(state.count(key), "parameter averaging state: '", excerpt(key), "' is missing");
  }
  for (auto& [name, avg] : averages_) avg.copy_(state.at(kAveragePrefix + name));
  updates_ = updates;
}

AveragedWeightsScope::AveragedWeightsScope(ParameterAverage& average) : average_(average) {
  average_.apply();
}

AveragedWeightsScope::~AveragedWeightsScope() { average_.restore(); }

void add_averaging_flags(Flags& flags) {
  flags.add("average", "none",
            "evaluate with averaged parameters: none, ema (exponential moving average) or "
            "polyak (arithmetic mean)");
  flags.add("ema-decay", "0.999", "ema: the decay per step");
  flags.add("ema-warmup", "false", "ema: use decay min(--ema-decay, (1+n)/(10+n)) at update n");
  flags.add("polyak-start", "1", "polyak: the first optimiser step averaged");
}

AveragingOptions averaging_from_flags(const Flags& flags) {
  AveragingOptions o;
  const std::string kind = flags.str("average");
  if (kind == "none") {
    o.kind = AveragingKind::kNone;
  } else if (kind == "ema") {
    o.kind = AveragingKind::kEma;
  } else if (kind == "polyak") {
    o.kind = AveragingKind::kPolyak;
  } else {
    RF_FAIL("flag --average: '", excerpt(kind), "' is not none, ema or polyak");
  }
  // Another kind's settings would otherwise be saved with the run as if they had shaped it.
  if (o.kind != AveragingKind::kEma)
    flags.refuse_given({"ema-decay", "ema-warmup"}, "is for --average ema, not " + kind);
  if (o.kind != AveragingKind::kPolyak)
    flags.refuse_given({"polyak-start"}, "is for --average polyak, not " + kind);
  o.decay = flags.number("ema-decay");
  o.ema_warmup = flags.boolean("ema-warmup");
  o.polyak_start = flags.integer("polyak-start");
  check_options(o);
  return o;
}

}  // namespace repflow
