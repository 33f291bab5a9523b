// The binaries on video files, as a user runs them: //training:train for two epochs on .mp4
// files named by an HMDB split list, //tools:infer --video on a .mp4 against the same video's
// extracted frames (through the run's weights and their recorded decode size), and bad videos
// stopping a run, skipped and reported, or refused by infer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "tests/video_fixture.h"
#include "training/report/metrics_log.h"

namespace repflow {
namespace {

std::string g_train, g_infer;

// Eight .mp4 videos, two classes by the direction of motion, listed as HMDB names (NAME.avi:
// the dataset finds NAME.mp4).
std::string write_dataset(const std::string& name) {
  const std::string root = fresh_dir(name);
  std::string list;
  for (int v = 0; v < 8; ++v) {
    VideoSpec spec;
    spec.frames = 24;
    spec.gop = 10;
    spec.width = 48;
    spec.height = 40;
    spec.seed = v;
    spec.dx = v % 2 ? 2 : -2;
    write_video(root + "/v" + std::to_string(v) + ".mp4", spec);
    list += "v" + std::to_string(v) + ".avi " + (v % 2 ? "right" : "left") + "\n";
  }
  write_text(root + "/list.txt", list);
  return root;
}

std::string train_args(const std::string& root) {
  return g_train + " --quiet --threads 1 --workers 2 --data hmdb --root " + root +
         " --train-list " + root + "/list.txt --val-list " + root +
         "/list.txt --frames 4 --stride 2 --decode-size 32 --resize 0 --size 32 --flip false " +
         "--batch-size 4 --clips-per-video 2 --run-dir " + root + "/run";
}

std::vector<std::vector<double>> read_logits(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in).get<std::vector<std::vector<double>>>();
}

TEST(VideoTools, TrainsTwoEpochsOnMp4FilesAndInferReadsThemAsTheirFrames) {
  const std::string root = write_dataset("train_mp4");
  const CommandResult t = run_command(train_args(root) + " --epochs 2");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("2 classes; 8 training and 8 validation videos"), std::string::npos)
      << t.output;
  const auto records = MetricsLog::read(root + "/run/metrics.jsonl").records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["val_clips"], 16);
  EXPECT_EQ(records[1]["val_videos"], 8);
  std::ifstream weights(root + "/run/weights.json");
  const nlohmann::json meta = nlohmann::json::parse(weights)["meta"];
  EXPECT_EQ(meta["input"]["decode_size"], 32);
  EXPECT_FALSE(meta["input"].contains("flip"));

  // infer on the .mp4 with the run's weights alone (decode size 32 from their metadata), and on
  // the folder of the same video's frames decoded at that size: the same clips, the same logits.
  const std::string frames = root + "/v3_frames";
  std::filesystem::create_directories(frames);
  const std::vector<Image> decoded = decode_all(root + "/v3.mp4", 32);
  ASSERT_EQ(decoded.size(), 24u);
  for (size_t i = 0; i < decoded.size(); ++i)
    write_png(frames + "/" + std::to_string(i) + ".png", decoded[i]);
  const std::string infer = g_infer + " --threads 1 --weights " + root + "/run/weights.json";
  const CommandResult a = run_command(infer + " --video " + root + "/v3.mp4 --clips 3 " +
                                      "--logits-out " + root + "/video.json");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.output.find(root + "/v3.mp4: 3 clip(s) of 4 frames, stride 2, of 24 frames"),
            std::string::npos)
      << a.output;
  EXPECT_NE(a.output.find("input [3,3,4,32,32]"), std::string::npos) << a.output;
  const CommandResult b = run_command(infer + " --video " + frames + " --clips 3 --logits-out " +
                                      root + "/frames.json");
  ASSERT_EQ(b.status, 0) << b.output;
  const auto video_logits = read_logits(root + "/video.json");
  EXPECT_EQ(video_logits, read_logits(root + "/frames.json"));
  EXPECT_NE(video_logits[0], video_logits[2]);  // the clips differ
  // At full size the video gives other clips: the decode size was taken from the weights.
  const CommandResult full = run_command(infer + " --video " + root + "/v3.mp4 --clips 3 " +
                                         "--decode-size 0 --logits-out " + root + "/full.json");
  ASSERT_EQ(full.status, 0) << full.output;
  EXPECT_NE(read_logits(root + "/full.json"), video_logits);
}

TEST(VideoTools, BadVideosStopTheRunOrAreSkippedAndReported) {
  const std::string root = write_dataset("train_bad_mp4");
  std::ofstream(root + "/v8.mp4").close();
  write_audio_only(root + "/v9.mp4");
  std::filesystem::create_directories(root + "/v10.mp4");
  std::ofstream(root + "/list.txt", std::ios::app) << "v8.avi left\nv9.avi right\nv10.mp4 left\n";
  const CommandResult stop = run_command(train_args(root) + " --epochs 1");
  EXPECT_EQ(stop.status, 2) << stop.output;
  EXPECT_NE(stop.output.find("error: "), std::string::npos) << stop.output;
  EXPECT_NE(stop.output.find(".mp4: "), std::string::npos) << stop.output;
  const CommandResult skip = run_command(train_args(root) + " --epochs 1 --skip-bad-samples");
  ASSERT_EQ(skip.status, 0) << skip.output;
  EXPECT_NE(skip.output.find("skipped"), std::string::npos) << skip.output;
  for (const char* reason :
       {"/v8.mp4: an empty file (0 bytes)", "/v9.mp4: no video stream", "/v10.mp4: no frames"})
    EXPECT_NE(skip.output.find(root + reason), std::string::npos) << reason << "\n" << skip.output;
}

TEST(VideoTools, InferRefusesABadVideoNamingIt) {
  const std::string root = fresh_dir("infer_bad");
  const CommandResult t =
      run_command(g_train + " --quiet --threads 1 --workers 1 --synthetic-train 8 " +
                  "--synthetic-val 4 --frames 4 --size 16 --batch-size 4 --epochs 1 --run-dir " +
                  root + "/run");
  ASSERT_EQ(t.status, 0) << t.output;
  write_audio_only(root + "/audio.mp4");
  std::filesystem::create_directories(root + "/x.mp4");
  std::ofstream(root + "/empty.avi").close();
  ASSERT_EQ(::mkfifo((root + "/fifo.mp4").c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/zero", root + "/zero.mp4");
  const std::pair<std::string, std::string> cases[] = {
      {"fifo.mp4", "fifo.mp4: not a regular file"},
      {"zero.mp4", "zero.mp4: not a regular file"},
      {"audio.mp4", "audio.mp4: no video stream (1 stream(s): audio)"},
      {"x.mp4", "x.mp4: no frames"},
      {"empty.avi", "empty.avi: an empty file (0 bytes)"},
      {"missing.mp4", "missing: not a directory of frames nor a video file"}};
  for (const auto& [video, reason] : cases) {
    const CommandResult r = run_command(g_infer + " --threads 1 --weights " + root +
                                        "/run/weights.json --video " + root + "/" + video);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: " + root + "/" + reason), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: video_tools_test PATH_TO_TRAIN PATH_TO_INFER\n");
    return 2;
  }
  repflow::g_train = argv[1];
  repflow::g_infer = argv[2];
  return RUN_ALL_TESTS();
}
