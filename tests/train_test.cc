// //training:train end to end: the run directory it leaves, exact resumption (after whole
// epochs and after Ctrl-C in the middle of one), frame-folder datasets in two list formats, bad
// samples, and errors for bad flags.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>
#include <tuple>

#include "framework/directory_lock.h"
#include "framework/image_io.h"
#include "framework/precision.h"
#include "framework/weights.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "training/checkpoint.h"
#include "training/report/metrics_log.h"

namespace repflow {
namespace {

std::string g_train;

// Small and fast: 16x16 clips of 4 frames; with synthetic data, 4 steps per epoch of 64 videos.
const std::string kShape =
    " --quiet --threads 1 --workers 1 --frames 4 --size 16 --batch-size 16 --lr-schedule step "
    "--lr-steps 1 ";
const std::string kSmall = kShape + "--synthetic-train 64 --synthetic-val 32 ";

CommandResult train(const std::string& args) { return run_command(g_train + kSmall + args); }
// With listed videos (--data), which refuse the synthetic data's flags.
CommandResult train_listed(const std::string& args) { return run_command(g_train + kShape + args); }

// Every tensor of every group, so runs can be compared bit for bit.
std::map<std::string, std::vector<float>> contents(const std::string& checkpoint) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : load_weights(checkpoint)) out[name] = t.to_vector();
  return out;
}

TEST(Train, HelpListsEveryFlagWithItsDefault) {
  const CommandResult r = run_command(g_train + " --help");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* flag : {"--model (default: resnet10_2d_tiny)",
                           "--flow (default: after2)",
                           "--width (default: 8)",
                           "--reduced-channels (default: 8)",
                           "--epochs (default: 5)",
                           "--batch-size (default: 16)",
                           "--lr (default: 0.05)",
                           "--lr-schedule (default: cosine)",
                           "--average (default: ema)",
                           "--param-groups (default: flow:0.01)",
                           "--nesterov",
                           "--clip-grad",
                           "--warmup-epochs",
                           "--data (default: synthetic)",
                           "--train-list",
                           "--skip-bad-samples",
                           "--resume",
                           "--run-dir",
                           "--quiet",
                           "--device (default: auto)",
                           "--threads",
                           "--seed (default: 0)",
                           "--clips-per-video",
                           "--workers",
                           "--prefetch",
                           "--distributed (default: false)",
                           "--sync-bn (default: false)",
                           "--bucket-mb",
                           "--dist-timeout"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

TEST(Train, HelpShowsTheChosenModelsOwnDefaults) {
  const CommandResult r = run_command(g_train + " --model kinetics_repflow_r50 --help");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* text : {"--reduced-channels (default: 32)", "--dropout (default: 0.5)",
                           "--flow-iters (default: 10)", "--width (default: \"\")",
                           "(does not apply to kinetics_repflow_r50)"})
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  const CommandResult r18 = run_command(g_train + " --model resnet18_2d --help");
  ASSERT_EQ(r18.status, 0) << r18.output;
  for (const char* text : {"--width (default: 64)", "--flow (default: after3)",
                           "--stem (default: imagenet)", "--reduced-channels (default: 32)"})
    EXPECT_NE(r18.output.find(text), std::string::npos) << text << "\n" << r18.output;
}

TEST(Train, ARunLeavesItsMetricsChartConfigCheckpointAndWeights) {
  const std::string dir = fresh_dir("run");
  const CommandResult r = train("--epochs 2 --run-dir " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m,
                                std::regex(R"(\nfinal: val_top1=([0-9.]+) val_top5=([0-9.]+) )"
                                           R"(epochs=2 seconds=[0-9.]+\n$)")))
      << r.output;
  const std::vector<nlohmann::json> records = MetricsLog::read(dir + "/metrics.jsonl").records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_EQ(records[1]["step"], 8);
  EXPECT_NEAR(100 * records[1]["val_top1"].get<double>(), std::stod(m[1]), 0.006);
  EXPECT_NEAR(100 * records[1]["val_top5"].get<double>(), std::stod(m[2]), 0.006);
  for (const char* key : {"train_loss", "train_top1", "val_loss", "lr", "clips_per_second"})
    EXPECT_TRUE(records[1].contains(key)) << key;
  const nlohmann::json config = read_json_file(dir + "/config.json");
  EXPECT_EQ(config["flags"]["epochs"], "2");
  EXPECT_EQ(config["flags"]["flow"], "after2");
  const Image chart = read_image(dir + "/chart.png");
  EXPECT_GT(chart.width, 100);
  // weights.json holds what evaluation used (the averages) under the model's own names, so
  // //tools:infer loads it as is; it differs from the live weights in the checkpoint.
  const Checkpoint c = load_checkpoint(dir + "/checkpoint.json");
  const std::map<std::string, Tensor> weights = load_weights(dir + "/weights.json");
  ASSERT_EQ(weights.size(), c.model.size());
  for (const auto& [name, t] : c.average) {
    const std::string plain = name.substr(std::strlen("average."));
    ASSERT_TRUE(weights.count(plain)) << plain;
    EXPECT_EQ(weights.at(plain).to_vector(), t.to_vector()) << plain;
  }
  EXPECT_EQ(c.trainer["epoch"], 2);
}

// The CPU kernels, oneDNN and OpenBLAS share OpenMP's threads, so the trainer runs as started:
// libgomp, which OMP_DISPLAY_ENV=verbose makes print its settings once when it loads, loads once,
// with the user's wait policy.
TEST(Train, RunsInOneProcessWithTheUsersOpenMpSettings) {
  const std::string dir = fresh_dir("omp_policy");
  const CommandResult r = run_command("env -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose " + g_train +
                                      kSmall + "--epochs 1 --run-dir " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t first = r.output.find("GOMP_SPINCOUNT = ");
  ASSERT_NE(first, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("GOMP_SPINCOUNT", first + 1), std::string::npos) << r.output;
  // Unset, libgomp spins a while before sleeping; nothing forces the passive policy ('0').
  EXPECT_EQ(r.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << r.output;

  const CommandResult chosen =
      run_command("env OMP_WAIT_POLICY=passive OMP_DISPLAY_ENV=verbose " + g_train + " --help");
  ASSERT_EQ(chosen.status, 0) << chosen.output;
  EXPECT_NE(chosen.output.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << chosen.output;
}

TEST(Train, TwoEpochsEqualOneEpochThenResumeForOneMore) {
  const std::string straight = fresh_dir("straight"), split = fresh_dir("split");
  ASSERT_EQ(train("--epochs 2 --run-dir " + straight).status, 0);
  ASSERT_EQ(train("--epochs 1 --run-dir " + split).status, 0);
  // What a save killed mid-write (kill -9) leaves behind is removed when the run resumes.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = split + "/checkpoint.json.tmp." + std::to_string(dead) + ".0";
  write_text(stale, "{\"format\": \"repflow-w");
  // The saved configuration comes back; only --epochs is given again.
  const CommandResult r = run_command(g_train + " --resume " + split + " --epochs 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_NE(r.output.find("resumed at epoch 2 step 0"), std::string::npos) << r.output;
  const auto a = contents(straight + "/checkpoint.json"), b = contents(split + "/checkpoint.json");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, values] : a) EXPECT_EQ(values, b.at(name)) << name;
  EXPECT_EQ(MetricsLog::read(split + "/metrics.jsonl").records().size(), 2u);
  // A different seed really trains differently, so the equality above means something.
  const std::string other = fresh_dir("other_seed");
  ASSERT_EQ(train("--epochs 2 --seed 1 --run-dir " + other).status, 0);
  EXPECT_NE(contents(other + "/checkpoint.json").at("model/fc.weight"), a.at("model/fc.weight"));
}

// SIGHUP (the terminal closed) is taken as SIGINT is: the run is saved, not lost.
TEST(Train, CtrlCSavesACheckpointMidRunAndResumingFinishesExactly) {
  const std::string straight = fresh_dir("sigint_straight");
  const std::string args = "--epochs 4 --synthetic-train 256 ";
  ASSERT_EQ(train(args + "--run-dir " + straight).status, 0);
  const auto a = contents(straight + "/checkpoint.json");
  const auto ma = MetricsLog::read(straight + "/metrics.jsonl").records();
  for (const int sig : {SIGINT, SIGHUP}) {
    SCOPED_TRACE(strsignal(sig));
    const std::string cut = fresh_dir("signal_cut_" + std::to_string(sig));
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string command =
          g_train + kSmall + args + "--run-dir " + cut + " > " + cut + "/log.txt 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Interrupt once the first epoch's checkpoint exists: somewhere in epochs 2 to 4.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!std::filesystem::exists(cut + "/checkpoint.json") &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    kill(pid, sig);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string log = read_text(cut + "/log.txt");
    ASSERT_TRUE(WIFEXITED(status)) << log;
    if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the run finished before the signal arrived";
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << log;
    EXPECT_NE(log.find("interrupted: checkpoint saved"), std::string::npos) << log;
    const nlohmann::json saved = read_json_file(cut + "/checkpoint.json")["trainer"];
    const CommandResult r = run_command(g_train + " --resume " + cut);
    ASSERT_EQ(r.status, 0) << r.output;
    if (saved["step"] != 0) {
      // The interrupted epoch's time counts the steps before the interrupt too.
      const double before = saved["epoch_sums"]["train_seconds"].get<double>();
      EXPECT_GT(before, 0.0);
      const auto resumed = MetricsLog::read(cut + "/metrics.jsonl").records();
      const nlohmann::json& record = resumed.at(saved["epoch"].get<size_t>());
      EXPECT_GT(record["train_seconds"].get<double>(), before);
    }
    const auto b = contents(cut + "/checkpoint.json");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, values] : a) EXPECT_EQ(values, b.at(name)) << name;
    const auto mb = MetricsLog::read(cut + "/metrics.jsonl").records();
    ASSERT_EQ(ma.size(), mb.size());
    for (size_t i = 0; i < ma.size(); ++i) {
      EXPECT_EQ(ma[i]["train_loss"], mb[i]["train_loss"]) << i;
      EXPECT_EQ(ma[i]["val_top1"], mb[i]["val_top1"]) << i;
    }
  }
}

// An epoch's checkpoint is written before its metrics line; a process killed between the two
// leaves the checkpoint with the line in it, and resuming writes the line.
TEST(Train, ResumingWritesTheMetricsLineThatTheCheckpointGotAhead) {
  const std::string dir = fresh_dir("line_cut");
  ASSERT_EQ(train("--epochs 2 --run-dir " + dir).status, 0);
  const std::vector<nlohmann::json> records = MetricsLog::read(dir + "/metrics.jsonl").records();
  ASSERT_EQ(records.size(), 2u);
  // Lost after the last epoch's checkpoint, the line is all the run had left to do: resuming
  // for the same epochs writes it and completes the run, where a complete run is refused.
  write_text(dir + "/metrics.jsonl", records[0].dump() + "\n");
  const CommandResult completed = run_command(g_train + " --resume " + dir + " --epochs 2");
  ASSERT_EQ(completed.status, 0) << completed.output;
  EXPECT_NE(completed.output.find("the checkpoint had completed all 2 epochs: the files the run "
                                  "directory lacked are written from it"),
            std::string::npos)
      << completed.output;
  char final_line[96];
  std::snprintf(final_line, sizeof final_line, "final: val_top1=%.2f val_top5=%.2f epochs=2",
                100 * records[1]["val_top1"].get<double>(),
                100 * records[1]["val_top5"].get<double>());
  EXPECT_NE(completed.output.find(final_line), std::string::npos) << completed.output;
  EXPECT_EQ(MetricsLog::read(dir + "/metrics.jsonl").records(), records);
  const CommandResult again = run_command(g_train + " --resume " + dir + " --epochs 2");
  EXPECT_EQ(again.status, 2) << again.output;
  EXPECT_NE(again.output.find("error: train: nothing to do"), std::string::npos) << again.output;
  // So does a weights.json deleted since: it is written from the checkpoint.
  const auto weights = contents(dir + "/weights.json");
  std::filesystem::remove(dir + "/weights.json");
  const CommandResult rewritten = run_command(g_train + " --resume " + dir + " --epochs 2");
  EXPECT_EQ(rewritten.status, 0) << rewritten.output;
  EXPECT_EQ(contents(dir + "/weights.json"), weights);

  write_text(dir + "/metrics.jsonl", records[0].dump() + "\n");
  const CommandResult r = run_command(g_train + " --resume " + dir + " --epochs 3");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<nlohmann::json> resumed = MetricsLog::read(dir + "/metrics.jsonl").records();
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0], records[0]);
  EXPECT_EQ(resumed[1], records[1]);
  EXPECT_EQ(resumed[2]["epoch"], 3);

  // A position that is not a whole count is refused by name, not converted silently, and a
  // metrics line that is not the checkpoint's epoch's is refused naming the checkpoint, before
  // it reaches metrics.jsonl.
  const std::string path = dir + "/checkpoint.json";
  const nlohmann::json doc = read_json_file(path);
  const std::string log_before = read_text(dir + "/metrics.jsonl");
  const std::string not_a_count = " is not an integer in 0..";
  const std::string not_the_line =
      " is not the metrics line of epoch 3 (an object with \"epoch\": 3)";
  const auto with = [&](const std::string& object, const std::string& key,
                        const nlohmann::json& value) {
    nlohmann::json j = doc["trainer"][object];
    j[key] = value;
    return j;
  };
  const std::string not_a_sum = ", not a finite sum at least 0";
  for (const auto& [field, value, message] :
       std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
           {"epoch", 1.5, not_a_count},
           {"step", -1, not_a_count},
           {"epoch", "3", not_a_count},
           {"epoch_record", 5, not_the_line},
           {"epoch_record", nlohmann::json::object(), not_the_line},
           {"epoch_record", {{"epoch", 2}, {"train_loss", 1.0}}, not_the_line},
           // Checked though the run is not over: it was once written into metrics.jsonl as is.
           {"epoch_record", with("epoch_record", "val_top1", "x"),
            ".val_top1 is not an accuracy in [0, 1]"},
           {"epoch_record", {{"epoch", 3}}, ".val_top1 is not an accuracy in [0, 1]"},
           // Sums of clips no step trained, and more averaging updates than steps.
           {"epoch_sums", with("epoch_sums", "clips", 5), ".clips is 5 after step 0 of an epoch"},
           {"average_updates", int64_t{100000000000}, not_a_count},
           {"seconds", -1.0, " is -1" + not_a_sum},
           {"seconds", 1e308, " is 1e+308" + not_a_sum},
           {"epoch_sums", with("epoch_sums", "loss", 1e308), ".loss is 1e+308" + not_a_sum},
           {"epoch_sums", with("epoch_sums", "correct", "1"), ".correct is \"1\", not a number"},
           {"rng", with("rng", "seed", -1), ".seed is -1, not a 64-bit unsigned integer"},
           {"rng", with("rng", "offset", 0.5), ".offset is 0.5, not a 64-bit unsigned integer"}}) {
    nlohmann::json bad = doc;
    bad["trainer"][field] = value;
    write_text(path, bad.dump());
    const CommandResult refused = run_command(g_train + " --resume " + dir + " --epochs 4");
    EXPECT_EQ(refused.status, 2) << refused.output;
    EXPECT_NE(refused.output.find("error: " + path + ": checkpoint: trainer." + field + message),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(read_text(dir + "/metrics.jsonl"), log_before) << field;
  }
  // The optimiser's state taken out of a checkpoint saved after steps with momentum.
  nlohmann::json no_momentum = doc;
  for (auto it = no_momentum["tensors"].begin(); it != no_momentum["tensors"].end();)
    it = it.key().rfind("optimizer/", 0) == 0 ? no_momentum["tensors"].erase(it) : std::next(it);
  ASSERT_LT(no_momentum["tensors"].size(), doc["tensors"].size());
  write_text(path, no_momentum.dump());
  const CommandResult refused = run_command(g_train + " --resume " + dir + " --epochs 4");
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("the checkpoint has no momentum buffers, but it was saved after "),
            std::string::npos)
      << refused.output;
}

// Two classes of four videos in frame folders, listed as `what` says.
std::string write_frame_dataset(const std::string& name, const std::string& format) {
  const std::string root = fresh_dir(name);
  std::string list;
  for (int v = 0; v < 8; ++v) {
    const std::string video = "v" + std::to_string(v);
    write_coded_frames(root + "/" + video, 6, 20, 18, v);
    if (format == "hmdb")
      list += video + ".avi " + (v % 2 ? "walk" : "run") + "\n";
    else
      list += video + " 6 " + std::to_string(v % 2) + "\n";
  }
  write_text(root + "/list.txt", list);
  return root;
}

std::string frame_args(const std::string& root, const std::string& format) {
  return " --data " + format + " --root " + root + " --train-list " + root +
         "/list.txt --val-list " + root + "/list.txt --resize 0 --batch-size 4 --epochs 1 " +
         "--clips-per-video 2 --run-dir " + root + "/run";
}

TEST(Train, FrameFoldersInHmdbAndPlainLists) {
  for (const std::string format : {"hmdb", "plain"}) {
    SCOPED_TRACE(format);
    const std::string root = write_frame_dataset("frames_" + format, format);
    const CommandResult r = train_listed(frame_args(root, format));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("2 classes; 8 training and 8 validation videos"), std::string::npos)
        << r.output;
    // One list for both: said, not refused.
    EXPECT_NE(r.output.find("note: 8 of --val-list's videos are in --train-list too (v0"),
              std::string::npos)
        << r.output;
    const auto records = MetricsLog::read(root + "/run/metrics.jsonl").records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["val_clips"], 16);
    EXPECT_EQ(records[0]["val_videos"], 8);
  }
  // A video listed twice is trained twice, and said; separate lists give no note.
  const std::string root = write_frame_dataset("frames_twice", "plain");
  const std::string list = read_text(root + "/list.txt");
  size_t half = 0;  // after the fourth line: v0-v3 to train on (v0 twice), v4-v7 to validate
  for (int line = 0; line < 4; ++line) half = list.find('\n', half) + 1;
  write_text(root + "/train.txt", list.substr(0, half) + list.substr(0, list.find('\n') + 1));
  write_text(root + "/val.txt", list.substr(half));
  const CommandResult r = train_listed(frame_args(root, "plain") + " --train-list " + root +
                                       "/train.txt --val-list " + root + "/val.txt");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("note: --train-list names 1 video(s) again (v0): each is trained as "
                          "often"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("in --train-list too"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("5 training and 4 validation videos"), std::string::npos) << r.output;
}

// Lists that cannot train a classifier are refused before anything runs: a video under two
// classes, a single class (a model always right), and a directory given as a plain list.
TEST(Train, ListsOfOneClassOrAVideoUnderTwoClassesAreErrors) {
  const std::string root = write_frame_dataset("frames_bad_lists", "plain");
  const std::string list = read_text(root + "/list.txt");
  const std::string check = frame_args(root, "plain") + " --check";
  write_text(root + "/twice.txt", list + "v0 6 1\n");
  write_text(root + "/one.txt", "v0 6 0\nv2 6 0\n");
  const struct {
    std::string flags, error;
  } cases[] = {
      {" --train-list " + root + "/twice.txt",
       "error: video 'v0' is listed as 0 and as 1 (--train-list): a video has one class"},
      {" --val-list " + root + "/twice.txt", "(--val-list): a video has one class"},
      {" --train-list " + root + "/one.txt --val-list " + root + "/one.txt",
       "error: flag --train-list: " + root +
           "/one.txt gives 1 class ('0'): a classifier needs "
           "two at least"},
      {" --train-list " + root,
       "error: flag --train-list: '" + root + "' is a directory; --data plain reads a list file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.flags);
    const CommandResult r = train_listed(check + c.flags);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
  }
}

// HMDB51 as published: the official split directory, the videos in a folder per class (frame
// folders standing in for the .avi files). Marks 1 train, 2 validate, 0 is left out.
TEST(Train, HmdbOfficialSplitDirectoryTrainsResumesAndRejectsMismatchedFlags) {
  const std::string root = fresh_dir("frames_hmdb_official");
  const std::string splits = root + "/testTrainMulti_7030_splits";
  for (const std::string cls : {"walk", "run"}) {
    std::string lines;
    for (int v = 0; v < 6; ++v) {
      const std::string video = cls + std::to_string(v);
      const int mark = v < 3 ? 1 : (v < 5 ? 2 : 0);
      if (mark != 0) write_coded_frames(root + "/videos/" + cls + "/" + video, 6, 20, 18, v);
      lines += video + ".avi " + std::to_string(mark) + " \r\n";
    }
    write_text(splits + "/" + cls + "_test_split1.txt", lines);
  }
  const std::string data = " --data hmdb --root " + root + "/videos --train-list " + splits +
                           " --resize 0 --batch-size 2 --clips-per-video 2 --run-dir " + root +
                           "/run ";
  const CommandResult r = train_listed(data + "--split 1 --epochs 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 classes; 6 training and 4 validation videos"), std::string::npos)
      << r.output;
  const auto records = MetricsLog::read(root + "/run/metrics.jsonl").records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["val_videos"], 4);
  // The saved configuration keeps --split: the resumed run reads the same split.
  const CommandResult resumed = run_command(g_train + " --resume " + root + "/run --epochs 2");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("6 training and 4 validation videos"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(MetricsLog::read(root + "/run/metrics.jsonl").records().size(), 2u);

  const std::pair<std::string, std::string> bad[] = {
      {"", "a directory; read as an official split directory it needs a split, 1, 2 or 3"},
      {"--split 4", "--split"},
      {"--split 2", "no HMDB51 split files '<class>_test_split2.txt'"},
      {"--split 1 --val-list " + splits + "/walk_test_split1.txt", "flag --val-list"},
      {"--split 1 --train-list " + splits + "/walk_test_split1.txt --val-list " + splits +
           "/walk_test_split1.txt",
       "picks the split of an official split directory"},
      {"--train-list " + splits + "/walk_test_split1.txt --val-list " + splits +
           "/run_test_split1.txt",
       "walk_test_split1.txt:1: expected 'NAME.avi CLASS'"},
      {"--split 1 --data kinetics", "flag --split"},
  };
  for (const auto& [args, fragment] : bad) {
    const CommandResult e = train_listed(data + args + " --run-dir " + root + "/bad");
    EXPECT_EQ(e.status, 2) << args << "\n" << e.output;
    EXPECT_NE(e.output.find("error: "), std::string::npos) << args << "\n" << e.output;
    EXPECT_NE(e.output.find(fragment), std::string::npos) << args << "\n" << e.output;
  }
}

TEST(Train, ABadFrameStopsTheRunNamingItOrIsSkippedAndReported) {
  const std::string root = write_frame_dataset("frames_bad", "plain");
  std::filesystem::remove(root + "/v3/4.png");
  const CommandResult stop = train_listed(frame_args(root, "plain"));
  EXPECT_EQ(stop.status, 2) << stop.output;
  EXPECT_NE(stop.output.find("v3"), std::string::npos) << stop.output;
  const CommandResult skip = train_listed(frame_args(root, "plain") + " --skip-bad-samples");
  ASSERT_EQ(skip.status, 0) << skip.output;
  EXPECT_NE(skip.output.find("skipped 1 bad samples"), std::string::npos) << skip.output;
  EXPECT_NE(skip.output.find("v3"), std::string::npos) << skip.output;
}

// Every training video bad, skipped: the run once trained nothing, exited 0 and saved the
// untrained weights. Empty lists once surfaced as a model of no classes or an empty loader.
TEST(Train, ListsThatGiveNothingToTrainOnAreErrorsNamingThem) {
  const std::string root = write_frame_dataset("frames_none", "plain");
  const std::string bad = root + "/all_bad.txt", empty = root + "/empty.txt";
  write_text(bad, "nope 8 0\nnope2 8 1\n");
  write_text(empty, "");
  const std::string list = root + "/list.txt";
  const std::string common = " --data plain --root " + root +
                             " --resize 0 --batch-size 2 --epochs 1 --skip-bad-samples --run-dir ";
  const CommandResult none =
      train_listed(common + root + "/none --train-list " + bad + " --val-list " + list);
  EXPECT_EQ(none.status, 2) << none.output;
  EXPECT_NE(none.output.find("error: train: epoch 1 gave no training batch: the clips skipped as "
                             "bad (listed above) left fewer than a batch of 2"),
            std::string::npos)
      << none.output;
  EXPECT_NE(none.output.find("nope2"), std::string::npos) << none.output;
  EXPECT_FALSE(std::filesystem::exists(root + "/none/weights.json"));
  const std::pair<std::string, std::string> empty_lists[] = {
      {"--train-list " + empty + " --val-list " + list, "flag --train-list: "},
      {"--train-list " + list + " --val-list " + empty, "flag --val-list: "}};
  for (const auto& [lists, flag] : empty_lists) {
    const CommandResult r = train_listed(common + root + "/empty " + lists);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: " + flag + empty + " lists no videos"), std::string::npos)
        << r.output;
  }
}

// The default run (README: its network learns motion to >= 95%) with bf16 convolutions.
TEST(Train, TheDefaultRunReaches95PercentWithBf16Convolutions) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "this CPU has neither AVX512-BF16 nor AMX";
  const CommandResult r =
      run_command(g_train + " --quiet --precision bf16 --run-dir " + fresh_dir("bf16"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(\nfinal: val_top1=([0-9.]+) )")))
      << r.output;
  EXPECT_GE(std::stod(m[1]), 95.0) << r.output;
}

TEST(Train, BadFlagsAreErrorsNamingThem) {
  const std::pair<std::string, std::string> cases[] = {
      {"--epochs 0", "--epochs"},
      {"--batch-size x", "--batch-size"},
      {"--lr-schedule sometimes", "--lr-schedule"},
      {"--flow after9", "--flow"},
      {"--model resnet7_2d", "resnet7_2d"},
      {"--model kinetics_repflow_r50 --width 8",
       "flag --width does not apply to kinetics_repflow_r50"},
      {"--data hmdb", "--root"},
      {"--data videos", "--data"},
      // Without --data the list would be ignored and the run train on generated clips.
      {"--train-list list.txt",
       "flag --train-list is for listed videos (--data hmdb, ucf101, kinetics or plain), not "
       "--data synthetic"},
      {"--norm bogus", "flag --norm is for listed videos"},
      // With listed videos the generated clips' flags would be ignored.
      {"--data plain --root . --data-seed 3",
       "flag --data-seed is for --data synthetic, not --data plain"},
      {"--resume /nonexistent/run", "/nonexistent/run"},
      {"--param-groups flw:0.1", "flw"},
      {"--param-groups flow:x", "flag --param-groups: 'x' in 'flow:x'"},
      {"--synthetic-preset medium",
       "flag --synthetic-preset: synthetic preset 'medium' is not easy or hard"},
      {"--precision fp16", "flag --precision: 'fp16' is not fp32, tf32 or bf16"},
      {"--precision tf32 --device cpu", "precision tf32 is a GPU's"},
      {"--cuda-graph --device cpu", "flag --cuda-graph: records a GPU's work; --device is cpu"},
      {"--cuda-graph --clip-grad 1", "flag --cuda-graph: --clip-grad reads the gradients' norm"},
      {"--cuda-graph --dropout 0.5", "flag --cuda-graph: dropout draws its masks"},
      {"--bogus 1", "--bogus"},
      // Each of these once ran on: into a huge allocation, a saturated or overflowed value, or a
      // non-finite loss far from the flag that caused it.
      {"--synthetic-classes 1000000000",
       "flag --synthetic-classes: 1000000000 is outside 2..100000"},
      {"--clips-per-video 1000000000", "flag --clips-per-video: 1000000000 is outside 1..1000"},
      {"--synthetic-train 1000000000", "flag --synthetic-train: 1000000000 is outside 1..2600000"},
      {"--synthetic-val 2600001", "flag --synthetic-val: 2600001 is outside 1..2600000"},
      {"--frames 100000", "flag --frames: 100000 is outside 2..10000"},
      // The synthetic generator's minima, once reported as its own sizes, not the flags.
      {"--frames 1", "flag --frames: 1 is outside 2..10000"},
      {"--size 2", "flag --size: 2 is outside 4..7680"},
      {"--synthetic-classes 1", "flag --synthetic-classes: 1 is outside 2..100000"},
      {"--seed 99999999999999999999", "flag --seed: '99999999999999999999' is outside the 64-bit"},
      {"--warmup-epochs 1e19", "flag --warmup-epochs: 1e+19 is above 1e+06 epochs"},
      {"--momentum inf", "flag --momentum: 'inf' is not a number"},
      {"--momentum 2", "flag --momentum: 2 is outside 0..1"},
      {"--weight-decay nan", "flag --weight-decay: 'nan' is not a number"},
      {"--weight-decay -1", "flag --weight-decay: -1 is negative"},
      {"--dist-timeout 1e10", "flag --dist-timeout: 1e+10 is above 604800 s"},
      {"--average polyak --polyak-start 100000 --epochs 2",
       "flag --polyak-start: 100000 is past the run's last step, 128 (2 epochs of 64 steps)"},
  };
  for (const auto& [args, fragment] : cases) {
    // Each is refused before any clip is made, so the synthetic sizes (which listed videos
    // refuse) are left out.
    const CommandResult r = train_listed(args + " --run-dir " + test_tmp("bad_flags"));
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << args << "\n" << r.output;
  }
}

// A run directory that cannot be made (here: below a regular file) used to escape as the
// library's filesystem_error with exit status 1.
TEST(Train, ARunDirectoryThatCannotBeMadeIsAnErrorNamingIt) {
  const std::string file = test_tmp("a_file");
  write_text(file, "x");
  const CommandResult r = train(kSmall + "--epochs 1 --run-dir " + file + "/run");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: run directory " + file + "/run: cannot create it"),
            std::string::npos)
      << r.output;
}

// A new run into another run's directory would have overwritten its files one by one; a resumed
// run refused against its checkpoint used to rewrite config.json with the refused flags.
TEST(Train, ARefusedRunLeavesAnExistingRunDirectoryAsItWas) {
  const std::string dir = fresh_dir("kept_run");
  ASSERT_EQ(train("--epochs 1 --run-dir " + dir).status, 0);
  const auto files = [&] {
    std::map<std::string, std::string> texts;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      texts[entry.path().filename().string()] = read_text(entry.path().string());
    return texts;
  };
  const auto before = files();
  const CommandResult fresh = train("--epochs 1 --run-dir " + dir);
  EXPECT_EQ(fresh.status, 2) << fresh.output;
  EXPECT_NE(fresh.output.find("error: run directory " + dir + " already holds a run"),
            std::string::npos)
      << fresh.output;
  const CommandResult resumed = run_command(g_train + " --resume " + dir + " --batch-size 64");
  EXPECT_EQ(resumed.status, 2) << resumed.output;
  EXPECT_NE(resumed.output.find("error: train: nothing to do"), std::string::npos)
      << resumed.output;
  // The state's own messages now name the checkpoint they came from.
  const CommandResult wider = run_command(g_train + " --resume " + dir + " --width 16 --epochs 2");
  EXPECT_EQ(wider.status, 2) << wider.output;
  EXPECT_NE(wider.output.find("error: " + dir + "/checkpoint.json: load_state_dict: "),
            std::string::npos)
      << wider.output;
  EXPECT_TRUE(files() == before);

  // Another run's checkpoint, resumed into this directory, would mix the two runs' files.
  const std::string other = fresh_dir("other_run");
  ASSERT_EQ(train("--epochs 1 --seed 1 --run-dir " + other).status, 0);
  for (const char* epochs : {"1", "2"}) {
    const CommandResult into =
        run_command(g_train + " --resume " + other + " --run-dir " + dir + " --epochs " + epochs);
    EXPECT_EQ(into.status, 2) << into.output;
    EXPECT_NE(into.output.find("error: run directory " + dir +
                               " already holds another run (checkpoint.json) than the one "
                               "resumed from " +
                               other + "/checkpoint.json"),
              std::string::npos)
        << into.output;
  }
  // A process that writes into the directory keeps every other one out.
  {
    const DirectoryLock held(dir, "a test");
    const CommandResult busy = run_command(g_train + " --resume " + dir + " --epochs 2");
    EXPECT_EQ(busy.status, 2) << busy.output;
    EXPECT_NE(busy.output.find("error: run directory " + dir + " is in use by another process"),
              std::string::npos)
        << busy.output;
  }
  EXPECT_TRUE(files() == before);

  // Results whose checkpoint was deleted (to save space) are a finished run all the same.
  std::filesystem::remove(dir + "/checkpoint.json");
  const CommandResult over = train("--epochs 1 --run-dir " + dir);
  EXPECT_EQ(over.status, 2) << over.output;
  EXPECT_NE(over.output.find("error: run directory " + dir + " already holds a run (weights.json)"),
            std::string::npos)
      << over.output;
  std::filesystem::remove(dir + "/weights.json");
  EXPECT_NE(train("--epochs 1 --run-dir " + dir).output.find("already holds a run (metrics.jsonl)"),
            std::string::npos);
  std::filesystem::remove(dir + "/metrics.jsonl");
  EXPECT_EQ(train("--epochs 1 --run-dir " + dir).status, 0);
}

// A run whose weights diverge fails (exit 1) without saving them, whether the training loss, the
// validation loss or only the live weights (evaluation used their finite averages) show it.
TEST(Train, DivergedWeightsFailTheRunUnsaved) {
  const struct {
    std::string flags, message;
  } cases[] = {
      {kSmall + "--lr 1e30", " loss became "},
      {kSmall + "--weight-decay 1e12", " loss became "},
      // Two steps, and evaluation with the averages: once a checkpoint refused as if it were a
      // corrupt file ("tensor 'model/conv1.weight': data[54] is -nan"), before the ReLU passed
      // NaN on, an evaluation that stayed finite.
      {kShape + "--synthetic-train 32 --synthetic-val 32 --weight-decay 1e20",
       "train: the validation loss became "},
  };
  for (const auto& [flags, message] : cases) {
    SCOPED_TRACE(flags);
    const std::string dir = fresh_dir("diverged");
    const CommandResult r = run_command(g_train + flags + " --epochs 1 --run-dir " + dir);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("error: train: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(": the weights diverged (try a lower --lr or --weight-decay, or "
                            "--clip-grad)"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoint.json"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/weights.json"));
  }
}

// --check stops before the run directory is made: the flags, data lists, a resumed checkpoint and
// the model are checked, and nothing is written.
TEST(Train, CheckValidatesTheRunAndWritesNothing) {
  const std::string dir = test_tmp("check_run");
  std::filesystem::remove_all(dir);
  const CommandResult ok = train("--check --run-dir " + dir);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("check: nothing was trained or written"), std::string::npos)
      << ok.output;
  EXPECT_FALSE(std::filesystem::exists(dir));
  const CommandResult bad = train_listed("--check --data hmdb --run-dir " + dir);
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--root"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir));
  // A resumed run: its checkpoint is read, and its directory left as it was.
  ASSERT_EQ(train("--epochs 1 --run-dir " + dir).status, 0);
  const std::string checkpoint = read_text(dir + "/checkpoint.json"),
                    metrics = read_text(dir + "/metrics.jsonl");
  const CommandResult resumed = run_command(g_train + " --resume " + dir + " --epochs 2 --check");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(read_text(dir + "/checkpoint.json"), checkpoint);
  EXPECT_EQ(read_text(dir + "/metrics.jsonl"), metrics);
  const CommandResult other =
      run_command(g_train + " --resume " + dir + " --epochs 2 --model resnet18_2d --check");
  EXPECT_EQ(other.status, 2) << other.output;
}

// What the first step or the run directory would refuse, --check refuses: a clip too short for
// the model, a run directory that cannot be made. Missing parents it made to find out are gone.
TEST(Train, CheckMeetsTheModelsInputChecksAndTheRunDirectory) {
  const std::string base = test_tmp("check_refused");
  std::filesystem::remove_all(base);
  const std::string dir = base + "/new/run";
  struct Case {
    std::string args, message;
  } cases[] = {
      {"--flow-stages 4", "ResNet: input [1,3,4,16,16] is not (N, 3, T, H, W) with T > 4"},
      {"--model kinetics_repflow_r50 --size 32",
       "conv: kernel 7 (dilated) larger than padded input 4 in spatial dim 0 (input "
       "[1,3,4,32,32]"},
  };
  for (const Case& c : cases) {
    const CommandResult r = train("--check --run-dir " + dir + " " + c.args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: " + c.message), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(base)) << r.output;
  }
  std::filesystem::create_directories(base);
  std::ofstream(base + "/a_file") << "x";
  const CommandResult file = train("--check --run-dir " + base + "/a_file/run");
  EXPECT_EQ(file.status, 2) << file.output;
  EXPECT_NE(file.output.find("error: run directory " + base + "/a_file/run: cannot create it"),
            std::string::npos)
      << file.output;
  const CommandResult ok = train("--check --run-dir " + dir);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_FALSE(std::filesystem::exists(base + "/new")) << ok.output;
}

// Past the memory the tensors may hold, an allocation is an error naming the sizes, not a
// process the kernel kills or swaps out.
TEST(Train, TensorsPastTheMemoryLimitAreAnErrorNotAKill) {
  const CommandResult r =
      run_command("REPFLOW_HOST_MEMORY_MB=64 " + g_train +
                  " --quiet --threads 1 --workers 1 --epochs 1 --size 512 --synthetic-train 16 "
                  "--synthetic-val 8 --batch-size 8 --run-dir " +
                  fresh_dir("memory"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: out of memory: a tensor of "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("would pass 64 MB, the limit REPFLOW_HOST_MEMORY_MB sets"),
            std::string::npos)
      << r.output;
  // 2^44 MB is 2^64 bytes, which a size_t does not hold: refused, not wrapped to a small limit.
  for (const char* bad : {"0", "64MB", "17592186044416", "99999999999999999999"}) {
    const CommandResult b =
        run_command(std::string("REPFLOW_HOST_MEMORY_MB=") + bad + " " + g_train +
                    " --quiet --epochs 1 --run-dir " + fresh_dir("memory_bad"));
    EXPECT_EQ(b.status, 2) << bad << "\n" << b.output;
    EXPECT_NE(b.output.find(std::string("error: REPFLOW_HOST_MEMORY_MB: '") + bad +
                            "' is not a size in MB"),
              std::string::npos)
        << b.output;
  }
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: train_test PATH_TO_TRAIN\n");
    return 2;
  }
  repflow::g_train = argv[1];
  return RUN_ALL_TESTS();
}
