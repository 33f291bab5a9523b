#include "training/data/frame_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "framework/error.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// Frames of 16 x 12 whose pixels encode (frame, x, y): see write_coded_frames.
constexpr int kWidth = 16, kHeight = 12;

FrameDatasetOptions raw_options(const std::string& root, int64_t frames, int64_t stride) {
  FrameDatasetOptions o;
  o.root = root;
  o.frames = frames;
  o.stride = stride;
  o.resize = 0;
  o.crop = 8;
  o.norm = {{0, 0, 0}, {1, 1, 1}};  // values are pixel / 255
  return o;
}

int code(const Tensor& clip, int c, int64_t t, int64_t y, int64_t x) {
  return static_cast<int>(std::lround(clip.at({c, t, y, x}) * 255.0f));
}

// Which frame each time step of a clip came from.
std::vector<int64_t> frames_of(const Tensor& clip) {
  std::vector<int64_t> out;
  for (int64_t t = 0; t < clip.size(1); ++t) out.push_back(code(clip, 0, t, 0, 0) / 8);
  return out;
}

// Video "long" has 10 frames, "short" 3; the plain list says so.
FrameDataset make_dataset(const std::string& name, int64_t frames, int64_t stride) {
  const std::string root = test_tmp(name);
  write_coded_frames(root + "/long", 10, kWidth, kHeight);
  write_coded_frames(root + "/short", 3, kWidth, kHeight);
  write_text(root + "/list.txt", "long 10 1\nshort 3 0\n");
  return FrameDataset(read_video_list(root + "/list.txt", ListFormat::kPlain),
                      raw_options(root, frames, stride));
}

TEST(FrameDataset, EvaluationClipsAreEvenlySpacedAndCentreCropped) {
  const FrameDataset data = make_dataset("eval", 4, 2);
  EXPECT_EQ(data.size(), 2);
  EXPECT_EQ(data.num_classes(), 2);
  EXPECT_EQ(data.video_name(0), test_tmp("eval") + "/long");
  // 10 frames, a clip spans 7: offsets 0 ... 3 are possible; 3 clips take the middles of three
  // equal parts of them.
  const std::vector<std::vector<int64_t>> expected = {{0, 2, 4, 6}, {2, 4, 6, 8}, {3, 5, 7, 9}};
  for (int i = 0; i < 3; ++i) {
    const Clip clip = data.clip(0, ClipRequest::evaluation(i, 3));
    EXPECT_EQ(clip.frames.shape(), (Shape{3, 4, 8, 8}));
    EXPECT_EQ(clip.label, 1);
    EXPECT_EQ(frames_of(clip.frames), expected[i]) << "clip " << i;
    // Centre crop: 8 of 16 columns from column 4, 8 of 12 rows from row 2, not mirrored.
    EXPECT_EQ(code(clip.frames, 1, 0, 0, 0), 4 * 4);
    EXPECT_EQ(code(clip.frames, 1, 0, 0, 7), 4 * 11);
    EXPECT_EQ(code(clip.frames, 2, 3, 0, 0), 4 * 2);
    EXPECT_EQ(code(clip.frames, 2, 3, 7, 0), 4 * 9);
  }
  // One clip: the middle offset.
  EXPECT_EQ(frames_of(data.clip(0, ClipRequest::evaluation(0, 1)).frames),
            (std::vector<int64_t>{2, 4, 6, 8}));
  // A 3-frame video loops: 0, 2, then 4 and 6 wrap to 1 and 0.
  EXPECT_EQ(frames_of(data.clip(1, ClipRequest::evaluation(0, 1)).frames),
            (std::vector<int64_t>{0, 2, 1, 0}));
}

TEST(FrameDataset, TrainingDrawsOffsetCropAndFlipFromTheSeed) {
  const FrameDataset data = make_dataset("train", 3, 3);
  std::set<int64_t> offsets, columns, rows;
  int flipped = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    ClipRequest r;
    r.seed = seed;
    const Clip clip = data.clip(0, r);
    const std::vector<int64_t> f = frames_of(clip.frames);
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[1] - f[0], 3);
    EXPECT_EQ(f[2] - f[1], 3);
    offsets.insert(f[0]);
    const int left = code(clip.frames, 1, 0, 0, 0) / 4, right = code(clip.frames, 1, 0, 0, 7) / 4;
    const bool flip = left > right;
    flipped += flip;
    EXPECT_EQ(std::abs(right - left), 7);
    columns.insert(std::min(left, right));
    rows.insert(code(clip.frames, 2, 0, 0, 0) / 4);
    EXPECT_EQ(data.clip(0, r).frames.to_vector(), clip.frames.to_vector());
  }
  // Every offset 0 ... 3, crop column 0 ... 8 and row 0 ... 4 occurs, and both flips.
  EXPECT_EQ(offsets, (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(columns.size(), 9u);
  EXPECT_EQ(*columns.rbegin(), 8);
  EXPECT_EQ(rows.size(), 5u);
  EXPECT_GT(flipped, 60);
  EXPECT_LT(flipped, 140);
}

TEST(FrameDataset, ResizeKeepsTheAspectRatio) {
  const std::string root = test_tmp("resize");
  write_coded_frames(root + "/v", 2, kWidth, kHeight);
  write_text(root + "/list.txt", "v.avi jump\n");
  FrameDatasetOptions o = raw_options(root, 2, 1);
  o.resize = 6;
  o.crop = 0;
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kHmdb), o);
  EXPECT_EQ(data.clip(0, ClipRequest::evaluation(0, 1)).frames.shape(), (Shape{3, 2, 6, 8}));
}

TEST(FrameDataset, BadVideosAreErrorsNamingTheFile) {
  const std::string root = test_tmp("bad");
  write_coded_frames(root + "/ok", 10, kWidth, kHeight);
  write_coded_frames(root + "/corrupt", 5, kWidth, kHeight);
  write_text(root + "/corrupt/3.png", "not a png");
  write_text(root + "/list.txt", "ok 10 0\nok 12 0\ngone 4 1\ncorrupt 5 1\nok 0 0\n");
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain),
                          raw_options(root, 5, 1));
  EXPECT_NO_THROW(data.clip(0, ClipRequest::evaluation(0, 1)));
  EXPECT_ERROR_CONTAINS(data.clip(1, ClipRequest::evaluation(0, 1)),
                        root + "/ok: the list says 12 frames, the directory holds 10");
  EXPECT_ERROR_CONTAINS(data.clip(2, ClipRequest::evaluation(0, 1)),
                        root + "/gone: not a directory");
  EXPECT_ERROR_CONTAINS(data.clip(3, ClipRequest::evaluation(0, 1)), root + "/corrupt/3.png");
  EXPECT_ERROR_CONTAINS(data.clip(4, ClipRequest::evaluation(0, 1)),
                        root + "/ok: the list gives the video no frames");
  FrameDatasetOptions o = raw_options(root, 0, 1);
  EXPECT_ERROR_CONTAINS(FrameDataset(VideoList{}, o), "0 frames per clip is not a positive count");
  o = raw_options(root, 4, 0);
  EXPECT_ERROR_CONTAINS(FrameDataset(VideoList{}, o), "frame stride 0 is not a positive count");
}

}  // namespace
}  // namespace repflow
