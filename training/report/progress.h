#pragma once
// The terminal report of a training epoch. On a terminal, a bar redrawn in place with '\r'
//   epoch 3/10 [#######.............] 120/300 loss 0.412 acc 87.5% 412 clips/s ETA 0:42
// at most once per `min_redraw_seconds`; in quiet mode or when the stream is not a terminal
// (a log file), no bar, only the one summary line per epoch that finish() prints.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>

#include "framework/clock.h"

namespace repflow {

// Seconds on a monotonic clock; tests inject their own.
using ProgressClock = std::function<double()>;

// Whether the C stream (stdout or stderr) is a terminal.
bool is_terminal(std::FILE* stream);

struct ProgressOptions {
  bool quiet = false;     // --quiet: summaries only, even on a terminal
  bool terminal = false;  // is_terminal() of the stream written to
  double min_redraw_seconds = 0.1;
  int bar_width = 20;
};

// What the bar shows after a step. loss and accuracy are the running means over the epoch so
// far; accuracy is a fraction in [0, 1].
struct ProgressState {
  int epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // steps done of steps in the epoch
  double loss = 0.0, accuracy = 0.0;
  int64_t clips = 0;     // clips trained on so far this epoch
  double elapsed = 0.0;  // seconds since the epoch began
};

// The bar line without '\r' or newline. The rate and ETA show as "-" until time has passed.
std::string format_progress(const ProgressState& state, int bar_width);

// The end-of-epoch line: "epoch 3/10 loss 0.412 acc 87.5% 412 clips/s 0:42" with the training
// time (to the last step), followed by " " + `extra` when extra is non-empty.
std::string format_epoch_summary(const ProgressState& state, const std::string& extra);

// "0:42", "12:05", "1:02:03"; negative or non-finite values give "-".
std::string format_duration(double seconds);

class EpochProgress {
 public:
  // The epoch's clock starts here.
  EpochProgress(std::ostream& out, int epoch, int epochs, int64_t steps, ProgressOptions options,
                ProgressClock clock = steady_seconds);

  // After step `step` (1-based). Redraws the bar when it is shown and either the rate limit
  // allows or this is the last step.
  void update(int64_t step, double loss, double accuracy, int64_t clips);

  // Prints format_epoch_summary(last update, extra) on its own line, replacing the bar on a
  // terminal. Call once, after validation, so `extra` can carry its results.
  void finish(const std::string& extra = "");

 private:
  void redraw(const std::string& line);

  std::ostream& out_;
  ProgressOptions options_;
  ProgressClock clock_;
  ProgressState state_;
  double start_ = 0.0;
  double last_draw_ = 0.0;
  bool drawn_ = false;
  size_t drawn_length_ = 0;
};

}  // namespace repflow
