// The zoo's r3d_18, mc3_18 and r2plus1d_18 against torchvision.models.video's: a randomly
// initialised torchvision network (batch-norm statistics randomised too, so eval mode is not an
// identity) converted by tools/convert_torch.py loads strictly into the zoo's network of that
// name and gives torchvision's logits. Needs Debian's /usr/bin/python3 with torch and
// torchvision; skips visibly without them.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "framework/autograd.h"
#include "framework/npy.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

std::string g_converter;

// For each network: its state dict, an input clip of 12 frames of 40 x 40 (time strides of 2
// three times: 12 -> 6 -> 3 -> 2) and torchvision's logits in eval mode.
const char kMakeNetworks[] = R"(
import os, sys, numpy as np, torch, torchvision.models.video as video
out = sys.argv[1]
torch.manual_seed(0)
x = torch.randn(2, 3, 12, 40, 40)
np.save(os.path.join(out, "input.npy"), x.numpy())
for name in ["r3d_18", "mc3_18", "r2plus1d_18"]:
    net = getattr(video, name)(num_classes=7)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    with torch.no_grad():
        np.save(os.path.join(out, name + "_logits.npy"), net(x).numpy())
    torch.save(net.state_dict(), os.path.join(out, name + ".pt"))
)";

class TorchvisionVideo : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!debian_python_imports("torch, torchvision"))
      GTEST_SKIP() << kDebianPython << " cannot import torch and torchvision: install Debian's "
                   << "python3-torchvision to compare the zoo's torchvision networks";
    static const CommandResult made = [] {
      const std::string script = test_tmp("make_networks.py");
      std::ofstream(script) << kMakeNetworks;
      return run_command(kDebianPython + " " + script + " " + test_tmp(""));
    }();
    ASSERT_EQ(made.status, 0) << made.output;
  }
};

TEST_P(TorchvisionVideo, ConvertedWeightsLoadStrictlyAndGiveTorchvisionsLogits) {
  const std::string name = GetParam();
  const std::string weights = test_tmp(name + ".json");
  const CommandResult converted =
      run_command(kDebianPython + " " + g_converter + " " + test_tmp(name + ".pt") + " " + weights);
  ASSERT_EQ(converted.status, 0) << converted.output;
  const auto net = make_model(resolve_model(name, {{"classes", "7"}}));
  load_weights_into(*net, weights, /*strict=*/true);
  net->eval();
  NoGradGuard no_grad;
  const std::vector<float> got = net->forward(read_npy(test_tmp("input.npy"))).to_vector();
  const std::vector<float> want = read_npy(test_tmp(name + "_logits.npy")).to_vector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-4 + 1e-4 * std::abs(want[i])) << name << " logit " << i;
}

INSTANTIATE_TEST_SUITE_P(Networks, TorchvisionVideo,
                         ::testing::Values("r3d_18", "mc3_18", "r2plus1d_18"));

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: torchvision_video_test CONVERT_TORCH_PY\n");
    return 2;
  }
  repflow::g_converter = argv[1];
  return RUN_ALL_TESTS();
}
