// Video files as the frame dataset and the loader read them: the same clips as the folder of
// their frames (decoded, written as PNG), the names each list format gives them, the two-field
// plain list, --flip and --decode-size, and bad videos stopping a run or skipped and reported.
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/error.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "tests/video_fixture.h"
#include "training/data/frame_dataset.h"
#include "training/data/loader.h"
#include "training/data/video_source.h"

namespace repflow {
namespace {

// The frames of a full decode of `video`, written losslessly as a frame folder.
void extract_frames(const std::string& video, const std::string& dir, int decode_size = 0) {
  std::filesystem::create_directories(dir);
  const std::vector<Image> frames = decode_all(video, decode_size);
  for (size_t t = 0; t < frames.size(); ++t)
    write_png(dir + "/img_" + std::to_string(t + 1) + ".png", frames[t]);
}

VideoList one_video(const std::string& name, int64_t frames = -1) {
  VideoList list;
  list.videos.push_back({name, 0, frames, {}});
  list.classes = {"only"};
  return list;
}

std::vector<ClipRequest> requests() {
  std::vector<ClipRequest> out;
  for (uint64_t seed = 0; seed < 12; ++seed) out.push_back(ClipRequest::training(seed * 7919 + 1));
  for (int i = 0; i < 3; ++i) out.push_back(ClipRequest::evaluation(i, 3));
  return out;
}

// The round trip: a video and the PNG folder of its decoded frames give bit-identical clips for
// the same requests, whatever the sampling, crop, flip and resize.
TEST(VideoDataset, AVideoAndItsExtractedFramesGiveTheSameClips) {
  const std::string root = fresh_dir("round_trip");
  VideoSpec spec;
  spec.frames = 70;
  spec.gop = 24;
  spec.b_frames = 3;
  spec.width = 80;
  spec.height = 60;
  write_video(root + "/walk.mp4", spec);
  spec.codec = VideoCodec::kMjpeg;
  spec.frames = 20;  // shorter than a clip of 16 frames with stride 2: it loops
  write_video(root + "/short.avi", spec);
  for (const char* name : {"walk.mp4", "short.avi"}) {
    for (const int decode_size : {0, 40}) {
      SCOPED_TRACE(std::string(name) + ", decode size " + std::to_string(decode_size));
      const std::string folder = std::string(name) + ".frames" + std::to_string(decode_size);
      extract_frames(root + "/" + name, root + "/" + folder, decode_size);
      FrameDatasetOptions o;
      o.root = root;
      o.frames = 16;
      o.stride = 2;
      o.resize = 36;
      o.crop = 32;
      o.decode_size = decode_size;
      const FrameDataset video(one_video(name), o);
      const FrameDataset frames(one_video(folder), o);
      EXPECT_EQ(video.video_name(0), root + "/" + name);
      EXPECT_EQ(frames.video_name(0), root + "/" + folder);
      std::set<std::vector<float>> distinct;
      for (const ClipRequest& r : requests()) {
        const Clip a = video.clip(0, r), b = frames.clip(0, r);
        ASSERT_EQ(a.frames.shape(), (Shape{3, 16, 32, 32}));
        ASSERT_EQ(a.frames.to_vector(), b.frames.to_vector())
            << (r.train ? "training seed " + std::to_string(r.seed)
                        : "evaluation clip " + std::to_string(r.clip_index));
        distinct.insert(a.frames.to_vector());
      }
      EXPECT_GT(distinct.size(), 10u);  // the requests cut different clips
    }
  }
}

// Mirrors a (3, T, H, W) clip left-right.
std::vector<float> mirrored(const Tensor& clip) {
  const std::vector<float> v = clip.to_vector();
  std::vector<float> out(v.size());
  const int64_t w = clip.size(3);
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i - i % w + (w - 1 - i % w)];
  return out;
}

TEST(VideoDataset, FlipOffNeverMirrorsAndOnMirrorsAboutHalfTheClips) {
  const std::string root = fresh_dir("flip");
  VideoSpec spec;
  spec.frames = 24;
  write_video(root + "/v.webm", [&] {
    VideoSpec s = spec;
    s.codec = VideoCodec::kVp8;
    return s;
  }());
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 4;
  o.resize = 0;
  o.crop = 32;
  const FrameDataset on(one_video("v.webm"), o);
  o.flip = false;
  const FrameDataset off(one_video("v.webm"), o);
  int flipped = 0;
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    const Tensor a = on.clip(0, ClipRequest::training(seed)).frames;
    const Tensor b = off.clip(0, ClipRequest::training(seed)).frames;
    if (a.to_vector() == b.to_vector()) continue;
    EXPECT_EQ(a.to_vector(), mirrored(b)) << "seed " << seed;
    ++flipped;
  }
  EXPECT_GT(flipped, 8);
  EXPECT_LT(flipped, 24);
}

// ------------------------------------------------------------------------------------------
// Names.

TEST(VideoDataset, HmdbNamesFindTheAviTheKineticsMp4AnyVideoFileOrTheFrameFolder) {
  const std::string root = fresh_dir("names_hmdb");
  VideoSpec spec;
  spec.frames = 12;
  spec.codec = VideoCodec::kMpeg4;
  spec.b_frames = 0;
  write_video(root + "/a.avi", spec);
  spec.codec = VideoCodec::kH264;
  write_video(root + "/rgb_b.mp4", spec);
  write_video(root + "/c.mkv", spec);
  write_coded_frames(root + "/d", 12, 16, 16);
  // Both a file and a folder: the file.
  write_video(root + "/e.avi", [&] {
    VideoSpec s = spec;
    s.codec = VideoCodec::kMjpeg;
    return s;
  }());
  write_coded_frames(root + "/e", 12, 16, 16);
  write_text(root + "/split.txt", "a.avi walk\nb.avi walk\nc.avi run\nd.avi run\ne.avi run\n");
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 4;
  o.resize = 0;
  o.crop = 16;
  const FrameDataset data(read_video_list(root + "/split.txt", ListFormat::kHmdb), o);
  const std::vector<std::string> expected = {"a.avi", "rgb_b.mp4", "c.mkv", "d", "e.avi"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(data.video_name(i), root + "/" + expected[i]);
    EXPECT_EQ(data.clip(i, ClipRequest::evaluation(0, 1)).frames.shape(), (Shape{3, 4, 16, 16}));
  }
  // Found once: a better match appearing later does not change the answer.
  write_video(root + "/d.mp4", spec);
  EXPECT_EQ(data.video_name(3), root + "/d");
}

// A name that exists as given is what it names: infer --video DIR reads DIR, never a DIR.mp4 beside
// it. Only a name not there is looked for as a video file of its stem.
TEST(VideoDataset, ANameThatIsAFolderIsThatFolderNotAVideoFileOfTheSameStem) {
  const std::string root = fresh_dir("names_exact");
  VideoSpec spec;
  spec.frames = 12;
  write_coded_frames(root + "/f", 10, 16, 16);
  write_video(root + "/f.mp4", spec);
  write_video(root + "/g.mp4", spec);
  const VideoSource folder = find_video(root, {"f", 0, -1, {}});
  EXPECT_EQ(folder.kind, VideoSource::Kind::kFolder);
  EXPECT_EQ(folder.path, root + "/f");
  const VideoSource file = find_video(root, {"f.mp4", 0, -1, {}});
  EXPECT_EQ(file.kind, VideoSource::Kind::kFile);
  EXPECT_EQ(file.path, root + "/f.mp4");
  const VideoSource stem = find_video(root, {"g", 0, -1, {}});
  EXPECT_EQ(stem.kind, VideoSource::Kind::kFile);
  EXPECT_EQ(stem.path, root + "/g.mp4");
  // An absolute path, as infer passes --video, with an empty root.
  EXPECT_EQ(find_video("", {root + "/f", 0, -1, {}}).path, root + "/f");
}

TEST(VideoDataset, KineticsKeysNameTheVideoFileOrItsFolder) {
  const std::string root = fresh_dir("names_kinetics");
  VideoSpec spec;
  spec.frames = 10;
  write_video(root + "/rgb_x1_000001_000011.mp4", spec);
  write_coded_frames(root + "/rgb_x2_000003_000013", 10, 16, 16);
  write_text(root + "/paper.json",
             R"({"rgb_x1_000001_000011.mp4": 0, "rgb_x2_000003_000013.mp4": 1})");
  spec.codec = VideoCodec::kVp9;
  write_video(root + "/y1.webm", spec);
  spec.codec = VideoCodec::kH264;
  write_video(root + "/rgb_y2.mp4", spec);
  write_text(root + "/official.json",
             R"({"y1": {"annotations": {"label": "abseiling"}, "subset": "train"},
                 "y2": {"annotations": {"label": "zumba"}, "subset": "train"}})");
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 4;
  o.resize = 0;
  o.crop = 16;
  const FrameDataset paper(read_video_list(root + "/paper.json", ListFormat::kKinetics), o);
  EXPECT_EQ(paper.video_name(0), root + "/rgb_x1_000001_000011.mp4");
  EXPECT_EQ(paper.video_name(1), root + "/rgb_x2_000003_000013");
  const FrameDataset official(read_video_list(root + "/official.json", ListFormat::kKinetics), o);
  EXPECT_EQ(official.video_name(0), root + "/y1.webm");
  EXPECT_EQ(official.video_name(1), root + "/rgb_y2.mp4");
  for (const FrameDataset* d : {&paper, &official})
    for (int i = 0; i < 2; ++i) EXPECT_EQ(d->clip(i, ClipRequest::training(5)).frames.size(1), 4);
}

TEST(VideoDataset, PlainListsNameVideoFilesWithOrWithoutAFrameCount) {
  const std::string root = fresh_dir("names_plain");
  VideoSpec spec;
  spec.frames = 30;
  write_video(root + "/sub dir/clip one.mp4", spec);
  write_text(root + "/list.txt", "sub dir/clip one.mp4 1\nsub dir/clip one.mp4 8 0\n");
  const VideoList list = read_video_list(root + "/list.txt", ListFormat::kPlain);
  ASSERT_EQ(list.videos.size(), 2u);
  EXPECT_EQ(list.videos[0].name, "sub dir/clip one.mp4");
  EXPECT_EQ(list.videos[0].num_frames, -1);
  EXPECT_EQ(list.videos[0].label, 1);
  EXPECT_EQ(list.videos[1].num_frames, 8);
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 30;
  o.resize = 0;
  o.crop = 32;
  const FrameDataset data(list, o);
  // The whole video: frames 0 ... 29 in order; the second entry takes its first 8 and loops.
  const std::vector<Image> all = decode_all(root + "/sub dir/clip one.mp4");
  const Tensor whole = data.clip(0, ClipRequest::evaluation(0, 1)).frames;
  const Tensor first8 = data.clip(1, ClipRequest::evaluation(0, 1)).frames;
  const std::vector<float> a = whole.to_vector(), b = first8.to_vector();
  const int64_t plane = 32 * 32;
  for (int64_t t = 0; t < 30; ++t) {
    // Frame t of `first8` is frame t % 8 of the video, i.e. frame t % 8 of `whole`.
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < plane; i += 97)
        ASSERT_EQ(b[(c * 30 + t) * plane + i], a[(c * 30 + t % 8) * plane + i]) << t;
  }
  EXPECT_NE(a[0], a[5 * plane]);  // frames differ
  // A name without an extension still needs a frame count, as before.
  write_text(root + "/bad.txt", "clip one 3\n");
  EXPECT_ERROR_CONTAINS(read_video_list(root + "/bad.txt", ListFormat::kPlain),
                        root + "/bad.txt:1: expected 'PATH NUM_FRAMES LABEL'");
  write_text(root + "/bad.txt", "a.mp4 -3 1\n");
  EXPECT_ERROR_CONTAINS(read_video_list(root + "/bad.txt", ListFormat::kPlain),
                        "negative frame count -3");
}

// ------------------------------------------------------------------------------------------
// Bad videos.

// Good videos 0, 2, 4, 6 and a bad one in between: zero bytes, audio only, a directory named
// like a video, a list count above the video's, a damaged stream.
std::string write_bad_dataset(const std::string& name) {
  const std::string root = fresh_dir(name);
  VideoSpec spec;
  spec.frames = 40;
  spec.gop = 10;
  spec.width = 96;
  spec.height = 64;
  for (int i = 0; i < 8; i += 2) write_video(root + "/v" + std::to_string(i) + ".mp4", spec);
  std::ofstream(root + "/v1.mp4").close();
  write_audio_only(root + "/v3.mp4");
  std::filesystem::create_directories(root + "/v5.mp4");
  write_video(root + "/v7.mp4", spec);
  damage_file(root + "/v7.mp4", 2000, file_size(root + "/v7.mp4") / 2);
  write_video(root + "/v8.mp4", spec);
  write_text(root + "/list.txt",
             "v0.mp4 0\nv1.mp4 1\nv2.mp4 0\nv3.mp4 1\nv4.mp4 0\nv5.mp4 1\nv6.mp4 0\nv7.mp4 1\n"
             "v8.mp4 100 0\n");
  return root;
}

FrameDatasetOptions bad_options(const std::string& root) {
  FrameDatasetOptions o;
  o.root = root;
  o.frames = 40;
  o.resize = 0;
  o.crop = 32;
  return o;
}

TEST(VideoDataset, BadVideosAreErrorsNamingTheFileAndFfmpegsReason) {
  const std::string root = write_bad_dataset("bad_videos");
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain),
                          bad_options(root));
  const ClipRequest r = ClipRequest::evaluation(0, 1);
  EXPECT_ERROR_CONTAINS(data.clip(1, r), root + "/v1.mp4: an empty file (0 bytes)");
  EXPECT_ERROR_CONTAINS(data.clip(3, r), root + "/v3.mp4: no video stream");
  EXPECT_ERROR_CONTAINS(data.clip(5, r), root + "/v5.mp4: no frames");
  EXPECT_ERROR_CONTAINS(data.clip(5, r), "(a directory named like a video file)");
  EXPECT_ERROR_CONTAINS(data.clip(7, r), root + "/v7.mp4: ");
  EXPECT_ERROR_CONTAINS(data.clip(8, r),
                        root + "/v8.mp4: the list says 100 frames, the video holds 40");
  for (int i : {0, 2, 4, 6}) EXPECT_EQ(data.clip(i, r).frames.size(1), 40);
}

TEST(VideoDataset, TheLoaderStopsAtABadVideoOrSkipsAndReportsEach) {
  const std::string root = write_bad_dataset("bad_loader");
  VideoList list = read_video_list(root + "/list.txt", ListFormat::kPlain);
  list.videos.pop_back();  // v8's count
  const FrameDataset data(list, bad_options(root));
  LoaderOptions o;
  o.order.train = false;
  o.batch_size = 2;
  o.workers = 3;
  {
    DataLoader strict(data, o);
    strict.start_epoch(0);
    Batch batch;  // the first batch would hold v1
    EXPECT_ERROR_CONTAINS(strict.next(&batch), root + "/v1.mp4: an empty file");
  }
  o.skip_bad_samples = true;
  DataLoader skipping(data, o);
  skipping.start_epoch(0);
  std::vector<int64_t> videos;
  for (Batch b; skipping.next(&b);) videos.insert(videos.end(), b.videos.begin(), b.videos.end());
  EXPECT_EQ(videos, (std::vector<int64_t>{0, 2, 4, 6}));
  const std::vector<BadSample> bad = skipping.bad_samples();
  ASSERT_EQ(bad.size(), 4u);
  const std::string names[] = {"v1.mp4", "v3.mp4", "v5.mp4", "v7.mp4"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bad[i].video, 2 * i + 1);
    EXPECT_EQ(bad[i].name, root + "/" + names[i]);
    EXPECT_NE(bad[i].reason.find(root + "/" + names[i]), std::string::npos) << bad[i].reason;
  }
}

TEST(VideoDataset, BatchesFromVideosAreTheSameForAnyWorkerCount) {
  const std::string root = fresh_dir("video_workers");
  std::string list;
  for (int i = 0; i < 6; ++i) {
    VideoSpec spec;
    spec.frames = 30 + 3 * i;
    spec.gop = 12;
    spec.seed = i;
    spec.codec = i % 2 ? VideoCodec::kH264 : VideoCodec::kVp8;
    const std::string name = "v" + std::to_string(i) + (i % 2 ? ".mp4" : ".webm");
    write_video(root + "/" + name, spec);
    list += name + " " + std::to_string(i % 2) + "\n";
  }
  write_text(root + "/list.txt", list);
  FrameDatasetOptions d;
  d.root = root;
  d.frames = 8;
  d.stride = 2;
  d.resize = 40;
  d.crop = 32;
  d.decoder_threads = 2;
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain), d);
  std::vector<std::vector<float>> reference;
  for (int workers : {1, 4}) {
    LoaderOptions o;
    o.order.seed = 11;
    o.batch_size = 4;
    o.workers = workers;
    DataLoader loader(data, o);
    loader.start_epoch(1);
    std::vector<std::vector<float>> got;
    for (Batch b; loader.next(&b);) got.push_back(b.clips.to_vector());
    if (reference.empty()) {
      reference = got;
      ASSERT_EQ(reference.size(), 2u);
    } else {
      EXPECT_EQ(got, reference) << workers << " workers";
    }
  }
}

}  // namespace
}  // namespace repflow
