// The flow compositions in models/: the published layer (reference mode) and the paper-mode
// FlowBlock and flow-of-flow stacks.
#include <gtest/gtest.h>

#include <map>

#include "framework/generator.h"
#include "models/flow_block.h"
#include "models/reference/reference_flow_layer.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::GradcheckOptions;
using testing::random_leaf;

std::vector<Tensor> parameters(const Module& m) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : m.named_parameters()) out.push_back(t);
  return out;
}

// Reference mode: every parameter of the TV-L1 core (dense gradient kernels, difference and
// divergence kernels, t, l, a) and both frames, for 1, 2 and 10 iterations.
TEST(ReferenceFlow, GradientsOfTheIterationsForEveryInputAndParameter) {
  for (int iters : {1, 2, 10}) {
    SCOPED_TRACE(iters);
    ReferenceFlowLayer layer(3, 2, iters);
    // Intensities of a few units: all three thresholding branches occur. The update is
    // piecewise, and a central difference across a branch boundary measures nothing, so the
    // seeds are ones for which no pixel of any iteration changes branch within the step (other
    // seeds give 2-6% mismatches on t, l, a at 10 iterations from such a crossing;
    // //tests:fixtures_test compares these gradients with PyTorch's autograd at every pixel).
    const Tensor first = random_leaf({2, 2, 4, 5}, 111, -3, 3);
    const Tensor second = random_leaf({2, 2, 4, 5}, 72, -3, 3);
    std::vector<Tensor> inputs{first, second};
    for (const auto& [name, t] : layer.named_parameters())
      if (name.find("bottleneck") == std::string::npos && name.rfind("bn.", 0) != 0)
        inputs.push_back(t);
    GradcheckOptions options;
    // Ten unrolled iterations in float32 accumulate more rounding than one op, and a step in t,
    // l or a moves every pixel's thresholds at once: a smaller step keeps each pixel in its
    // branch of the (piecewise) update.
    if (iters == 10) {
      options.rtol = options.atol = 5e-3;
      options.eps = 2e-4;
    }
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return layer.flow(in[0], in[1]); },
                     inputs, options);
  }
}

TEST(ReferenceFlow, LayerShapesAndStateDictNames) {
  ReferenceFlowLayer layer(6, 4, 2);
  std::vector<Shape> observed;
  layer.set_flow_observer([&](const Tensor& flow) { observed.push_back(flow.shape()); });
  const Tensor y = layer.forward(random_leaf({2, 6, 4, 7, 9}, 73));
  EXPECT_EQ(y.shape(), (Shape{2, 6, 3, 7, 9}));
  EXPECT_EQ(observed, (std::vector<Shape>{{2, 8, 3, 7, 9}}));  // the flow, as FlowBlock's
  std::vector<std::string> names;
  for (const auto& [name, t] : layer.state_dict()) names.push_back(name);
  const std::vector<std::string> expected = {"img_grad",
                                             "img_grad2",
                                             "f_grad",
                                             "f_grad2",
                                             "div",
                                             "div2",
                                             "t",
                                             "l",
                                             "a",
                                             "bottleneck.weight",
                                             "unbottleneck.weight",
                                             "bn.weight",
                                             "bn.bias",
                                             "bn.running_mean",
                                             "bn.running_var"};
  EXPECT_EQ(names, expected);
  EXPECT_ERROR_CONTAINS(layer.forward(Tensor::zeros({2, 6, 1, 7, 9})),
                        "reference_flow_layer: input [2,6,1,7,9] is not (n, C, T, H, W)");
}

TEST(FlowBlock, ShapesOfBlockAndStacks) {
  FlowBlockOptions o;
  o.reduced_channels = 2;
  o.n_iter = 3;
  const Tensor x = random_leaf({2, 3, 4, 5, 6}, 74);
  FlowBlock block(3, o);
  std::vector<Tensor> observed;
  block.set_flow_observer([&](const Tensor& flow) { observed.push_back(flow); });
  EXPECT_EQ(block.forward(x).shape(), (Shape{2, 3, 3, 5, 6}));
  EXPECT_EQ(block.flow(x).shape(), (Shape{2, 4, 3, 5, 6}));
  ASSERT_EQ(observed.size(), 1u);  // forward's flow only
  EXPECT_EQ(observed[0].to_vector(), block.flow(x).to_vector());
  EXPECT_EQ(FlowOfFlow(3, 2, true, o).forward(x).shape(), (Shape{2, 3, 2, 5, 6}));
  EXPECT_EQ(FlowOfFlow(3, 3, false, o).forward(x).shape(), (Shape{2, 3, 1, 5, 6}));
  EXPECT_ERROR_CONTAINS(block.forward(Tensor::zeros({2, 3, 1, 5, 6})),
                        "FlowBlock: input [2,3,1,5,6] is not (N, C, T, H, W) with T >= 2");
}

// Every fusion of Fig. 4, through the fusion's own conv and BN where it has them.
TEST(FlowBlock, GradientsForInputAndEveryParameter) {
  for (const char* fusion : {"none", "add", "multiply", "layer-multiply", "concat"}) {
    SCOPED_TRACE(fusion);
    FlowBlockOptions o;
    o.reduced_channels = 2;
    o.n_iter = 2;
    o.batch_norm = false;  // batch statistics make every output depend on every input: slow
    o.learned = ops::FlowLearned::all();
    o.fusion = parse_flow_fusion(fusion);
    manual_seed(7);  // the same initial weights whichever tests ran before
    FlowBlock block(2, o);
    // The fusion's BN with fixed statistics: batch statistics of 40 values per channel amplify
    // float rounding in the numeric gradient beyond the tolerance.
    block.eval();
    // A seed for which no pixel changes thresholding branch within the step (see above).
    std::vector<Tensor> inputs{random_leaf({1, 2, 3, 4, 5}, 113)};
    for (const Tensor& p : parameters(block)) inputs.push_back(p);
    GradcheckOptions options;
    // Features are rescaled to [0, 255] inside, so a step of 1e-3 in a parameter moves the
    // thresholds of many pixels; a smaller one keeps them in their branch.
    options.rtol = options.atol = 5e-3;
    options.eps = 1e-4;
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return block.forward(in[0]); }, inputs,
                     options);
  }
}

TEST(FlowBlock, FusionsShapesAndParameters) {
  const Tensor x = random_leaf({2, 3, 4, 5, 6}, 75).detach();
  for (const char* fusion : {"none", "add", "multiply", "layer-multiply", "concat"}) {
    SCOPED_TRACE(fusion);
    FlowBlockOptions o;
    o.reduced_channels = 2;
    o.n_iter = 2;
    o.fusion = parse_flow_fusion(fusion);
    EXPECT_STREQ(flow_fusion_name(o.fusion), fusion);
    FlowBlock block(3, o);
    EXPECT_EQ(block.forward(x).shape(), (Shape{2, 3, 3, 5, 6}));
    std::map<std::string, Shape> fuse;
    for (const auto& [name, p] : block.named_parameters())
      if (name.rfind("fuse.", 0) == 0) fuse[name] = p.shape();
    const std::string f = fusion;
    if (f == "layer-multiply") {
      EXPECT_EQ(fuse, (std::map<std::string, Shape>{{"fuse.0.weight", {3, 3, 1, 3, 3}},
                                                    {"fuse.1.weight", {3}},
                                                    {"fuse.1.bias", {3}}}));
    } else if (f == "concat") {
      EXPECT_EQ(fuse, (std::map<std::string, Shape>{{"fuse.0.weight", {3, 6, 1, 1, 1}},
                                                    {"fuse.1.weight", {3}},
                                                    {"fuse.1.bias", {3}}}));
    } else {
      EXPECT_TRUE(fuse.empty());
    }
  }
  EXPECT_ERROR_CONTAINS(parse_flow_fusion("sum"),
                        "unknown flow fusion 'sum'; valid: none, add, multiply, layer-multiply, "
                        "concat");
}

}  // namespace
}  // namespace repflow
