// The user-facing binaries end to end: exit codes, messages and outputs
// (../shared/notes/conventions.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "framework/generator.h"
#include "framework/image_io.h"
#include "framework/tensor.h"
#include "tests/test_util.h"
#include "tools/flow_colour.h"

namespace {

std::string g_flow, g_check_fixture, g_bench_model, g_bench_loader;

// A smooth random texture, and the same texture moved by (dx, dy) pixels (wrapping around).
void write_pair(const std::string& a, const std::string& b, int dx, int dy) {
  const int w = 64, h = 48;
  repflow::Generator gen(3);
  const std::vector<float> noise = repflow::Tensor::uniform({h, w}, 0, 1, gen).to_vector();
  std::vector<float> smooth(w * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float s = 0;
      for (int j = -2; j <= 2; ++j)
        for (int i = -2; i <= 2; ++i) s += noise[((y + j + h) % h) * w + (x + i + w) % w];
      smooth[y * w + x] = s / 25;
    }
  float lo = 1e9, hi = -1e9;
  for (float v : smooth) lo = std::min(lo, v), hi = std::max(hi, v);
  repflow::Image ia{w, h, 1, std::vector<uint8_t>(w * h)}, ib = ia;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto level = [&](int sx, int sy) {
        return static_cast<uint8_t>(255 * (smooth[((sy + h) % h) * w + (sx + w) % w] - lo) /
                                    (hi - lo));
      };
      ia.pixels[y * w + x] = level(x, y);
      ib.pixels[y * w + x] = level(x - dx, y - dy);
    }
  repflow::write_png(a, ia);
  repflow::write_png(b, ib);
}

double field(const std::string& out, const std::string& key) {
  const size_t at = out.find(key + "=");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? 0 : std::stod(out.substr(at + key.size() + 1));
}

TEST(FlowTool, RightwardMotionGivesPositiveMeanX) {
  const std::string a = test_tmp("a.png"), b = test_tmp("b.png"), out = test_tmp("flow.png");
  write_pair(a, b, 1, 0);
  for (const char* mode : {"paper", "reference"}) {
    SCOPED_TRACE(mode);
    std::remove(out.c_str());
    const CommandResult r =
        run_command(g_flow + " " + a + " " + b + " --out " + out + " --mode " + mode);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_GT(field(r.output, "mean_flow_x"), 0.2) << r.output;
    EXPECT_LT(std::fabs(field(r.output, "mean_flow_y")), 0.1) << r.output;
    // The legend widens the canvas to the right of the 64x48 flow.
    const repflow::Image image = repflow::read_image(out);
    EXPECT_GT(image.width, 64);
    EXPECT_EQ(image.height, 48);
  }
}

TEST(FlowTool, DownwardMotionGivesPositiveMeanY) {
  const std::string a = test_tmp("c.png"), b = test_tmp("d.png"), out = test_tmp("flow2.png");
  write_pair(a, b, 0, 1);
  const CommandResult r = run_command(g_flow + " " + a + " " + b + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(field(r.output, "mean_flow_y"), 0.2) << r.output;
  EXPECT_LT(std::fabs(field(r.output, "mean_flow_x")), 0.1) << r.output;
}

TEST(FlowTool, Tvl1RecoversAShiftTheLayerAloneCannot) {
  const std::string a = test_tmp("e.png"), b = test_tmp("f.png"), out = test_tmp("flow3.png");
  write_pair(a, b, 5, -3);
  const CommandResult r =
      run_command(g_flow + " " + a + " " + b + " --out " + out + " --method tvl1 --legend false");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("TV-L1, 3 levels, 5 warps, 30 iterations per warp"), std::string::npos)
      << r.output;
  // The pair wraps around, so the content crossing the border (a band of 5 and of 3 px) has no
  // match in the frame: the mean over the frame stays near the shift.
  EXPECT_NEAR(field(r.output, "mean_flow_x"), 5, 0.5) << r.output;
  EXPECT_NEAR(field(r.output, "mean_flow_y"), -3, 0.5) << r.output;
  EXPECT_EQ(repflow::read_image(out).width, 64);
  const CommandResult layer = run_command(g_flow + " " + a + " " + b + " --out " + out);
  ASSERT_EQ(layer.status, 0) << layer.output;
  EXPECT_LT(field(layer.output, "mean_flow_x"), 2.5) << layer.output;
}

TEST(FlowTool, BadInputIsExitTwoWithAMessage) {
  const CommandResult missing =
      run_command(g_flow + " /nonexistent/a.png /nonexistent/b.png --out " + test_tmp("x.png"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("/nonexistent/a.png: cannot open file"), std::string::npos)
      << missing.output;
  const CommandResult no_out = run_command(g_flow + " a.png b.png");
  EXPECT_EQ(no_out.status, 2);
  EXPECT_NE(no_out.output.find("--out is required"), std::string::npos) << no_out.output;
  const CommandResult bad_flag = run_command(g_flow + " --iters=zero a b --out c");
  EXPECT_EQ(bad_flag.status, 2);
  EXPECT_NE(bad_flag.output.find("flag --iters: 'zero' is not an integer"), std::string::npos);
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--method lk", "flag --method: 'lk' is not layer or tvl1"},
           {"--method tvl1 --scale-step 1", "flag --scale-step: 1 is not between 0 and 1"},
           {"--method tvl1 --warps 0", "flag --warps: 0 is not 1 to 1000"},
           {"--method tvl1 --warp-iters 0", "flag --warp-iters: 0 is not 1 to 100000"},
           {"--method tvl1 --scales 99", "flag --scales: 99 is not 1 to 16"},
           {"--method tvl1 --iters abc", "flow: flag --iters is for --method layer, not tvl1"},
           {"--method tvl1 --mode reference", "flow: flag --mode is for --method layer"},
           {"--warp-iters abc", "flow: flag --warp-iters is for --method tvl1, not layer"},
           {"--method layer --scales 3", "flow: flag --scales is for --method tvl1"}}) {
    const CommandResult r = run_command(g_flow + " " + flag + " a b --out c");
    EXPECT_EQ(r.status, 2) << flag;
    EXPECT_NE(r.output.find(message), std::string::npos) << flag << ": " << r.output;
  }
  EXPECT_EQ(run_command(g_flow + " --help").status, 0);
}

// One-pixel-wide images: the fused op and TV-L1 take them; the published layer, whose border
// differences need two pixels, refuses them naming the image.
TEST(FlowTool, ThinImagesWorkOrAreRefusedNamingTheImage) {
  for (const auto& [w, h] : {std::pair<int, int>{1, 1}, {1, 5}, {5, 1}}) {
    const std::string a = test_tmp("thin_a.png"), b = test_tmp("thin_b.png");
    repflow::Image image{w, h, 1, std::vector<uint8_t>(static_cast<size_t>(w) * h, 7)};
    repflow::write_png(a, image);
    image.pixels[0] = 200;
    repflow::write_png(b, image);
    const std::string run = g_flow + " " + a + " " + b + " --out " + test_tmp("thin.png");
    for (const char* ok : {" --mode paper", " --method tvl1"}) {
      const CommandResult r = run_command(run + ok);
      EXPECT_EQ(r.status, 0) << w << "x" << h << ok << ": " << r.output;
    }
    const CommandResult reference = run_command(run + " --mode reference");
    EXPECT_EQ(reference.status, 2) << reference.output;
    EXPECT_NE(reference.output.find("error: flow: --mode reference needs images of at least 2x2, " +
                                    a + " is " + std::to_string(w) + "x" + std::to_string(h)),
              std::string::npos)
        << reference.output;
  }
}

// Middlebury colours keep one channel at 255 and lower the others towards white as the
// magnitude falls, so the lowest channel gives the saturation: 0 white, 1 full.
double saturation(const std::array<uint8_t, 3>& rgb) {
  return 1 - *std::min_element(rgb.begin(), rgb.end()) / 255.0;
}

std::array<uint8_t, 3> pixel(const repflow::Image& image, int x, int y) {
  const size_t at = (static_cast<size_t>(y) * image.width + x) * image.channels;
  return {image.pixels[at], image.pixels[at + 1], image.pixels[at + 2]};
}

TEST(FlowColour, SaturationFollowsTheScaleAndClipsAboveIt) {
  const float scale = 4;
  for (int k = 0; k < 16; ++k) {
    SCOPED_TRACE(k);
    const float c = std::cos(k * M_PI / 8), s = std::sin(k * M_PI / 8);
    const std::array<uint8_t, 3> half = repflow::flow_colour(2 * c, 2 * s, scale),
                                 full = repflow::flow_colour(4 * c, 4 * s, scale);
    EXPECT_EQ(*std::max_element(half.begin(), half.end()), 255);
    EXPECT_NEAR(saturation(half), 0.5, 0.01);
    EXPECT_EQ(saturation(full), 1);
    EXPECT_EQ(repflow::flow_colour(40 * c, 40 * s, scale), full) << "not clipped to the rim";
    EXPECT_NEAR(saturation(repflow::flow_colour(c, s, scale)), 0.25, 0.01);
  }
  EXPECT_EQ(repflow::flow_colour(0, 0, scale), (std::array<uint8_t, 3>{255, 255, 255}));
  // Middlebury's directions (y down): right red, down yellow, left cyan, up blue.
  EXPECT_EQ(repflow::flow_colour(1, 0, 1), (std::array<uint8_t, 3>{255, 0, 0}));
  const std::array<uint8_t, 3> down = repflow::flow_colour(0, 1, 1),
                               left = repflow::flow_colour(-1, 0, 1),
                               up = repflow::flow_colour(0, -1, 1);
  EXPECT_TRUE(down[0] == 255 && down[1] > 200 && down[2] == 0);
  EXPECT_TRUE(left[0] == 0 && left[1] > 200 && left[2] == 255);
  EXPECT_TRUE(up[0] < 120 && up[1] == 0 && up[2] == 255);
  EXPECT_ERROR_CONTAINS(repflow::flow_colour(1, 0, 0), "scale");
  EXPECT_ERROR_CONTAINS(repflow::flow_colour(1, 0, NAN), "scale");
}

TEST(FlowColour, DefaultScaleIsTheLargestMagnitude) {
  const std::vector<float> u{3, 0, -1}, v{0, -4, 1};
  EXPECT_FLOAT_EQ(repflow::largest_flow_magnitude(u, v), 4);
  EXPECT_FLOAT_EQ(repflow::largest_flow_magnitude({0, 0}, {0, 0}), 0);
  EXPECT_FLOAT_EQ(repflow::flow_colour_scale(0, 4), 4);
  EXPECT_FLOAT_EQ(repflow::flow_colour_scale(0, 0), 1);
  EXPECT_FLOAT_EQ(repflow::flow_colour_scale(2.5, 4), 2.5f);
  const repflow::Image image = repflow::flow_to_colour(u, v, 3, 1, 4);
  for (int x = 0; x < 3; ++x) EXPECT_EQ(pixel(image, x, 0), repflow::flow_colour(u[x], v[x], 4));
}

// The wheel on add_legend's canvas: each pixel has the colour flow_colour gives the flow
// (offset from the centre) / radius * scale, the rim is full saturation, the rest of the margin is
// black and the flow pixels are untouched.
void expect_legend(const repflow::Image& with, const repflow::Image& without, float scale) {
  ASSERT_GT(with.width, without.width);
  ASSERT_GE(with.height, without.height);
  for (int y = 0; y < without.height; ++y)
    for (int x = 0; x < without.width; ++x)
      ASSERT_EQ(pixel(with, x, y), pixel(without, x, y)) << "flow pixel " << x << "," << y;
  const repflow::LegendWheel wheel = repflow::legend_wheel(without.width, without.height);
  EXPECT_GE(wheel.centre_x - wheel.radius, without.width);
  EXPECT_LE(wheel.centre_x + wheel.radius, with.width);
  EXPECT_GE(wheel.centre_y - wheel.radius, 0);
  EXPECT_LE(wheel.centre_y + wheel.radius, with.height);
  EXPECT_GE(wheel.radius, 16);
  for (int k = 0; k < 16; ++k) {
    SCOPED_TRACE(k);
    const double angle = k * M_PI / 8;
    const int x = static_cast<int>(wheel.centre_x + (wheel.radius - 1) * std::cos(angle)),
              y = static_cast<int>(wheel.centre_y + (wheel.radius - 1) * std::sin(angle));
    const float dx = (x + 0.5f - wheel.centre_x) / wheel.radius,
                dy = (y + 0.5f - wheel.centre_y) / wheel.radius;
    EXPECT_EQ(pixel(with, x, y), repflow::flow_colour(dx * scale, dy * scale, scale));
    EXPECT_GT(saturation(pixel(with, x, y)), 0.85);
  }
  EXPECT_LT(
      saturation(pixel(with, static_cast<int>(wheel.centre_x), static_cast<int>(wheel.centre_y))),
      0.1);
  for (int y : {0, with.height - 1})
    for (int x : {without.width, with.width - 1})
      EXPECT_EQ(pixel(with, x, y), (std::array<uint8_t, 3>{0, 0, 0})) << x << "," << y;
}

TEST(FlowColour, LegendIsTheSameColoursBesideTheFlow) {
  for (int height : {5, 48, 400}) {
    SCOPED_TRACE(height);
    const int width = 30;
    std::vector<float> u(width * height), v(width * height);
    for (int i = 0; i < width * height; ++i) u[i] = std::sin(0.1f * i), v[i] = std::cos(0.37f * i);
    const repflow::Image flow = repflow::flow_to_colour(u, v, width, height, 0.7f);
    expect_legend(repflow::add_legend(flow, 0.7f), flow, 0.7f);
  }
}

// The median saturation of the flow's pixels away from the border, where the motion is whole.
double median_saturation(const repflow::Image& image, int width, int height) {
  std::vector<double> s;
  for (int y = 4; y < height - 4; ++y)
    for (int x = 4; x < width - 4; ++x) s.push_back(saturation(pixel(image, x, y)));
  std::nth_element(s.begin(), s.begin() + s.size() / 2, s.end());
  return s[s.size() / 2];
}

TEST(FlowTool, ScaleSetsTheSaturationAndTheLegendSitsBesideTheFlow) {
  const std::string a = test_tmp("sa.png"), b = test_tmp("sb.png"), out = test_tmp("s.png"),
                    bare = test_tmp("s_bare.png");
  write_pair(a, b, 1, 0);
  const std::string run = g_flow + " " + a + " " + b + " --out ";
  const CommandResult r = run_command(run + bare + " --scale 2 --legend=false");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("scale=2 px (full saturation"), std::string::npos) << r.output;
  const repflow::Image flow = repflow::read_image(bare);
  ASSERT_EQ(flow.width, 64);
  ASSERT_EQ(flow.height, 48);
  // A rightward shift of about 1 px (the printed mean) at a 2 px scale: about half saturation.
  const double mean_x = field(r.output, "mean_flow_x");
  EXPECT_NEAR(median_saturation(flow, 64, 48), mean_x / 2, 0.1) << r.output;

  const CommandResult legend = run_command(run + out + " --scale 2");
  ASSERT_EQ(legend.status, 0) << legend.output;
  expect_legend(repflow::read_image(out), flow, 2);

  // Below the shift, the scale clips: full saturation, and full brightness (Middlebury's own code
  // darkens out-of-range vectors instead).
  const CommandResult clipped = run_command(run + out + " --scale 0.25 --legend=false");
  ASSERT_EQ(clipped.status, 0) << clipped.output;
  const repflow::Image over = repflow::read_image(out);
  EXPECT_EQ(median_saturation(over, 64, 48), 1);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) {
      const std::array<uint8_t, 3> rgb = pixel(over, x, y);
      ASSERT_EQ(*std::max_element(rgb.begin(), rgb.end()), 255) << x << "," << y;
    }

  // By default the largest magnitude is full saturation: printed, and reached by some pixel.
  const CommandResult automatic = run_command(run + out + " --legend=false");
  ASSERT_EQ(automatic.status, 0) << automatic.output;
  EXPECT_NE(automatic.output.find("(full saturation, the largest magnitude)"), std::string::npos)
      << automatic.output;
  const double largest = field(automatic.output, "scale");
  EXPECT_GT(largest, mean_x) << automatic.output;
  const repflow::Image own = repflow::read_image(out);
  double most = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) most = std::max(most, saturation(pixel(own, x, y)));
  EXPECT_EQ(most, 1);
  EXPECT_NEAR(median_saturation(own, 64, 48), mean_x / largest, 0.1);
}

TEST(FlowTool, BadScaleOrLegendIsExitTwoNamingTheFlag) {
  for (const char* scale : {"-1", "nan", "inf", "-inf", "1e300", "two"}) {
    SCOPED_TRACE(scale);
    const CommandResult r = run_command(g_flow + " a.png b.png --out c.png --scale " + scale);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: flow: flag --scale: "), std::string::npos) << r.output;
  }
  const CommandResult legend = run_command(g_flow + " a.png b.png --out c.png --legend=maybe");
  EXPECT_EQ(legend.status, 2) << legend.output;
  EXPECT_NE(legend.output.find("error: flow: flag --legend: 'maybe'"), std::string::npos)
      << legend.output;
}

TEST(CheckFixture, CorruptAndTruncatedFilesAreExitTwo) {
  const std::string truncated = test_tmp("truncated.json"), wrong = test_tmp("wrong.json");
  std::ofstream(truncated) << R"({"meta": {"module": {"kind": "reference_kinetics_stem")";
  std::ofstream(wrong) << R"({"meta": {"module": {"kind": "resnet_9000", "args": {}}},
                              "state_dict": {}, "cases": {}})";
  const CommandResult t = run_command(g_check_fixture + " " + truncated);
  EXPECT_EQ(t.status, 2);
  EXPECT_NE(t.output.find("not valid JSON (truncated or corrupt)"), std::string::npos) << t.output;
  const CommandResult w = run_command(g_check_fixture + " " + wrong);
  EXPECT_EQ(w.status, 2);
  EXPECT_NE(w.output.find("unknown module kind 'resnet_9000'"), std::string::npos) << w.output;
  const CommandResult skipped = run_command(g_check_fixture + " --skip-unsupported " + wrong);
  EXPECT_EQ(skipped.status, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("fixtures: 0 passed, 0 failed"), std::string::npos);
}

}  // namespace

// bench_model with `flags` (and no PyTorch side) stops with exit status 2 and `message`.
static void expect_bench_model_refuses(const std::string& flags, const std::string& message) {
  const CommandResult r = run_command(g_bench_model + " " + flags + " --torch false");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + message), std::string::npos) << r.output;
}

// Recording a step as a CUDA graph, or tracing its kernels, needs a GPU: asked for on the CPU,
// the flag is named.
TEST(BenchModel, GpuOnlyFlagsOnTheCpuAreExitTwoNamingTheFlag) {
  expect_bench_model_refuses("--cuda-graph --device cpu",
                             "flag --cuda-graph: records a GPU's work; --device is cpu");
  expect_bench_model_refuses("--kernel-times 10 --device cpu",
                             "flag --kernel-times: traces a GPU's work; --device is cpu");
}

TEST(BenchModel, AnUnknownConvolutionPolicyIsExitTwoNamingTheFlag) {
  expect_bench_model_refuses("--conv-algo quickest",
                             "flag --conv-algo: 'quickest' is not exact or fastest");
}

// The data bench_loader writes goes into a folder of its own under an existing --dir, and is
// removed however the run ends: a run that fails while writing it leaves nothing behind.
TEST(BenchLoader, AMissingDirIsRefusedAndAFailedRunLeavesNothingBehind) {
  const std::string missing = test_tmp("no_such_dir") + "/below";
  const CommandResult refused = run_command(g_bench_loader + " --dir " + missing);
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("error: bench_loader: flag --dir: " + missing +
                                " is not an existing directory"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(std::filesystem::exists(test_tmp("no_such_dir")));
  const std::string dir = fresh_dir("bench_loader");
  const CommandResult failed = run_command(g_bench_loader + " --dir " + dir +
                                           " --source video --video-sizes 16384x16384 "
                                           "--videos 1 --compare false");
  EXPECT_EQ(failed.status, 2) << failed.output;
  EXPECT_TRUE(list_dir(dir).empty()) << failed.output;
}

// std::stoi took "5x" as 5 workers and "1e30" as 1.
TEST(BenchLoader, WorkerCountsAreWholeNumbersInRange) {
  for (const std::string value : {"5x", "1e30", "0x10", "-1", "0", "257", "2,,4"}) {
    SCOPED_TRACE(value);
    const CommandResult r = run_command(g_bench_loader + " --dir " + fresh_dir("workers") +
                                        " --workers " + value + " --compare false");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: bench_loader: flag --workers: '"), std::string::npos)
        << r.output;
  }
}

// Sizes past an 8K frame were once encoded, for minutes, before being refused as read back.
TEST(BenchLoader, VideoSizesAreEvenAndAtMostAnEightKFrame) {
  for (const std::string value : {"15x16", "17x16", "7682x16", "99999999x99999999"}) {
    SCOPED_TRACE(value);
    const CommandResult r = run_command(g_bench_loader + " --dir " + fresh_dir("sizes") +
                                        " --source video --compare false --video-sizes " + value);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("error: bench_loader: flag --video-sizes: " + value +
                            " is not an even size from 16x16 to 7680x7680"),
              std::string::npos)
        << r.output;
  }
}

// A --python that is not a program is named, never taken for a Python without torch (which
// would install Debian's python3-torch) nor pasted into a shell command.
TEST(BenchModel, APythonThatIsNotAProgramIsExitTwoNamingIt) {
  const std::string missing = test_tmp("no python; touch " + test_tmp("injected"));
  const CommandResult r = run_command(g_bench_model +
                                      " --steps 1 --warmup 0 --batch 1 --frames 4 --size 16 "
                                      "--torch true --python '" +
                                      missing + "'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: flag --python: " + missing + " is not an executable file"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("installing"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(test_tmp("injected")));
  // Found before repflow's side runs, not after it.
  EXPECT_EQ(r.output.find("BENCH"), std::string::npos) << r.output;
  const CommandResult amp = run_command(g_bench_model + " --torch false --torch-amp true");
  EXPECT_EQ(amp.status, 2) << amp.output;
  EXPECT_NE(amp.output.find("error: flag --torch-amp times PyTorch: needs --torch true"),
            std::string::npos)
      << amp.output;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: tools_test FLOW_BINARY CHECK_FIXTURE_BINARY BENCH_MODEL_BINARY "
                 "BENCH_LOADER_BINARY\n");
    return 2;
  }
  g_flow = argv[1];
  g_check_fixture = argv[2];
  g_bench_model = argv[3];
  g_bench_loader = argv[4];
  return RUN_ALL_TESTS();
}
