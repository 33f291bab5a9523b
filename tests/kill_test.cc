// //training:train killed with SIGKILL, which no handler sees: inside each file's write (the
// test-only REPFLOW_TEST_KILL_DURING_WRITE of framework/atomic_file.cc) and at random moments.
// After every kill each file of the run directory reads as its reader reads it; the next start
// removes the dead process's temporary files; and resuming finishes the run with the same
// checkpoint, weights, metrics and chart as a run that was never killed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "framework/image_io.h"
#include "framework/weights.h"
#include "tests/test_util.h"
#include "training/checkpoint.h"
#include "training/report/metrics_log.h"

namespace repflow {
namespace {

std::string g_train;

// train_test's small settings, smaller still: 16x16 clips of 4 frames, one step per epoch. Each
// epoch ends with a save of every file but config.json, so short epochs put many saves in a run
// and random kills land in them more often.
const std::string kSmall =
    " --quiet --threads 1 --workers 1 --frames 4 --size 16 --synthetic-train 16 "
    "--synthetic-val 8 --batch-size 16 --lr-schedule step --lr-steps 1 ";

// Every file a run writes, sorted. A run that writes another must add it here, so that the
// kills below reach its writes too.
const std::vector<std::string> kFiles = {"chart.png", "checkpoint.json", "config.json",
                                         "metrics.jsonl", "weights.json"};

std::string log_path(const std::string& name) {
  std::filesystem::create_directories(test_tmp("logs"));
  return test_tmp("logs/" + name + ".txt");
}

// Starts the trainer with `args`, its output going to `log`; with `kill_during`, the process
// kills itself halfway through its first write of the file of that name.
pid_t start_trainer(const std::string& args, const std::string& log,
                    const std::string& kill_during = "") {
  std::string command = g_train + " " + args + " > " + log + " 2>&1";
  if (!kill_during.empty())
    command = "env REPFLOW_TEST_KILL_DURING_WRITE=" + kill_during + " " + command;
  const pid_t pid = fork();
  if (pid == 0) {
    // exec all the way down (sh, then env), so that `pid` is the trainer itself.
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The command line of the next start in `dir`: a resume when a checkpoint is there, else the
// run from the beginning (killed before its first checkpoint, it has nothing to resume).
std::string next_start(const std::string& dir, int epochs) {
  if (std::filesystem::exists(dir + "/checkpoint.json"))
    return "--resume " + dir + " --epochs " + std::to_string(epochs);
  return kSmall + "--epochs " + std::to_string(epochs) + " --run-dir " + dir;
}

bool killed_by_sigkill(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

// Reads every file of `dir` as the trainer, //tools:infer or a user would, failing the test for
// any that does not read; returns the names of the temporary files.
std::vector<std::string> check_files(const std::string& dir) {
  std::vector<std::string> temporaries;
  for (const std::string& name : list_dir(dir)) {
    if (name.find(".tmp.") != std::string::npos) {
      temporaries.push_back(name);
      continue;
    }
    const std::string path = dir + "/" + name;
    try {
      if (name == "checkpoint.json") {
        load_checkpoint(path);
      } else if (name == "weights.json") {
        load_weights(path);
      } else if (name == "config.json") {
        EXPECT_TRUE(read_json_file(path).contains("flags")) << path;
      } else if (name == "metrics.jsonl") {
        MetricsLog::read(path);
      } else if (name == "chart.png") {
        EXPECT_GT(read_image(path).width, 100) << path;
      } else {
        ADD_FAILURE() << path << ": a file the test does not know (add it to kFiles)";
      }
    } catch (const Error& e) {
      ADD_FAILURE() << "after a kill: " << e.what();
    }
  }
  return temporaries;
}

// Whether `name` is a temporary file of write_file_atomic's for one of the run's files, written
// by process `pid`.
bool temporary_of(const std::string& name, pid_t pid) {
  for (const std::string& file : kFiles)
    if (name.rfind(file + ".tmp." + std::to_string(pid) + ".", 0) == 0) return true;
  return false;
}

// Starts the run in `dir` once more, unhooked, and expects it to finish `epochs`: with "final:",
// or, when the checkpoint already completed them, with status 2 and "nothing to do" (resuming
// has then written again the files a kill left behind the checkpoint).
void finish(const std::string& dir, int epochs) {
  const bool resume = std::filesystem::exists(dir + "/checkpoint.json");
  const CommandResult r = run_command(g_train + " " + next_start(dir, epochs));
  if (r.status == 2 && r.output.find("nothing to do") != std::string::npos) {
    EXPECT_EQ(load_checkpoint(dir + "/checkpoint.json").trainer["epoch"], epochs) << r.output;
    return;
  }
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("final: "), std::string::npos) << r.output;
  // The checkpoint may have completed the run but for its lost metrics line.
  if (resume) {
    EXPECT_TRUE(r.output.find("resumed at epoch") != std::string::npos ||
                r.output.find("the files the run directory lacked are written") !=
                    std::string::npos)
        << r.output;
  }
}

std::map<std::string, std::vector<float>> tensors_of(const std::string& path) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : load_weights(path)) out[name] = t.to_vector();
  return out;
}

// `dir` holds exactly what the uninterrupted run `straight` holds: the files and no temporary
// ones, the same tensors bit for bit, the same metrics but for timings, the same chart.
void expect_same_run(const std::string& dir, const std::string& straight) {
  EXPECT_EQ(list_dir(dir), kFiles);
  EXPECT_EQ(tensors_of(dir + "/checkpoint.json"), tensors_of(straight + "/checkpoint.json"));
  EXPECT_EQ(tensors_of(dir + "/weights.json"), tensors_of(straight + "/weights.json"));
  const auto records = MetricsLog::read(dir + "/metrics.jsonl").records();
  const auto expected = MetricsLog::read(straight + "/metrics.jsonl").records();
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i)
    for (const char* key :
         {"epoch", "step", "lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5"})
      EXPECT_EQ(records[i][key], expected[i][key]) << "epoch " << i + 1 << " " << key;
  // The chart draws only those values, so a chart that missed the last epoch differs.
  EXPECT_TRUE(read_text(dir + "/chart.png") == read_text(straight + "/chart.png"))
      << dir << "/chart.png differs from " << straight << "/chart.png";
}

// The uninterrupted run of `epochs` epochs, made once per count.
std::string straight_run(int epochs) {
  static std::map<int, std::string> runs;
  if (!runs.count(epochs)) {
    const std::string dir = fresh_dir("straight" + std::to_string(epochs));
    const CommandResult r =
        run_command(g_train + kSmall + "--epochs " + std::to_string(epochs) + " --run-dir " + dir);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(list_dir(dir), kFiles) << "a run writes other files: add them to kFiles";
    runs[epochs] = dir;
  }
  return runs[epochs];
}

// Runs `args` with the hook on `file`; expects the process to die of SIGKILL leaving one
// temporary file of `file`, and every other file readable.
void kill_inside_write(const std::string& file, const std::string& args, const std::string& dir,
                       const std::string& log) {
  const pid_t pid = start_trainer(args, log, file);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed_by_sigkill(status)) << "status " << status << "\n" << read_text(log);
  const std::vector<std::string> temporaries = check_files(dir);
  ASSERT_EQ(temporaries.size(), 1u) << read_text(log);
  EXPECT_EQ(temporaries[0].rfind(file + ".tmp." + std::to_string(pid) + ".", 0), 0u)
      << temporaries[0];
  EXPECT_GT(std::filesystem::file_size(dir + "/" + temporaries[0]), 0u);
}

// Each file's first write, in a one-epoch run: the file is absent after the kill. For
// weights.json, metrics.jsonl and chart.png the checkpoint already ends the run, so finishing
// it means writing them from the checkpoint.
TEST(Kill, InsideTheFirstWriteOfEachFile) {
  const std::string straight = straight_run(1);
  for (const std::string& file : kFiles) {
    SCOPED_TRACE(file);
    const std::string dir = fresh_dir("first_" + file);
    kill_inside_write(file, kSmall + "--epochs 1 --run-dir " + dir, dir, log_path("first_" + file));
    EXPECT_FALSE(std::filesystem::exists(dir + "/" + file));
    finish(dir, 1);
    expect_same_run(dir, straight);
  }
}

// Each file's write over a complete one, in a run resumed for a second epoch: the old file is
// left exactly as it was.
TEST(Kill, InsideAWriteThatReplacesEachFile) {
  const std::string straight = straight_run(2);
  for (const std::string& file : kFiles) {
    SCOPED_TRACE(file);
    const std::string dir = fresh_dir("replace_" + file);
    const CommandResult first = run_command(g_train + kSmall + "--epochs 1 --run-dir " + dir);
    ASSERT_EQ(first.status, 0) << first.output;
    const std::string before = read_text(dir + "/" + file);
    kill_inside_write(file, "--resume " + dir + " --epochs 2", dir, log_path("replace_" + file));
    EXPECT_EQ(read_text(dir + "/" + file), before);
    finish(dir, 2);
    expect_same_run(dir, straight);
  }
}

// Kills at moments drawn uniformly over an uninterrupted run's duration (startup, training,
// evaluation and saves alike), each followed by the next start in the same directory, until
// the run finishes; then a new run, until at least kKills kills.
TEST(Kill, AtRandomMomentsTheRunStillFinishesAsIfNeverKilled) {
  constexpr int kEpochs = 8, kKills = 30;
  // Made here, and timed: no other test runs this many epochs.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string straight = straight_run(kEpochs);
  const double duration =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(20261205);
  std::uniform_real_distribution<double> moment(0.0, duration);
  int kills = 0, inside_writes = 0;
  for (int run = 0; kills < kKills; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const std::string dir = fresh_dir("random_" + std::to_string(run));
    std::vector<pid_t> pids;
    for (int start = 0;; ++start) {
      ASSERT_LT(start, 100) << "the run does not finish";
      const std::string log =
          log_path("random_" + std::to_string(run) + "_" + std::to_string(start));
      const bool resume = std::filesystem::exists(dir + "/checkpoint.json");
      const pid_t pid = start_trainer(next_start(dir, kEpochs), log);
      pids.push_back(pid);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::duration<double>(moment(rng));
      int status = 0;
      pid_t ended = 0;
      while ((ended = waitpid(pid, &status, WNOHANG)) == 0 &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (ended == 0) {
        ::kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
      }
      if (killed_by_sigkill(status)) {
        ++kills;
        bool inside = false;
        for (const std::string& name : check_files(dir)) {
          EXPECT_TRUE(std::any_of(pids.begin(), pids.end(), [&](pid_t p) {
            return temporary_of(name, p);
          })) << name;
          inside = inside || temporary_of(name, pid);
        }
        inside_writes += inside;
        continue;
      }
      ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << read_text(log);
      // A kill after the last epoch's checkpoint leaves nothing to train: the files are written
      // again from the checkpoint and the trainer says so.
      const std::string output = read_text(log);
      if (resume && WEXITSTATUS(status) == 2 && output.find("nothing to do") != std::string::npos)
        break;
      ASSERT_EQ(WEXITSTATUS(status), 0) << output;
      break;
    }
    expect_same_run(dir, straight);
  }
  std::printf("%d kills over %.2f s runs, %d of them inside a file's write\n", kills, duration,
              inside_writes);
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: kill_test PATH_TO_TRAIN\n");
    return 2;
  }
  repflow::g_train = argv[1];
  return RUN_ALL_TESTS();
}
