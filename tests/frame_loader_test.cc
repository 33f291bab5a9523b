// The loader over frame folders listed in each format, as the trainer uses them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "framework/error.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "training/data/frame_dataset.h"
#include "training/data/loader.h"

namespace repflow {
namespace {

FrameDatasetOptions small_clips(const std::string& root) {
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 3;
  o.stride = 2;
  o.resize = 0;
  o.crop = 8;
  o.norm = {{0, 0, 0}, {1, 1, 1}};
  return o;
}

LoaderOptions loader_options(int workers, bool train) {
  LoaderOptions o;
  o.order.train = train;
  o.order.seed = 3;
  o.order.clips_per_video = 2;
  o.batch_size = 4;
  o.workers = workers;
  return o;
}

// Six HMDB-style videos of 7 frames; video i's pixels carry tag i (red = 8 * frame + i).
std::string write_hmdb(const std::string& name) {
  const std::string root = test_tmp(name);
  std::string split;
  for (int i = 0; i < 6; ++i) {
    const std::string video = "clip" + std::to_string(i);
    write_coded_frames(root + "/" + video, 7, 12, 10, i);
    split += video + ".avi " + (i % 2 ? "wave" : "run") + "\n";
  }
  write_text(root + "/split1_train.txt", split);
  return root;
}

std::vector<Batch> all_batches(DataLoader& loader, int64_t epoch) {
  std::vector<Batch> out;
  loader.start_epoch(epoch);
  for (Batch b; loader.next(&b);) out.push_back(b);
  return out;
}

TEST(FrameLoader, HmdbBatchesAreTheSameForAnyWorkerCount) {
  const std::string root = write_hmdb("hmdb_loader");
  const FrameDataset data(read_video_list(root + "/split1_train.txt", ListFormat::kHmdb),
                          small_clips(root));
  DataLoader one(data, loader_options(1, true)), three(data, loader_options(3, true));
  const std::vector<Batch> a = all_batches(one, 4), b = all_batches(three, 4);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].clips.shape(), (Shape{4, 3, 3, 8, 8}));
  EXPECT_EQ(a[1].clips.shape(), (Shape{2, 3, 3, 8, 8}));
  std::set<int64_t> videos;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].clips.to_vector(), b[i].clips.to_vector());
    EXPECT_EQ(a[i].videos, b[i].videos);
    for (size_t j = 0; j < a[i].videos.size(); ++j) {
      const int64_t v = a[i].videos[j];
      videos.insert(v);
      EXPECT_EQ(a[i].labels[j], v % 2);  // "run" came first
      // The clip's pixels come from its own video, frames a stride of 2 apart.
      const int first =
          static_cast<int>(std::lround(a[i].clips.at({int64_t(j), 0, 0, 0, 0}) * 255));
      const int second =
          static_cast<int>(std::lround(a[i].clips.at({int64_t(j), 0, 1, 0, 0}) * 255));
      EXPECT_EQ(first % 8, v);
      EXPECT_EQ(second - first, 16);
    }
  }
  EXPECT_EQ(videos.size(), 6u);
}

TEST(FrameLoader, KineticsEvaluationYieldsEveryVideoTimesClips) {
  const std::string root = test_tmp("kinetics_loader");
  write_coded_frames(root + "/rgb_abc_0_10", 9, 12, 10, 0);
  write_coded_frames(root + "/rgb_def_5_15", 9, 12, 10, 1);
  write_coded_frames(root + "/rgb_ghi_2_12", 4, 12, 10, 2);
  write_text(root + "/val.json",
             R"({"rgb_abc_0_10.mp4": 3, "rgb_def_5_15.mp4": 0, "rgb_ghi_2_12.mp4": 3})");
  const FrameDataset data(read_video_list(root + "/val.json", ListFormat::kKinetics),
                          small_clips(root));
  EXPECT_EQ(data.num_classes(), 4);
  DataLoader loader(data, loader_options(2, false));
  std::set<std::pair<int64_t, int>> seen;
  for (const Batch& b : all_batches(loader, 0)) {
    for (size_t j = 0; j < b.videos.size(); ++j) {
      EXPECT_TRUE(seen.insert({b.videos[j], b.clip_indices[j]}).second);
      EXPECT_EQ(b.labels[j], b.videos[j] == 1 ? 0 : 3);
    }
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(FrameLoader, CorruptAndMissingFramesAreReportedOrSkipped) {
  const std::string root = write_hmdb("bad_loader");
  write_text(root + "/clip2/4.png", "garbage");
  std::string plain;
  for (int i = 0; i < 6; ++i)
    plain += "clip" + std::to_string(i) + " 7 " + std::to_string(i % 2) + "\n";
  write_text(root + "/plain.txt", plain);
  std::filesystem::remove(root + "/clip4/7.png");
  const FrameDataset data(read_video_list(root + "/plain.txt", ListFormat::kPlain),
                          small_clips(root));
  LoaderOptions o = loader_options(2, false);
  o.order.clips_per_video = 1;
  {
    DataLoader strict(data, o);
    EXPECT_ERROR_CONTAINS(all_batches(strict, 0), root + "/clip2/4.png");
  }
  o.skip_bad_samples = true;
  DataLoader lenient(data, o);
  std::vector<int64_t> videos;
  for (const Batch& b : all_batches(lenient, 0))
    videos.insert(videos.end(), b.videos.begin(), b.videos.end());
  EXPECT_EQ(videos, (std::vector<int64_t>{0, 1, 3, 5}));
  const std::vector<BadSample> bad = lenient.bad_samples();
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].name, root + "/clip2");
  EXPECT_NE(bad[0].reason.find(root + "/clip2/4.png"), std::string::npos) << bad[0].reason;
  EXPECT_EQ(bad[1].name, root + "/clip4");
  EXPECT_NE(bad[1].reason.find("the list says 7 frames, the directory holds 6"), std::string::npos)
      << bad[1].reason;
}

}  // namespace
}  // namespace repflow
