// The user-facing binaries end to end: exit codes, messages and outputs
// (../shared/notes/conventions.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "framework/generator.h"
#include "framework/image_io.h"
#include "framework/tensor.h"
#include "tests/test_util.h"

namespace {

std::string g_flow, g_check_fixture;

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
    const repflow::Image image = repflow::read_image(out);
    EXPECT_EQ(image.width, 64);
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

TEST(FlowTool, BadInputIsExitTwoWithAMessage) {
  const CommandResult missing =
      run_command(g_flow + " /nonexistent/a.png /nonexistent/b.png --out " + test_tmp("x.png"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("/nonexistent/a.png: cannot read image"), std::string::npos)
      << missing.output;
  const CommandResult no_out = run_command(g_flow + " a.png b.png");
  EXPECT_EQ(no_out.status, 2);
  EXPECT_NE(no_out.output.find("--out is required"), std::string::npos) << no_out.output;
  const CommandResult bad_flag = run_command(g_flow + " --iters=zero a b --out c");
  EXPECT_EQ(bad_flag.status, 2);
  EXPECT_NE(bad_flag.output.find("flag --iters: 'zero' is not an integer"), std::string::npos);
  EXPECT_EQ(run_command(g_flow + " --help").status, 0);
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

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: tools_test FLOW_BINARY CHECK_FIXTURE_BINARY\n");
    return 2;
  }
  g_flow = argv[1];
  g_check_fixture = argv[2];
  return RUN_ALL_TESTS();
}
