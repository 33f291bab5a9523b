// The model zoo: the registry's ResNets (2D per frame, (2+1)D, 3D) with flow blocks, and the
// published Kinetics model with its PyTorch names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "framework/autograd.h"
#include "framework/precision.h"
#include "framework/weights.h"
#include "models/flow_input.h"
#include "models/layers.h"
#include "models/model_flags.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/reduce/reduce.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/precision_step.h"
#include "tests/test_util.h"
#include "tests/tvl1_cases.h"

namespace repflow {
namespace {

using testing::random_leaf;
using testing::relative_error;
using testing::step_gradients;
using testing::StepGradients;

// Small flow blocks and few classes keep every test quick on two cores.
ModelOptions small_options() {
  ModelOptions o;
  o.classes = 5;
  o.flow_iters = 2;
  o.reduced_channels = 4;
  return o;
}

Tensor clip(const Shape& shape, uint64_t seed) { return random_leaf(shape, seed).detach(); }

Tensor run_eval(Module& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  return model.forward(x);
}

float max_difference(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  float most = 0;
  for (size_t i = 0; i < x.size(); ++i) most = std::max(most, std::abs(x[i] - y[i]));
  return most;
}

std::map<std::string, Tensor> as_map(const NamedTensors& named) {
  return std::map<std::string, Tensor>(named.begin(), named.end());
}

int64_t parameter_count(const Module& model) {
  int64_t n = 0;
  for (const auto& [name, p] : model.named_parameters()) n += p.numel();
  return n;
}

TEST(Registry, EveryModelGivesOneScorePerClassAndClip) {
  for (const std::string& name : model_names()) {
    SCOPED_TRACE(name);
    const bool kinetics = name == "kinetics_repflow_r50";
    // The Kinetics stem's unpadded 7-frame conv and two temporal strides need 11 frames.
    const Tensor x = clip({2, 3, kinetics ? 11 : 4, 32, 32}, 1);
    // By name, as the binaries build them (presets included).
    auto model = make_model(
        resolve_model(name, {{"classes", "5"}, {"flow-iters", "2"}, {"reduced-channels", "4"}}));
    EXPECT_EQ(run_eval(*model, x).shape(), (Shape{2, 5}));
  }
}

// torchvision's networks differ from the zoo's ResNet-18 of the same flavour only in their
// temporal strides, which have no parameters.
TEST(Registry, TorchvisionNetworksHaveTheParametersOfTheZoosResNet18) {
  const OptionValues no_flow = {{"flow", "none"}};
  for (const auto& [torchvision, zoo] : std::vector<std::pair<std::string, std::string>>{
           {"r3d_18", "resnet18_3d"}, {"r2plus1d_18", "resnet18_2p1d"}}) {
    SCOPED_TRACE(torchvision);
    EXPECT_EQ(parameter_count(*make_model(resolve_model(torchvision, {}))),
              parameter_count(*make_model(resolve_model(zoo, no_flow))));
  }
  // The flow layer is off unless asked for.
  EXPECT_EQ(model_defaults("mc3_18").at("flow"), "none");
}

TEST(Registry, FlowPositionsStagesAndNone) {
  const Tensor x = clip({1, 3, 4, 32, 32}, 2);
  for (const char* name : {"resnet18_2d", "resnet50_2d", "resnet18_2p1d", "resnet18_3d"}) {
    for (const char* flow : {"none", "input", "after1", "after2", "after3.0", "after5"}) {
      SCOPED_TRACE(std::string(name) + " " + flow);
      ModelOptions o = small_options();
      set_model_option(&o, "flow", flow);
      if (std::string(flow) == "input") o.fusion = FlowFusion::kNone;
      EXPECT_EQ(run_eval(*make_model(name, o), x).shape(), (Shape{1, 5}));
    }
  }
  // Flow-conv-flow and a three-stage flow of flow: 4 frames leave 2 and 1.
  for (const char* flag : {"fcf", "flow-stages"}) {
    SCOPED_TRACE(flag);
    ModelOptions o = small_options();
    set_model_option(&o, flag, std::string(flag) == "fcf" ? "true" : "3");
    auto model = make_model("resnet18_2d", o);
    EXPECT_EQ(run_eval(*model, x).shape(), (Shape{1, 5}));
    const auto names = as_map(model->named_parameters());
    EXPECT_TRUE(names.count("flow.stages.0.reduce.weight"));
    // FcF's conv sits between the stages as child 1 of the stack.
    EXPECT_EQ(names.count("flow.stages.1.weight"), std::string(flag) == "fcf" ? 1u : 0u);
  }
  ModelOptions four = small_options();
  four.flow_stages = 4;
  EXPECT_ERROR_CONTAINS(make_model("resnet18_2d", four)->forward(x),
                        "is not (N, 3, T, H, W) with T > 4");
}

// One training step of the default run's network without its flow block (forward with batch
// statistics, the loss, backward) in bf16 against the same step in fp32. Each conv alone lands
// within 2% of float32 (conv_test); through ten convs and batch norms, at initialisation, where
// the loss's gradient is a small difference of nearly uniform scores, the gradients as a whole
// move by about 14% (PyTorch's bf16 autocast moves torchvision's ResNet-18 by more: it also
// keeps activations in bf16, where here they stay float32). Garbage (a wrong layout, a
// precision lost between forward and backward) moves them by 100% and more. Below a flow layer
// the gradients are not a smooth function of the rounding at all (TV-L1's thresholds switch on
// the features), hence no flow block here.
TEST(Models, ABf16StepMatchesFp32WithinBf16Tolerance) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "this CPU has neither AVX512-BF16 nor AMX";
  auto model = make_model(resolve_model("resnet10_2d_tiny", {{"classes", "8"}, {"flow", "none"}}));
  const Tensor x = clip({8, 3, 8, 32, 32}, 3);
  const std::vector<int64_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  const StepGradients fp32 = step_gradients(*model, x, labels, Precision::kFp32);
  const StepGradients bf16 = step_gradients(*model, x, labels, Precision::kBf16);
  EXPECT_NEAR(bf16.loss, fp32.loss, 1e-2 * std::abs(fp32.loss));
  const double relative = relative_error(bf16.gradients, fp32.gradients);
  EXPECT_LT(relative, 0.25);
  EXPECT_GT(relative, 1e-5);  // bf16 did run
  std::printf("bf16 step: loss %.6f against %.6f, gradients %.2e relative\n", bf16.loss, fp32.loss,
              relative);
}

// On the input (Table 1's first row) the block reads the 3 colour channels and has no residual
// sum: every output frame is the flow's representation, whatever the frames' own values.
TEST(Registry, FlowOnTheInputWorksOnTheColourChannels) {
  for (const char* name : {"resnet18_2d", "resnet18_3d"}) {
    SCOPED_TRACE(name);
    ModelOptions o = small_options();
    set_model_option(&o, "flow", "input");
    set_model_option(&o, "fusion", "none");
    auto model = make_model(name, o);
    const auto params = as_map(model->named_parameters());
    EXPECT_EQ(params.at("flow.reduce.weight").shape(), (Shape{4, 3, 1, 1, 1}));
    EXPECT_EQ(params.at("flow.expand.weight").shape(), (Shape{3, 8, 1, 1, 1}));
    EXPECT_EQ(params.at("flow.bn.weight").shape(), (Shape{3}));
    ModelOptions none = small_options();
    none.flow.reset();
    // The block's 1x1x1 convs 3 -> 4 and 8 -> 3, its BN (scale and shift) and the flow's
    // parameters: 3 scalars, 4 pairs of taps and 2 kernels of 3 x 3.
    EXPECT_EQ(parameter_count(*model) - parameter_count(*make_model(name, none)),
              4 * 3 + 3 * 8 + 2 * 3 + 3 + 4 * 2 + 2 * 9);
    // Clips that differ by a positive factor give the same flow (features are min-max
    // normalised first), and so the same scores: no residual path carries the frames themselves.
    const Tensor x = clip({1, 3, 4, 32, 32}, 3);
    EXPECT_LT(max_difference(run_eval(*model, x), run_eval(*model, x * 2.0f)), 1e-4);
    ModelOptions after = small_options();
    set_model_option(&after, "flow", "after1");
    auto residual = make_model(name, after);
    EXPECT_GT(max_difference(run_eval(*residual, x), run_eval(*residual, x * 2.0f)), 1e-3);
  }
}

// Fig. 4's fusions by name: each in-network one in the flow block of every flavour, and late
// fusion as two networks, one without flow, whose scores are averaged.
TEST(Registry, FusionsOfFlowAndRgb) {
  const Tensor x = clip({1, 3, 4, 32, 32}, 4);
  for (const char* name : {"resnet18_2d", "resnet18_3d"}) {
    for (const char* fusion : {"none", "add", "multiply", "layer-multiply", "concat", "late"}) {
      SCOPED_TRACE(std::string(name) + " " + fusion);
      ModelOptions o = small_options();
      set_model_option(&o, "fusion", fusion);
      auto model = make_model(name, o);
      EXPECT_EQ(run_eval(*model, x).shape(), (Shape{1, 5}));
      const auto params = as_map(model->named_parameters());
      const bool late = std::string(fusion) == "late";
      EXPECT_EQ(params.count("rgb_stream.fc.weight"), late ? 1u : 0u);
      EXPECT_EQ(params.count("motion_stream.flow.reduce.weight"), late ? 1u : 0u);
      EXPECT_EQ(params.count("flow.reduce.weight"), late ? 0u : 1u);
      // The trainer's default --param-groups flow:0.01 picks the flow layer by this substring:
      // no other parameter may contain it.
      for (const auto& [param, value] : params) {
        if (param.find("flow") == std::string::npos) continue;
        EXPECT_TRUE(param.rfind("flow.", 0) == 0 || param.find(".flow.") != std::string::npos)
            << param;
      }
      if (late) {
        // The RGB network is the backbone without its flow block.
        ModelOptions none = small_options();
        none.flow.reset();
        o.late_fusion = false;
        EXPECT_EQ(parameter_count(*model),
                  parameter_count(*make_model(name, none)) + parameter_count(*make_model(name, o)));
      }
    }
  }
  ModelOptions o = small_options();
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "fusion", "sum"),
                        "option fusion: 'sum' is not none, late, add, multiply, layer-multiply or "
                        "concat");
  set_model_option(&o, "fusion", "late");
  o.flow.reset();
  EXPECT_ERROR_CONTAINS(make_model("resnet18_2d", o), "fusion late averages an RGB network");
  // On the input the fusion is none unless given; an in-network fusion given there is an error.
  EXPECT_EQ(resolve_model("resnet18_2d", {{"flow", "input"}}).options.at("fusion"), "none");
  EXPECT_EQ(
      resolve_model("resnet18_2d", {{"flow", "input"}, {"fusion", "late"}}).options.at("fusion"),
      "late");
  EXPECT_ERROR_CONTAINS(
      make_model(resolve_model("resnet18_2d", {{"flow", "input"}, {"fusion", "multiply"}})),
      "ResNet: fusion multiply joins the flow with the features it was "
      "computed from");
  EXPECT_ERROR_CONTAINS(resolve_model("kinetics_repflow_r50", {{"fusion", "late"}}),
                        "option fusion does not apply to kinetics_repflow_r50");
}

// The Flow CNN's input: the TV-L1 flow between consecutive frames, clipped and scaled into
// [-1, 1].
TEST(FlowInput, ConsecutiveFramesFlowInPixelsOverTheRange) {
  // Frames of the test texture moving 2 px right and 1 px up per frame, as grey levels of a
  // normalised clip (each colour channel the level over kFlowInputGreyScale).
  const int t = 3, size = 64;
  std::vector<std::pair<double, double>> shifts;
  for (int f = 0; f < t; ++f) shifts.push_back({2.0 * f, -1.0 * f});
  const Tensor frames =
      ops::div(testing::tvl1_shifted(size, size, shifts), kFlowInputGreyScale);  // (T, 1, H, W)
  const Tensor clip = ops::unsqueeze(
      ops::permute(ops::expand(frames, {t, 3, size, size}), {1, 0, 2, 3}).contiguous(), 0);
  const Tensor flow = tvl1_clip_flow(clip);
  ASSERT_EQ(flow.shape(), (Shape{1, 2, t - 1, size, size}));
  const std::vector<float> v = flow.to_vector();
  const int64_t plane = size * size, centre = 32 * size + 32;
  for (int f = 0; f < t - 1; ++f) {
    EXPECT_NEAR(v[f * plane + centre], 2.0 / kFlowInputRange, 0.005) << f;
    EXPECT_NEAR(v[(t - 1 + f) * plane + centre], -1.0 / kFlowInputRange, 0.005) << f;
  }
  for (float x : v) ASSERT_TRUE(x >= -1.0f && x <= 1.0f);
  EXPECT_ERROR_CONTAINS(tvl1_clip_flow(Tensor::zeros({1, 3, 1, 8, 8})),
                        "is not (N, 3, T, H, W) with T >= 2");
}

// The Flow CNN (input flow): the network's first conv takes the 2 flow channels of the T - 1
// frame pairs; with fusion late it is the flow stream of a two-stream network.
TEST(Registry, FlowCnnAndTwoStream) {
  const Tensor x = clip({2, 3, 4, 32, 32}, 5);
  for (const char* name : {"resnet18_2d", "resnet18_3d"}) {
    SCOPED_TRACE(name);
    const ModelSpec spec = resolve_model(name, {{"input", "flow"}, {"classes", "5"}});
    EXPECT_EQ(spec.options.at("flow"), "none");  // input flow without flow: none
    auto model = make_model(spec);
    EXPECT_EQ(run_eval(*model, x).shape(), (Shape{2, 5}));
    const auto params = as_map(model->named_parameters());
    const std::string first = std::string(name) == "resnet18_2d" ? "conv1.weight" : "stem.0.weight";
    EXPECT_EQ(params.at(first).size(1), 2);
    // One conv's input channel fewer than the RGB network's.
    ModelSpec rgb_spec = spec;
    rgb_spec.options["input"] = "rgb";
    auto rgb = make_model(rgb_spec);
    EXPECT_EQ(parameter_count(*rgb) - parameter_count(*model), params.at(first).numel() / 2);
    // Scores follow the motion, not the colours: a clip whose frames are all alike has no
    // flow, whatever its colours.
    const Tensor still = ops::expand(ops::slice(x, 2, 0, 1), {2, 3, 4, 32, 32}).contiguous();
    EXPECT_LT(max_difference(run_eval(*model, still), run_eval(*model, still * 3.0f)), 1e-5);

    ModelSpec two = resolve_model(name, {{"input", "flow"}, {"fusion", "late"}, {"classes", "5"}});
    auto two_stream = make_model(two);
    EXPECT_EQ(run_eval(*two_stream, x).shape(), (Shape{2, 5}));
    const auto two_params = as_map(two_stream->named_parameters());
    EXPECT_EQ(two_params.at("rgb_stream." + first).size(1), 3);
    EXPECT_EQ(two_params.at("motion_stream." + first).size(1), 2);
    EXPECT_EQ(parameter_count(*two_stream), parameter_count(*rgb) + parameter_count(*model));
    for (const auto& [param, value] : two_params) EXPECT_EQ(param.find("flow"), std::string::npos);
  }
  EXPECT_ERROR_CONTAINS(
      make_model(resolve_model("resnet18_2d", {{"input", "flow"}, {"flow", "after2"}})),
      "the Flow CNN (input flow) has no representation-flow layer");
  ModelOptions o = small_options();
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "input", "depth"),
                        "option input: 'depth' is not rgb or flow");
  auto model = make_model(resolve_model("resnet18_2d", {{"input", "flow"}}));
  EXPECT_ERROR_CONTAINS(model->forward(clip({1, 3, 1, 32, 32}, 6)),
                        "the Flow CNN sees the flow between frames");
}

// The binaries' flags: resolve_model's rules for options not given apply to flags left at
// their defaults.
TEST(Registry, ModelFlagsLeaveUntypedDefaultsToTheRules) {
  const auto spec = [](std::vector<std::string> args) {
    Flags flags("t", "");
    add_model_flags(flags, "resnet18_2d", model_defaults("resnet18_2d"), /*with_classes=*/true);
    EXPECT_TRUE(::parse_args(flags, args));
    return model_spec_from_flags(flags, /*with_classes=*/true);
  };
  EXPECT_EQ(spec({"--flow", "input"}).options.at("fusion"), "none");
  EXPECT_EQ(spec({"--flow", "input", "--fusion", "late"}).options.at("fusion"), "late");
  EXPECT_EQ(spec({"--input", "flow"}).options.at("flow"), "none");
  EXPECT_EQ(spec({"--fcf", "true"}).options.at("flow-stages"), "2");
  EXPECT_EQ(spec({"--fcf", "true", "--flow-stages", "3"}).options.at("flow-stages"), "3");
  EXPECT_EQ(spec({}).options, resolve_model("resnet18_2d", {}).options);
  // Typed empty, an option fell back silently to the model's own value.
  EXPECT_ERROR_CONTAINS(spec({"--width", ""}), "flag --width: the value is empty");
  EXPECT_ERROR_CONTAINS(spec({"--flow-iters="}), "flag --flow-iters: the value is empty");
}

// Table 2's subsets: the groups not learned are fixed, hold the paper's values and get no
// gradient; the learned ones get one.
TEST(Registry, FlowLearnFixesTheGroupsNotNamed) {
  for (const char* learn : {"none", "sobel", "div,grad", "tlt", "all", "div,grad,tlt"}) {
    SCOPED_TRACE(learn);
    auto model = make_model(resolve_model("resnet10_2d", {{"classes", "5"},
                                                          {"flow", "after2"},
                                                          {"flow-iters", "2"},
                                                          {"reduced-channels", "4"},
                                                          {"flow-learn", learn}}));
    const Tensor out = model->forward(clip({2, 3, 3, 32, 32}, 8));
    ops::sum(out * random_leaf(out.shape(), 9).detach()).backward();
    const ops::FlowLearned learned = ops::FlowLearned::parse(learn);
    for (const ops::FlowParamSpec& spec : ops::kFlowParamTable) {
      SCOPED_TRACE(spec.name);
      const Tensor p = as_map(model->named_parameters()).at(std::string("flow.") + spec.name);
      EXPECT_EQ(p.requires_grad(), learned[spec.group]);
      EXPECT_EQ(p.grad().defined(), learned[spec.group]);
      EXPECT_EQ(p.to_vector(), std::vector<float>(spec.defaults, spec.defaults + spec.numel()));
    }
  }
  EXPECT_EQ(resolve_model("resnet18_2d", {}).options.at("flow-learn"), "tlt,div");
}

TEST(Registry, TorchvisionNamesAndShapes) {
  ModelOptions o = small_options();
  set_model_option(&o, "flow", "after3");
  const auto r18 = as_map(make_model("resnet18_2d", o)->state_dict());
  const std::map<std::string, Shape> expected = {{"conv1.weight", {64, 3, 7, 7}},
                                                 {"bn1.running_var", {64}},
                                                 {"layer1.0.conv1.weight", {64, 64, 3, 3}},
                                                 {"layer1.1.bn2.bias", {64}},
                                                 {"layer2.0.downsample.0.weight", {128, 64, 1, 1}},
                                                 {"layer2.0.downsample.1.running_mean", {128}},
                                                 {"layer4.1.conv2.weight", {512, 512, 3, 3}},
                                                 {"flow.reduce.weight", {4, 128, 1, 1, 1}},
                                                 {"flow.expand.weight", {128, 8, 1, 1, 1}},
                                                 {"flow.theta", {}},
                                                 {"fc.weight", {5, 512}},
                                                 {"fc.bias", {5}}};
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(r18.count(name)) << name;
    EXPECT_EQ(r18.at(name).shape(), shape) << name;
  }
  EXPECT_FALSE(r18.count("layer1.0.downsample.0.weight"));

  const auto r50 = as_map(make_model("resnet50_2d", o)->state_dict());
  EXPECT_EQ(r50.at("layer1.0.conv3.weight").shape(), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(r50.at("layer1.0.downsample.0.weight").shape(), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(r50.at("layer3.5.conv2.weight").shape(), (Shape{256, 256, 3, 3}));
  EXPECT_EQ(r50.at("fc.weight").shape(), (Shape{5, 2048}));

  // torchvision.models.video: r3d_18 and r2plus1d_18 (45-channel stem, R(2+1)D mid widths).
  const auto r3d = as_map(make_model("resnet18_3d", o)->state_dict());
  EXPECT_EQ(r3d.at("stem.0.weight").shape(), (Shape{64, 3, 3, 7, 7}));
  EXPECT_EQ(r3d.at("layer1.0.conv1.0.weight").shape(), (Shape{64, 64, 3, 3, 3}));
  EXPECT_EQ(r3d.at("layer1.0.conv2.1.running_var").shape(), (Shape{64}));
  EXPECT_EQ(r3d.at("layer2.0.downsample.0.weight").shape(), (Shape{128, 64, 1, 1, 1}));
  const auto r2p1d = as_map(make_model("resnet18_2p1d", o)->state_dict());
  EXPECT_EQ(r2p1d.at("stem.0.weight").shape(), (Shape{45, 3, 1, 7, 7}));
  EXPECT_EQ(r2p1d.at("stem.3.weight").shape(), (Shape{64, 45, 3, 1, 1}));
  EXPECT_EQ(r2p1d.at("layer1.0.conv1.0.0.weight").shape(), (Shape{144, 64, 1, 3, 3}));
  EXPECT_EQ(r2p1d.at("layer1.0.conv1.0.1.weight").shape(), (Shape{144}));
  EXPECT_EQ(r2p1d.at("layer1.0.conv1.0.3.weight").shape(), (Shape{64, 144, 3, 1, 1}));
  EXPECT_EQ(r2p1d.at("layer2.0.conv1.0.0.weight").shape(), (Shape{230, 64, 1, 3, 3}));
  EXPECT_EQ(r2p1d.at("layer2.0.conv2.0.0.weight").shape(), (Shape{230, 128, 1, 3, 3}));
}

// The default run's network: ResNet-10, 8 channels wide, a stride-1 3x3 stem without pooling,
// and a flow block after res2 at the full frame size; --flow none removes just the block.
TEST(Registry, NarrowResNet10WithTheSmallStem) {
  ModelOptions o = small_options();
  set_model_option(&o, "width", "8");
  set_model_option(&o, "stem", "small");
  set_model_option(&o, "flow", "after2");
  auto model = make_model("resnet10_2d", o);
  const auto r10 = as_map(model->state_dict());
  const std::map<std::string, Shape> expected = {{"conv1.weight", {8, 3, 3, 3}},
                                                 {"layer1.0.conv2.weight", {8, 8, 3, 3}},
                                                 {"layer2.0.downsample.0.weight", {16, 8, 1, 1}},
                                                 {"layer4.0.conv2.weight", {64, 64, 3, 3}},
                                                 {"flow.reduce.weight", {4, 8, 1, 1, 1}},
                                                 {"fc.weight", {5, 64}}};
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(r10.count(name)) << name;
    EXPECT_EQ(r10.at(name).shape(), shape) << name;
  }
  EXPECT_FALSE(r10.count("layer1.1.conv1.weight"));
  // Frames as small as 9x7 go through: nothing shrinks them before the flow.
  const Tensor x = clip({1, 3, 3, 9, 7}, 8);
  EXPECT_EQ(run_eval(*model, x).shape(), (Shape{1, 5}));
  set_model_option(&o, "flow", "none");
  const auto rgb = as_map(make_model("resnet10_2d", o)->state_dict());
  for (const auto& [name, t] : r10) {
    SCOPED_TRACE(name);
    EXPECT_EQ(rgb.count(name), name.rfind("flow.", 0) == 0 ? 0u : 1u);
  }
  EXPECT_EQ(rgb.size() + 15, r10.size());  // the block's 2 convs, BN (4) and 9 flow tensors
  const auto r3d = as_map(make_model("resnet10_3d", o)->state_dict());
  EXPECT_EQ(r3d.at("stem.0.weight").shape(), (Shape{8, 3, 3, 3, 3}));
  o.flow = FlowPosition{};
  EXPECT_ERROR_CONTAINS(make_model("kinetics_repflow_r50", o), "width and stem do not apply");
}

TEST(Registry, UnknownNamesAndOptionsListTheValidOnes) {
  EXPECT_ERROR_CONTAINS(make_model("resnet101_2d"),
                        "unknown network 'resnet101_2d'; valid networks: kinetics_repflow_r50, "
                        "mc3_18, r2plus1d_18, r3d_18, resnet10_2d, resnet10_2p1d, resnet10_3d");
  EXPECT_ERROR_CONTAINS(resolve_model("resnet101_2d", {}),
                        "unknown model 'resnet101_2d'; valid models: kinetics_repflow_r50, mc3_18, "
                        "r2plus1d_18, r3d_18, resnet10_2d, resnet10_2d_tiny, resnet10_2p1d");
  ModelOptions o;
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow-iterations", "3"),
                        "unknown model option 'flow-iterations'; valid options: classes, width, "
                        "stem, flow, flow-iters, flow-stages, fcf, reduced-channels, dropout, "
                        "flow-learn, fusion");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "stem", "cifar"), "is not imagenet or small");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "width", "0"), "is not an integer between 1 and");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow", "after6"), "bad flow position 'after6'");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow", "after1.0"), "bad flow position");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow", "before3"), "valid: none, input (on the");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow", "input.0"), "bad flow position 'input.0'");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow-learn", "div,theta"), "unknown group 'theta'");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "flow-iters", "0"), "is not an integer between 1 and");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "classes", "5x"), "is not an integer between 1 and");
  // Spaces and a '+', which strtoll takes, as the other flags' parsers do not.
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "width", " 8"),
                        "option width: ' 8' is not an integer");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "width", "+8"),
                        "option width: '+8' is not an integer");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "dropout", " 0.5"), "not a number in [0, 1]");
  // Hostile sizes are refused before any shape is computed from them.
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "width", "4611686018427387904"),
                        "option width: '4611686018427387904' is not an integer between 1 and 4096");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "classes", "9223372036854775807"),
                        "is not an integer between 1 and 100000");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "dropout", "1.5"), "not a number in [0, 1]");
  EXPECT_ERROR_CONTAINS(set_model_option(&o, "fcf", "yes"), "is not true or false");
  set_model_option(&o, "flow", "after5.3");
  EXPECT_ERROR_CONTAINS(make_model("resnet34_2d", o), "res5 of ResNet-34 has no block 3");
  EXPECT_ERROR_CONTAINS(make_model("kinetics_repflow_r50", o), "flow must be after3");
  set_model_option(&o, "flow", "after3");
  set_model_option(&o, "fcf", "true");
  EXPECT_ERROR_CONTAINS(make_model("kinetics_repflow_r50", o), "do not apply to the published");
}

TEST(Registry, EachModelTakesOnlyItsOwnOptionsWithItsOwnDefaults) {
  // The published model, by name alone, is the published model: no option of the ResNets (or
  // of a preset) reaches it.
  const ModelSpec kinetics = resolve_model("kinetics_repflow_r50", {});
  EXPECT_EQ(kinetics.options, (OptionValues{{"classes", "400"},
                                            {"dropout", "0.5"},
                                            {"flow-iters", "10"},
                                            {"reduced-channels", "32"}}));
  EXPECT_EQ(parameter_count(*make_model(kinetics)), 29805651);
  EXPECT_ERROR_CONTAINS(resolve_model("kinetics_repflow_r50", {{"width", "8"}}),
                        "option width does not apply to kinetics_repflow_r50 (its options: "
                        "classes, flow-iters, reduced-channels, dropout)");
  // The preset is its network with other defaults; options given still override them.
  const ModelSpec tiny = resolve_model("resnet10_2d_tiny", {{"classes", "8"}});
  EXPECT_EQ(tiny.name, "resnet10_2d");
  EXPECT_EQ(tiny.options.at("width"), "8");
  EXPECT_EQ(tiny.options.at("stem"), "small");
  EXPECT_EQ(tiny.options.at("flow"), "after2");
  EXPECT_EQ(tiny.options.at("reduced-channels"), "8");
  EXPECT_EQ(parameter_count(*make_model(tiny)), 78109);
  const ModelSpec rgb = resolve_model("resnet10_2d_tiny", {{"classes", "8"}, {"flow", "none"}});
  EXPECT_EQ(parameter_count(*make_model(rgb)), 77872);
  EXPECT_EQ(resolve_model("resnet18_2d", {}).options.at("width"), "64");
  EXPECT_EQ(resolve_model("resnet18_2d", {{"fcf", "true"}}).options.at("flow-stages"), "2");
  EXPECT_EQ(resolve_model("resnet18_2d", {{"fcf", "true"}, {"flow-stages", "3"}})
                .options.at("flow-stages"),
            "3");
  EXPECT_ERROR_CONTAINS(resolve_model("resnet18_2d", {{"width", "wide"}}),
                        "option width: 'wide' is not an integer between 1 and 4096");
  // A preset is built from its resolved spec, never by its name with typed options.
  EXPECT_ERROR_CONTAINS(make_model(ModelSpec{"resnet10_2d_tiny", {}}), "resolve it first");
  EXPECT_ERROR_CONTAINS(make_model("resnet10_2d_tiny", ModelOptions{}), "resolve_model");
}

TEST(Kinetics, PublishedNamesShapesAndParameterCount) {
  auto model = make_model("kinetics_repflow_r50", ModelOptions{});
  const NamedTensors state = model->state_dict();
  std::vector<std::string> first;
  for (size_t i = 0; i < 20; ++i) first.push_back(state[i].first);
  // Parameters in PyTorch's order: a module's own before its children's (the FlowLayer's
  // kernels before its convs), children as registered (a projection block's shortcut first).
  const std::vector<std::string> expected_first = {"stem.weight",
                                                   "bn1.weight",
                                                   "bn1.bias",
                                                   "rep_flow.img_grad",
                                                   "rep_flow.img_grad2",
                                                   "rep_flow.f_grad",
                                                   "rep_flow.f_grad2",
                                                   "rep_flow.div",
                                                   "rep_flow.div2",
                                                   "rep_flow.t",
                                                   "rep_flow.l",
                                                   "rep_flow.a",
                                                   "rep_flow.bottleneck.weight",
                                                   "rep_flow.unbottleneck.weight",
                                                   "rep_flow.bn.weight",
                                                   "rep_flow.bn.bias",
                                                   "res2.blocks.0.shortcut.1.weight",
                                                   "res2.blocks.0.shortcut.2.weight",
                                                   "res2.blocks.0.shortcut.2.bias",
                                                   "res2.blocks.0.shortcut.3.weight"};
  EXPECT_EQ(first, expected_first);

  const auto named = as_map(state);
  const std::map<std::string, Shape> shapes = {
      {"stem.weight", {64, 3, 7, 7, 7}},
      {"bn1.running_mean", {64}},
      {"rep_flow.img_grad", {32, 32, 1, 3}},
      {"rep_flow.div2", {32, 32, 2, 1}},
      {"rep_flow.bottleneck.weight", {32, 512, 1, 1, 1}},
      {"rep_flow.unbottleneck.weight", {512, 64, 1, 1, 1}},
      {"rep_flow.bn.running_var", {512}},
      {"res2.blocks.0.layers.1.weight", {64, 64, 3, 1, 1}},
      {"res2.blocks.0.layers.5.weight", {64, 64, 1, 3, 3}},
      {"res2.blocks.0.layers.8.weight", {256, 64, 1, 1, 1}},
      {"res2.blocks.0.layers.9.running_mean", {256}},
      {"res2.blocks.0.shortcut.1.weight", {256, 64, 1, 1, 1}},
      {"res2.blocks.0.shortcut.2.weight", {256}},
      {"res2.blocks.0.shortcut.3.running_var", {256}},
      // After the first block of a group, temporal kernels alternate 3, 1, 3, ...
      {"res2.blocks.1.layers.1.weight", {64, 256, 3, 1, 1}},
      {"res2.blocks.2.layers.1.weight", {64, 256, 1, 1, 1}},
      {"res3.blocks.0.shortcut.1.weight", {512, 256, 1, 1, 1}},
      {"res3.blocks.3.layers.1.weight", {128, 512, 3, 1, 1}},
      {"res4.blocks.0.layers.1.weight", {256, 512, 3, 1, 1}},
      {"res4.blocks.4.layers.1.weight", {256, 1024, 1, 1, 1}},
      {"res4.blocks.5.layers.1.weight", {256, 1024, 3, 1, 1}},
      {"res5.blocks.0.shortcut.1.weight", {2048, 1024, 1, 1, 1}},
      {"res5.blocks.2.layers.9.running_var", {2048}},
      {"classify.weight", {400, 2048, 1, 1, 1}},
      {"classify.bias", {400}}};
  for (const auto& [name, shape] : shapes) {
    ASSERT_TRUE(named.count(name)) << name;
    EXPECT_EQ(named.at(name).shape(), shape) << name;
  }
  EXPECT_FALSE(named.count("res2.blocks.1.shortcut.1.weight"));

  // From the architecture: stem 3*64*7^3 + 2*64 = 65,984; rep_flow 2*32*32*3 + 4*32*32*2 + 3 +
  // 512*32 + 64*512 + 2*512 = 64,515; a Bottleneck3D(in, f, T) has in*f*T + 9f^2 + 4f^2 + 12f,
  // plus in*4f + 16f with a projection: res2 257,280, res3 1,548,288, res4 8,935,424,
  // res5 18,114,560; classify 2048*400 + 400 = 819,600.
  int64_t parameters = 0;
  const NamedTensors params = model->named_parameters();
  for (const auto& [name, t] : params) parameters += t.numel();
  EXPECT_EQ(parameters, 29805651);
  // 16 blocks of 9 tensors, 4 projections of 5, stem 3, flow 13, classify 2.
  EXPECT_EQ(params.size(), 182u);
  // Two buffers for each of 58 batch norms.
  EXPECT_EQ(model->named_buffers().size(), 116u);
}

// A BatchNorm followed by a ReLU runs as one batch_norm_relu op, with the same values as the two
// run one after the other; a BatchNorm followed by something else stays batch_norm.
TEST(Layers, SequentialFusesBatchNormWithTheReluAfterIt) {
  auto conv = std::make_shared<Conv>(2, 4, std::vector<int64_t>{3, 3}, ops::ConvOptions{});
  auto bn = std::make_shared<BatchNorm>(4);
  Sequential fused;
  fused.add(conv).add(bn).add(std::make_shared<ReLU>());
  const Tensor x = random_leaf({3, 2, 6, 6}, 70);
  for (const bool training : {true, false}) {
    fused.train(training);
    const Tensor y = fused.forward(x);
    ASSERT_TRUE(y.grad_fn());
    EXPECT_EQ(y.grad_fn()->name(), "batch_norm_relu");
    NoGradGuard no_grad;
    EXPECT_EQ(y.to_vector(), ops::relu(bn->forward(conv->forward(x))).to_vector());
  }
  Sequential unfused;
  unfused.add(std::make_shared<BatchNorm>(2))
      .add(std::make_shared<Conv>(2, 4, std::vector<int64_t>{1, 1}, ops::ConvOptions{}));
  const Tensor y = unfused.forward(x);
  EXPECT_EQ(y.grad_fn()->name(), "conv");
}

// A residual path ending in a BatchNorm, directly or as a Sequential's last module, runs that
// BatchNorm, the shortcut's add and the ReLU as one batch_norm_add_relu op, with the values of
// the unfused chain; a path ending in something else adds and clamps as two ops.
TEST(Layers, ResidualPathFusesItsLastBatchNormWithTheAddAndRelu) {
  auto conv = std::make_shared<Conv>(2, 4, std::vector<int64_t>{3, 3}, ops::ConvOptions{});
  auto bn = std::make_shared<BatchNorm>(4);
  auto grouped = std::make_shared<Sequential>();
  grouped->add(conv).add(bn);
  const Tensor x = random_leaf({3, 2, 6, 6}, 71);
  const Tensor residual = random_leaf({3, 4, 4, 4}, 72);
  for (const std::vector<std::shared_ptr<Module>>& path :
       {std::vector<std::shared_ptr<Module>>{conv, bn},
        std::vector<std::shared_ptr<Module>>{grouped}}) {
    for (const bool training : {true, false}) {
      bn->train(training);
      const Tensor y = forward_chain_add_relu(path, x, residual);
      ASSERT_TRUE(y.grad_fn());
      EXPECT_EQ(y.grad_fn()->name(), "batch_norm_add_relu");
      NoGradGuard no_grad;
      EXPECT_EQ(y.to_vector(), ops::relu(bn->forward(conv->forward(x)) + residual).to_vector());
    }
  }
  const Tensor y = forward_chain_add_relu({conv}, x, residual);
  EXPECT_EQ(y.grad_fn()->name(), "relu");
  NoGradGuard no_grad;
  EXPECT_EQ(y.to_vector(), ops::relu(conv->forward(x) + residual).to_vector());
}

// Saved to a weight file and loaded into a fresh model (the parity check, through the
// file format and load_state_dict).
TEST(Models, WeightFileRoundTripGivesIdenticalEvalOutputs) {
  for (const char* name : {"resnet18_2d", "resnet18_2p1d", "kinetics_repflow_r50"}) {
    SCOPED_TRACE(name);
    const bool kinetics = std::string(name) == "kinetics_repflow_r50";
    const Tensor x = clip({2, 3, kinetics ? 11 : 4, 32, 32}, 3);
    ModelOptions o = small_options();
    if (!kinetics) o.fcf = true;
    auto source = make_model(name, o), copy = make_model(name, o);
    // A training-mode pass moves the running statistics away from their initial values, so
    // the buffers' round trip is tested too.
    {
      NoGradGuard no_grad;
      source->forward(x);
    }
    const Tensor expected = run_eval(*source, x);
    EXPECT_NE(run_eval(*copy, x).to_vector(), expected.to_vector());
    const std::string path = test_tmp(std::string(name) + ".json");
    save_weights(path, source->state_dict());
    load_weights_into(*copy, path);
    EXPECT_EQ(run_eval(*copy, x).to_vector(), expected.to_vector());
  }
}

// A flow step size of zero fits its shape but not the layer, which divides by it: the load is
// refused naming the file and the tensor, and leaves every value of the model as it was.
TEST(Models, AZeroThetaInAWeightFileIsRefusedAtLoad) {
  for (const auto& [name, theta] :
       {std::pair<const char*, const char*>{"resnet18_2d", "flow.theta"},
        {"kinetics_repflow_r50", "rep_flow.t"}}) {
    SCOPED_TRACE(name);
    ModelOptions o = small_options();
    if (std::string(name) == "resnet18_2d") set_model_option(&o, "flow", "after3");
    auto source = make_model(name, o), target = make_model(name, o);
    std::map<std::string, Tensor> state = as_map(source->state_dict());
    ASSERT_TRUE(state.count(theta));
    for (auto& [n, t] : state) state[n] = t.detach().clone() + 1.0f;
    state[theta] = Tensor::zeros(state[theta].shape());
    const std::string path = test_tmp(std::string(name) + "_theta0.json");
    save_weights(path, state);
    const NamedTensors before = target->state_dict();
    std::vector<std::vector<float>> values;
    for (const auto& [n, t] : before) values.push_back(t.to_vector());
    EXPECT_ERROR_CONTAINS(load_weights_into(*target, path),
                          path + ": load_state_dict: " + theta + ": ");
    EXPECT_ERROR_CONTAINS(load_weights_into(*target, path, /*strict=*/false), "must be nonzero");
    for (size_t k = 0; k < before.size(); ++k)
      EXPECT_EQ(before[k].second.to_vector(), values[k]) << before[k].first;
    // Any other value loads.
    state[theta] = Tensor::full(state[theta].shape(), -0.5f);
    save_weights(path, state);
    load_weights_into(*target, path);
    EXPECT_EQ(as_map(target->state_dict()).at(theta).to_vector(), state[theta].to_vector());
  }
}

// Train and eval differ only where they should: eval is deterministic and the dropout rate makes
// no difference to it; training mode draws new dropout masks, uses batch statistics (so differs
// from eval even without dropout) and changes the batch norms' running statistics and nothing
// else, while an eval pass changes nothing.
TEST(Models, TrainAndEvalDifferOnlyThroughBatchNormAndDropout) {
  const auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const char* name : {"kinetics_repflow_r50", "resnet18_2d"}) {
    SCOPED_TRACE(name);
    const bool kinetics = std::string(name) == "kinetics_repflow_r50";
    const Tensor x = clip({2, 3, kinetics ? 11 : 4, 32, 32}, 4);
    ModelOptions with = small_options(), without = small_options();
    with.dropout = 0.5f;
    without.dropout = 0.0f;
    auto model = make_model(name, with), plain = make_model(name, without);
    plain->load_state_dict(as_map(model->state_dict()));
    const auto snapshot = [&] {
      std::map<std::string, std::vector<float>> values;
      for (const auto& [n, t] : model->state_dict()) values[n] = t.to_vector();
      return values;
    };
    const auto before = snapshot();
    const Tensor eval_out = run_eval(*model, x);
    EXPECT_EQ(run_eval(*model, x).to_vector(), eval_out.to_vector());
    EXPECT_EQ(run_eval(*plain, x).to_vector(), eval_out.to_vector());
    EXPECT_EQ(snapshot(), before);

    NoGradGuard no_grad;
    model->train();
    EXPECT_NE(model->forward(x).to_vector(), model->forward(x).to_vector());
    plain->train();
    const Tensor plain_train = plain->forward(x);
    EXPECT_EQ(plain->forward(x).to_vector(), plain_train.to_vector());
    EXPECT_NE(plain_train.to_vector(), eval_out.to_vector());

    const auto after = snapshot();
    int statistics = 0;
    for (const auto& [n, v] : before) {
      const bool statistic = ends_with(n, ".running_mean") || ends_with(n, ".running_var");
      statistics += statistic;
      EXPECT_EQ(after.at(n) != v, statistic) << n;
    }
    EXPECT_EQ(statistics, static_cast<int>(model->named_buffers().size()));
  }
}

// Every learnable parameter of a 2D ResNet with a flow block, through the per-frame folding,
// the flow's time shift and the temporal mean, gets a finite gradient that is not all zero.
TEST(Models, EveryParameterOfA2DResNetWithFlowGetsAGradient) {
  ModelOptions o = small_options();
  o.dropout = 0.5f;
  auto model = make_model("resnet18_2d", o);
  const Tensor out = model->forward(clip({2, 3, 4, 32, 32}, 6));
  ops::sum(out * random_leaf(out.shape(), 7).detach()).backward();
  int checked = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    if (!p.requires_grad()) continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(p.grad().defined());
    bool nonzero = false;
    for (float g : p.grad().to_vector()) {
      ASSERT_TRUE(std::isfinite(g));
      nonzero = nonzero || g != 0;
    }
    EXPECT_TRUE(nonzero);
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

}  // namespace
}  // namespace repflow
