// //training:experiments end to end on a few clips of synthetic data: every table's cells run
// and its page and chart are written; the same command again skips every finished cell; more
// epochs resume every cell from its checkpoint; bad flags and a failing trainer exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "framework/directory_lock.h"
#include "framework/error.h"
#include "framework/image_io.h"
#include "tests/test_util.h"
#include "training/ablations/tables.h"

namespace repflow {
namespace {

std::string g_experiments, g_train;

// Every cell one epoch of 8 training and 4 validation clips.
const std::string kTiny =
    " -- --synthetic-train 8 --synthetic-val 4 --batch-size 4 --workers 1 --threads 1";

CommandResult experiments(const std::string& args) {
  return run_command(g_experiments + " --train " + g_train + args);
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(Experiments, EveryTableRunsThenSkipsFinishedCellsAndResumesForMoreEpochs) {
  const std::string out = fresh_dir("all");
  const CommandResult first = experiments(" --table all --epochs 1 --out " + out + kTiny);
  ASSERT_EQ(first.status, 0) << first.output;
  size_t runnable = 0;
  for (const ExperimentTable& table : experiment_tables()) {
    SCOPED_TRACE(table.title);
    const std::string md = read_text(out + "/table" + std::to_string(table.number) + ".md");
    EXPECT_NE(md.find("# " + table.title), std::string::npos) << md;
    for (const ExperimentCell& cell : table.cells) {
      EXPECT_NE(md.find("| " + cell.label + " |"), std::string::npos) << cell.label;
      ++runnable;
      const std::string dir = out + "/table" + std::to_string(table.number) + "/" + cell.id;
      EXPECT_TRUE(std::filesystem::exists(dir + "/weights.json")) << dir;
      EXPECT_NE(md.find(" | table" + std::to_string(table.number) + "/" + cell.id + " |"),
                std::string::npos);
    }
    const Image chart = read_image(out + "/table" + std::to_string(table.number) + ".png");
    EXPECT_EQ(chart.width, 900);
  }
  EXPECT_EQ(count(first.output, ": starting"), runnable);

  // Again: nothing to do.
  const CommandResult again = experiments(" --table all --epochs 1 --out " + out + kTiny);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(count(again.output, ": starting"), 0u);
  EXPECT_EQ(count(again.output, ": done, val top-1 "), runnable);

  // One more epoch: every cell of table 3 resumes from its checkpoint.
  const CommandResult more = experiments(" --table 3 --epochs 2 --out " + out);
  ASSERT_EQ(more.status, 0) << more.output;
  EXPECT_EQ(count(more.output, ": resuming after epoch 1"), experiment_tables()[2].cells.size());
  const std::string metrics = read_text(out + "/table3/iters1/metrics.jsonl");
  EXPECT_EQ(count(metrics, "\"epoch\":"), 2u) << metrics;
  EXPECT_NE(read_text(out + "/table3.md").find("after 2 epoch(s)"), std::string::npos);

  // A cell killed between its last checkpoint and its last metrics line is completed in one go.
  write_text(out + "/table3/iters1/metrics.jsonl", metrics.substr(0, metrics.find('\n') + 1));
  const CommandResult mended = experiments(" --table 3 --epochs 2 --out " + out);
  ASSERT_EQ(mended.status, 0) << mended.output;
  EXPECT_EQ(count(mended.output, ": resuming after epoch 1"), 1u) << mended.output;
  EXPECT_EQ(read_text(out + "/table3/iters1/metrics.jsonl"), metrics);

  // A table for fewer epochs than a cell ran reports that epoch's result, not the last one's;
  // a cell whose checkpoint was deleted keeps its results; a result that is not an accuracy is
  // refused naming its file.
  std::filesystem::remove(out + "/table3/iters1/checkpoint.json");
  const nlohmann::json first_line = nlohmann::json::parse(metrics.substr(0, metrics.find('\n')));
  const CommandResult fewer = experiments(" --table 3 --epochs 1 --out " + out);
  ASSERT_EQ(fewer.status, 0) << fewer.output;
  char expected[64];
  std::snprintf(expected, sizeof expected, "iters1: done, val top-1 %.2f%%",
                100 * first_line["val_top1"].get<double>());
  EXPECT_NE(fewer.output.find(expected), std::string::npos) << fewer.output;
  nlohmann::json bad = first_line;
  bad["val_top1"] = 5;
  write_text(out + "/table3/iters1/metrics.jsonl", bad.dump() + "\n");
  const CommandResult refused = experiments(" --table 3 --epochs 1 --out " + out);
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("error: " + out +
                                "/table3/iters1/metrics.jsonl: epoch 1's val_top1 is not an "
                                "accuracy in [0, 1], got 5"),
            std::string::npos)
      << refused.output;

  // One command at a time in a folder.
  {
    const DirectoryLock held(out, "a test");
    const CommandResult busy = experiments(" --table 3 --epochs 1 --out " + out);
    EXPECT_EQ(busy.status, 2) << busy.output;
    EXPECT_NE(
        busy.output.find("error: experiments: flag --out " + out + " is in use by another process"),
        std::string::npos)
        << busy.output;
  }
}

// A signal stops the command before the next cell, also when the trainer it was forwarded to
// finished anyway (it came too late, or the trainer ignores it).
TEST(Experiments, ASignalStopsTheCommandBeforeTheNextCell) {
  const std::string out = fresh_dir("between");
  // A stand-in trainer that finishes its cell (--run-dir DIR comes first), signals the command
  // and ignores the signal forwarded back to it.
  const std::string fake = out + "/fake_train";
  write_text(fake,
             "#!/bin/sh\ntrap '' INT\nmkdir -p \"$2\"\n"
             "echo '{\"epoch\": 1, \"val_top1\": 0.5}' > \"$2/metrics.jsonl\"\n"
             ": > \"$2/weights.json\"\nkill -INT $PPID\nexit 0\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const CommandResult r = run_command(g_experiments + " --train " + fake +
                                      " --table 3 --epochs 1 --out " + out + "/exp");
  EXPECT_EQ(r.status, 130) << r.output;
  EXPECT_EQ(count(r.output, ": starting"), 1u) << r.output;
  EXPECT_NE(r.output.find("iters1: val top-1 50.00%"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("interrupted: run the same command again to resume"), std::string::npos)
      << r.output;
}

// The pids of the processes whose command line names `text`.
std::vector<pid_t> processes_naming(const std::string& text) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (line.find(text) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

// Killed outright, the command takes its trainer with it: the trainer saves its checkpoint and
// lets go of its run directory, rather than run on orphaned where a rerun would resume.
TEST(Experiments, ATrainerStopsWhenItsCommandIsKilled) {
  const std::string out = fresh_dir("orphan");
  const std::string dir = out + "/table3/iters1";
  const pid_t command = fork();
  ASSERT_GE(command, 0);
  if (command == 0) {
    const std::string line = "exec " + g_experiments + " --train " + g_train +
                             " --table 3 --epochs 100000 --out " + out + kTiny + " > " + out +
                             "/log.txt 2>&1";
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto waited = [](const std::function<bool()>& done, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return done();
  };
  ASSERT_TRUE(waited([&] { return std::filesystem::exists(dir + "/checkpoint.json"); }, 120))
      << read_text(out + "/log.txt");
  kill(command, SIGKILL);
  waitpid(command, nullptr, 0);
  const bool released = waited(
      [&] {
        try {
          DirectoryLock lock(dir, "test");
          return true;
        } catch (const Error&) {
          return false;
        }
      },
      30);
  for (const pid_t orphan : processes_naming(dir)) kill(orphan, SIGKILL);
  EXPECT_TRUE(released) << "the trainer ran on after its command was killed";
}

// --dry-run has the trainer check each cell (train --check): what a real run would meet at a
// cell, hours in, is reported at once, and nothing is trained or written.
TEST(Experiments, ADryRunChecksEveryCellAndWritesNothing) {
  const std::string out = test_tmp("dry") + "/out";
  std::filesystem::remove_all(test_tmp("dry"));
  const CommandResult ok = experiments(" --table 3 --dry-run --out " + out + kTiny);
  EXPECT_EQ(ok.status, 0) << ok.output;
  const size_t cells = experiment_tables()[2].cells.size();
  EXPECT_EQ(count(ok.output, "check: nothing was trained or written"), cells) << ok.output;
  EXPECT_FALSE(std::filesystem::exists(test_tmp("dry"))) << ok.output;
  // A path where the trainer wants the data's format: every cell is refused, and listed.
  const CommandResult bad =
      experiments(" --table 3 --dry-run --out " + out + " -- --data /data/hmdb51/frames");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_EQ(count(bad.output, "error: flag --data: '/data/hmdb51/frames' is not synthetic"), cells)
      << bad.output;
  EXPECT_NE(bad.output.find("error: experiments: the trainer refused " + std::to_string(cells) +
                            " cell(s), its messages above: table 3 cell "),
            std::string::npos)
      << bad.output;
  EXPECT_FALSE(std::filesystem::exists(test_tmp("dry"))) << bad.output;
}

TEST(Experiments, BadFlagsAndAFailingTrainerAreExitTwo) {
  const std::string out = fresh_dir("bad");
  const std::string a_file = out + "/a_file";
  std::ofstream(a_file) << "x";
  const struct {
    std::string args, message;
  } cases[] = {
      {" --table 6 --out " + out, "error: flag --table: '6' is not all or a comma list"},
      {" --table 2,2 --out " + out, "error: flag --table: table 2 given twice"},
      {" --table 1", "error: experiments: flag --out is required"},
      {" --table 3 --out " + out + " -- --run-dir x",
       "error: experiments: trainer flag --run-dir cannot be given after `--` (each cell has its "
       "run directory under --out)"},
      {" --table 3 --out " + out + " -- --epochs 3", "give --epochs before `--`"},
      {" --table 3 --out " + out + " -- --check",
       "trainer flag --check cannot be given after `--` (--dry-run checks every cell)"},
      {" --table 3 --out " + out + " -- --help",
       "trainer flag --help cannot be given after `--` (train --help lists the trainer's flags)"},
      {" --table 3 --out " + out + " -- --quiet=false",
       "trainer flag --quiet cannot be given after `--` (each cell prints one line per epoch)"},
      {" --table 3 --out " + out + kTiny + " --flow-iters 3",
       "error: experiments: trainer flag --flow-iters is what table 3 varies from cell to cell "
       "(cell iters1 sets it), so it cannot be given for every cell"},
      {" --table 1 --out " + out + " -- --flow=after2",
       "error: experiments: trainer flag --flow is what table 1 varies"},
      {" --table 3 --out " + out + kTiny + " --batch-size 0",
       "error: experiments: table 3 cell iters1: the trainer exited with status 2"},
      // Once the library's filesystem_error, exit status 1.
      {" --table 3 --out " + a_file,
       "error: experiments: flag --out " + a_file + ": cannot create it: "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const CommandResult r = experiments(c.args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: experiments_test EXPERIMENTS TRAIN\n");
    return 2;
  }
  repflow::g_experiments = argv[1];
  repflow::g_train = argv[2];
  return RUN_ALL_TESTS();
}
