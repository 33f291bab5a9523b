// A run's artifacts fit together: //tools:infer on a run's weights.json alone (its metadata)
// gives the trainer's own evaluation, a run resumes from any directory, a saved path that has
// gone is named as coming from the saved configuration, and --init-weights loads what fits.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/weights.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "training/report/metrics_log.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

namespace fs = std::filesystem;

std::string g_train, g_infer;

const std::string kQuick = " --quiet --threads 1 --workers 1 --batch-size 4 --epochs 1 ";

// Three classes of frame folders (coded frames, 9 per video) with an HMDB-style training list
// and a validation list of one video.
std::string write_dataset(const std::string& name) {
  const std::string root = fresh_dir(name);
  std::string list;
  const char* classes[] = {"walk", "run", "jump"};
  for (int v = 0; v < 9; ++v) {
    const std::string video = "v" + std::to_string(v);
    write_coded_frames(root + "/frames/" + video, 9, 20, 18, v);
    list += video + ".avi " + classes[v % 3] + "\n";
  }
  write_text(root + "/train.txt", list);
  write_text(root + "/val.txt", "v4.avi run\n");
  return root;
}

std::vector<std::vector<double>> read_logits(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in).get<std::vector<std::vector<double>>>();
}

TEST(RunsFit, InferOnARunsWeightsAloneGivesTheTrainersEvaluation) {
  const std::string root = write_dataset("eval_match");
  const CommandResult t = run_command(
      g_train + kQuick + "--data hmdb --root " + root + "/frames --train-list " + root +
      "/train.txt --val-list " + root + "/val.txt --frames 4 --stride 2 --resize 0 --size 16 " +
      "--norm paper --clips-per-video 3 --run-dir " + root + "/run");
  ASSERT_EQ(t.status, 0) << t.output;
  const nlohmann::json record = MetricsLog::read(root + "/run/metrics.jsonl").records().at(0);
  ASSERT_EQ(record["val_clips"], 3);

  // Nothing but the weights and the video: model, clip geometry, clips and names come from the
  // weight file's metadata.
  const std::string logits = root + "/logits.json";
  const CommandResult r =
      run_command(g_infer + " --weights " + root + "/run/weights.json --video " + root +
                  "/frames/v4 --threads 1 --logits-out " + logits);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("model resnet10_2d, 3 classes, input [3,3,4,16,16]"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("3 clip(s) of 4 frames, stride 2"), std::string::npos) << r.output;
  // The same clips through the same weights: the mean cross-entropy of the label (run = 1) is
  // the trainer's validation loss, and the video's top class agrees with its video top-1.
  const auto rows = read_logits(logits);
  ASSERT_EQ(rows.size(), 3u);
  double loss = 0;
  std::vector<double> mean_probability(3, 0.0);
  for (const auto& z : rows) {
    double total = 0;
    for (double v : z) total += std::exp(v);
    loss += (std::log(total) - z[1]) / 3;
    for (int c = 0; c < 3; ++c) mean_probability[c] += std::exp(z[c]) / total / 3;
  }
  EXPECT_NEAR(loss, record["val_loss"].get<double>(), 1e-4 * std::max(1.0, loss));
  const bool right =
      mean_probability[1] >= mean_probability[0] && mean_probability[1] >= mean_probability[2];
  EXPECT_EQ(right ? 1.0 : 0.0, record["val_video_top1"].get<double>());
  const std::string top_name[] = {"walk", "run", "jump"};
  const int top =
      static_cast<int>(std::max_element(mean_probability.begin(), mean_probability.end()) -
                       mean_probability.begin());
  EXPECT_NE(r.output.find("video: top 3\n   1. "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("class " + std::to_string(top) + "  " + top_name[top]), std::string::npos)
      << r.output;

  // Flags given override the metadata.
  const CommandResult one =
      run_command(g_infer + " --weights " + root + "/run/weights.json --video " + root +
                  "/frames/v4 --threads 1 --clips 1 --frames 5");
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("input [1,3,5,16,16]"), std::string::npos) << one.output;
}

TEST(RunsFit, TheDefaultRunsWeightsDescribeItsModelClassesAndClips) {
  const std::string dir = fresh_dir("default_meta");
  const CommandResult t =
      run_command(g_train + kQuick + "--synthetic-train 16 --synthetic-val 8 --run-dir " + dir);
  ASSERT_EQ(t.status, 0) << t.output;
  nlohmann::json extra;
  load_weights(dir + "/weights.json", &extra);
  const WeightsMeta meta = weights_meta_from_extra(extra, "weights.json");
  ASSERT_TRUE(meta.model.has_value());
  EXPECT_EQ(meta.model->name, "resnet10_2d");
  EXPECT_EQ(meta.model->options.at("width"), "8");
  EXPECT_EQ(meta.model->options.at("classes"), "8");
  EXPECT_EQ(meta.class_names, (std::vector<std::string>{"right", "down-right", "down", "down-left",
                                                        "left", "up-left", "up", "up-right"}));
  EXPECT_EQ(meta.input.frames, 8);
  EXPECT_EQ(meta.input.size, 32);
  ASSERT_TRUE(meta.input.norm.has_value());
  EXPECT_EQ(meta.input.norm->std[0], 0.25f);
}

TEST(RunsFit, ARunResumesFromAnyDirectoryAndNamesASavedPathThatHasGone) {
  const std::string root = write_dataset("resume_anywhere");
  // Relative paths, typed in the dataset's directory.
  const std::string args = kQuick +
                           "--data hmdb --root frames --train-list train.txt --val-list val.txt "
                           "--frames 4 --resize 0 --size 16 --run-dir run";
  const CommandResult first = run_command("cd " + root + " && " + g_train + args);
  ASSERT_EQ(first.status, 0) << first.output;
  const nlohmann::json config = read_json_file(root + "/run/config.json");
  EXPECT_EQ(config["flags"]["train-list"], root + "/train.txt");
  EXPECT_EQ(config["flags"]["root"], root + "/frames");
  const CommandResult resumed =
      run_command("cd / && " + g_train + " --resume " + root + "/run --epochs 2");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(MetricsLog::read(root + "/run/metrics.jsonl").records().size(), 2u);

  fs::rename(root + "/val.txt", root + "/val_moved.txt");
  const CommandResult gone =
      run_command("cd / && " + g_train + " --resume " + root + "/run --epochs 3");
  EXPECT_EQ(gone.status, 2) << gone.output;
  EXPECT_NE(gone.output.find("error: flag --val-list '" + root +
                             "/val.txt' comes from the saved configuration"),
            std::string::npos)
      << gone.output;
  // Given again, it is taken from the command line.
  const CommandResult again = run_command("cd / && " + g_train + " --resume " + root +
                                          "/run --epochs 3 --val-list " + root + "/val_moved.txt");
  EXPECT_EQ(again.status, 0) << again.output;
}

TEST(RunsFit, InitWeightsLoadsWhatFitsAndListsWhatItSkipped) {
  const std::string four = fresh_dir("init_four"), eight = fresh_dir("init_eight");
  const std::string small = kQuick + "--synthetic-train 16 --synthetic-val 8 --frames 4 --size 16 ";
  ASSERT_EQ(run_command(g_train + small + "--synthetic-classes 4 --run-dir " + four).status, 0);
  const CommandResult r =
      run_command(g_train + small + "--init-weights " + four + "/weights.json --run-dir " + eight);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("weights.json: loaded "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped, mis-shaped: fc.weight (expected [8,64], got [4,64]) fc.bias "
                          "(expected [8], got [4])"),
            std::string::npos)
      << r.output;
  // A file nothing of which fits (a checkpoint, whose tensors are grouped) is refused.
  const CommandResult none = run_command(g_train + small + "--init-weights " + four +
                                         "/checkpoint.json --run-dir " + fresh_dir("init_none"));
  EXPECT_EQ(none.status, 2) << none.output;
  EXPECT_NE(
      none.output.find("error: flag --init-weights: " + four + "/checkpoint.json: loaded 0 of "),
      std::string::npos)
      << none.output;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: runs_fit_test PATH_TO_TRAIN PATH_TO_INFER\n");
    return 2;
  }
  // Absolute, since some tests run the binaries from other directories.
  repflow::g_train = std::filesystem::absolute(argv[1]).string();
  repflow::g_infer = std::filesystem::absolute(argv[2]).string();
  return RUN_ALL_TESTS();
}
