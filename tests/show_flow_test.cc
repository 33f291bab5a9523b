// //tools:show_flow end to end: the grid's layout for one flow layer and for a flow of flow, its
// colours against the flow the same model computes in this process, and exit 2 for bad input.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/generator.h"
#include "framework/image_io.h"
#include "framework/weights.h"
#include "models/flow_observer.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "ops/slice/slice.h"
#include "tests/test_util.h"
#include "tools/flow_colour.h"

namespace repflow {
namespace {

std::string g_show_flow;

const OptionValues kOptions = {{"classes", "3"},          {"flow", "after1"}, {"flow-iters", "3"},
                               {"reduced-channels", "4"}, {"width", "8"},     {"stem", "small"}};

std::string flags_of(const OptionValues& options) {
  std::string out = " --model resnet10_2d";
  for (const auto& [k, v] : options) out += " --" + k + " " + v;
  return out;
}

// A seeded model's weights, and clips of a moving pattern as a .npy file (2, 3, 4, 16, 16).
struct Files {
  std::string weights, npy;
  Tensor clips;
};

Files write_files(const std::string& name, const OptionValues& options) {
  Files f;
  f.weights = test_tmp(name + ".json");
  default_generator().set_state(99, 0);
  auto model = make_model(resolve_model("resnet10_2d", options));
  save_weights(f.weights, model->state_dict());
  std::vector<float> v(2 * 3 * 4 * 16 * 16);
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t x = i % 16, y = i / 16 % 16, t = i / 256 % 4, s = i / (256 * 12);
    v[i] = std::sin(0.7f * (x - (1 + s) * t)) + std::cos(0.5f * (y + t));
  }
  f.clips = Tensor::from_vector({2, 3, 4, 16, 16}, v);
  std::string data(v.size() * 4, '\0');
  std::memcpy(data.data(), v.data(), data.size());
  f.npy = test_tmp(name + ".npy");
  write_text(f.npy, npy_bytes("<f4", "(2, 3, 4, 16, 16)", data));
  return f;
}

// Each flow layer's output for `clips` in this process, (1, 2C', T', H, W) each.
std::vector<Tensor> flows_here(const Files& f, const OptionValues& options, int clip) {
  auto model = make_model(resolve_model("resnet10_2d", options));
  load_weights_into(*model, f.weights);
  model->eval();
  std::vector<Tensor> flows;
  model->apply([&](Module& m) {
    if (auto* layer = dynamic_cast<FlowObservable*>(&m))
      layer->set_flow_observer([&](const Tensor& flow) { flows.push_back(flow); });
  });
  NoGradGuard no_grad;
  model->forward(ops::narrow(f.clips, 0, clip, 1));
  return flows;
}

TEST(ShowFlow, CellsShowTheFlowOfTheChosenChannelsAndTimes) {
  const Files f = write_files("one", kOptions);
  const std::string out = test_tmp("one.png");
  const CommandResult r = run_command(
      g_show_flow + flags_of(kOptions) + " --weights " + f.weights + " --input-npy " + f.npy +
      " --clip 1 --channels 3,1 --times 0,2 --cell 32 --scale 0.5 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("flow layer 1: 4 channels, 3 time steps, 16x16"), std::string::npos)
      << r.output;
  const Image grid = read_image(out);
  // Two columns and two rows of 32-pixel cells, 2-pixel lines between them, then the legend.
  ASSERT_GT(grid.width, 66);
  ASSERT_GE(grid.height, 66);
  const Tensor flow = flows_here(f, kOptions, 1)[0];
  ASSERT_EQ(flow.shape(), (Shape{1, 8, 3, 16, 16}));
  const int channels[] = {3, 1}, times[] = {0, 2};
  for (int row = 0; row < 2; ++row)
    for (int col = 0; col < 2; ++col)
      for (int y = 0; y < 32; y += 5)
        for (int x = 0; x < 32; x += 7) {
          const float u = flow.at({0, channels[row], times[col], y / 2, x / 2});
          const float v = flow.at({0, 4 + channels[row], times[col], y / 2, x / 2});
          const std::array<uint8_t, 3> want = flow_colour(u, v, 0.5f);
          const size_t at = (static_cast<size_t>(row * 34 + y) * grid.width + col * 34 + x) * 3;
          for (int k = 0; k < 3; ++k)
            EXPECT_NEAR(grid.pixels[at + k], want[k], 2)
                << "row " << row << " col " << col << " x " << x << " y " << y;
        }
  // The line between the columns is black.
  for (int k = 0; k < 3; ++k) EXPECT_EQ(grid.pixels[(5 * grid.width + 32) * 3 + k], 0);
}

TEST(ShowFlow, AFlowOfFlowHasABandPerStage) {
  OptionValues options = kOptions;
  options["flow-stages"] = "2";
  const Files f = write_files("fof", options);
  const std::string out = test_tmp("fof.png");
  const CommandResult r =
      run_command(g_show_flow + flags_of(options) + " --weights " + f.weights + " --input-npy " +
                  f.npy + " --channels 0 --cell 10 --legend false --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("flow layer 1: 4 channels, 3 time steps"), std::string::npos);
  EXPECT_NE(r.output.find("flow layer 2: 4 channels, 2 time steps"), std::string::npos);
  const Image grid = read_image(out);
  // 3 columns; one row per stage, the bands 4 pixels apart.
  EXPECT_EQ(grid.width, 3 * 10 + 2 * 2);
  EXPECT_EQ(grid.height, 10 + 4 + 10);
}

TEST(ShowFlow, BadInputIsExitTwoNamingTheThing) {
  const Files f = write_files("bad", kOptions);
  const std::string base = g_show_flow + flags_of(kOptions) + " --weights " + f.weights +
                           " --input-npy " + f.npy + " --out " + test_tmp("bad.png");
  const struct {
    std::string args, message;
  } cases[] = {
      {" --channels 4", "error: show_flow: flag --channels: '4' is not an index between 0 and 3"},
      {" --times 0,x", "error: show_flow: flag --times: 'x' is not an index between 0 and 2"},
      {" --clip 2", "--clip"},
      {" --cell 0", "--cell"},
      {" --scale -1", "error: show_flow: flag --scale: -1 is not 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const CommandResult r = run_command(base + c.args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
  const CommandResult r = run_command(g_show_flow + flags_of(kOptions) + " --weights " + f.weights +
                                      " --input-npy " + f.npy);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("error: show_flow: flag --out is required"), std::string::npos);
  OptionValues plain = kOptions;
  plain["flow"] = "none";
  // The flow layer's own options are refused without one.
  for (const char* option : {"flow-iters", "flow-stages", "fcf", "reduced-channels", "flow-learn"})
    plain.erase(option);
  const Files g = write_files("plain", plain);
  const CommandResult none = run_command(g_show_flow + flags_of(plain) + " --weights " + g.weights +
                                         " --input-npy " + g.npy + " --out " + test_tmp("p.png"));
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.output.find("error: show_flow: model resnet10_2d has no flow layer (flow none)"),
            std::string::npos)
      << none.output;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  repflow::g_show_flow = argv[1];
  return RUN_ALL_TESTS();
}
