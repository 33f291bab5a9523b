// The progress bar: rendered text, rate limiting on an injected clock, quiet and log modes.
#include "training/report/progress.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  double now = 100.0;
  ProgressClock clock() {
    return [this] { return now; };
  }
};

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(Progress, BarLineShowsEveryField) {
  ProgressState s;
  s.epoch = 3;
  s.epochs = 10;
  s.step = 120;
  s.steps = 300;
  s.loss = 0.41234;
  s.accuracy = 0.875;
  s.clips = 120 * 8;
  s.elapsed = 120 * 8 / 412.0;
  // 180 steps left at elapsed/120 seconds each.
  const double eta = s.elapsed / 120 * 180;
  EXPECT_EQ(format_progress(s, 10), "epoch 3/10 [####......] 120/300 loss 0.412 acc 87.5% " +
                                        std::string("412 clips/s ETA ") + format_duration(eta));
  EXPECT_EQ(format_duration(eta), "0:03");
  s.elapsed = 0.0;
  EXPECT_EQ(format_progress(s, 4),
            "epoch 3/10 [#...] 120/300 loss 0.412 acc 87.5% - clips/s ETA -");
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(42.4), "0:42");
  EXPECT_EQ(format_duration(725), "12:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "-");
  EXPECT_EQ(format_duration(1.0 / 0.0), "-");
}

TEST(Progress, SummaryLine) {
  ProgressState s;
  s.epoch = 1;
  s.epochs = 2;
  s.loss = 1.5;
  s.accuracy = 0.5;
  s.clips = 1000;
  s.elapsed = 10.0;
  EXPECT_EQ(format_epoch_summary(s, ""), "epoch 1/2 loss 1.500 acc 50.0% 100 clips/s 0:10");
  EXPECT_EQ(format_epoch_summary(s, "val_top1 60.0%"),
            "epoch 1/2 loss 1.500 acc 50.0% 100 clips/s 0:10 val_top1 60.0%");
}

TEST(Progress, TerminalRedrawsAtMostTenTimesASecond) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions options;
  options.terminal = true;
  EpochProgress bar(out, 1, 1, 100, options, clock.clock());
  // A step every 1/32 s (exact in binary): a redraw every 4th step.
  for (int step = 1; step <= 100; ++step) {
    clock.now += 1.0 / 32;
    bar.update(step, 1.0, 0.5, step * 4);
  }
  const std::string text = out.str();
  // Steps 1, 5, ..., 97, then the last step.
  EXPECT_EQ(count(text, "\r"), 26);
  EXPECT_EQ(count(text, "\n"), 0);
  EXPECT_NE(text.find("100/100"), std::string::npos);
  bar.finish("val 1");
  EXPECT_EQ(count(out.str(), "\n"), 1);
  EXPECT_EQ(out.str().back(), '\n');
  // The summary overwrites the bar, padded so no part of the longer bar is left.
  const std::string last = out.str().substr(out.str().rfind('\r') + 1);
  std::string bar_line = text.substr(text.rfind('\r') + 1);
  bar_line.erase(bar_line.find_last_not_of(' ') + 1);
  EXPECT_GE(last.size(), bar_line.size() + 1);
  EXPECT_EQ(last.rfind("epoch 1/1 loss 1.000 acc 50.0% 128 clips/s 0:03 val 1", 0), 0u);
}

TEST(Progress, ShorterRedrawsWipeTheTail) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions options;
  options.terminal = true;
  EpochProgress bar(out, 1, 1, 10, options, clock.clock());
  clock.now += 1;
  bar.update(1, 123456.0, 0.5, 4);
  const size_t long_line = out.str().size() - 1;
  clock.now += 1;
  bar.update(2, 1.0, 0.5, 8);
  const std::string second = out.str().substr(long_line + 1);
  EXPECT_EQ(second.size(), long_line + 1);  // '\r' + the line padded to the first's length
  EXPECT_EQ(second.back(), ' ');
}

TEST(Progress, QuietAndLogModesPrintOnlyTheSummaries) {
  for (const bool quiet : {true, false}) {
    FakeClock clock;
    std::ostringstream out;
    ProgressOptions options;
    options.quiet = quiet;
    options.terminal = quiet;  // quiet wins on a terminal; a log file never gets a bar
    for (int epoch = 1; epoch <= 3; ++epoch) {
      EpochProgress bar(out, epoch, 3, 50, options, clock.clock());
      for (int step = 1; step <= 50; ++step) {
        clock.now += 0.5;
        bar.update(step, 0.25, 0.75, step * 2);
      }
      bar.finish();
    }
    const std::string text = out.str();
    EXPECT_EQ(count(text, "\r"), 0) << text;
    EXPECT_EQ(count(text, "["), 0) << text;
    EXPECT_EQ(text,
              "epoch 1/3 loss 0.250 acc 75.0% 4 clips/s 0:25\n"
              "epoch 2/3 loss 0.250 acc 75.0% 4 clips/s 0:25\n"
              "epoch 3/3 loss 0.250 acc 75.0% 4 clips/s 0:25\n");
  }
}

TEST(Progress, BadSizesAreErrors) {
  std::ostringstream out;
  ProgressOptions options;
  options.bar_width = 0;
  EXPECT_ERROR_CONTAINS(EpochProgress(out, 1, 1, 10, options), "a bar of 0 characters");
}

}  // namespace
}  // namespace repflow
