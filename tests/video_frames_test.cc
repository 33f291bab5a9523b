// Frame directories into clips: listing order, sampling, resize, crop, flip, normalisation and
// the errors for bad frames, against values worked out here pixel by pixel.
#include "training/data/video_frames.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/image_io.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string dir = test_tmp(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// An RGB image whose channel c at (x, y) is value(x, y, c).
Image make_image(int w, int h, const std::function<int(int, int, int)>& value) {
  Image im{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) im.pixels[(y * w + x) * 3 + c] = value(x, y, c);
  return im;
}

// Distinct in every pixel and channel, so a misplaced crop or flip cannot go unnoticed.
int ramp(int x, int y, int c) { return (x * 7 + y * 13 + c * 50) % 256; }

FrameTransform raw() {
  FrameTransform t;
  t.norm = {{0, 0, 0}, {1.0f / 255, 1.0f / 255, 1.0f / 255}};  // values stay 0..255
  return t;
}

float at(const Tensor& clip, int64_t c, int64_t t, int64_t y, int64_t x) {
  return clip.at({c, t, y, x});
}

TEST(ListFrames, NaturalOrderAndOnlyImages) {
  const std::string dir = fresh_dir("list");
  const Image im = make_image(2, 2, ramp);
  for (const char* name : {"frame_10.png", "frame_2.png", "frame_1.png", "frame_002b.png"})
    write_png(dir + "/" + name, im);
  fs::copy_file(dir + "/frame_1.png", dir + "/a.JPG");  // the extension decides, in any case
  std::ofstream(dir + "/notes.txt") << "x";
  std::ofstream(dir + "/.hidden.png") << "x";
  fs::create_directories(dir + "/sub.png");
  const std::vector<std::string> got = list_frames(dir);
  const std::vector<std::string> want = {"a.JPG", "frame_1.png", "frame_2.png", "frame_002b.png",
                                         "frame_10.png"};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], dir + "/" + want[i]);
}

TEST(ListFrames, MissingOrEmptyDirectoryNamesIt) {
  const std::string missing = test_tmp("no_such_video");
  EXPECT_ERROR_CONTAINS(list_frames(missing), missing);
  const std::string empty = fresh_dir("empty_video");
  std::ofstream(empty + "/readme.txt") << "x";
  EXPECT_ERROR_CONTAINS(list_frames(empty), empty + ": no frames");
  // In a frame's place, a broken link or a FIFO is a missing frame, not one to leave out.
  const std::string broken = fresh_dir("broken_frame");
  write_png(broken + "/frame_1.png", make_image(2, 2, ramp));
  fs::create_symlink(broken + "/gone.png", broken + "/frame_2.png");
  EXPECT_ERROR_CONTAINS(list_frames(broken), broken +
                                                 "/frame_2.png: named as a frame but not a "
                                                 "regular file");
  fs::remove(broken + "/frame_2.png");
  ASSERT_EQ(mkfifo((broken + "/frame_3.png").c_str(), 0600), 0);
  EXPECT_ERROR_CONTAINS(list_frames(broken), broken + "/frame_3.png: named as a frame");
}

TEST(EvenlySpacedFrames, MiddleOfEqualSpansAndLoopingWhenShort) {
  EXPECT_EQ(evenly_spaced_frames(10, 5), (std::vector<int64_t>{1, 3, 5, 7, 9}));
  EXPECT_EQ(evenly_spaced_frames(4, 4), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(evenly_spaced_frames(100, 1), (std::vector<int64_t>{50}));
  EXPECT_EQ(evenly_spaced_frames(3, 7), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_ERROR_CONTAINS(evenly_spaced_frames(0, 4), "at least one frame");
}

TEST(ReadFrames, ConstantColourNormalisesToTheFormula) {
  const std::string dir = fresh_dir("constant");
  const int rgb[3] = {200, 100, 30};
  write_png(dir + "/0.png", make_image(5, 4, [&](int, int, int c) { return rgb[c]; }));
  for (const Normalisation& norm : {imagenet_normalisation(), paper_normalisation()}) {
    FrameTransform t;
    t.norm = norm;
    const Tensor clip = read_frames({dir + "/0.png", dir + "/0.png"}, t);
    ASSERT_EQ(clip.shape(), (Shape{3, 2, 4, 5}));
    const std::vector<float> v = clip.to_vector();
    for (int c = 0; c < 3; ++c) {
      const double want = (rgb[c] / 255.0 - norm.mean[c]) / norm.std[c];
      for (int i = 0; i < 2 * 4 * 5; ++i) ASSERT_NEAR(v[c * 40 + i], want, 1e-5) << c;
    }
  }
  // The published code's 1 - 2 p / 255.
  FrameTransform t;
  t.norm = paper_normalisation();
  EXPECT_NEAR(read_frames({dir + "/0.png"}, t).at({2, 0, 0, 0}), 1 - 2 * 30 / 255.0, 1e-6);
}

TEST(ReadFrames, FramesGoToTheirTimeStepInOrder) {
  const std::string dir = fresh_dir("order");
  for (int f = 0; f < 3; ++f)
    write_png(dir + "/" + std::to_string(f) + ".png",
              make_image(3, 2, [&](int x, int y, int c) { return 10 * f + ramp(x, y, c); }));
  const Tensor clip = read_frames({dir + "/2.png", dir + "/0.png", dir + "/2.png"}, raw());
  ASSERT_EQ(clip.shape(), (Shape{3, 3, 2, 3}));
  const int frame_of[3] = {2, 0, 2};
  for (int t = 0; t < 3; ++t)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x)
          EXPECT_NEAR(at(clip, c, t, y, x), 10 * frame_of[t] + ramp(x, y, c), 1e-3);
}

TEST(ReadFrames, CropPositionsPickTheRightPixels) {
  const std::string dir = fresh_dir("crop");
  const std::string path = dir + "/f.png";
  write_png(path, make_image(9, 6, ramp));  // room: 9 - 4 = 5 columns, 6 - 4 = 2 rows
  struct Case {
    float fx, fy;
    int x0, y0;
  };
  // left = min(room, floor(f * (room + 1)))
  for (const Case& k : {Case{0.5f, 0.5f, 3, 1}, Case{0, 0, 0, 0}, Case{1, 1, 5, 2},
                        Case{0.99f, 0.2f, 5, 0}, Case{0.34f, 0.67f, 2, 2}}) {
    FrameTransform t = raw();
    t.crop = 4;
    t.position = {k.fx, k.fy};
    const Tensor clip = read_frames({path}, t);
    ASSERT_EQ(clip.shape(), (Shape{3, 1, 4, 4}));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
          ASSERT_NEAR(at(clip, c, 0, y, x), ramp(k.x0 + x, k.y0 + y, c), 1e-3)
              << k.fx << "," << k.fy << " at " << x << "," << y;
  }
}

TEST(ReadFrames, FlipMirrorsTheCrop) {
  const std::string dir = fresh_dir("flip");
  const std::string path = dir + "/f.png";
  write_png(path, make_image(7, 5, ramp));
  FrameTransform t = raw();
  t.crop = 3;
  t.position = {0, 1};  // columns 0..2, rows 2..4
  t.flip = true;
  const Tensor clip = read_frames({path}, t);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) EXPECT_NEAR(at(clip, c, 0, y, x), ramp(2 - x, 2 + y, c), 1e-3);
}

TEST(ReadFrames, DownsizingAnUpscaledCheckerboardGivesItBack) {
  // Each cell of a 2x-upscaled checkerboard is a 2x2 block; halving samples between the two
  // pixels of one block, so the original board comes back exactly.
  const std::string dir = fresh_dir("checker");
  const int w = 6, h = 4;
  const auto board = [](int x, int y, int c) { return (x + y) % 2 ? 40 + c : 220 - c; };
  write_png(dir + "/big.png",
            make_image(2 * w, 2 * h, [&](int x, int y, int c) { return board(x / 2, y / 2, c); }));
  FrameTransform t = raw();
  t.resize = h;  // the shorter side, 8 -> 4; the longer follows, 12 -> 6
  const Tensor clip = read_frames({dir + "/big.png"}, t);
  ASSERT_EQ(clip.shape(), (Shape{3, 1, h, w}));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) EXPECT_NEAR(at(clip, c, 0, y, x), board(x, y, c), 1e-3);
}

TEST(ReadFrames, UpscalingInterpolatesBetweenPixelCentres) {
  // A horizontal 0/90/180/... ramp of width 4 doubled: output column j samples source
  // s = (j + 0.5) / 2 - 0.5, clamped to [0, 3].
  const std::string dir = fresh_dir("upscale");
  write_png(dir + "/f.png",
            make_image(4, 3, [](int x, int y, int c) { return 90 * x / 2 + y + c; }));
  FrameTransform t = raw();
  t.resize = 6;  // 3 -> 6 rows, 4 -> 8 columns
  const Tensor clip = read_frames({dir + "/f.png"}, t);
  ASSERT_EQ(clip.shape(), (Shape{3, 1, 6, 8}));
  const auto source = [](int j, int n) { return std::clamp((j + 0.5) / 2 - 0.5, 0.0, n - 1.0); };
  const auto lerp = [](const std::function<double(int)>& f, double s) {
    const int i = static_cast<int>(s);
    return f(i) + (s - i) * (f(std::min(i + 1, 3)) - f(i));
  };
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 8; ++x) {
        // The image is a sum of a function of x and one of y, so bilinear is separable here.
        const double want =
            lerp([](int i) { return 90.0 * i / 2; }, source(x, 4)) + source(y, 3) + c;
        EXPECT_NEAR(at(clip, c, 0, y, x), want, 1e-3) << x << "," << y;
      }
}

TEST(ReadFrames, ResizeKeepsAspectOfTheLongerSide) {
  const std::string dir = fresh_dir("aspect");
  write_png(dir + "/wide.png", make_image(30, 20, ramp));
  write_png(dir + "/tall.png", make_image(7, 11, ramp));
  FrameTransform t = raw();
  t.resize = 8;
  EXPECT_EQ(read_frames({dir + "/wide.png"}, t).shape(), (Shape{3, 1, 8, 12}));
  EXPECT_EQ(read_frames({dir + "/tall.png"}, t).shape(), (Shape{3, 1, 13, 8}));  // 12.57 -> 13
}

// A thin frame's longer side grows with the shorter one: a resized size over the pixel limit is
// refused naming the file (1000 x 2 at a shorter side of 7680 would be 3840000 x 7680, an int
// overflow before), and one within it is resized as asked.
TEST(ReadFrames, AResizeLargerThanAFrameMayBeIsAnErrorNamingTheFile) {
  const std::string dir = fresh_dir("thin");
  write_png(dir + "/thin.png", make_image(1000, 2, ramp));
  FrameTransform t = raw();
  t.resize = 7680;
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/thin.png"}, t),
                        dir +
                            "/thin.png: frames of 1000x2 resized to a shorter side of 7680 would "
                            "be 3840000x7680, larger than the 33177600 pixels");
  t.resize = 8;
  EXPECT_EQ(read_frames({dir + "/thin.png"}, t).shape(), (Shape{3, 1, 8, 4000}));
  EXPECT_EQ(resized_size(1000, 2, 8, "x"), (std::array<int, 2>{4000, 8}));
  EXPECT_EQ(resized_size(2, 1000, 8, "x"), (std::array<int, 2>{8, 4000}));
  EXPECT_ERROR_CONTAINS(resized_size(33177600, 1, 7680, "x"), "x: frames of 33177600x1 resized");
}

TEST(ReadFrames, GreyFramesBecomeThreeEqualChannels) {
  const std::string dir = fresh_dir("grey");
  Image grey{4, 3, 1, std::vector<uint8_t>(12)};
  for (int i = 0; i < 12; ++i) grey.pixels[i] = 20 * i;
  write_png(dir + "/g.png", grey);
  const Tensor clip = read_frames({dir + "/g.png"}, raw());
  ASSERT_EQ(clip.shape(), (Shape{3, 1, 3, 4}));
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 12; ++i) EXPECT_NEAR(at(clip, c, 0, i / 4, i % 4), 20 * i, 1e-3);
}

TEST(ReadFrames, BadFramesNameTheFile) {
  const std::string dir = fresh_dir("bad");
  write_png(dir + "/0.png", make_image(8, 6, ramp));
  write_png(dir + "/1.png", make_image(6, 8, ramp));
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/0.png", dir + "/1.png"}, raw()), dir + "/1.png");
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/0.png", dir + "/missing.png"}, raw()),
                        dir + "/missing.png");
  // A PNG cut in half.
  std::ifstream in(dir + "/0.png", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/0.png", dir + "/cut.png"}, raw()), dir + "/cut.png");
  std::ofstream(dir + "/text.jpg") << "not an image";
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/text.jpg"}, raw()), dir + "/text.jpg");
  FrameTransform t = raw();
  t.crop = 7;
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/0.png"}, t), dir + "/0.png: a 7x7 crop");
  t.crop = 4;
  t.position = {1.5f, 0};
  EXPECT_ERROR_CONTAINS(read_frames({dir + "/0.png"}, t), "crop position 1.5");
  EXPECT_ERROR_CONTAINS(read_frames({}, raw()), "no frames");
}

}  // namespace
}  // namespace repflow
