// training/data/video_file.h on real encoded files (tests/video_fixture.h): frame counts, sizes
// and rates, the exact frames of a full sequential decode after any seeks, decode sizes and
// decoder threads, and an Error naming the file for every kind of bad file.
#include "training/data/video_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

#include "framework/error.h"
#include "tests/test_util.h"
#include "tests/video_fixture.h"
#include "training/data/ffmpeg_log.h"

namespace repflow {
namespace {

struct Case {
  const char* name;  // file name: its extension picks the container
  VideoSpec spec;
};

VideoSpec spec_of(VideoCodec codec, int frames, int gop, int b_frames) {
  VideoSpec s;
  s.codec = codec;
  s.frames = frames;
  s.gop = gop;
  s.b_frames = b_frames;
  return s;
}

// Every container and codec the reader is meant for; keyframes every `gop` frames.
std::vector<Case> cases() {
  return {
      {"h264_long_gop.mp4", spec_of(VideoCodec::kH264, 150, 48, 3)},
      {"h264_one_gop.mp4", spec_of(VideoCodec::kH264, 60, 250, 3)},
      {"h264.mkv", spec_of(VideoCodec::kH264, 90, 30, 2)},
      // FLV's index sizes count the tags' headers: no packet matches its indexed size.
      {"h264.flv", spec_of(VideoCodec::kH264, 75, 25, 2)},
      {"mpeg4_bframes.avi", spec_of(VideoCodec::kMpeg4, 90, 30, 2)},
      {"mpeg4.avi", spec_of(VideoCodec::kMpeg4, 60, 20, 0)},
      {"mjpeg.avi", spec_of(VideoCodec::kMjpeg, 40, 1, 0)},
      {"vp8.webm", spec_of(VideoCodec::kVp8, 60, 25, 0)},
      {"vp9.webm", spec_of(VideoCodec::kVp9, 60, 25, 0)},
  };
}

std::string write_case(const Case& c) {
  const std::string path = test_tmp(c.name);
  write_video(path, c.spec);
  return path;
}

// The frame index written in the picture's top row of blocks (tests/video_fixture.h).
int coded_index(const Image& image) {
  int t = 0;
  for (int bit = 0; bit < 16 && 8 * bit + 4 < image.width; ++bit) {
    const size_t at = (static_cast<size_t>(4) * image.width + 8 * bit + 4) * 3;
    if (image.pixels[at + 1] > 128) t |= 1 << bit;
  }
  return t;
}

bool same(const Image& a, const Image& b) {
  return a.width == b.width && a.height == b.height && a.channels == b.channels &&
         a.pixels == b.pixels;
}

TEST(VideoFile, TheReferenceDecodeGivesEveryFrameInOrder) {
  // The reference itself: a full decode gives the encoded frames in order (their coded index),
  // so comparing with it checks which frame the reader returned.
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<Image> all = decode_all(write_case(c));
    ASSERT_EQ(static_cast<int>(all.size()), c.spec.frames);
    for (int t = 0; t < c.spec.frames; ++t) ASSERT_EQ(coded_index(all[t]), t) << "frame " << t;
  }
}

TEST(VideoFile, ReportsCountSizeRateAndCodec) {
  const std::map<std::string, std::string> codecs = {
      {"h264_long_gop.mp4", "h264"}, {"h264_one_gop.mp4", "h264"},
      {"h264.mkv", "h264"},          {"mpeg4_bframes.avi", "mpeg4"},
      {"mpeg4.avi", "mpeg4"},        {"mjpeg.avi", "mjpeg"},
      {"vp8.webm", "vp8"},           {"vp9.webm", "vp9"},
      {"h264.flv", "h264"}};
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const VideoFile video(write_case(c));
    const VideoInfo& info = video.info();
    EXPECT_EQ(info.frames, c.spec.frames);
    EXPECT_EQ(info.width, c.spec.width);
    EXPECT_EQ(info.height, c.spec.height);
    EXPECT_EQ(info.out_width, c.spec.width);
    EXPECT_EQ(info.out_height, c.spec.height);
    EXPECT_NEAR(info.fps, c.spec.fps, 0.01);
    // libvpx's decoder is FFmpeg's own vp8/vp9 one.
    EXPECT_NE(info.codec.find(codecs.at(c.name)), std::string::npos) << info.codec;
  }
}

TEST(VideoFile, AnyIndexListGivesTheFramesOfASequentialDecode) {
  std::mt19937 rng(12345);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::string path = write_case(c);
    const std::vector<Image> all = decode_all(path);
    const int n = c.spec.frames;
    std::vector<std::vector<int64_t>> lists = {
        {0}, {n - 1}, {0, n - 1}, {n - 1, 0}, {n / 2, n / 2, n / 2 + 1}};
    std::vector<int64_t> every(n), backwards(n);
    for (int i = 0; i < n; ++i) every[i] = i, backwards[i] = n - 1 - i;
    lists.push_back(every);
    lists.push_back(backwards);
    for (int k = 0; k < 25; ++k) {  // random lists: any order, repeats, gaps across keyframes
      std::vector<int64_t> list(1 + rng() % 12);
      for (int64_t& i : list) i = static_cast<int64_t>(rng() % n);
      lists.push_back(list);
    }
    for (int k = 0; k < 10; ++k) {  // clips: every other frame from a random start
      std::vector<int64_t> list;
      const int start = static_cast<int>(rng() % (n - 16));
      for (int t = 0; t < 8; ++t) list.push_back(start + 2 * t);
      lists.push_back(list);
    }
    VideoFile video(path);  // one file for every read, as reads may follow each other
    for (const std::vector<int64_t>& list : lists) {
      const std::vector<Image> got = video.read(list);
      ASSERT_EQ(got.size(), list.size());
      for (size_t i = 0; i < list.size(); ++i)
        ASSERT_TRUE(same(got[i], all[list[i]]))
            << "frame " << list[i] << " (position " << i << " of a list of " << list.size()
            << "); the picture says frame " << coded_index(got[i]);
    }
  }
}

// `spec` at width x height, written to the test's folder as `name`; returns its path.
std::string write_sized(const std::string& name, VideoSpec spec, int width, int height) {
  spec.width = width;
  spec.height = height;
  const std::string path = test_tmp(name);
  write_video(path, spec);
  return path;
}

TEST(VideoFile, DecodeSizeScalesTheShorterSide) {
  const std::string path = write_sized("scaled.mp4", spec_of(VideoCodec::kH264, 40, 12, 2), 96, 64);
  VideoReadOptions options;
  options.decode_size = 32;
  VideoFile video(path, options);
  EXPECT_EQ(video.info().width, 96);
  EXPECT_EQ(video.info().out_width, 48);
  EXPECT_EQ(video.info().out_height, 32);
  const std::vector<Image> all = decode_all(path, 32);
  const std::vector<Image> got = video.read({3, 30, 17});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].width, 48);
  EXPECT_EQ(got[0].height, 32);
  EXPECT_TRUE(same(got[0], all[3]));
  EXPECT_TRUE(same(got[1], all[30]));
  EXPECT_TRUE(same(got[2], all[17]));
  EXPECT_FALSE(same(got[0], got[1]));
}

// Decoding a thin video at a shorter side makes its longer side grow with it: past the pixel
// limit it is refused when the file is opened, naming it, not when the frames fill memory.
TEST(VideoFile, ADecodeSizeLargerThanAFrameMayBeIsRefusedOnOpen) {
  const std::string path = write_sized("thin.avi", spec_of(VideoCodec::kMjpeg, 3, 1, 0), 512, 8);
  VideoReadOptions options;
  options.decode_size = 1024;
  EXPECT_ERROR_CONTAINS(VideoFile(path, options),
                        path +
                            " (--decode-size): frames of 512x8 resized to a shorter side of "
                            "1024 would be 65536x1024, larger than the");
  options.decode_size = 16;
  VideoFile video(path, options);
  EXPECT_EQ(video.info().out_width, 1024);
  EXPECT_EQ(video.read({2})[0].width, 1024);
}

TEST(VideoFile, DecoderThreadsGiveTheSameFrames) {
  for (const Case& c : {cases()[0], cases()[3], cases()[7]}) {
    SCOPED_TRACE(c.name);
    const std::string path = write_case(c);
    const std::vector<Image> all = decode_all(path);
    VideoReadOptions options;
    options.threads = 4;
    VideoFile video(path, options);
    const std::vector<int64_t> list = {5, 7, 9, 40, 41, 42, 2, 59};
    const std::vector<Image> got = video.read(list);
    for (size_t i = 0; i < list.size(); ++i)
      EXPECT_TRUE(same(got[i], all[list[i]])) << "frame " << list[i];
  }
  EXPECT_GE(decoder_threads_per_worker(1), 1);
  EXPECT_EQ(decoder_threads_per_worker(100000), 1);
}

// ------------------------------------------------------------------------------------------
// Bad files: an Error naming the file and saying why, never a crash or a hang.

TEST(VideoFile, MissingEmptyDirectoryAndNonVideoFilesAreErrors) {
  const std::string dir = fresh_dir("bad_files");
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/missing.mp4"), dir + "/missing.mp4: cannot open");
  std::ofstream(dir + "/empty.mp4").close();
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/empty.mp4"), dir + "/empty.mp4: an empty file");
  std::filesystem::create_directories(dir + "/x.mp4");
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/x.mp4"), dir + "/x.mp4: a directory, not a video");
  std::ofstream(dir + "/text.mp4") << "these are not the frames you are looking for\n";
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/text.mp4"),
                        dir + "/text.mp4: cannot open as a video: Invalid data");
}

TEST(VideoFile, AudioOnlyAndUnknownCodecsAreErrors) {
  const std::string dir = fresh_dir("bad_streams");
  write_audio_only(dir + "/audio.mp4");
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/audio.mp4"),
                        dir + "/audio.mp4: no video stream (1 stream(s): audio)");
  VideoSpec spec = spec_of(VideoCodec::kMjpeg, 5, 1, 0);
  write_video(dir + "/unknown.avi", spec);
  ASSERT_GE(patch_file(dir + "/unknown.avi", "MJPG", "QQQQ"), 1);
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/unknown.avi"),
                        dir + "/unknown.avi: unsupported video codec 'none' (fourcc 'QQQQ')");
}

TEST(VideoFile, AHeaderClaimingHugeFramesIsRefusedBeforeDecoding) {
  const std::string dir = fresh_dir("huge");
  VideoSpec spec = spec_of(VideoCodec::kMjpeg, 3, 1, 0);
  write_video(dir + "/huge.avi", spec);
  // The AVI headers' width and height (64, 48 as little-endian 32-bit words) become 100000.
  ASSERT_GE(patch_file(dir + "/huge.avi", std::string("\x40\0\0\0\x30\0\0\0", 8),
                       std::string("\xa0\x86\x01\0\xa0\x86\x01\0", 8)),
            1);
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/huge.avi"),
                        dir + "/huge.avi: frames of 100000x100000 are larger than the");
}

// A frame within kMaxVideoPixels can still need one buffer of 265 MB (8K at 16-bit RGBA), which
// a few kilobytes of a hostile file can claim: FFmpeg's single allocations are bounded.
TEST(VideoFile, FFmpegAllocationsAreBoundedOnceAVideoIsOpened) {
  const std::string path = test_tmp("bounded.avi");
  write_video(path, spec_of(VideoCodec::kMjpeg, 2, 1, 0));
  VideoFile video(path);
  void* small = av_malloc(kMaxVideoAllocationBytes);
  EXPECT_NE(small, nullptr);
  av_free(small);
  EXPECT_EQ(av_malloc(kMaxVideoAllocationBytes + 1), nullptr);
  EXPECT_EQ(av_realloc(nullptr, kMaxVideoAllocationBytes + 1), nullptr);
}

TEST(VideoFile, AFileCutShortBeforeItsIndexIsAnError) {
  const std::string dir = fresh_dir("cut");
  write_video(dir + "/whole.mp4", spec_of(VideoCodec::kH264, 60, 20, 2));  // index at the end
  truncate_copy(dir + "/whole.mp4", dir + "/cut.mp4", file_size(dir + "/whole.mp4") / 2);
  EXPECT_ERROR_CONTAINS(VideoFile(dir + "/cut.mp4"), dir + "/cut.mp4: cannot open as a video");
}

TEST(VideoFile, AFileCutShortAfterItsIndexHasTheFramesItHolds) {
  // The header still claims 60 frames; the scan finds those the file holds, and every one of
  // them reads as a sequential decode of the cut file gives it.
  const std::string dir = fresh_dir("cut_faststart");
  VideoSpec spec = spec_of(VideoCodec::kH264, 60, 20, 2);
  spec.faststart = true;
  write_video(dir + "/whole.mp4", spec);
  truncate_copy(dir + "/whole.mp4", dir + "/cut.mp4", file_size(dir + "/whole.mp4") * 6 / 10);
  VideoFile video(dir + "/cut.mp4");
  EXPECT_EQ(video.info().header_frames, 60);
  const int64_t count = video.info().frames;
  EXPECT_GT(count, 5);
  EXPECT_LT(count, 60);
  const std::vector<Image> all = decode_all(dir + "/cut.mp4");
  ASSERT_GE(static_cast<int64_t>(all.size()), count);
  const std::vector<Image> got = video.read({count - 1, 0, count / 2});
  EXPECT_TRUE(same(got[0], all[count - 1]));
  EXPECT_TRUE(same(got[1], all[0]));
  EXPECT_TRUE(same(got[2], all[count / 2]));
  EXPECT_ERROR_CONTAINS(video.read({count}), "frame " + std::to_string(count) +
                                                 " is outside the video's " +
                                                 std::to_string(count) + " frames");
  EXPECT_ERROR_CONTAINS(video.read({-1}), "frame -1 is outside");
}

TEST(VideoFile, ACorruptStreamIsAnErrorWhereItIsRead) {
  const std::string dir = fresh_dir("corrupt");
  VideoSpec spec = spec_of(VideoCodec::kH264, 120, 30, 2);
  spec.width = 128;
  spec.height = 96;
  write_video(dir + "/corrupt.mp4", spec);  // data first, index at the end
  const int64_t size = file_size(dir + "/corrupt.mp4");
  damage_file(dir + "/corrupt.mp4", size * 2 / 5, size / 10);
  VideoFile video(dir + "/corrupt.mp4");
  EXPECT_EQ(video.info().frames, 120);  // the container is intact
  std::vector<int64_t> every(120);
  for (int i = 0; i < 120; ++i) every[i] = i;
  EXPECT_ERROR_CONTAINS(video.read(every), dir + "/corrupt.mp4: ");
  // The first GOP lies before the damage and still reads.
  const std::vector<Image> first = video.read({0, 5});
  EXPECT_EQ(coded_index(first[1]), 5);
}

// An H.264 stream whose frames change size part way (two streams of different sizes one after
// the other, as a cut-together recording gives): the frames before the change read, and a frame
// after it is an Error naming it and both sizes, not a picture squeezed into the first size.
TEST(VideoFile, AFrameSizeThatChangesMidStreamIsAnErrorWhereItIsRead) {
  const std::string dir = fresh_dir("size_change");
  VideoSpec wide = spec_of(VideoCodec::kH264, 30, 10, 0), tall = wide;
  tall.width = 48;
  tall.height = 64;
  write_video(dir + "/wide.h264", wide);
  write_video(dir + "/tall.h264", tall);
  write_text(dir + "/both.h264", read_text(dir + "/wide.h264") + read_text(dir + "/tall.h264"));
  VideoFile video(dir + "/both.h264");
  EXPECT_EQ(video.info().width, 64);
  EXPECT_EQ(video.info().frames, 60);
  EXPECT_EQ(coded_index(video.read({12})[0]), 12);
  EXPECT_ERROR_CONTAINS(video.read({45}), dir +
                                              "/both.h264: frame 30 is 48x64 but the stream's "
                                              "frames are 64x48");
}

// FFmpeg's first error since the operation began leads the quote: a decoder logs the cause,
// then its consequence.
TEST(FFmpegLog, TheFirstErrorLeadsAndTheLastFollows) {
  quiet_ffmpeg_log();
  clear_ffmpeg_log();
  const std::string invalid = "Invalid data found when processing input";
  EXPECT_EQ(ffmpeg_reason(AVERROR_INVALIDDATA), invalid);
  av_log(nullptr, AV_LOG_WARNING, "a warning\n");
  EXPECT_EQ(ffmpeg_reason(AVERROR_INVALIDDATA), invalid + " (a warning)");
  av_log(nullptr, AV_LOG_ERROR, "the cause\n");
  EXPECT_EQ(ffmpeg_reason(AVERROR_INVALIDDATA), invalid + " (the cause)");
  av_log(nullptr, AV_LOG_ERROR, "its consequence\n");
  EXPECT_EQ(ffmpeg_reason(AVERROR_INVALIDDATA), invalid + " (the cause; last: its consequence)");
  av_log(nullptr, AV_LOG_DEBUG, "not kept\n");
  clear_ffmpeg_log();
  EXPECT_EQ(ffmpeg_reason(AVERROR_INVALIDDATA), invalid);
}

}  // namespace
}  // namespace repflow
