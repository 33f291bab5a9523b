// //training:train --distributed under mpirun: two processes with a per-process batch of 8
// train like one process with a batch of 16 (the same weights within float rounding, the same
// validation metrics from rank 0 alone), a distributed run resumes exactly, and a SIGTERM
// to one rank stops every rank at the same step with one checkpoint; a rank whose shard has
// a bad video skips it without leaving the others waiting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "framework/json_tensor.h"
#include "framework/weights.h"
#include "tests/frame_fixture.h"
#include "tests/mpi_launch.h"
#include "training/checkpoint.h"
#include "training/report/metrics_log.h"

namespace repflow {
namespace {

using testing::mpmd_command;
using testing::run_workers;
using testing::workers_command;

// 64 training videos: 4 steps per epoch of 16 clips, or of 2 x 8. 24 validation videos of 2
// clips each, which two processes split clip by clip, so video-level accuracy needs both.
// --flow none: the flow block's min-max normalisation sends gradients to the extreme values,
// shared between ties, which float rounding of a different batch split can break (README,
// "Distributed training"). BN needs --sync-bn for the two runs to be the same computation.
const std::string kTinyWithBar =
    " --threads 1 --workers 1 --frames 4 --size 16 --synthetic-train 64 --synthetic-val 24 "
    "--clips-per-video 2 --flow none --average ema --lr-schedule step --lr-steps 1 ";
const std::string kTiny = " --quiet" + kTinyWithBar;
const std::string kTwo = " --distributed --sync-bn --batch-size 8 ";

CommandResult train(int np, const std::string& args) {
  return run_workers(np, kTiny + args).result;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The largest difference of any tensor, relative to that tensor's largest magnitude.
double max_relative_difference(const std::string& file_a, const std::string& file_b) {
  const std::map<std::string, Tensor> a = load_weights(file_a), b = load_weights(file_b);
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, ta] : a) {
    const std::vector<float> va = ta.to_vector(), vb = b.at(name).to_vector();
    EXPECT_EQ(va.size(), vb.size()) << name;
    double scale = 1e-30, diff = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(va[i])));
      diff = std::max(diff, std::fabs(static_cast<double>(va[i]) - vb[i]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

void expect_same_checkpoint(const std::string& a, const std::string& b) {
  const std::map<std::string, Tensor> ta = load_weights(a), tb = load_weights(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) EXPECT_EQ(t.to_vector(), tb.at(name).to_vector()) << name;
}

TEST(MpiTrain, TwoProcessesOfBatch8TrainLikeOneOfBatch16) {
  SKIP_WITHOUT_MPIRUN();
  const std::string one = fresh_dir("one"), two = fresh_dir("two"), small = fresh_dir("small");
  const auto r1 = train(0, "--epochs 2 --batch-size 16 --run-dir " + one);
  ASSERT_EQ(r1.status, 0) << r1.output;
  const auto r2 = train(2, "--epochs 2 " + kTwo + "--run-dir " + two);
  ASSERT_EQ(r2.status, 0) << r2.output;
  EXPECT_EQ(occurrences(r2.output, "\nfinal: "), 1u) << r2.output;
  EXPECT_EQ(occurrences(r2.output, "epoch 2/2 "), 1u) << r2.output;
  EXPECT_EQ(read_json_file(two + "/config.json")["processes"], 2);

  const double tolerance = 3e-5;
  EXPECT_LT(max_relative_difference(one + "/weights.json", two + "/weights.json"), tolerance);
  EXPECT_LT(max_relative_difference(one + "/checkpoint.json", two + "/checkpoint.json"), tolerance);
  // One process with the per-process batch alone trains visibly differently.
  ASSERT_EQ(train(0, "--epochs 2 --batch-size 8 --run-dir " + small).status, 0);
  EXPECT_GT(max_relative_difference(one + "/weights.json", small + "/weights.json"),
            100 * tolerance);

  const auto m1 = MetricsLog::read(one + "/metrics.jsonl").records();
  const auto m2 = MetricsLog::read(two + "/metrics.jsonl").records();
  ASSERT_EQ(m1.size(), 2u);
  ASSERT_EQ(m2.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    SCOPED_TRACE(e);
    for (const char* key :
         {"step", "val_clips", "val_videos", "val_top1", "val_top5", "val_video_top1",
          "val_video_top5", "val_mean_class_accuracy", "val_class_count", "val_class_correct"})
      EXPECT_EQ(m1[e][key], m2[e][key]) << key;
    for (const char* key : {"val_loss", "train_loss", "train_top1", "lr"}) {
      const double a = m1[e][key], b = m2[e][key];
      EXPECT_NEAR(a, b, 1e-5 * std::fabs(a)) << key;
    }
  }
  EXPECT_EQ(m2[1]["val_clips"], 48);
  EXPECT_EQ(m2[1]["val_videos"], 24);
}

TEST(MpiTrain, ADistributedRunResumesExactly) {
  SKIP_WITHOUT_MPIRUN();
  const std::string straight = fresh_dir("straight"), split = fresh_dir("split");
  ASSERT_EQ(train(2, "--epochs 2 " + kTwo + "--run-dir " + straight).status, 0);
  ASSERT_EQ(train(2, "--epochs 1 " + kTwo + "--run-dir " + split).status, 0);
  const auto r = run_workers(2, "--resume " + split + " --epochs 2").result;
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(occurrences(r.output, "resumed at epoch 2 step 0"), 1u) << r.output;
  expect_same_checkpoint(straight + "/checkpoint.json", split + "/checkpoint.json");
}

// Ctrl-C or a scheduler's SIGTERM may reach the ranks at different steps, or one rank alone:
// here rank processes get it one at a time (mpirun itself would SIGKILL them 1 s after passing
// it on, README). They agree to stop after the same step, rank 0 saves the checkpoint, and
// resuming finishes the epoch as the uninterrupted run does.
TEST(MpiTrain, ASigtermToOneRankStopsEveryRankAtTheSameStepAndResumingFinishesExactly) {
  SKIP_WITHOUT_MPIRUN();
  const std::string cut = fresh_dir("cut");
  const std::string launch = workers_command(2, kTiny + "--epochs 40 " + kTwo + "--run-dir " + cut);
  // $! is `timeout`; its child is mpirun, whose children are the ranks.
  const auto r = run_command(launch + " > " + cut + "/log.txt 2>&1 & pid=$!; while [ ! -f " + cut +
                             "/checkpoint.json ] && kill -0 $pid 2>/dev/null; do sleep 0.01; " +
                             "done; rank=$(pgrep -P $(pgrep -P $pid) | head -n 1); " +
                             "kill -TERM $rank; wait $pid");
  const std::string log = read_text(cut + "/log.txt");
  if (r.status == 0) GTEST_SKIP() << "the run finished before the signal arrived";
  ASSERT_EQ(occurrences(log, "interrupted: checkpoint saved"), 1u) << log;
  const Checkpoint c = load_checkpoint(cut + "/checkpoint.json");
  const int64_t epochs = c.trainer["epoch"].get<int64_t>() + 1;
  if (c.trainer["step"].get<int64_t>() != 0) {
    // Inside an epoch, another process count would cut the epoch's clips into other shards.
    const auto alone = run_workers(0, "--resume " + cut + " --epochs " + std::to_string(epochs));
    EXPECT_EQ(alone.result.status, 2) << alone.result.output;
    EXPECT_NE(alone.result.output.find(" by 2 process(es); resuming with 1 would skip or repeat "
                                       "clips of that epoch"),
              std::string::npos)
        << alone.result.output;
  }
  const auto resumed = run_workers(2, "--resume " + cut + " --epochs " + std::to_string(epochs));
  ASSERT_EQ(resumed.result.status, 0) << resumed.result.output;
  const std::string straight = fresh_dir("cut_straight");
  ASSERT_EQ(train(2, "--epochs " + std::to_string(epochs) + kTwo + "--run-dir " + straight).status,
            0);
  expect_same_checkpoint(straight + "/checkpoint.json", cut + "/checkpoint.json");
}

// Ranks started with other flags would post collectives of other sizes (a crash inside MPI) or
// train different things under one run directory: the job is refused before anything is
// written, each differing rank naming its differences. And mpirun's processes started without
// --distributed would each train alone into the same directory.
TEST(MpiTrain, RanksStartedUnlikeEachOtherAreRefusedBeforeAnythingIsWritten) {
  SKIP_WITHOUT_MPIRUN();
  const std::string dir = fresh_dir("unlike");
  const std::string common = kTiny + "--epochs 1 " + kTwo + "--run-dir " + dir + "/run ";
  const CommandResult r =
      run_command(mpmd_command({common + "--lr 0.2", common + "--lr 0.5 --seed 3"}));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: distributed: 1 of 2 ranks were started with other flags than "
                          "rank 0; rank 1: --lr '0.5' (rank 0: '0.2'), --seed '3' (rank 0: '0'). "
                          "Every rank must be started alike"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/run")) << r.output;

  // Values are compared whole, not as the message's excerpts: run directories that differ only
  // in their last character, past the first 100.
  const std::string deep = dir + "/" + std::string(120, 'a');
  const std::string tiny = kTiny + "--epochs 1 " + kTwo;
  const CommandResult paths = run_command(
      mpmd_command({tiny + "--run-dir " + deep + "x", tiny + "--run-dir " + deep + "y"}));
  EXPECT_EQ(paths.status, 2) << paths.output;
  EXPECT_NE(
      paths.output.find("ranks were started with other flags than rank 0; rank 1: --run-dir '"),
      std::string::npos)
      << paths.output;

  const CommandResult alone = run_workers(2, kTiny + "--epochs 1 --run-dir " + dir + "/run").result;
  EXPECT_EQ(alone.status, 2) << alone.output;
  EXPECT_NE(alone.output.find("error: mpirun started 2 processes but --distributed was not given"),
            std::string::npos)
      << alone.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/run")) << alone.output;
}

// The command run on a terminal, by script(1); its output comes with the terminal's "\r\n".
std::string on_terminal(const std::string& command) {
  return "script -qec '" + command + "' /dev/null < /dev/null";
}

// mpirun gives each rank a pseudo-terminal as stdout, whether its own stdout is a file or a
// terminal, so the ranks cannot tell the user's terminal: a distributed run draws no progress
// bar (its text " ETA " is on no summary line), while one process alone does on a terminal.
TEST(MpiTrain, ADistributedRunDrawsNoProgressBarOnAFileOrATerminal) {
  SKIP_WITHOUT_MPIRUN();
  if (run_command(on_terminal("true")).status != 0) GTEST_SKIP() << "script(1) cannot run here";
  const std::string args = kTinyWithBar + "--epochs 2 ";
  const auto alone =
      run_command(on_terminal(workers_command(0, args + "--run-dir " + fresh_dir("bar"))));
  ASSERT_EQ(alone.status, 0) << alone.output;
  EXPECT_GE(occurrences(alone.output, " ETA "), 2u) << alone.output;
  const std::string two = args + kTwo + "--run-dir ";
  for (const CommandResult& r :
       {run_workers(2, two + fresh_dir("no_bar_file")).result,
        run_command(on_terminal(workers_command(2, two + fresh_dir("no_bar_terminal"))))}) {
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(occurrences(r.output, " ETA "), 0u) << r.output;
    EXPECT_EQ(occurrences(r.output, "epoch 1/2 loss "), 1u) << r.output;
    EXPECT_EQ(occurrences(r.output, "epoch 2/2 loss "), 1u) << r.output;
  }
}

// Eight videos of a frame folder, one of them missing a frame: the rank whose shard holds it
// has one full batch of 2 that epoch, the other rank two, and both must end the epoch together.
TEST(MpiTrain, ARankThatSkipsABadVideoDoesNotLeaveTheOthersWaiting) {
  SKIP_WITHOUT_MPIRUN();
  const std::string root = fresh_dir("frames");
  std::string list;
  for (int v = 0; v < 8; ++v) {
    write_coded_frames(root + "/v" + std::to_string(v), 6, 20, 18, v);
    list += "v" + std::to_string(v) + " 6 " + std::to_string(v % 2) + "\n";
  }
  write_text(root + "/list.txt", list);
  std::filesystem::remove(root + "/v3/4.png");
  const auto r = run_workers(2,
                             "--quiet --threads 1 --workers 1 --frames 4 --size 16 --data plain "
                             "--root " +
                                 root + " --train-list " + root +
                                 "/list.txt "
                                 "--val-list " +
                                 root +
                                 "/list.txt --resize 0 --batch-size 2 "
                                 "--epochs 2 --skip-bad-samples --distributed --dist-timeout 20 "
                                 "--run-dir " +
                                 root + "/run")
                     .result;
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(occurrences(r.output, "training: skipped 1 bad samples (2 times"), 1u) << r.output;
  EXPECT_EQ(occurrences(r.output, "\nfinal: "), 1u) << r.output;
  const auto records = MetricsLog::read(root + "/run/metrics.jsonl").records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["step"], 2);  // one step per epoch: the shorter shard's
}

}  // namespace
}  // namespace repflow
