// tools/bench_model_torch.py's networks are the zoo's: each, built in PyTorch from the config
// bench_model sends (tools/torch_model_config.h) with random weights and batch-norm statistics,
// converted by tools/convert_torch.py, loads strictly into the zoo's model of that name and
// gives the same logits in eval mode. Needs Debian's /usr/bin/python3 with torch; skips visibly
// without it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "framework/autograd.h"
#include "framework/npy.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tests/test_util.h"
#include "tools/torch_model_config.h"

namespace repflow {
namespace {

std::string g_converter, g_script;

// argv: the benchmark's script, the config, the output prefix, the input's T, H and W.
const char kMakeNetwork[] = R"(
import json, os, sys, numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
import bench_model_torch
config = json.load(open(sys.argv[2]))
out = sys.argv[3]
t, h, w = (int(v) for v in sys.argv[4:7])
torch.manual_seed(0)
net = bench_model_torch.build(config)
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
net.eval()
x = torch.randn(2, 3, t, h, w)
with torch.no_grad():
    np.save(out + "_logits.npy", net(x).numpy())
np.save(out + "_input.npy", x.numpy())
torch.save(net.state_dict(), out + ".pt")
)";

struct Case {
  const char* label;
  const char* model;
  OptionValues options;
  int64_t frames, size;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

class BenchModelTorch : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!debian_python_imports("torch"))
      GTEST_SKIP() << kDebianPython << " cannot import torch: install Debian's python3-torch to "
                   << "compare the benchmark's PyTorch networks";
  }
};

TEST_P(BenchModelTorch, BuildsTheZoosNetworkUnderItsNames) {
  const Case& c = GetParam();
  const ModelSpec spec = resolve_model(c.model, c.options);
  const std::string prefix = test_tmp(c.label);
  std::ofstream(prefix + "_config.json") << torch_model_config(spec).dump();
  const std::string script = test_tmp("make_network.py");
  std::ofstream(script) << kMakeNetwork;
  const CommandResult made = run_command(
      kDebianPython + " " + script + " " + g_script + " " + prefix + "_config.json " + prefix +
      " " + std::to_string(c.frames) + " " + std::to_string(c.size) + " " + std::to_string(c.size));
  ASSERT_EQ(made.status, 0) << made.output;
  const CommandResult converted =
      run_command(kDebianPython + " " + g_converter + " " + prefix + ".pt " + prefix + ".json");
  ASSERT_EQ(converted.status, 0) << converted.output;
  const auto net = make_model(spec);
  load_weights_into(*net, prefix + ".json", /*strict=*/true);
  net->eval();
  NoGradGuard no_grad;
  const std::vector<float> got = net->forward(read_npy(prefix + "_input.npy")).to_vector();
  const std::vector<float> want = read_npy(prefix + "_logits.npy").to_vector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 2e-4 + 2e-4 * std::abs(want[i])) << c.label << " logit " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Networks, BenchModelTorch,
    ::testing::Values(
        Case{"default_run", "resnet10_2d_tiny", {{"classes", "8"}}, 8, 32},
        Case{"r2p1d_flow", "resnet18_2p1d", {{"classes", "5"}, {"width", "16"}}, 6, 32},
        Case{"r3d_no_flow",
             "resnet18_3d",
             {{"classes", "5"}, {"width", "8"}, {"flow", "none"}},
             4,
             32},
        Case{
            "r50_2d", "resnet50_2d", {{"classes", "5"}, {"width", "8"}, {"flow", "after4"}}, 4, 64},
        Case{"kinetics", "kinetics_repflow_r50", {{"classes", "7"}}, 11, 64}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_model_torch_test CONVERT_TORCH_PY BENCH_MODEL_TORCH_PY\n");
    return 2;
  }
  repflow::g_converter = argv[1];
  repflow::g_script = argv[2];
  return RUN_ALL_TESTS();
}
