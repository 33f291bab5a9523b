// tools/convert_torch.py end to end: PyTorch checkpoints of every supported kind, converted and
// read back by load_weights, value for value. Needs Debian's /usr/bin/python3 with torch; skips
// visibly without it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "framework/weights.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

const char kPython[] = "/usr/bin/python3";
std::string g_script;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string bytes_of(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A conv + batch norm behind DataParallel (names "module.0.weight", ...,
// "module.1.num_batches_tracked") with awkward values, saved four ways; the expected float32
// bytes of each tensor go to expected/<name>.bin.
const char kMakeCheckpoints[] = R"(
import os, sys, torch, torch.nn as nn
out = sys.argv[1]
torch.manual_seed(0)
net = nn.DataParallel(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)))
with torch.no_grad():
    w = net.module[0].weight.view(-1)
    w[:5] = torch.tensor([-0.0, 1e-40, 3e38, -1e-30, 0.1])
    net.module[1].running_var.copy_(torch.tensor([0.5, 7e-45, 2.0]))
    net.module[1].num_batches_tracked.fill_(12)
sd = net.state_dict()
torch.save(sd, os.path.join(out, "state_dict.pt"))
torch.save({"epoch": 3, "state_dict": sd}, os.path.join(out, "wrapped.pt"))
torch.save({"model": sd, "optimizer": {}}, os.path.join(out, "model.pt"))
torch.save(net, os.path.join(out, "whole.pt"))
os.makedirs(os.path.join(out, "expected"), exist_ok=True)
for name, t in net.module.state_dict().items():
    if not name.endswith("num_batches_tracked"):
        t.numpy().astype("<f4").tofile(os.path.join(out, "expected", name + ".bin"))
)";

const std::vector<std::string> kNames = {"0.bias",         "0.weight",      "1.bias",
                                         "1.running_mean", "1.running_var", "1.weight"};

class ConvertTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    static const bool has_torch =
        run_command(std::string(kPython) + " -c 'import torch'").status == 0;
    if (!has_torch)
      GTEST_SKIP() << kPython << " cannot import torch: install Debian's python3-torch to run "
                   << "the converter tests";
    static const CommandResult made = [] {
      const std::string script = test_tmp("make_checkpoints.py");
      std::ofstream(script) << kMakeCheckpoints;
      return run_command(std::string(kPython) + " " + script + " " + test_tmp(""));
    }();
    ASSERT_EQ(made.status, 0) << made.output;
  }

  CommandResult convert(const std::string& args) {
    return run_command(std::string(kPython) + " " + g_script + " " + args);
  }

  std::string expected(const std::string& name) {
    return read_bytes(test_tmp("expected/" + name + ".bin"));
  }
};

TEST_F(ConvertTorch, EveryCheckpointKindConvertsExactlyInBothEncodings) {
  for (const char* checkpoint : {"state_dict.pt", "wrapped.pt", "model.pt", "whole.pt"})
    for (const char* encoding : {"", "--plain"}) {
      SCOPED_TRACE(std::string(checkpoint) + " " + encoding);
      const std::string out = test_tmp("converted.json");
      const CommandResult r = convert(test_tmp(checkpoint) + " " + out + " " + encoding);
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_NE(r.output.find("6 tensors"), std::string::npos) << r.output;
      const std::map<std::string, Tensor> w = load_weights(out);
      std::vector<std::string> names;
      for (const auto& [name, t] : w) names.push_back(name);
      // No "module." prefix, no num_batches_tracked.
      EXPECT_EQ(names, kNames);
      for (const auto& [name, t] : w) EXPECT_EQ(bytes_of(t), expected(name)) << name;
      EXPECT_EQ(w.at("0.weight").shape(), (Shape{3, 2, 3, 3}));
    }
}

TEST_F(ConvertTorch, InflationRepeatsConvWeightsOverTime) {
  const std::string out = test_tmp("inflated.json");
  for (const bool divide : {false, true}) {
    SCOPED_TRACE(divide ? "divided by T" : "repeated");
    const CommandResult r =
        convert(test_tmp("state_dict.pt") + " " + out + " --inflate-3d --time '0.w*=3'" +
                (divide ? " --divide-by-time" : ""));
    ASSERT_EQ(r.status, 0) << r.output;
    const std::map<std::string, Tensor> w = load_weights(out);
    ASSERT_EQ(w.at("0.weight").shape(), (Shape{3, 2, 3, 3, 3}));
    EXPECT_EQ(w.at("0.bias").shape(), Shape{3});
    const std::string bytes = expected("0.weight");
    std::vector<float> w2d(bytes.size() / 4);
    std::memcpy(w2d.data(), bytes.data(), bytes.size());
    const std::vector<float> w3d = w.at("0.weight").to_vector();
    // (O, I, T, kH, kW): every time slice is the 2D kernel (O, I, kH, kW).
    for (int64_t oi = 0; oi < 6; ++oi)
      for (int64_t t = 0; t < 3; ++t)
        for (int64_t k = 0; k < 9; ++k)
          EXPECT_EQ(w3d[(oi * 3 + t) * 9 + k], divide ? w2d[oi * 9 + k] / 3 : w2d[oi * 9 + k]);
  }
  const CommandResult typo =
      convert(test_tmp("state_dict.pt") + " " + out + " --inflate-3d --time 'conv*=3'");
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.output.find("--time pattern(s) conv* match no 4-D tensor"), std::string::npos)
      << typo.output;
}

TEST_F(ConvertTorch, UnreadableInputIsExit2AndKeepsTheOldOutput) {
  const std::string out = test_tmp("kept.json"), garbage = test_tmp("garbage.pt");
  std::ofstream(garbage) << "not a checkpoint";
  std::ofstream(out) << "old";
  CommandResult r = convert(garbage + " " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("error: " + garbage + ": cannot read as a PyTorch checkpoint"),
            std::string::npos)
      << r.output;
  r = convert(test_tmp("absent.pt") + " " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find(test_tmp("absent.pt") + ": no such readable file"), std::string::npos)
      << r.output;
  EXPECT_EQ(read_bytes(out), "old");
  r = convert(test_tmp("state_dict.pt") + " " + test_tmp("no/such/dir.json"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("cannot create a temporary file"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: convert_torch_test CONVERT_TORCH_PY\n");
    return 2;
  }
  repflow::g_script = argv[1];
  return RUN_ALL_TESTS();
}
