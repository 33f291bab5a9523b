#include "training/report/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "framework/error.h"

namespace repflow {
namespace {

std::string format_rate(const ProgressState& s) {
  if (!(s.elapsed > 0.0)) return "- clips/s";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f clips/s", static_cast<double>(s.clips) / s.elapsed);
  return buf;
}

std::string format_loss_accuracy(const ProgressState& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.3f acc %.1f%%", s.loss, s.accuracy * 100.0);
  return buf;
}

std::string epoch_label(const ProgressState& s) {
  return "epoch " + std::to_string(s.epoch) + "/" + std::to_string(s.epochs);
}

}  // namespace

bool is_terminal(std::FILE* stream) { return isatty(fileno(stream)) == 1; }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return "-";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  return buf;
}

std::string format_progress(const ProgressState& s, int bar_width) {
  const int64_t done = s.steps > 0 ? std::min(s.step, s.steps) : 0;
  const int filled = s.steps > 0 ? static_cast<int>(done * bar_width / s.steps) : 0;
  const std::string bar = std::string(filled, '#') + std::string(bar_width - filled, '.');
  const double eta = s.step > 0 && s.elapsed > 0.0 ? s.elapsed / static_cast<double>(s.step) *
                                                         static_cast<double>(s.steps - done)
                                                   : -1.0;
  return epoch_label(s) + " [" + bar + "] " + std::to_string(s.step) + "/" +
         std::to_string(s.steps) + " " + format_loss_accuracy(s) + " " + format_rate(s) + " ETA " +
         format_duration(eta);
}

std::string format_epoch_summary(const ProgressState& s, const std::string& extra) {
  std::string line = epoch_label(s) + " " + format_loss_accuracy(s) + " " + format_rate(s) + " " +
                     format_duration(s.elapsed);
  if (!extra.empty()) line += " " + extra;
  return line;
}

EpochProgress::EpochProgress(std::ostream& out, int epoch, int epochs, int64_t steps,
                             ProgressOptions options, ProgressClock clock)
    : out_(out), options_(options), clock_(std::move(clock)) {
  RF_CHECK(steps >= 0 && options.bar_width >= 1, "progress: ", steps, " steps and a bar of ",
           options.bar_width, " characters make no bar");
  state_.epoch = epoch;
  state_.epochs = epochs;
  state_.steps = steps;
  start_ = clock_();
}

void EpochProgress::update(int64_t step, double loss, double accuracy, int64_t clips) {
  const double now = clock_();
  state_.step = step;
  state_.loss = loss;
  state_.accuracy = accuracy;
  state_.clips = clips;
  state_.elapsed = now - start_;
  if (options_.quiet || !options_.terminal) return;
  if (drawn_ && now - last_draw_ < options_.min_redraw_seconds && step < state_.steps) return;
  redraw(format_progress(state_, options_.bar_width));
  out_ << std::flush;
  drawn_ = true;
  last_draw_ = now;
}

void EpochProgress::redraw(const std::string& line) {
  // Spaces wipe the tail of a longer previous line.
  out_ << '\r' << line
       << std::string(drawn_length_ > line.size() ? drawn_length_ - line.size() : 0, ' ');
  drawn_length_ = line.size();
}

void EpochProgress::finish(const std::string& extra) {
  const std::string line = format_epoch_summary(state_, extra);
  if (drawn_)
    redraw(line);
  else
    out_ << line;
  out_ << '\n' << std::flush;
  drawn_ = false;
  drawn_length_ = 0;
}

}  // namespace repflow
